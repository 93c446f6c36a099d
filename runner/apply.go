package runner

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/srvthreds/bootstrap/health"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner/internal/step"
	"github.com/srvthreds/bootstrap/store"
)

// Run applies set under the lock (see the package documentation). It returns
// the result so far together with any error.
func (r *Runner) Run(ctx context.Context, set *profiles.Set) (*Result, error) {
	res := &Result{RunID: r.opts.RunID}
	if err := r.needsAll("run"); err != nil {
		return res, err
	}
	if err := r.checkKeys(ctx, set); err != nil {
		return res, err
	}
	fast := !r.opts.Force && !r.opts.Reset && !r.opts.Verify && !r.opts.Exclusive
	if fast && r.alreadyCurrent(ctx, set, res) {
		return res, nil
	}
	err := r.underLock(ctx, "run", set.Profiles, fast, func(a *attempt) error {
		res.Fence = a.lease.Fence()
		if err := a.applyAll(set, res); err != nil || !r.opts.Exclusive {
			return err
		}
		return a.exclusive(set, res)
	})
	if errors.Is(err, errAlreadyCurrent) && r.alreadyCurrent(ctx, set, res) {
		return res, nil // while this run waited for the lock, another applied everything
	}
	return res, err
}

// applyAll runs the profiles in order and stops at the first failure. With
// Options.Reset, every profile's reset runs first, so that the reset of a
// later profile (say, one dropping a database they share) does not undo an
// earlier profile of the same run.
func (a *attempt) applyAll(set *profiles.Set, res *Result) error {
	var resets map[string]*store.StepRecord
	if a.r.opts.Reset {
		var err error
		if resets, err = a.resetAll(set, res); err != nil {
			return err
		}
	}
	var applied []string
	for _, p := range set.Profiles {
		pr := ProfileResult{Profile: p.Name, Version: p.Version, applied: applied}
		err := a.applyProfile(p, &pr, resets[p.Name])
		res.Profiles = append(res.Profiles, pr)
		if err != nil {
			return err
		}
		if pr.Outcome == store.OutcomeApplied {
			applied = append(applied, p.Name)
		}
	}
	return nil
}

// profileRun is one profile being applied: its result so far, when it
// started and its logger.
type profileRun struct {
	p     *profiles.Profile
	pr    *ProfileResult
	prev  *store.Marker
	start time.Time
	log   *slog.Logger
}

// applyProfile skips p when its marker says it is current, and otherwise
// applies its steps and writes its marker. Every outcome is audited and
// logged. reset is the record of p's reset when this run reset it first:
// p is then applied whatever its marker said.
func (a *attempt) applyProfile(p *profiles.Profile, pr *ProfileResult, reset *store.StepRecord) error {
	o := a.r.opts
	pc := &profileRun{p: p, pr: pr, prev: a.prevs[p.Name], start: o.Now(), log: a.log.With("profile", p.Name)}
	a.r.rep.Report(health.ProfileStarted{Name: p.Name, Version: p.Version})
	if pc.prev != nil {
		pr.PrevVersion = pc.prev.Version
	}
	comp := a.comps[p.Name]
	repair := false
	if comp.Current(p) && !o.Force && reset == nil {
		drifted, err := a.drifted(pc)
		if err != nil {
			return a.fail(pc, "verify", err)
		}
		if !drifted {
			pr.Outcome = store.OutcomeSkipped
			pr.Duration = o.Now().Sub(pc.start)
			a.record(pc)
			return nil
		}
		repair = true
	}
	if comp.RedisLost(p) {
		pc.log.Warn("MongoDB records the profile applied but Redis has no record of it (Redis lost its data?): applying it again",
			"version", p.Version)
	}
	pc.logStart(o.Force, reset != nil)
	if err := a.applyVersion(pc, reset); err != nil {
		return err
	}
	a.pruneSnapshots(pc)
	pr.Outcome = store.OutcomeApplied
	if repair {
		pr.Outcome = store.OutcomeRepaired
	}
	a.record(pc)
	return nil
}

