package lock_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/lock/locktest"
)

func TestMain(m *testing.M) { harness.Main(m) }

func TestLock(t *testing.T) {
	r := harness.StartRedis(t, nil)
	locktest.Run(t, func(t *testing.T) lock.RedisClient { return r.Client(t) })
}

// TestRefreshWhileRedisPaused: while Redis hangs, Refresh fails with Redis's
// timeout rather than ErrLost (the lease may or may not be lost, and the
// runner stops either way); once Redis answers again, Refresh tells which.
func TestRefreshWhileRedisPaused(t *testing.T) {
	r := harness.StartRedis(t, nil)
	tests := []struct {
		name       string
		ttl        time.Duration
		pauseFor   time.Duration // from acquisition to Unpause
		wantResume error         // Refresh after Unpause
	}{
		{name: "resumed_within_ttl", ttl: 20 * time.Second, pauseFor: 2 * time.Second},
		// The key was set before acquired: a pause to acquired+ttl+1s
		// outlasts it on Redis's clock (the host's), however slow the
		// machine.
		{name: "resumed_after_ttl", ttl: 5 * time.Second, pauseFor: 6 * time.Second, wantResume: lock.ErrLost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := redis.NewClient(&redis.Options{
				Addr:        r.Addr,
				DialTimeout: 500 * time.Millisecond,
				ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond,
				MaxRetries: -1,
			})
			t.Cleanup(func() { client.Close() })
			name := "paused-" + tt.name
			l, err := lock.New(client, name, &lock.Options{TTL: tt.ttl, Holder: lock.Holder{RunID: "run-paused"}})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			other, err := lock.New(r.Client(t), name, &lock.Options{Holder: lock.Holder{RunID: "run-other"}})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			lease, err := l.TryAcquire(t.Context())
			if err != nil {
				t.Fatalf("TryAcquire: %v", err)
			}
			acquired := time.Now()

			r.Pause(t)
			paused := true
			t.Cleanup(func() {
				if paused {
					r.Unpause(t)
				}
			})
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			err = lease.Refresh(ctx)
			if err == nil || errors.Is(err, lock.ErrLost) {
				t.Fatalf("Refresh while paused: got %v, want a timeout, not ErrLost", err)
			}
			if ne := net.Error(nil); !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("Refresh while paused: got %v, want a network timeout", err)
			}

			time.Sleep(time.Until(acquired.Add(tt.pauseFor)))
			r.Unpause(t)
			paused = false

			err = lease.Refresh(t.Context())
			if !errors.Is(err, tt.wantResume) {
				t.Fatalf("Refresh after Unpause: got %v, want %v", err, tt.wantResume)
			}
			next, err := other.TryAcquire(t.Context())
			if tt.wantResume == nil {
				if !errors.Is(err, lock.ErrNotAcquired) {
					t.Errorf("other TryAcquire while the lease holds: got %v, want ErrNotAcquired", err)
				}
				if err := lease.Release(t.Context()); err != nil {
					t.Errorf("Release: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("other TryAcquire after the lease expired: %v", err)
			}
			if got, prev := next.Fence(), lease.Fence(); got <= prev {
				t.Errorf("next fence %d, want > %d", got, prev)
			}
		})
	}
}
