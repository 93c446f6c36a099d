package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/srvthreds/bootstrap/internal/mongox"
	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/store"
)

// fenceClaimer keeps the lock's fences durable in MongoDB (*store.Store).
type fenceClaimer interface {
	// ClaimFence stores c as the highest fence of its lock in db, or
	// returns the higher one stored and an error matching store.ErrFenced.
	ClaimFence(ctx context.Context, db string, c store.FenceClaim) (int64, error)
}

var _ fenceClaimer = (*store.Store)(nil)

// fenceTries bounds how many times checkFence takes the lock again: each
// time the fence it draws is above every fence seen so far, so only runs
// that keep claiming higher fences at the same time (which the lock
// excludes but for the moments after a failover) make it try again.
const fenceTries = 5

// checkFence makes sure that the lease's fence was never drawn before,
// whatever Redis lost, before anything is written under it: it must be
// above the fence of every stored marker of profs, and above the fence
// last claimed in MongoDB in every database of profs, where it is then
// claimed itself (store.ClaimFence). When it is not (Redis lost its
// counter: eviction, a failover to a replica that missed the last INCR, a
// restore of an older backup), the counter is raised past the highest
// fence seen and the lock taken again, for a fence above it. See
// docs/locking.md for why fences then never repeat.
func (a *attempt) checkFence(profs []*profiles.Profile) error {
	floor := markersTop(a)
	dbs := databases(profs)
	for try := 1; ; try++ {
		if floor < a.lease.Fence() {
			higher, err := a.claimFence(dbs)
			if err != nil || higher == 0 {
				return err
			}
			floor = higher
		}
		if try == fenceTries {
			return fmt.Errorf("%w: fence %d is not above %d, claimed by another run, after taking the lock %d times",
				ErrLockLost, a.lease.Fence(), floor, fenceTries)
		}
		if err := a.retake(floor); err != nil {
			return err
		}
	}
}

// markersTop is the highest fence of the markers read under the lock.
func markersTop(a *attempt) int64 {
	var top int64
	for _, m := range a.prevs {
		if m != nil && m.Fence > top {
			top = m.Fence
		}
	}
	return top
}

// databases are the databases of profs, each once, in order.
func databases(profs []*profiles.Profile) []string {
	var dbs []string
	for _, p := range profs {
		if !slices.Contains(dbs, p.Database) {
			dbs = append(dbs, p.Database)
		}
	}
	return dbs
}

// claimFence claims the lease's fence in every database of dbs. It returns
// 0 when every claim succeeded, else the highest fence stored that refused
// one.
func (a *attempt) claimFence(dbs []string) (int64, error) {
	if a.r.fences == nil {
		return 0, nil
	}
	c := store.FenceClaim{Lock: a.r.locker.Name(), Fence: a.lease.Fence(), RunID: a.r.opts.RunID, At: a.r.opts.Now()}
	var higher int64
	for _, db := range dbs {
		var stored int64
		err := mongox.Retry(a.ctx(), a.log, a.s, func(ctx context.Context) error {
			var err error
			stored, err = a.r.fences.ClaimFence(ctx, db, c)
			return err
		})
		switch {
		case errors.Is(err, store.ErrFenced):
			higher = max(higher, stored)
		case err != nil:
			if cause := a.s.Err(); cause != nil {
				return 0, cause
			}
			return 0, err
		}
	}
	return higher, nil
}

// retake raises the fence counter to floor and takes the lock again, for a
// fence above it.
func (a *attempt) retake(floor int64) error {
	r := a.r
	a.log.Warn("the lock's fence was drawn before (Redis lost its counter: eviction, failover or restore); raising the counter and taking the lock again",
		"fence", a.lease.Fence(), "highest_fence_seen", floor)
	if _, err := r.locker.RaiseFence(a.ctx(), floor); err != nil {
		return err
	}
	a.s.Stop()
	if err := a.lease.Release(a.parent); err != nil && !errors.Is(err, lock.ErrLost) {
		return err
	}
	lease, err := r.acquire(a.parent, a.log)
	if err != nil {
		a.lease = nil
		return err
	}
	a.lease = lease
	a.guard()
	return nil
}