// drifted reports, with Options.Verify, whether the live data of a current
// profile differs from what it writes; without it, false.
func (a *attempt) drifted(pc *profileRun) (bool, error) {
	if !a.r.opts.Verify {
		return false, nil
	}
	a.begins(pc.p.Name + "/verify")
	diffs, n, err := a.r.drift(a.ctx(), pc.p, pc.prev)
	if err != nil || n == 0 {
		return false, err
	}
	pc.log.Warn("the live data differs from the profile: applying it again", "differences", n, "diff", diffs)
	return true, nil
}

func (pc *profileRun) logStart(force, reset bool) {
	switch prev := pc.prev; {
	case prev == nil:
		pc.log.Info("applying profile", "version", pc.p.Version)
	case prev.Current(pc.p):
		pc.log.Info("re-applying profile", "version", pc.p.Version, "force", force, "reset", reset)
	default:
		pc.log.Info("re-applying changed profile", "old_version", prev.Version, "version", pc.p.Version)
	}
}

// marker is the marker of p applied by this run.
func (a *attempt) marker(p *profiles.Profile, d time.Duration, steps []store.StepRecord) *store.Marker {
	o := a.r.opts
	return &store.Marker{
		Profile: p.Name, Version: p.Version, HashAlgo: p.HashAlgo, Fence: a.lease.Fence(),
		RunID: o.RunID, AppliedAt: store.Millis(o.Now()), DurationMs: d.Milliseconds(),
		Host: o.Host, Image: o.Image, Steps: steps,
	}
}

// putMarker is the fenced marker write (lease.Session.PutMarker): the
// lease is confirmed right before, and the store keeps m only over a marker
// with a lower fence.
func (a *attempt) putMarker(db string, m *store.Marker) error {
	return a.s.PutMarker(a.ctx(), func(ctx context.Context) error {
		return a.r.store.PutMarker(ctx, db, m)
	})
}

// applyVersion applies pc's profile at its version: after its reset (reset,
// when the run reset it first), a snapshot of what it will overwrite or
// remove, its steps, the removal of what the previous version wrote and
// this one no longer writes, then its records, which say what it owns now.
// An error is the one fail returned.
func (a *attempt) applyVersion(pc *profileRun, reset *store.StepRecord) error {
	p, pr := pc.p, pc.pr
	if reset != nil {
		pr.Steps = append(pr.Steps, *reset)
		pc.prev = nil // what the previous version wrote is gone
	}
	names, ws, err := a.r.writesOf(p, pc.prev)
	var owned *store.Owned
	if err == nil {
		owned, err = step.OwnedOf(ws)
	}
	if err != nil {
		return a.fail(pc, "plan", err)
	}
	var prune *step.Writes
	if pc.prev != nil {
		prune = step.PruneWrites(pc.prev.Owned, owned)
		if err := a.snapshot(pc, append(names, step.PruneName), append(ws, prune)); err != nil {
			return a.fail(pc, snapshotStepName, err)
		}
	}
	for _, s := range p.Steps {
		rec, err := a.applyStep(pc, s)
		pr.Steps = append(pr.Steps, rec)
		if err != nil {
			return a.fail(pc, s.Name(), err)
		}
	}
	if prune != nil {
		env := a.stepEnv(pc, profiles.Step{}, pc.log.With("step", step.PruneName))
		a.begins(p.Name + "/" + step.PruneName)
		rec, err := step.Prune(a.ctx(), env, prune)
		pr.Steps = append(pr.Steps, rec)
		if err != nil {
			return a.fail(pc, step.PruneName, err)
		}
		pc.log.Info("removed what the previous version wrote and this one does not", "removed", rec.Removed)
	}
	pr.Duration = a.r.opts.Now().Sub(pc.start)
	m := a.marker(p, pr.Duration, pr.Steps)
	m.Owned = owned
	if err := a.putMarker(p.Database, m); err != nil {
		return a.fail(pc, "marker", err)
	}
	if err := a.putRedisRecord(p, m); err != nil {
		return a.fail(pc, "marker", err)
	}
	return nil
}

