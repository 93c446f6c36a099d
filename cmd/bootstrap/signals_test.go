package main

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"
)

// The tests put signals on the shutdown's channel, as signal.Notify does;
// no signal is sent to the test process.

func TestShutdown_first_signal_cancels_with_its_cause(t *testing.T) {
	s := newShutdown(t.Context())
	defer s.stop()
	s.ch <- syscall.SIGTERM
	<-s.ctx.Done()
	var sig *signalError
	if err := context.Cause(s.ctx); !errors.As(err, &sig) || sig.sig != syscall.SIGTERM {
		t.Fatalf("cause %v, want SIGTERM", err)
	}
	if got, want := exitCode(context.Cause(s.ctx)), 143; got != want {
		t.Errorf("exit code %d, want %d", got, want)
	}
}

func TestShutdown_wait(t *testing.T) {
	tests := []struct {
		name    string
		grace   time.Duration
		signals []syscall.Signal
		done    bool // the command returns (with 7) on its own
		want    int
	}{
		{name: "no_signal_returns_the_code", grace: time.Hour, done: true, want: 7},
		{name: "cleanup_past_the_grace_exits_143", grace: 100 * time.Millisecond, signals: []syscall.Signal{syscall.SIGTERM}, want: 143},
		{name: "second_signal_exits_at_once", grace: time.Hour, signals: []syscall.Signal{syscall.SIGINT, syscall.SIGTERM}, want: 130},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newShutdown(t.Context())
			defer s.stop()
			s.configure(tt.grace, nil)
			done := make(chan int, 1)
			if tt.done {
				done <- 7
			}
			for _, sig := range tt.signals {
				s.ch <- sig
			}
			if got := s.wait(done); got != tt.want {
				t.Errorf("wait = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestShutdown_cleanup_is_bounded_by_the_grace_after_a_signal(t *testing.T) {
	s := newShutdown(t.Context())
	defer s.stop()
	s.configure(2*time.Second, nil)

	before, cancel := s.cleanupContext(s.ctx, time.Hour)
	defer cancel()
	if d, ok := before.Deadline(); !ok || time.Until(d) < 59*time.Minute {
		t.Errorf("before a signal: deadline %v, want the cleanup's own bound (1h)", d)
	}

	sent := time.Now()
	s.ch <- syscall.SIGTERM
	<-s.first
	after, cancel2 := s.cleanupContext(s.ctx, time.Hour)
	defer cancel2()
	if after.Err() != nil {
		t.Fatalf("cleanup context ended with the run's: %v", after.Err())
	}
	d, ok := after.Deadline()
	if !ok || d.After(sent.Add(2*time.Second+time.Second)) || d.Before(sent) {
		t.Errorf("after SIGTERM: deadline %v, want the signal (%v) + the grace (2s)", d, sent)
	}
}

func TestShutdown_nil_is_usable(t *testing.T) {
	var s *shutdown
	s.configure(time.Second, nil)
	s.held(nil)
	c, cancel := s.cleanupContext(t.Context(), time.Second)
	defer cancel()
	if _, ok := c.Deadline(); !ok {
		t.Error("no deadline from a nil shutdown's cleanup context")
	}
}
