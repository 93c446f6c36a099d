package lock

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestTryAcquire(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 6e6, time.UTC)
	f := &fakeRedis{answer: func(fakeCall) (any, error) { return []any{int64(1), int64(7)}, nil }}
	l, err := New(f, "main", &Options{
		TTL: 12 * time.Second, Holder: Holder{RunID: "r1", Host: "pod-a", Image: "img:1"},
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	lease, err := l.TryAcquire(t.Context())
	if err != nil {
		t.Fatalf("TryAcquire: %v", err)
	}
	if got, want := lease.Fence(), int64(7); got != want {
		t.Errorf("Fence() = %d, want %d", got, want)
	}
	if got := lease.Token(); len(got) != 32 || strings.Trim(got, "0123456789abcdef") != "" {
		t.Errorf("Token() = %q, want 32 hex digits", got)
	}
	want := Holder{RunID: "r1", Host: "pod-a", Image: "img:1", Fence: 7, Since: now, Renewed: now,
		TTL: 12 * time.Second, LeaseTTL: 12 * time.Second}
	if got := lease.Holder(); got != want {
		t.Errorf("Holder():\n got %+v\nwant %+v", got, want)
	}
	calls := f.evals(acquireLua)
	if len(calls) != 1 {
		t.Fatalf("%d acquire EVALs, want 1 (after EVALSHA's NOSCRIPT)", len(calls))
	}
	if got, want := strings.Join(calls[0].Keys, " "),
		"bootstrap:lock:{main} bootstrap:lock:{main}:holder bootstrap:lock:{main}:fence"; got != want {
		t.Errorf("keys %q, want %q", got, want)
	}
	wantArgs := []any{lease.Token(), int64(12000), now.UnixMilli(), "r1", "pod-a", "img:1"}
	if got := calls[0].Args; len(got) != len(wantArgs) {
		t.Fatalf("args %v, want %v", got, wantArgs)
	}
	for i, a := range calls[0].Args {
		if a != wantArgs[i] {
			t.Errorf("arg %d = %#v, want %#v", i, a, wantArgs[i])
		}
	}

	second, err := l.TryAcquire(t.Context())
	if err != nil {
		t.Fatalf("second TryAcquire: %v", err)
	}
	if second.Token() == lease.Token() {
		t.Errorf("two acquisitions share token %q", lease.Token())
	}
}

func TestTryAcquireErrors(t *testing.T) {
	redisErr := errors.New("connection refused")
	tests := []struct {
		name     string
		reply    any
		err      error
		wantIs   error
		wantText string
	}{
		{"held", heldReply(), nil, ErrNotAcquired, `held by run "run-other" on host "pod-other"`},
		{"redis_error", nil, redisErr, redisErr, "lock: acquire bootstrap:lock:{x}: connection refused"},
		{"malformed_reply", []any{"OK"}, nil, nil, "script reply status string"},
		{"empty_reply", []any{}, nil, nil, "empty script reply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeRedis{answer: func(fakeCall) (any, error) { return tt.reply, tt.err }}
			l, err := New(f, "x", nil)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			lease, err := l.TryAcquire(t.Context())
			if err == nil {
				t.Fatalf("TryAcquire returned lease %d, want an error", lease.Fence())
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v, want errors.Is %v", err, tt.wantIs)
			}
			if tt.wantIs != ErrNotAcquired && errors.Is(err, ErrNotAcquired) {
				t.Errorf("error %v matches ErrNotAcquired", err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", err, tt.wantText)
			}
		})
	}
}

// waitCall is one OnWait call.
type waitCall struct {
	runID  string
	waited time.Duration
}

// heldUntil answers acquire.lua with "held" until the bubble's clock
// reaches free, then with fence 42; it counts attempts.
func heldUntil(free time.Time, attempts *[]time.Time) func(fakeCall) (any, error) {
	return func(c fakeCall) (any, error) {
		*attempts = append(*attempts, time.Now())
		if time.Now().Before(free) {
			return heldReply(), nil
		}
		return []any{int64(1), int64(42)}, nil
	}
}

func TestAcquireWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var attempts []time.Time
		var waits []waitCall
		f := &fakeRedis{answer: heldUntil(start.Add(12*time.Second), &attempts)}
		l, err := New(f, "x", &Options{
			RetryMin: time.Second, RetryMax: time.Second, // no jitter
			OnWait: func(h *Holder, waited time.Duration) {
				waits = append(waits, waitCall{h.RunID, waited})
			},
		})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		lease, err := l.Acquire(t.Context())
		if err != nil {
			t.Fatalf("Acquire: %v", err)
		}
		if got, want := lease.Fence(), int64(42); got != want {
			t.Errorf("Fence() = %d, want %d", got, want)
		}
		if got, want := time.Since(start), 12*time.Second; got != want {
			t.Errorf("acquired after %s, want %s (when the holder let go)", got, want)
		}
		if got, want := len(attempts), 13; got != want {
			t.Errorf("%d attempts, want %d (one a second)", got, want)
		}
		wantWaits := []waitCall{{"run-other", 0}, {"run-other", 5 * time.Second}, {"run-other", 10 * time.Second}}
		if !equalWaits(waits, wantWaits) {
			t.Errorf("OnWait calls %v, want %v", waits, wantWaits)
		}
	})
}

func TestAcquireGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var attempts []time.Time
		var waits []waitCall
		f := &fakeRedis{answer: heldUntil(start.Add(time.Hour), &attempts)}
		l, err := New(f, "x", &Options{
			RetryMin: time.Second, RetryMax: time.Second,
			OnWait: func(h *Holder, waited time.Duration) {
				waits = append(waits, waitCall{h.RunID, waited})
			},
		})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 9500*time.Millisecond)
		defer cancel()
		_, err = l.Acquire(ctx)
		if !errors.Is(err, ErrNotAcquired) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Acquire: got %v, want ErrNotAcquired and DeadlineExceeded", err)
		}
		var na *NotAcquiredError
		if !errors.As(err, &na) || na.Holder == nil || na.Holder.RunID != "run-other" {
			t.Errorf("Acquire: got %#v, want a *NotAcquiredError naming run-other", err)
		}
		if got, want := time.Since(start), 9500*time.Millisecond; got != want {
			t.Errorf("gave up after %s, want %s (the deadline)", got, want)
		}
		if got, want := len(attempts), 10; got != want {
			t.Errorf("%d attempts, want %d", got, want)
		}
		wantWaits := []waitCall{{"run-other", 0}, {"run-other", 5 * time.Second}}
		if !equalWaits(waits, wantWaits) {
			t.Errorf("OnWait calls %v, want %v", waits, wantWaits)
		}
	})
}

func TestAcquireBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var attempts []time.Time
		f := &fakeRedis{answer: heldUntil(start.Add(20*time.Second), &attempts)}
		l, err := New(f, "x", nil) // 100ms..2s
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if _, err := l.Acquire(t.Context()); err != nil {
			t.Fatalf("Acquire: %v", err)
		}
		for i := 1; i < len(attempts); i++ {
			gap := attempts[i].Sub(attempts[i-1])
			ceiling := min(DefaultRetryMin<<(i-1), DefaultRetryMax)
			if gap < max(ceiling/2, DefaultRetryMin) || gap > ceiling {
				t.Errorf("pause %d is %s, want in [%s, %s]", i, gap, max(ceiling/2, DefaultRetryMin), ceiling)
			}
		}
	})
}

func TestAcquireStopsOnAPermanentRedisError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls int
		f := &fakeRedis{answer: func(fakeCall) (any, error) {
			calls++
			if calls < 3 {
				return heldReply(), nil
			}
			return nil, replyError("NOPERM this user has no permissions to run the 'eval' command")
		}}
		l, err := New(f, "x", nil)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		_, err = l.Acquire(t.Context())
		if err == nil || errors.Is(err, ErrNotAcquired) || !strings.Contains(err.Error(), "NOPERM") {
			t.Errorf("Acquire: got %v, want the Redis error, not ErrNotAcquired", err)
		}
		if got, want := calls, 3; got != want {
			t.Errorf("%d attempts, want %d", got, want)
		}
	})
}

// transientErrors are Redis errors that Acquire retries.
var transientErrors = []struct {
	name string
	err  error
}{
	{"connection_refused", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}},
	{"connection_reset", syscall.ECONNRESET},
	{"timeout", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}},
	{"eof", io.EOF},
	{"loading", replyError("LOADING Redis is loading the dataset in memory")},
	{"readonly", replyError("READONLY You can't write against a read only replica.")},
	{"clusterdown", replyError("CLUSTERDOWN The cluster is down")},
	{"pool_timeout", redis.ErrPoolTimeout},
}