// putRedisRecord writes, for a profile that writes to Redis, its record
// there (fenced like the marker: lease.Session.Put), after the marker: a
// run that finds it missing applies the profile again.
func (a *attempt) putRedisRecord(p *profiles.Profile, m *store.Marker) error {
	if !step.WritesRedis(p) {
		return nil
	}
	rec := &store.RedisRecord{Version: m.Version, HashAlgo: m.HashAlgo, Fence: m.Fence, RunID: m.RunID, At: m.AppliedAt}
	return a.s.Put(a.ctx(), func(ctx context.Context) error {
		return a.r.records.redis.Put(ctx, p.Database, p.Name, rec)
	})
}

// applyStep applies one step, reporting it to the Reporter.
func (a *attempt) applyStep(pc *profileRun, s profiles.Step) (store.StepRecord, error) {
	name := s.Name()
	log := pc.log.With("step", name)
	kind, err := step.Lookup(s.Kind)
	if err != nil {
		return store.StepRecord{Name: name, Kind: s.Kind, Error: err.Error()}, err
	}
	env := a.stepEnv(pc, s, log)
	if err := a.s.Err(); err != nil { // no step starts (an http call, a command) once the lease is gone
		return store.StepRecord{Name: name, Kind: s.Kind, Error: err.Error()}, err
	}
	a.r.rep.Report(health.StepStarted{Profile: pc.p.Name, Step: name})
	a.begins(pc.p.Name + "/" + name)
	t0 := a.r.opts.Now()
	log.Info("step started", "summary", s.Summary())
	rec, err := kind.Apply(a.ctx(), env, s)
	d := a.r.opts.Now().Sub(t0)
	rec.Name, rec.Kind, rec.DurationMs = name, s.Kind, d.Milliseconds()
	a.r.rep.Report(health.StepEnded{Profile: pc.p.Name, Kind: s.Kind, Took: d, Err: err})
	if err != nil {
		if cause := a.s.Err(); cause != nil {
			err = cause // the run was stopped: say why, not what the step saw
		}
		rec.Error = err.Error()
		log.Error("step failed", "duration_ms", rec.DurationMs, "err", err)
		return rec, err
	}
	log.Info("step done", "written", rec.Written, "removed", rec.Removed, "duration_ms", rec.DurationMs)
	return rec, nil
}

// stepEnv is the environment of step s of a profile; prev is the record of
// the same step in the profile's previous marker.
func (a *attempt) stepEnv(pc *profileRun, s profiles.Step, log *slog.Logger) *step.Env {
	o := a.r.opts
	return step.NewEnv(step.Env{
		Mongo: a.r.mongo, Redis: a.r.redis, Log: log, Progress: progressOf(a.r.rep), BatchSize: o.BatchSize,
		Now: o.Now(), DB: step.Database(pc.p, s), Prev: prevStep(pc.prev, s.Name()),
		Getenv: o.Env.Getenv, ReadFile: o.Env.ReadFile, Guard: a.s, Indexes: a.r.indexes,
	})
}

// prevStep is the record of the step named name in m (the last of that
// name), or nil.
func prevStep(m *store.Marker, name string) *store.StepRecord {
	if m == nil {
		return nil
	}
	var out *store.StepRecord
	for i := range m.Steps {
		if m.Steps[i].Name == name {
			out = &m.Steps[i]
		}
	}
	return out
}

