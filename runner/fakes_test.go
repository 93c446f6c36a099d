package runner

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/runner/internal/lease"
)

// fakeLease is a Lease held until released; Release answers as release
// says (nil: at once).
type fakeLease struct {
	mu        sync.Mutex
	confirmed time.Time
	release   func(ctx context.Context) error
	released  bool
}

func newFakeLease() *fakeLease { return &fakeLease{confirmed: time.Now()} }

func (f *fakeLease) Refresh(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.confirmed = time.Now()
	return nil
}

func (f *fakeLease) Release(ctx context.Context) error {
	if f.release != nil {
		if err := f.release(ctx); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released = true
	return nil
}

func (f *fakeLease) Confirmed() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.confirmed
}

func (f *fakeLease) Fence() int64        { return 7 }
func (f *fakeLease) Token() string       { return "token" }
func (f *fakeLease) Holder() lock.Holder { return lock.Holder{RunID: "run", Host: "host", Fence: 7} }

// testAttempt is an attempt holding a fake lease (ttl 3s) under a session,
// stopped when the test ends.
func testAttempt(t *testing.T) *attempt {
	t.Helper()
	l := newFakeLease()
	s := lease.Start(t.Context(), l, lease.Options{TTL: 3 * time.Second})
	t.Cleanup(s.Stop)
	return &attempt{s: s, lease: l, log: slog.New(slog.DiscardHandler), parent: t.Context()}
}
