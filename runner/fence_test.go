package runner

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/store"
)

// counterLocker is a free lock whose fence counter is Redis's: INCR on
// every acquisition, RaiseFence never lowers it. Setting counter is what
// Redis losing it looks like.
type counterLocker struct {
	mu           sync.Mutex
	counter      int64
	acquisitions int
}

func (l *counterLocker) Acquire(context.Context) (Lease, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counter++
	l.acquisitions++
	return &fencedLease{fakeLease: newFakeLease(), fence: l.counter}, nil
}

func (l *counterLocker) RaiseFence(_ context.Context, floor int64) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counter = max(l.counter, floor)
	return l.counter, nil
}

func (*counterLocker) TTL() time.Duration { return 30 * time.Second }
func (*counterLocker) Name() string       { return "bootstrap" }
func (*counterLocker) Key() string        { return "bootstrap:lock:{bootstrap}" }

type fencedLease struct {
	*fakeLease
	fence int64
}

func (l *fencedLease) Fence() int64 { return l.fence }

// fakeClaims is the durable fence of each database, as store.ClaimFence
// keeps it.
type fakeClaims struct {
	mu     sync.Mutex
	fences map[string]int64
}

func (f *fakeClaims) ClaimFence(_ context.Context, db string, c store.FenceClaim) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if cur := f.fences[db]; cur >= c.Fence {
		return cur, store.ErrFenced
	}
	f.fences[db] = c.Fence
	return c.Fence, nil
}

// markerRecords says every profile's marker has the fence of its name.
type markerRecords map[string]int64

func (m markerRecords) Get(_ context.Context, p *profiles.Profile) (Completion, error) {
	f, ok := m[p.Name]
	if !ok {
		return Completion{}, nil
	}
	return Completion{Marker: &store.Marker{Profile: p.Name, Version: "old", Fence: f}}, nil
}

func (m markerRecords) All(ctx context.Context, profs []*profiles.Profile) (map[string]Completion, error) {
	out := map[string]Completion{}
	for _, p := range profs {
		out[p.Name], _ = m.Get(ctx, p)
	}
	return out, nil
}

// The lease's fence is above the Redis counter, the stored markers and the
// fence last claimed in every database the run writes to; it is claimed
// there before any work, and the lock is taken again only when the counter
// was behind.
func TestFence_is_above_every_fence_drawn_before(t *testing.T) {
	profs := []*profiles.Profile{{Name: "base", Database: "nr"}, {Name: "app", Database: "app"}}
	tests := []struct {
		name      string
		counter   int64            // Redis's counter before the run
		claimed   map[string]int64 // durable fences before the run
		markers   markerRecords
		wantFence int64
		wantTakes int // acquisitions of the lock
	}{
		{"counter_ahead", 9, map[string]int64{"nr": 9, "app": 4}, markerRecords{"base": 9}, 10, 1},
		{"first_run_ever", 0, map[string]int64{}, markerRecords{}, 1, 1},
		{"counter_flushed", 0, map[string]int64{"nr": 41, "app": 41}, markerRecords{}, 42, 2},
		{"failover_lost_the_last_incr", 40, map[string]int64{"nr": 41, "app": 41}, markerRecords{"base": 40}, 42, 2},
		{"claimed_in_one_database_only", 20, map[string]int64{"nr": 10, "app": 30}, markerRecords{}, 31, 2},
		{"markers_ahead_of_the_claims", 0, map[string]int64{"nr": 3}, markerRecords{"app": 50}, 51, 2},
		// Markers written before fences were claimed: one carries the very
		// fence the counter hands out next, and nothing is claimed yet.
		{"a_marker_at_the_drawn_fence_unclaimed", 4, map[string]int64{}, markerRecords{"base": 5}, 6, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				locker := &counterLocker{counter: tt.counter}
				claims := &fakeClaims{fences: tt.claimed}
				r := testRunner(locker, tt.markers, Options{})
				r.fences = claims
				var got int64
				err := r.underLock(t.Context(), "run", profs, false, func(a *attempt) error {
					got = a.lease.Fence()
					return nil
				})
				if err != nil {
					t.Fatalf("underLock = %v", err)
				}
				if got != tt.wantFence {
					t.Errorf("fence = %d, want %d", got, tt.wantFence)
				}
				if locker.acquisitions != tt.wantTakes {
					t.Errorf("lock taken %d times, want %d", locker.acquisitions, tt.wantTakes)
				}
				for _, db := range []string{"nr", "app"} {
					if c := claims.fences[db]; c != tt.wantFence {
						t.Errorf("fence claimed in %s = %d, want %d", db, c, tt.wantFence)
					}
				}
			})
		})
	}
}

// Fences strictly increase over runs, with Redis's counter lost between
// any two of them.
func TestFences_strictly_increase_when_redis_forgets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		profs := []*profiles.Profile{{Name: "base", Database: "nr"}}
		locker := &counterLocker{}
		claims := &fakeClaims{fences: map[string]int64{}}
		var last int64
		for run := range 6 {
			if run%2 == 1 {
				locker.counter = 0 // FLUSHALL, or eviction of the counter
			} else if run > 0 {
				locker.counter-- // a failover to a replica that missed the last INCR
			}
			r := testRunner(locker, markerRecords{}, Options{})
			r.fences = claims
			err := r.underLock(t.Context(), "run", profs, false, func(a *attempt) error {
				if f := a.lease.Fence(); f <= last {
					t.Errorf("run %d: fence %d after %d", run, f, last)
				} else {
					last = f
				}
				return nil
			})
			if err != nil {
				t.Fatalf("run %d: %v", run, err)
			}
		}
	})
}

// A run that keeps finding its fence claimed (others claiming higher ones
// all the time) gives up as a lost lock after fenceTries acquisitions,
// having written nothing.
func TestFence_claimed_by_others_every_time_gives_up(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		locker := &counterLocker{}
		r := testRunner(locker, markerRecords{}, Options{})
		r.fences = claimsAhead{}
		ran := false
		err := r.underLock(t.Context(), "run", []*profiles.Profile{{Name: "base", Database: "nr"}}, false,
			func(*attempt) error { ran = true; return nil })
		if !errors.Is(err, ErrLockLost) {
			t.Errorf("underLock = %v, want ErrLockLost", err)
		}
		if ran {
			t.Error("the work ran under an unclaimed fence")
		}
		if got, want := locker.acquisitions, fenceTries; got != want {
			t.Errorf("lock taken %d times, want %d", got, want)
		}
	})
}

// claimsAhead has always stored a fence one above the one claimed.
type claimsAhead struct{}

func (claimsAhead) ClaimFence(_ context.Context, _ string, fc store.FenceClaim) (int64, error) {
	return fc.Fence + 1, store.ErrFenced
}