// resetAll runs the reset of every profile of set that has one, then reads
// the markers again (a reset may drop the databases that hold them). A
// failed reset is audited and ends the run.
func (a *attempt) resetAll(set *profiles.Set, res *Result) (map[string]*store.StepRecord, error) {
	out := map[string]*store.StepRecord{}
	for _, p := range set.Profiles {
		if p.Reset == nil {
			continue
		}
		pr := &ProfileResult{Profile: p.Name, Version: p.Version}
		pc := &profileRun{p: p, pr: pr, prev: a.prevs[p.Name], start: a.r.opts.Now(), log: a.log.With("profile", p.Name)}
		rec, err := a.reset(pc)
		if err != nil {
			pr.Steps = []store.StepRecord{rec}
			err = a.fail(pc, step.ResetName, err)
			res.Profiles = append(res.Profiles, *pr)
			return nil, err
		}
		out[p.Name] = &rec
	}
	return out, a.readMarkers(set.Profiles)
}

// reset runs the profile's reset: section.
func (a *attempt) reset(pc *profileRun) (store.StepRecord, error) {
	env := a.stepEnv(pc, profiles.Step{}, pc.log.With("step", step.ResetName))
	a.begins(pc.p.Name + "/" + step.ResetName)
	a.r.rep.Report(health.ProfileStarted{Name: pc.p.Name, Version: pc.p.Version})
	rec, err := step.Reset(a.ctx(), env, pc.p.Reset)
	rec.Name, rec.Kind = step.ResetName, step.ResetName
	return rec, err
}

// fail records a failed or interrupted profile and returns the error the run
// ends with: the cause of a cancellation (lock lost, stall, timeout, signal)
// as is, anything else as a *StepError.
func (a *attempt) fail(pc *profileRun, stepName string, err error) error {
	pr := pc.pr
	pr.Duration = a.r.opts.Now().Sub(pc.start)
	if cause := a.s.Err(); cause != nil {
		pr.Outcome = store.OutcomeInterrupted
		err = cause
	} else {
		pr.Outcome = store.OutcomeFailed
		err = &StepError{Profile: pc.p.Name, Step: stepName, Applied: pr.applied, Err: err}
	}
	pr.Err = err
	a.record(pc)
	return err
}

// record logs the outcome and writes its audit record, with a context of its
// own when the run's was cancelled (an interrupted profile is still audited).
func (a *attempt) record(pc *profileRun) {
	ctx := a.ctx()
	if a.s.Err() != nil {
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.r.opts.ShutdownGrace/2)
		defer cancel()
		ctx = c
	}
	a.r.report(ctx, pc, a.lease.Fence())
}

// report logs a profile's outcome, reports it to the Reporter and writes
// its audit record, stamped with fence (0: without the lock).
func (r *Runner) report(ctx context.Context, pc *profileRun, fence int64) {
	o, p, pr := r.opts, pc.p, pc.pr
	rec := &store.AuditRecord{
		RunID: o.RunID, Fence: fence, Profile: p.Name, Version: pr.Version,
		PrevVersion: pr.PrevVersion, Outcome: pr.Outcome, At: store.Millis(o.Now()),
		DurationMs: pr.Duration.Milliseconds(), Host: o.Host, Image: o.Image, Steps: pr.Steps,
	}
	if pr.Err != nil {
		rec.Error = pr.Err.Error()
	}
	r.rep.Report(health.ProfileEnded{Name: p.Name, Outcome: string(pr.Outcome), Took: pr.Duration})
	attrs := []any{"event", "profile_outcome", "outcome", pr.Outcome, "version", pr.Version,
		"duration_ms", rec.DurationMs}
	if pr.PrevVersion != "" && pr.PrevVersion != pr.Version {
		attrs = append(attrs, "prev_version", pr.PrevVersion)
	}
	if pr.Err != nil {
		pc.log.Error("profile "+string(pr.Outcome), append(attrs, "err", pr.Err)...)
	} else {
		pc.log.Info("profile "+string(pr.Outcome), attrs...)
	}
	if err := r.store.Audit(ctx, p.Database, rec); err != nil {
		pc.log.Error("audit record not written", "err", err)
	}
}
