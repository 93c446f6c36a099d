package lease

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/store"
)

// Every test here runs in a synctest bubble: time is the bubble's fake
// clock, which moves only when every goroutine is blocked, so the results
// are the same on an idle or a saturated machine.

const ttl = 30 * time.Second

// fakeLease is a lease whose renewals answer as refresh says. Like
// lock.Lease, a successful renewal is confirmed as of when it was sent.
type fakeLease struct {
	mu        sync.Mutex
	confirmed time.Time
	sent      []time.Time // when each Refresh was called
	// refresh answers the nth call (from 0); it may block on ctx.
	refresh func(ctx context.Context, n int) error
}

func newFakeLease(refresh func(ctx context.Context, n int) error) *fakeLease {
	if refresh == nil {
		refresh = func(context.Context, int) error { return nil }
	}
	return &fakeLease{confirmed: time.Now(), refresh: refresh}
}

func (f *fakeLease) Refresh(ctx context.Context) error {
	f.mu.Lock()
	n, sent := len(f.sent), time.Now()
	f.sent = append(f.sent, sent)
	f.mu.Unlock()
	f.mu.Lock()
	refresh := f.refresh
	f.mu.Unlock()
	if err := refresh(ctx, n); err != nil {
		return err
	}
	f.mu.Lock()
	f.confirmed = sent
	f.mu.Unlock()
	return nil
}

// setRefresh changes how the next renewals answer.
func (f *fakeLease) setRefresh(refresh func(ctx context.Context, n int) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refresh = refresh
}

func (f *fakeLease) Confirmed() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.confirmed
}

func (f *fakeLease) Fence() int64  { return 7 }
func (f *fakeLease) Token() string { return "token" }

// sentAt is when each Refresh was called, as offsets from t0.
func (f *fakeLease) sentAt(t0 time.Time) []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]time.Duration, len(f.sent))
	for i, s := range f.sent {
		out[i] = s.Sub(t0)
	}
	return out
}

// hang blocks until ctx ends: a Redis that does not answer.
func hang(ctx context.Context, _ int) error {
	<-ctx.Done()
	return ctx.Err()
}

// frozen is a renewal that never returns, as in a frozen process (SIGSTOP,
// docker pause), until the test ends.
func frozen(t *testing.T) func(context.Context, int) error {
	wake := make(chan struct{})
	t.Cleanup(func() { close(wake) }) // runs before the session's Stop
	return func(context.Context, int) error {
		<-wake
		return context.Canceled
	}
}

func start(t *testing.T, l Lease) *Session {
	t.Helper()
	s := Start(t.Context(), l, Options{TTL: ttl})
	t.Cleanup(s.Stop)
	return s
}

// Renewals are sent every ttl/3 counted from when the last one was sent,
// however slow the replies: a slow reply does not push the next renewal
// later (which would shorten the margin before the lease runs out).
func TestRenewals_are_scheduled_from_the_last_confirmation_under_slow_replies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		l := newFakeLease(func(ctx context.Context, _ int) error {
			time.Sleep(4 * time.Second) // every reply takes 4s
			return nil
		})
		start(t, l)
		time.Sleep(45 * time.Second)
		got := l.sentAt(t0)
		want := []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second, 40 * time.Second}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("renewals sent at %v, want %v", got, want)
		}
	})
}

// The lease is known to be ours for 2/3 of the ttl counted from when the
// request of the last confirmation was sent, not from its reply: a reply
// delayed (by the network, or a pause) adds nothing to the lease.
func TestValidity_is_counted_from_the_request_not_the_reply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		l := newFakeLease(func(ctx context.Context, n int) error {
			if n == 0 {
				time.Sleep(8 * time.Second) // sent at 10s, answered at 18s
				return nil
			}
			return hang(ctx, n) // no later renewal gets through
		})
		s := start(t, l)
		time.Sleep(10*time.Second + ttl*2/3 - time.Millisecond)
		if err := s.Err(); err != nil {
			t.Fatalf("Err at %v = %v, want nil (confirmed at 10s)", time.Since(t0), err)
		}
		time.Sleep(2 * time.Millisecond)
		if err := s.Err(); !errors.Is(err, ErrLost) {
			t.Fatalf("Err at %v = %v, want ErrLost (the request was sent at 10s)", time.Since(t0), err)
		}
		if got, want := s.Until().Sub(t0), 10*time.Second+ttl*2/3; got != want {
			t.Errorf("valid until %v, want %v", got, want)
		}
	})
}

