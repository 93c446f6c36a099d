package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/profiles"
)

// applyProfile skips p when its marker matches, and otherwise applies its
// steps and writes its marker. Every outcome is audited and logged.
// prev is the marker read after the lock was taken, or nil; applied lists
// the profiles this run applied before p, for the error of a failure.
func (r *Runner) applyProfile(g *leaseGuard, p *profiles.Profile, prev *Marker, applied []string, lease *lock.Lease, prog *tracker, log *slog.Logger) (ProfileResult, error) {
	start := r.opts.Now()
	pr := ProfileResult{Profile: p.Name, Version: p.Version, applied: applied}
	r.rep.StartProfile(p.Name, p.Version)
	if prev != nil {
		pr.PrevVersion = prev.Version
	}
	reset := r.opts.Reset && p.Reset != nil
	if prev != nil && prev.Version == p.Version && prev.HashAlgo == p.HashAlgo && !r.opts.Force && !reset {
		pr.Outcome = OutcomeSkipped
		pr.Duration = r.opts.Now().Sub(start)
		r.record(g, p, &pr, lease, log)
		return pr, nil
	}
	switch {
	case prev == nil:
		log.Info("applying profile", "version", p.Version)
	case prev.Version == p.Version:
		log.Info("re-applying profile", "version", p.Version, "force", r.opts.Force, "reset", reset)
	default:
		log.Info("re-applying changed profile", "old_version", prev.Version, "version", p.Version)
	}

	if reset {
		env := r.stepEnv(p, p.Database, prev, "reset", prog, log)
		prog.begin(p.Name + "/reset")
		rec, err := applyReset(g, env, p.Reset, p.Database)
		prog.end()
		rec.Name, rec.Kind = "reset", "reset"
		pr.Steps = append(pr.Steps, rec)
		if err != nil {
			return r.fail(g, p, &pr, lease, start, "reset", err, log)
		}
		prev = nil // what the previous version cached is gone
	}
	if prev != nil {
		if err := r.snapshot(g, p, prev, lease, &pr, prog, log); err != nil {
			return r.fail(g, p, &pr, lease, start, snapshotStepName, err, log)
		}
	}

	for _, s := range p.Steps {
		rec, err := r.applyStep(g, p, s, prev, prog, log)
		pr.Steps = append(pr.Steps, rec)
		if err != nil {
			return r.fail(g, p, &pr, lease, start, s.Name(), err, log)
		}
	}

	// Confirm the lease right before the marker: a holder that lost it
	// writes none. The fence condition in PutMarker is the final guard.
	if err := g.Err(); err != nil {
		return r.fail(g, p, &pr, lease, start, "marker", err, log)
	}
	if err := lease.Refresh(g); err != nil {
		if errors.Is(err, lock.ErrLost) {
			err = fmt.Errorf("%w: %w", ErrLockLost, err)
			g.cancel(err)
		}
		return r.fail(g, p, &pr, lease, start, "marker", err, log)
	}
	g.confirmed(r.opts.Now())
	pr.Duration = r.opts.Now().Sub(start)
	m := &Marker{
		Profile: p.Name, Version: p.Version, HashAlgo: p.HashAlgo, Fence: lease.Fence(),
		RunID: r.opts.RunID, AppliedAt: msNow(r.opts.Now), DurationMs: pr.Duration.Milliseconds(),
		Host: r.opts.Host, Image: r.opts.Image, Steps: pr.Steps,
	}
	if err := r.store.PutMarker(g, p.Database, m); err != nil {
		if errors.Is(err, ErrLockLost) {
			g.cancel(err)
		}
		return r.fail(g, p, &pr, lease, start, "marker", err, log)
	}
	r.pruneSnapshots(g, p, lease, log)
	pr.Outcome = OutcomeApplied
	r.record(g, p, &pr, lease, log)
	return pr, nil
}