func TestAcquireRetriesTransientRedisErrors(t *testing.T) {
	for _, tt := range transientErrors {
		t.Run(tt.name+"_then_acquired", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var calls int
				var retries []error
				f := &fakeRedis{answer: func(fakeCall) (any, error) {
					calls++
					if calls <= 3 {
						return nil, tt.err
					}
					return []any{int64(1), int64(7)}, nil
				}}
				l, err := New(f, "x", &Options{
					WaitLogEvery: time.Nanosecond,
					OnRetry:      func(err error, _ time.Duration) { retries = append(retries, err) },
				})
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				lease, err := l.Acquire(t.Context())
				if err != nil {
					t.Fatalf("Acquire: %v, want the lock after the Redis errors", err)
				}
				if got, want := lease.Fence(), int64(7); got != want {
					t.Errorf("fence %d, want %d", got, want)
				}
				if got, want := len(retries), 3; got != want {
					t.Errorf("OnRetry called %d times, want %d", got, want)
				}
			})
		})
	}
}

func TestAcquireRetriesTransientRedisErrorsUntilTheWaitEnds(t *testing.T) {
	for _, tt := range transientErrors {
		t.Run(tt.name+"_until_the_wait_ends", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var calls int
				f := &fakeRedis{answer: func(fakeCall) (any, error) {
					calls++
					if calls == 1 {
						return heldReply(), nil
					}
					return nil, tt.err
				}}
				var retried []time.Duration
				l, err := New(f, "x", &Options{RetryMin: time.Second, RetryMax: time.Second,
					OnRetry: func(_ error, waited time.Duration) { retried = append(retried, waited) }})
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				start := time.Now()
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				_, err = l.Acquire(ctx)
				if !errors.Is(err, ErrNotAcquired) || !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("Acquire: got %v, want ErrNotAcquired when the wait ends", err)
				}
				if got, want := time.Since(start), 10*time.Second; got != want {
					t.Errorf("gave up after %s, want %s (the wait)", got, want)
				}
				if !strings.Contains(err.Error(), "last Redis error: ") || !strings.Contains(err.Error(), "run-other") {
					t.Errorf("Acquire: %q, want the last holder and the last Redis error named", err)
				}
				if calls < 5 {
					t.Errorf("%d attempts, want the errors retried until the wait ends", calls)
				}
				// At the first error after the holder, then every WaitLogEvery (5s).
				if len(retried) != 2 || retried[0] != time.Second || retried[1] != 6*time.Second {
					t.Errorf("OnRetry at %v, want [1s 6s]", retried)
				}
			})
		})
	}
}

func TestAcquireCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeRedis{answer: heldUntil(time.Now().Add(time.Hour), new([]time.Time))}
		l, err := New(f, "x", nil)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		ctx, cancel := context.WithCancelCause(t.Context())
		stop := errors.New("sigterm")
		time.AfterFunc(3*time.Second, func() { cancel(stop) })
		_, err = l.Acquire(ctx)
		if !errors.Is(err, ErrNotAcquired) || !errors.Is(err, stop) || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Acquire: got %v, want ErrNotAcquired with the cancel cause", err)
		}
	})
}

