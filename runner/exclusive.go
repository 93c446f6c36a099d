package runner

import (
	"fmt"
	"slices"

	"github.com/srvthreds/bootstrap/health"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner/internal/step"
	"github.com/srvthreds/bootstrap/store"
)

// exclusive makes the profiles of set the only ones applied in the
// databases they use (Options.Exclusive): what the markers of any other
// profile there say it wrote is removed — but what set's own profiles write
// — after a snapshot, then those markers and their Redis records are
// deleted and audited as removed. Data that no profile wrote (run-time
// threads, events, sessions) is not touched.
func (a *attempt) exclusive(set *profiles.Set, res *Result) error {
	keep, err := a.ownedBy(set)
	if err != nil {
		return err
	}
	var dbs []string
	for _, p := range set.Profiles {
		if !slices.Contains(dbs, p.Database) {
			dbs = append(dbs, p.Database)
		}
	}
	for _, db := range dbs {
		markers, err := a.r.store.Markers(a.ctx(), db)
		if err != nil {
			return err
		}
		for i := range markers {
			if set.Get(markers[i].Profile) != nil {
				continue
			}
			pr := ProfileResult{Profile: markers[i].Profile, Version: markers[i].Version, PrevVersion: markers[i].Version}
			err := a.remove(db, &markers[i], keep, &pr)
			res.Profiles = append(res.Profiles, pr)
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// ownedBy is what the profiles of set write, together.
func (a *attempt) ownedBy(set *profiles.Set) (*store.Owned, error) {
	var all []*step.Writes
	for _, p := range set.Profiles {
		_, ws, err := a.r.writesOf(p, a.prevs[p.Name])
		if err != nil {
			return nil, fmt.Errorf("exclusive: %s: %w", p.Name, err)
		}
		all = append(all, ws...)
	}
	return step.OwnedOf(all)
}

// remove removes, after a snapshot, what the profile of m wrote but keep,
// then m and the profile's Redis record; audited as removed.
func (a *attempt) remove(db string, m *store.Marker, keep *store.Owned, pr *ProfileResult) error {
	p := &profiles.Profile{Name: m.Profile, Database: db, Version: m.Version, HashAlgo: m.HashAlgo}
	pc := &profileRun{p: p, pr: pr, prev: m, start: a.r.opts.Now(), log: a.log.With("profile", m.Profile)}
	a.r.rep.Report(health.ProfileStarted{Name: p.Name, Version: p.Version})
	pc.log.Info("removing a profile that --exclusive leaves out", "version", m.Version)
	if w := step.PruneWrites(m.Owned, keep); w != nil {
		if err := a.snapshot(pc, []string{step.PruneName}, []*step.Writes{w}); err != nil {
			return a.fail(pc, snapshotStepName, err)
		}
		env := a.stepEnv(pc, profiles.Step{}, pc.log.With("step", step.PruneName))
		rec, err := step.Prune(a.ctx(), env, w)
		pr.Steps = append(pr.Steps, rec)
		if err != nil {
			return a.fail(pc, step.PruneName, err)
		}
	}
	if err := a.forget(db, m.Profile); err != nil {
		return a.fail(pc, "marker", err)
	}
	pr.Outcome = store.OutcomeRemoved
	pr.Duration = a.r.opts.Now().Sub(pc.start)
	a.record(pc)
	return nil
}
