package runner

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/srvthreds/bootstrap/profiles"
)

// A run waiting for the lock reads the records every recheckEvery and
// leaves the queue once another run made every profile current.
func TestWaiting_run_leaves_the_queue_once_the_records_say_current(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		recs := &fakeRecords{currentAt: t0.Add(5 * time.Second)}
		r := testRunner(fakeLocker{ttl: 30 * time.Second}, recs, Options{})
		_, err := r.begin(t.Context(), r.log, testProfiles, true)
		if !errors.Is(err, errAlreadyCurrent) {
			t.Fatalf("begin = %v, want errAlreadyCurrent", err)
		}
		if got, want := time.Since(t0), 3*recheckEvery; got != want {
			t.Errorf("left the queue after %v, want at the first recheck after 5s: %v", got, want)
		}
	})
}

// Without recheck (--force and the like), the run keeps waiting for the
// lock until its wait ends, whatever the records say.
func TestForced_run_keeps_waiting_for_the_lock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		recs := &fakeRecords{currentAt: t0}
		r := testRunner(fakeLocker{ttl: 30 * time.Second}, recs, Options{LockWait: time.Minute})
		_, err := r.begin(t.Context(), r.log, testProfiles, false)
		if err == nil || errors.Is(err, errAlreadyCurrent) {
			t.Fatalf("begin = %v, want the lock not acquired", err)
		}
		if got := time.Since(t0); got != time.Minute {
			t.Errorf("gave up after %v, want the lock wait, 1m", got)
		}
		if len(recs.reads) != 0 {
			t.Errorf("%d record reads, want none", len(recs.reads))
		}
	})
}

// `wait` polls with exponential backoff (full jitter, capped at PollMax)
// and returns once every profile is current.
func TestWaiter_polls_until_current(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		recs := &fakeRecords{currentAt: t0.Add(time.Minute)}
		w := testRunner(nil, recs, Options{PollMin: 250 * time.Millisecond, PollMax: 5 * time.Second})
		if err := w.Wait(t.Context(), &profiles.Set{Profiles: testProfiles}); err != nil {
			t.Fatalf("Wait = %v", err)
		}
		took := time.Since(t0)
		if took < time.Minute || took > time.Minute+5*time.Second {
			t.Errorf("Wait returned after %v, want within PollMax of the records becoming current (1m)", took)
		}
		for i := 2; i < len(recs.reads); i += 2 { // two profiles a poll
			if gap := recs.reads[i].Sub(recs.reads[i-2]); gap > 5*time.Second+time.Millisecond {
				t.Errorf("poll %d came %v after the one before, want at most PollMax", i/2, gap)
			}
		}
	})
}

// `wait` gives up when its context ends, saying what it still waits for.
func TestWaiter_timeout_names_what_is_pending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeoutCause(t.Context(), time.Minute, ErrWaitTimeout)
		defer cancel()
		w := testRunner(nil, &fakeRecords{}, Options{})
		err := w.Wait(ctx, &profiles.Set{Profiles: testProfiles})
		if !errors.Is(err, ErrWaitTimeout) || !strings.Contains(err.Error(), "base (not applied") {
			t.Errorf("Wait = %v, want ErrWaitTimeout naming base", err)
		}
	})
}

// Releasing the lock after the work is bounded by the shutdown grace: a
// Redis that does not answer does not hold the process.
func TestRelease_is_bounded_by_the_shutdown_grace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := testRunner(fakeLocker{ttl: 30 * time.Second}, &fakeRecords{}, Options{ShutdownGrace: 7 * time.Second})
		l := newFakeLease()
		l.release = func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
		ctx, cancel := context.WithCancel(t.Context())
		cancel() // the run was interrupted
		t0 := time.Now()
		r.releaseLock(ctx, l, r.log)
		if got := time.Since(t0); got != 7*time.Second {
			t.Errorf("release took %v, want the grace, 7s", got)
		}
	})
}
