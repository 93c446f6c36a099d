package runner

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/srvthreds/bootstrap/health"
	"github.com/srvthreds/bootstrap/internal/panics"
)

// brokenReporter panics when the watchdog asks whether the run stalled.
type brokenReporter struct{ *health.State }

func (brokenReporter) Stalled() bool {
	var clocks []time.Time
	return clocks[1].IsZero() // index out of range
}

// A panic in the watchdog goroutine is recovered: it cancels the work with
// the panic as the cause (so the run stops and releases the lock), and the
// run's error is a panic, exit 1.
func TestWatchdog_panic_cancels_the_work(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, _ := markerAttempt(t, nil, false)
		a.r = &Runner{opts: Options{StallTimeout: time.Second},
			rep: brokenReporter{health.NewState(&health.StateOptions{StallTimeout: time.Second})}}
		go a.watch()
		<-a.g.Done()
		cause := context.Cause(a.g)
		var pe *panics.Error
		if !errors.As(cause, &pe) || pe.Where != "watchdog" || len(pe.Stack) == 0 {
			t.Fatalf("cause %v, want the watchdog's panic with its stack", cause)
		}
	})
}

// A panic in the work under the lock is returned as an error (exit 1) and
// cancels the guard.
func TestDo_panic_is_an_error(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, _ := markerAttempt(t, nil, false)
		err := a.do(func(*attempt) error {
			var m map[string]*attempt
			return m["p"].do(nil) // nil pointer dereference
		})
		if !errors.Is(err, panics.ErrPanic) {
			t.Fatalf("do: %v, want a panic error", err)
		}
		if !errors.Is(context.Cause(a.g), panics.ErrPanic) {
			t.Errorf("guard cause %v, want the panic", context.Cause(a.g))
		}
	})
}