// Each renewal moves the expiry timer: a lease renewed on time never
// expires, however long the work.
func TestRenewals_move_the_expiry_timer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := start(t, newFakeLease(nil))
		time.Sleep(10 * ttl)
		if err := s.Context().Err(); err != nil {
			t.Fatalf("context ended after %v of renewed lease: %v", 10*ttl, context.Cause(s.Context()))
		}
	})
}

// A lease found lost at a renewal stops the work at once: the context ends
// with ErrLost, and no write is sent after it.
func TestLease_lost_mid_step_sends_no_further_write(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		l := newFakeLease(func(context.Context, int) error { return lock.ErrLost })
		s := start(t, l)
		var writes []time.Duration
		var err error
		time.Sleep(time.Second / 2)
		for err == nil { // a step writing a batch every second, between renewals
			err = s.Retry(s.Context(), nil, func(context.Context) error {
				writes = append(writes, time.Since(t0))
				return nil
			})
			time.Sleep(time.Second)
		}
		if !errors.Is(err, ErrLost) {
			t.Errorf("write error %v, want ErrLost", err)
		}
		if last := writes[len(writes)-1]; last >= ttl/3 {
			t.Errorf("last write at %v, want none from the lost renewal at %v on", last, ttl/3)
		}
		if cause := context.Cause(s.Context()); !errors.Is(cause, ErrLost) || !errors.Is(cause, lock.ErrLost) {
			t.Errorf("cause %v, want ErrLost wrapping lock.ErrLost", cause)
		}
	})
}

// A process frozen past its ttl (its renewals stopped too) writes nothing
// when it wakes: its first check fails.
func TestFrozen_past_the_ttl_writes_nothing_on_waking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := start(t, newFakeLease(hang))
		time.Sleep(2 * ttl) // frozen
		wrote := false
		write := func(context.Context) error { wrote = true; return nil }
		for name, err := range map[string]error{
			"retry":  s.Retry(s.Context(), nil, write),
			"put":    s.Put(s.Context(), write),
			"marker": s.PutMarker(s.Context(), write),
		} {
			if !errors.Is(err, ErrLost) {
				t.Errorf("%s: %v, want ErrLost", name, err)
			}
		}
		if wrote {
			t.Error("a write was sent after waking past the ttl")
		}
	})
}

// The check by the clock holds even when no timer has run yet (after a
// freeze the goroutines wake in any order): Err and Open fail from the end
// of the validity on.
func TestErr_reads_the_clock_before_any_timer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newFakeLease(nil)
		s := start(t, l)
		l.setRefresh(frozen(t))
		s.expiry.Stop() // the expiry timer has not run
		time.Sleep(ttl)
		if s.Context().Err() != nil {
			t.Fatal("the context ended without the timer; the test needs it alive")
		}
		if _, err := s.Open(); !errors.Is(err, ErrLost) {
			t.Errorf("Open after the validity = %v, want ErrLost", err)
		}
	})
}

// Renewals failing with transient errors are retried every ttl/12 until
// the lease can no longer be confirmed; then the work stops with ErrLost.
func TestTransient_renewal_errors_until_the_validity_ends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		refused := &netError{syscall.ECONNREFUSED}
		l := newFakeLease(func(context.Context, int) error { return refused })
		s := start(t, l)
		<-s.Context().Done()
		if got, want := time.Since(t0), ttl*2/3; got != want {
			t.Errorf("work stopped at %v, want at the end of the validity %v", got, want)
		}
		if cause := context.Cause(s.Context()); !errors.Is(cause, ErrLost) {
			t.Errorf("cause %v, want ErrLost", cause)
		}
		// First at ttl/3, then every ttl/12 while the lease lasts.
		want := []time.Duration{10 * time.Second, 12500 * time.Millisecond, 15 * time.Second, 17500 * time.Millisecond}
		if got := l.sentAt(t0); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("renewals sent at %v, want %v", got, want)
		}
	})
}

// Every attempt is bounded: its deadline is 5/6 of the ttl after the last
// confirmation, which a renewal moves.
func TestOpen_bounds_each_attempt_from_the_last_confirmation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		s := start(t, newFakeLease(nil))
		var deadlines []time.Duration
		for range 2 {
			_ = s.Retry(s.Context(), nil, func(ctx context.Context) error {
				d, _ := ctx.Deadline()
				deadlines = append(deadlines, d.Sub(t0))
				return nil
			})
			time.Sleep(ttl / 2) // one renewal, at ttl/3
		}
		want := []time.Duration{ttl * 5 / 6, ttl/3 + ttl*5/6}
		if fmt.Sprint(deadlines) != fmt.Sprint(want) {
			t.Errorf("attempt deadlines %v, want %v", deadlines, want)
		}
	})
}

