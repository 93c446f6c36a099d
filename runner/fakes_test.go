package runner

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner/internal/lease"
	"github.com/srvthreds/bootstrap/store"
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

// fakeLocker is a lock held by another: Acquire waits until ctx ends.
type fakeLocker struct{ ttl time.Duration }

func (l fakeLocker) Acquire(ctx context.Context) (Lease, error) {
	<-ctx.Done()
	return nil, &lock.NotAcquiredError{Err: context.Cause(ctx)}
}
func (fakeLocker) RaiseFence(context.Context, int64) (int64, error) { return 0, nil }
func (l fakeLocker) TTL() time.Duration                             { return l.ttl }
func (fakeLocker) Name() string                                     { return "bootstrap" }
func (fakeLocker) Key() string                                      { return "bootstrap:lock:{bootstrap}" }

// fakeRecords says every profile is current from currentAt on (never when
// zero), and counts the reads.
type fakeRecords struct {
	mu        sync.Mutex
	currentAt time.Time
	reads     []time.Time
}

func (f *fakeRecords) Get(_ context.Context, p *profiles.Profile) (Completion, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	f.reads = append(f.reads, now)
	if f.currentAt.IsZero() || now.Before(f.currentAt) {
		return Completion{}, nil
	}
	return Completion{Marker: &store.Marker{Profile: p.Name, Version: p.Version, HashAlgo: p.HashAlgo}}, nil
}

func (f *fakeRecords) All(ctx context.Context, profs []*profiles.Profile) (map[string]Completion, error) {
	out := map[string]Completion{}
	for _, p := range profs {
		c, _ := f.Get(ctx, p)
		out[p.Name] = c
	}
	return out, nil
}

var testProfiles = []*profiles.Profile{{Name: "base", Version: "v1"}, {Name: "app", Version: "v2"}}

// testRunner is a Runner of fakes: no server, time under synctest.
func testRunner(locker Locker, recs recordReader, o Options) *Runner {
	o = o.withDefaults()
	return &Runner{locker: locker, reader: recs, opts: o, log: o.Log, rep: o.Reporter}
}
