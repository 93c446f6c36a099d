package runner

import (
	"context"

	"github.com/srvthreds/bootstrap/health"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/store"
)

// Reset runs, under the lock, the reset of each profile of set (its
// reset: section; for a srvthreds-form profile the legacy wipe: its
// database and those its Handler.ts cleanup() drops, and every Redis key
// but bootstrap's own) and nothing else: the legacy `-c`. Each profile's
// marker is deleted (fenced) so that the next run applies it again, and
// the outcome is audited as store.OutcomeReset. A profile without a reset
// is audited as skipped.
func (r *Runner) Reset(ctx context.Context, set *profiles.Set) (*Result, error) {
	res := &Result{RunID: r.opts.RunID}
	if err := r.needsAll("reset"); err != nil {
		return res, err
	}
	err := r.underLock(ctx, "reset", set.Profiles, false, func(a *attempt) error {
		res.Fence = a.lease.Fence()
		for _, p := range set.Profiles {
			pr := ProfileResult{Profile: p.Name, Version: p.Version}
			err := a.resetOnly(p, &pr)
			res.Profiles = append(res.Profiles, pr)
			if err != nil {
				return err
			}
		}
		return nil
	})
	return res, err
}

func (a *attempt) resetOnly(p *profiles.Profile, pr *ProfileResult) error {
	pc := &profileRun{p: p, pr: pr, prev: a.prevs[p.Name], start: a.r.opts.Now(), log: a.log.With("profile", p.Name)}
	if pc.prev != nil {
		pr.PrevVersion = pc.prev.Version
	}
	if p.Reset == nil {
		a.r.rep.Report(health.ProfileStarted{Name: p.Name, Version: p.Version})
		pc.log.Info("profile has no reset")
		pr.Outcome = store.OutcomeSkipped
		pr.Duration = a.r.opts.Now().Sub(pc.start)
		a.record(pc)
		return nil
	}
	rec, err := a.reset(pc)
	pr.Steps = []store.StepRecord{rec}
	if err != nil {
		return a.fail(pc, rec.Name, err)
	}
	if err := a.forget(p.Database, p.Name); err != nil {
		return a.fail(pc, "marker", err)
	}
	pr.Outcome = store.OutcomeReset
	pr.Duration = a.r.opts.Now().Sub(pc.start)
	a.record(pc)
	return nil
}

// forget deletes the marker of profile in db (only below this run's fence)
// and its Redis record, each as a write under the lease
// (lease.Session.Put).
func (a *attempt) forget(db, profile string) error {
	err := a.s.Put(a.ctx(), func(ctx context.Context) error {
		_, err := a.r.store.DeleteMarker(ctx, db, profile, a.s.Fence())
		return err
	})
	if err != nil {
		return err
	}
	return a.s.Put(a.ctx(), func(ctx context.Context) error {
		return a.r.records.redis.Delete(ctx, db, profile)
	})
}
