package panics

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

func TestGo_recovers_a_panicking_goroutine(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	got := make(chan error, 1)
	Go(log, "watchdog", func(err error) { got <- err }, func() {
		var ticker []int
		_ = ticker[3] // index out of range
	})
	err := <-got
	if !errors.Is(err, ErrPanic) {
		t.Fatalf("onPanic got %v, want ErrPanic", err)
	}
	var pe *Error
	if !errors.As(err, &pe) || pe.Where != "watchdog" {
		t.Fatalf("onPanic got %#v, want an *Error in the watchdog", err)
	}
	if !strings.Contains(err.Error(), "index out of range") {
		t.Errorf("error %q, want the panic's value", err)
	}
	out := logs.String()
	for _, want := range []string{`"msg":"panic"`, `"where":"watchdog"`, "goroutine ", "panics_test.go"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %s: want %q (the stack)", out, want)
		}
	}
}

func TestCall(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sentinel := errors.New("boom")
	tests := []struct {
		name    string
		fn      func() error
		want    error
		isPanic bool
	}{
		{"returns_nil", func() error { return nil }, nil, false},
		{"returns_its_error", func() error { return sentinel }, sentinel, false},
		{"panic_with_an_error", func() error { panic(sentinel) }, sentinel, true},
		{"panic_with_a_string", func() error { panic("no") }, ErrPanic, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Call(log, "step", tt.fn)
			if !errors.Is(err, tt.want) {
				t.Errorf("Call: %v, want %v", err, tt.want)
			}
			if got := errors.Is(err, ErrPanic); got != tt.isPanic {
				t.Errorf("Call: %v is a panic: %t, want %t", err, got, tt.isPanic)
			}
		})
	}
}

func TestRecover_without_a_panic_does_nothing(t *testing.T) {
	var wg sync.WaitGroup
	called := false
	wg.Go(func() {
		defer Recover(nil, "idle", func(error) { called = true })
	})
	wg.Wait()
	if called {
		t.Error("onPanic called without a panic")
	}
}