func equalWaits(a, b []waitCall) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLease(t *testing.T) {
	tests := []struct {
		name        string
		reply       any
		err         error
		wantRefresh error // matched with errors.Is; nil means success
		wantRelease error
	}{
		{"held", int64(1), nil, nil, nil},
		{"lost", int64(0), nil, ErrLost, ErrLost},
		{"redis_error", nil, context.DeadlineExceeded, context.DeadlineExceeded, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			clock := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			f := &fakeRedis{answer: func(c fakeCall) (any, error) {
				if c.Src == acquireLua {
					return []any{int64(1), int64(3)}, nil
				}
				return tt.reply, tt.err
			}}
			l, err := New(f, "x", &Options{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			lease, err := l.TryAcquire(t.Context())
			if err != nil {
				t.Fatalf("TryAcquire: %v", err)
			}
			mu.Lock()
			clock = clock.Add(10 * time.Second)
			mu.Unlock()

			err = lease.Refresh(t.Context())
			if !errors.Is(err, tt.wantRefresh) || (tt.wantRefresh != ErrLost && errors.Is(err, ErrLost)) {
				t.Errorf("Refresh: got %v, want %v", err, tt.wantRefresh)
			}
			wantRenewed := lease.Holder().Since
			if err == nil {
				wantRenewed = wantRenewed.Add(10 * time.Second)
			}
			if got := lease.Holder().Renewed; !got.Equal(wantRenewed) {
				t.Errorf("Renewed %s, want %s", got, wantRenewed)
			}
			if calls := f.evals(refreshLua); len(calls) != 1 || calls[0].Args[0] != lease.Token() {
				t.Errorf("refresh calls %v, want one with the lease token", calls)
			}

			for i := range 2 {
				err = lease.Release(t.Context())
				if !errors.Is(err, tt.wantRelease) {
					t.Errorf("Release #%d: got %v, want %v", i+1, err, tt.wantRelease)
				}
			}
			wantReleases := 2
			if tt.wantRelease == nil {
				wantReleases = 1 // the second Release is answered locally
			}
			if got := len(f.evals(releaseLua)); got != wantReleases {
				t.Errorf("%d release EVALs, want %d", got, wantReleases)
			}
		})
	}
}

func TestBreakAndHolderReplies(t *testing.T) {
	held := heldReply()
	tests := []struct {
		name       string
		reply      []any
		force      bool
		wantHolder string // run id, "" for nil
		wantErr    error
	}{
		{"free", []any{int64(0)}, false, "", nil},
		{"broken", append([]any{int64(1)}, held[1:]...), false, "run-other", nil},
		{"refused", append([]any{int64(2)}, held[1:]...), false, "run-other", ErrHeld},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeRedis{answer: func(fakeCall) (any, error) { return tt.reply, nil }}
			l, err := New(f, "x", nil)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			h, err := l.Break(t.Context(), tt.force)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Break: got error %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "run-other") {
				t.Errorf("Break error %q does not name the holder", err)
			}
			if got := runID(h); got != tt.wantHolder {
				t.Errorf("Break holder %q, want %q", got, tt.wantHolder)
			}
		})
	}
	t.Run("force_flag_is_passed", func(t *testing.T) {
		f := &fakeRedis{answer: func(fakeCall) (any, error) { return []any{int64(0)}, nil }}
		l, _ := New(f, "x", &Options{TTL: 9 * time.Second})
		for _, force := range []bool{false, true} {
			if _, err := l.Break(t.Context(), force); err != nil {
				t.Fatalf("Break: %v", err)
			}
		}
		calls := f.evals(breakLua)
		if got, want := len(calls), 2; got != want {
			t.Fatalf("%d break EVALs, want %d", got, want)
		}
		for i, want := range []string{"0", "1"} {
			if got := calls[i].Args[0]; got != want || calls[i].Args[1] != int64(9000) {
				t.Errorf("break #%d args %v, want [%s 9000]", i, calls[i].Args, want)
			}
		}
	})
	t.Run("holder_free_and_held", func(t *testing.T) {
		for _, tc := range []struct {
			reply []any
			want  string
		}{{[]any{int64(0)}, ""}, {append([]any{int64(1)}, held[1:]...), "run-other"}} {
			f := &fakeRedis{answer: func(fakeCall) (any, error) { return tc.reply, nil }}
			l, _ := New(f, "x", nil)
			h, err := l.Holder(t.Context())
			if err != nil {
				t.Fatalf("Holder: %v", err)
			}
			if got := runID(h); got != tc.want {
				t.Errorf("Holder %q, want %q", got, tc.want)
			}
		}
	})
}

func runID(h *Holder) string {
	if h == nil {
		return ""
	}
	return h.RunID
}

// A waiter whose backoff has grown past the holder's remaining lease tries
// again right after the lease runs out, not a whole backoff later: a killed
// holder blocks the others for one ttl.
func TestAcquireRetriesWhenTheLeaseRunsOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		free := start.Add(10 * time.Second) // the lease's key expires then
		var attempts []time.Time
		f := &fakeRedis{answer: func(c fakeCall) (any, error) {
			attempts = append(attempts, time.Now())
			if left := time.Until(free); left > 0 {
				reply := heldReply()
				reply[1] = left.Milliseconds() // PTTL of the lock key
				return reply, nil
			}
			return []any{int64(1), int64(42)}, nil
		}}
		l, err := New(f, "x", &Options{RetryMin: 100 * time.Millisecond, RetryMax: 5 * time.Second})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if _, err := l.Acquire(t.Context()); err != nil {
			t.Fatalf("Acquire: %v", err)
		}
		got := attempts[len(attempts)-1].Sub(free)
		if got < 0 || got > 100*time.Millisecond {
			t.Errorf("acquired %s after the lease ran out, want within RetryMin (100ms)", got)
		}
	})
}

// replyError is an error reply of Redis, as the client returns it.
type replyError string

func (e replyError) Error() string { return string(e) }

func (e replyError) RedisError() {}
