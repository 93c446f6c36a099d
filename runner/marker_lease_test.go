package runner

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/srvthreds/bootstrap/lock"
)

// scriptFake is a Redis for the lock's scripts: it answers EVAL through
// answer (by the script's source), and EVALSHA with NOSCRIPT.
type scriptFake struct {
	mu     sync.Mutex
	answer func(src string) (any, error)
}

func (f *scriptFake) Eval(ctx context.Context, src string, _ []string, _ ...any) *redis.Cmd {
	cmd := redis.NewCmd(ctx)
	if err := ctx.Err(); err != nil {
		cmd.SetErr(err)
		return cmd
	}
	f.mu.Lock()
	v, err := f.answer(src)
	f.mu.Unlock()
	if err != nil {
		cmd.SetErr(err)
	} else {
		cmd.SetVal(v)
	}
	return cmd
}

func (f *scriptFake) EvalSha(ctx context.Context, _ string, _ []string, _ ...any) *redis.Cmd {
	cmd := redis.NewCmd(ctx)
	cmd.SetErr(redis.ErrNoScript)
	return cmd
}

func (f *scriptFake) EvalRO(ctx context.Context, _ string, _ []string, _ ...any) *redis.Cmd {
	cmd := redis.NewCmd(ctx)
	cmd.SetErr(errors.New("fake: EVAL_RO not supported"))
	return cmd
}

func (f *scriptFake) EvalShaRO(ctx context.Context, _ string, _ []string, _ ...any) *redis.Cmd {
	return f.EvalRO(ctx, "", nil)
}

func (f *scriptFake) ScriptExists(ctx context.Context, hashes ...string) *redis.BoolSliceCmd {
	cmd := redis.NewBoolSliceCmd(ctx)
	cmd.SetVal(make([]bool, len(hashes)))
	return cmd
}

func (f *scriptFake) ScriptLoad(ctx context.Context, _ string) *redis.StringCmd {
	cmd := redis.NewStringCmd(ctx)
	cmd.SetErr(errors.New("fake: SCRIPT LOAD not supported"))
	return cmd
}

// markerAttempt is an attempt holding a lease (ttl 3s) of a fake Redis
// whose refreshes fail with the errors of refreshErrs, in turn, then
// succeed (or keep failing with the last one when sticky).
func markerAttempt(t *testing.T, refreshErrs []error, sticky bool) (*attempt, *int) {
	t.Helper()
	refreshes := 0
	f := &scriptFake{answer: func(src string) (any, error) {
		if strings.Contains(src, "INCR") { // acquire.lua: the fence is drawn there
			return []any{int64(1), int64(7)}, nil
		}
		refreshes++
		switch {
		case refreshes <= len(refreshErrs):
			return nil, refreshErrs[refreshes-1]
		case sticky:
			return nil, refreshErrs[len(refreshErrs)-1]
		}
		return int64(1), nil
	}}
	l, err := lock.New(f, "t", &lock.Options{TTL: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	lease, err := l.TryAcquire(t.Context())
	if err != nil {
		t.Fatalf("TryAcquire: %v", err)
	}
	g := newLeaseGuard(t.Context(), lease, l.TTL())
	t.Cleanup(func() { g.cancel(nil) })
	return &attempt{g: g, lease: lease, log: slog.New(slog.DiscardHandler)}, &refreshes
}

func TestRefreshForMarker(t *testing.T) {
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
		{name: "transient_until_the_lease_ends_is_lock_lost", errs: []error{refused}, sticky: true, wantErr: ErrLockLost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a, calls := markerAttempt(t, tt.errs, tt.sticky)
				err := a.refreshForMarker()
				switch {
				case tt.wantErr == nil && err != nil:
					t.Fatalf("refreshForMarker: %v, want the lease confirmed", err)
				case tt.wantErr != nil && !errors.Is(err, tt.wantErr) && (err == nil || !strings.Contains(err.Error(), tt.wantErr.Error())):
					t.Fatalf("refreshForMarker: %v, want %v", err, tt.wantErr)
				}
				if tt.wantCalls > 0 && *calls != tt.wantCalls {
					t.Errorf("%d refreshes, want %d", *calls, tt.wantCalls)
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