// applyStep applies one step, reporting it to the tracker and the Reporter.
func (r *Runner) applyStep(g *leaseGuard, p *profiles.Profile, s profiles.Step, prev *Marker, prog *tracker, log *slog.Logger) (StepRecord, error) {
	name := s.Name()
	slog := log.With("step", name)
	apply, err := stepApplier(s.Kind)
	if err != nil {
		return StepRecord{Name: name, Kind: s.Kind, Error: err.Error()}, err
	}
	env := r.stepEnv(p, s.Database, prev, name, prog, slog)
	r.rep.StartStep(p.Name, name)
	prog.begin(p.Name + "/" + name)
	t0 := r.opts.Now()
	slog.Info("step started", "summary", s.Summary())
	rec, err := apply(g, env, s)
	prog.end()
	d := r.opts.Now().Sub(t0)
	rec.Name, rec.Kind, rec.DurationMs = name, s.Kind, d.Milliseconds()
	r.rep.EndStep(p.Name, s.Kind, d, err)
	if err != nil {
		if cause := g.cause(); cause != nil {
			err = cause // the run was stopped: say why, not what the step saw
		}
		rec.Error = err.Error()
		slog.Error("step failed", "duration_ms", rec.DurationMs, "err", err)
		return rec, err
	}
	slog.Info("step done", "written", rec.Written, "removed", rec.Removed, "duration_ms", rec.DurationMs)
	return rec, nil
}

func (r *Runner) stepEnv(p *profiles.Profile, db string, prev *Marker, step string, prog *tracker, log *slog.Logger) *stepEnv {
	if db == "" {
		db = p.Database
	}
	env := &stepEnv{
		Mongo: r.mongo, Redis: r.redis, Log: log, Progress: prog, BatchSize: r.opts.BatchSize,
		Now: r.opts.Now, Profile: p, Getenv: r.opts.Env.Getenv, ReadFile: r.opts.Env.ReadFile,
	}
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.ReadFile == nil {
		env.ReadFile = os.ReadFile
	}
	if prev != nil {
		for i := range prev.Steps {
			if prev.Steps[i].Name == step {
				env.Prev = &prev.Steps[i]
			}
		}
	}
	return env
}

// fail records a failed or interrupted profile and returns the error the run
// ends with: the cause of a cancellation (lock lost, stall, timeout, signal)
// as is, anything else as a *StepError.
func (r *Runner) fail(g *leaseGuard, p *profiles.Profile, pr *ProfileResult, lease *lock.Lease, start time.Time, step string, err error, log *slog.Logger) (ProfileResult, error) {
	pr.Duration = r.opts.Now().Sub(start)
	cause := g.cause()
	if cause != nil {
		pr.Outcome = OutcomeInterrupted
		err = cause
	} else {
		pr.Outcome = OutcomeFailed
		err = &StepError{Profile: p.Name, Step: step, Applied: pr.applied, Err: err}
	}
	pr.Err = err
	r.record(g, p, pr, lease, log)
	return *pr, err
}

// record logs the outcome and writes its audit record, with a context of its
// own when the run's was cancelled (an interrupted profile is still audited).
func (r *Runner) record(g *leaseGuard, p *profiles.Profile, pr *ProfileResult, lease *lock.Lease, log *slog.Logger) {
	rec := &AuditRecord{
		RunID: r.opts.RunID, Fence: lease.Fence(), Profile: p.Name, Version: p.Version,
		PrevVersion: pr.PrevVersion, Outcome: pr.Outcome, At: msNow(r.opts.Now),
		DurationMs: pr.Duration.Milliseconds(), Host: r.opts.Host, Image: r.opts.Image, Steps: pr.Steps,
	}
	if pr.Err != nil {
		rec.Error = pr.Err.Error()
	}
	r.rep.EndProfile(p.Name, string(pr.Outcome), pr.Duration)
	attrs := []any{"event", "profile_outcome", "outcome", pr.Outcome, "version", p.Version,
		"duration_ms", rec.DurationMs}
	if pr.PrevVersion != "" && pr.PrevVersion != p.Version {
		attrs = append(attrs, "prev_version", pr.PrevVersion)
	}
	if pr.Err != nil {
		log.Error("profile "+string(pr.Outcome), append(attrs, "err", pr.Err)...)
	} else {
		log.Info("profile "+string(pr.Outcome), attrs...)
	}
	ctx := context.Context(g)
	if g.Err() != nil {
		c, cancel := context.WithTimeout(context.WithoutCancel(g.Context), r.opts.ShutdownGrace/2)
		defer cancel()
		ctx = c
	}
	if err := r.store.Audit(ctx, p.Database, rec); err != nil {
		log.Error("audit record not written", "err", err)
	}
}