// The marker is written only after the lease was confirmed right before.
func TestPutMarker_confirms_the_lease_before_the_write(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newFakeLease(func(context.Context, int) error { return lock.ErrLost })
		s := start(t, l)
		wrote := false
		err := s.PutMarker(s.Context(), func(context.Context) error { wrote = true; return nil })
		if !errors.Is(err, ErrLost) || wrote {
			t.Errorf("PutMarker with a lost lease = %v (written: %v), want ErrLost and no write", err, wrote)
		}
		if len(l.sentAt(time.Now())) != 1 {
			t.Errorf("%d renewals, want the one confirmation", len(l.sentAt(time.Now())))
		}
	})
}

// A store's refusal of a stale fence is ErrFenced (an ErrLost), and stops
// the work.
func TestA_fenced_write_stops_the_work(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := start(t, newFakeLease(nil))
		err := s.Put(s.Context(), func(context.Context) error {
			return fmt.Errorf("write redis record: %w", store.ErrFenced)
		})
		if !errors.Is(err, ErrFenced) || !errors.Is(err, ErrLost) {
			t.Errorf("Put = %v, want ErrFenced", err)
		}
		if cause := context.Cause(s.Context()); !errors.Is(cause, ErrFenced) {
			t.Errorf("cause %v, want ErrFenced", cause)
		}
	})
}

func TestConfirm(t *testing.T) {
	refused := &netError{syscall.ECONNREFUSED}
	tests := []struct {
		name      string
		errs      []error
		sticky    bool
		wantErr   error // nil: confirmed
		wantCalls int
	}{
		{name: "confirmed_at_once", wantCalls: 1},
		{name: "transient_errors_retried", errs: []error{refused, replyErr("LOADING Redis is loading"), refused}, wantCalls: 4},
		{name: "lost_is_final", errs: []error{lock.ErrLost}, wantErr: lock.ErrLost, wantCalls: 1},
		{name: "other_error_is_final", errs: []error{replyErr("NOPERM no permissions")}, wantErr: replyErr("NOPERM no permissions"), wantCalls: 1},
		{name: "transient_until_the_lease_ends_is_lock_lost", errs: []error{refused}, sticky: true, wantErr: ErrLost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newFakeLease(func(_ context.Context, n int) error {
					switch {
					case n < len(tt.errs):
						return tt.errs[n]
					case tt.sticky:
						return tt.errs[len(tt.errs)-1]
					}
					return nil
				})
				s := Start(t.Context(), l, Options{TTL: 3 * time.Second})
				defer s.Stop()
				err := s.Confirm(s.Context())
				switch {
				case tt.wantErr == nil && err != nil:
					t.Fatalf("Confirm: %v, want the lease confirmed", err)
				case tt.wantErr != nil && !errors.Is(err, tt.wantErr) && (err == nil || !strings.Contains(err.Error(), tt.wantErr.Error())):
					t.Fatalf("Confirm: %v, want %v", err, tt.wantErr)
				}
				if calls := len(l.sentAt(time.Now())); tt.wantCalls > 0 && calls != tt.wantCalls {
					t.Errorf("%d refreshes, want %d", calls, tt.wantCalls)
				}
			})
		})
	}
}

// netError is a network error of the client (a refused connection).
type netError struct{ err error }

func (e *netError) Error() string   { return "dial tcp 10.0.0.1:6379: " + e.err.Error() }
func (e *netError) Unwrap() error   { return e.err }
func (e *netError) Timeout() bool   { return false }
func (e *netError) Temporary() bool { return false }

// replyErr is an error reply of Redis.
type replyErr string

func (e replyErr) Error() string { return string(e) }
func (e replyErr) RedisError()   {}

// With no renewal getting through (a frozen renewal loop), the expiry timer
// alone stops the work, at the end of the validity to the instant: a write
// in flight then is cut off.
func TestExpiry_timer_stops_the_work_at_the_end_of_the_validity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		l := newFakeLease(nil)
		s := start(t, l)
		l.setRefresh(frozen(t)) // before the first renewal, at ttl/3
		var cut time.Duration
		err := s.Put(s.Context(), func(ctx context.Context) error {
			<-s.Context().Done() // a write still running
			cut = time.Since(t0)
			return context.Cause(s.Context())
		})
		if !errors.Is(err, ErrLost) {
			t.Errorf("write in flight ended with %v, want ErrLost", err)
		}
		if want := ttl * 2 / 3; cut != want {
			t.Errorf("write cut off at %v, want at the end of the validity %v", cut, want)
		}
	})
}
