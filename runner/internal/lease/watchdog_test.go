package lease

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// stallClock is the reporter's stall clock: progress stops at stoppedAt
// (never, when zero).
type stallClock struct{ stoppedAt atomic.Pointer[time.Time] }

func (c *stallClock) stop() {
	now := time.Now()
	c.stoppedAt.Store(&now)
}

func (c *stallClock) SinceProgress() time.Duration {
	if at := c.stoppedAt.Load(); at != nil {
		return time.Since(*at)
	}
	return 0 // progress all the time
}

func where() string { return "p/1:documents" }

// No progress for longer than the stall timeout, with a healthy lease:
// ErrStalled (exit 8), one check after the timeout (so /livez says so
// first), not before.
func TestWatch_stalled_run_is_ErrStalled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := start(t, newFakeLease(nil))
		clock := &stallClock{}
		clock.stop()
		t0 := time.Now()
		go s.Watch(clock, 2*time.Minute, where)
		<-s.Context().Done()
		if got, want := time.Since(t0), 2*time.Minute+2*time.Second; got != want {
			t.Errorf("stopped after %v, want %v (one check after the timeout)", got, want)
		}
		cause := context.Cause(s.Context())
		if !errors.Is(cause, ErrStalled) || errors.Is(cause, ErrLost) {
			t.Errorf("cause %v, want ErrStalled", cause)
		}
	})
}

// The watchdog reads the reporter's clock, the one /livez reads, and no
// clock of its own: a run that reports progress is never stopped, however
// long it takes.
func TestWatch_reads_the_reporters_clock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := start(t, newFakeLease(nil))
		go s.Watch(&stallClock{}, time.Minute, where)
		time.Sleep(time.Hour)
		if err := s.Context().Err(); err != nil {
			t.Fatalf("a run reporting progress was stopped: %v", context.Cause(s.Context()))
		}
	})
}

// A process found both stalled and past its lease was frozen (SIGSTOP,
// docker pause), not stalled: the cause is the lost lease (exit 5), even
// when the watchdog wakes before the expiry timer.
func TestWatch_frozen_process_is_ErrLost_not_ErrStalled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newFakeLease(nil)
		s := start(t, l)
		l.setRefresh(frozen(t)) // no renewal gets through
		s.expiry.Stop()         // the watchdog wakes first
		clock := &stallClock{}
		clock.stop()
		go s.Watch(clock, time.Minute, where) // the stall is seen after the lease ran out
		<-s.Context().Done()
		cause := context.Cause(s.Context())
		if !errors.Is(cause, ErrLost) || errors.Is(cause, ErrStalled) {
			t.Errorf("cause %v, want ErrLost (frozen), not ErrStalled", cause)
		}
	})
}
