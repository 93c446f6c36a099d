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

// brokenReporter panics when the watchdog reads its stall clock.
type brokenReporter struct{ *health.State }

func (brokenReporter) SinceProgress() time.Duration {
	var clocks []time.Duration
	return clocks[1] // index out of range
}

// A panic in the watchdog goroutine is recovered: it cancels the work with
// the panic as the cause (so the run stops and releases the lock), and the
// run's error is a panic, exit 1.
func TestWatchdog_panic_cancels_the_work(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := testAttempt(t)
		a.r = &Runner{opts: Options{StallTimeout: time.Second},
			rep: brokenReporter{health.NewState(&health.StateOptions{StallTimeout: time.Second})}}
		go a.watch()
		<-a.ctx().Done()
		cause := context.Cause(a.ctx())
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
		a := testAttempt(t)
		err := a.do(func(*attempt) error {
			var m map[string]*attempt
			return m["p"].do(nil) // nil pointer dereference
		})
		if !errors.Is(err, panics.ErrPanic) {
			t.Fatalf("do: %v, want a panic error", err)
		}
		if !errors.Is(context.Cause(a.ctx()), panics.ErrPanic) {
			t.Errorf("session cause %v, want the panic", context.Cause(a.ctx()))
		}
	})
}
