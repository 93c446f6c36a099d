package runner

import (
	"context"
	"errors"
	"time"

	"github.com/srvthreds/bootstrap/health"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/store"
)

// errAlreadyCurrent ends a wait for the lock when, meanwhile, another run
// applied every profile this one would.
var errAlreadyCurrent = errors.New("runner: every profile became current while waiting for the lock")

// recheckEvery is how often a run waiting for the lock reads the records
// again.
const recheckEvery = 2 * time.Second

// alreadyCurrent is the fast path of a run: when both stores say
// every profile of set is current, the run takes no lock. It logs "already
// current" and audits one skipped record per profile, with fence 0 (no lock
// taken), into res. Read errors are not errors here: the run goes on to
// take the lock and reads the records again under it.
//
// This is correct because records are written only after a complete,
// fenced apply: the MongoDB marker after every step succeeded, under a
// lease confirmed right before, and the Redis record after the marker. A
// record that says "current" can only come from a run that applied that
// very version completely; a run that is half-way has not written it yet
// (its profile reads as not current, and this run queues for the lock).
func (r *Runner) alreadyCurrent(ctx context.Context, set *profiles.Set, res *Result) bool {
	comps, err := r.reader.All(ctx, set.Profiles)
	if err != nil || !allCurrent(set.Profiles, comps) {
		return false
	}
	log := r.log.With("run_id", r.opts.RunID)
	log.Info("already current: every profile is applied at its version in both stores; no lock taken",
		"profiles", len(set.Profiles))
	start := r.opts.Now()
	for _, p := range set.Profiles {
		pr := ProfileResult{Profile: p.Name, Version: p.Version, PrevVersion: comps[p.Name].Marker.Version,
			Outcome: store.OutcomeSkipped}
		r.rep.Report(health.ProfileStarted{Name: p.Name, Version: p.Version})
		pc := &profileRun{p: p, pr: &pr, prev: comps[p.Name].Marker, start: start, log: log.With("profile", p.Name)}
		r.report(ctx, pc, 0)
		res.Profiles = append(res.Profiles, pr)
	}
	r.rep.Report(health.RunEnded{Outcome: "ok", Took: r.opts.Now().Sub(start)})
	return true
}

// recheck polls the records of profs while this run waits for the lock, and
// cancels the wait with errAlreadyCurrent once every profile is current. It
// returns when ctx ends.
func (r *Runner) recheck(ctx context.Context, cancel context.CancelCauseFunc, profs []*profiles.Profile) {
	t := time.NewTicker(recheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		comps, err := r.reader.All(ctx, profs)
		if err == nil && allCurrent(profs, comps) {
			cancel(errAlreadyCurrent)
			return
		}
	}
}
