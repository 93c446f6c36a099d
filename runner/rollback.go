package runner

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/srvthreds/bootstrap/health"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner/internal/snapshot"
	"github.com/srvthreds/bootstrap/store"
)

// RollbackResult is what a rollback did.
type RollbackResult struct {
	RunID   string
	Fence   int64
	Profile string
	From    string // the version of the marker the rollback replaced
	To      string // the version restored
	// Snapshots are the versions of the snapshots restored, newest first:
	// to go back more than one version, the snapshots of the versions in
	// between are restored too.
	Snapshots []string
	// Documents replaced with their saved state, and delete statements
	// for documents that did not exist before.
	// Documents restored and deleted, Redis keys restored and deleted,
	// set memberships restored (snapshot.Counts).
	snapshot.Counts
	// Uncovered are the steps (http, exec) whose effects no snapshot holds:
	// the rollback did not undo them.
	Uncovered []string
	Duration  time.Duration
}

// Rollback restores profile p to version to (a version or a prefix of one;
// empty: the version before the current marker's), under the lock, from
// the snapshots the runs took before re-applying p (see
// Options.KeepVersions): the saved documents are replaced back, documents
// and Redis keys that did not exist are deleted, Redis keys are recreated
// with their TTL and set memberships restored, in batches. Then it writes
// p's marker at the restored version (fenced, Source "rollback",
// RolledBackFrom the version replaced) and an audit record with outcome
// OutcomeRolledBack.
//
// When the snapshot taken over the current marker belongs to a re-apply
// that failed part-way, the default is to restore the current version: it
// undoes what that attempt wrote. Going back more than one version also
// restores the snapshots in between, newest first, so that what the later
// versions added is removed too.
//
// Errors: the lock's (lock.ErrNotAcquired after Options.LockWait),
// ErrNoSnapshot when no complete snapshot restores to (checked before
// anything is written), ErrLockLost, ErrStalled, ErrTimeout, the cause of
// ctx's cancellation, or a *StepError (step "rollback") when a write
// fails. Only p's database and the Redis keys its snapshots name are
// written. A Runner runs one Run or Rollback at a time.
func (r *Runner) Rollback(ctx context.Context, p *profiles.Profile, to string) (*RollbackResult, error) {
	start := r.opts.Now()
	res := &RollbackResult{RunID: r.opts.RunID, Profile: p.Name}
	if err := r.needsAll("rollback"); err != nil {
		return res, err
	}
	err := r.underLock(ctx, "rollback", []*profiles.Profile{p}, false, func(a *attempt) error {
		res.Fence = a.lease.Fence()
		return a.rollback(p, to, res)
	})
	res.Duration = r.opts.Now().Sub(start)
	return res, err
}

// rollback restores p from the chain of snapshots that leads from its
// current marker to version to; see Rollback.
func (a *attempt) rollback(p *profiles.Profile, to string, res *RollbackResult) error {
	cur := a.prevs[p.Name]
	if cur == nil {
		return fmt.Errorf("roll back %s: %w: the profile has no marker in %s (never applied)", p.Name, ErrNoSnapshot, p.Database)
	}
	res.From = cur.Version
	log := a.log.With("profile", p.Name)
	chain, items, err := a.rollbackItems(p, cur, to, res, log)
	if err != nil {
		return err
	}
	target := chain[len(chain)-1]
	res.To = target.Version
	pr := &ProfileResult{Profile: p.Name, Version: target.Version, PrevVersion: cur.Version}
	pc := &profileRun{p: p, pr: pr, prev: cur, start: a.r.opts.Now(), log: log}
	a.r.rep.Report(health.ProfileStarted{Name: p.Name, Version: target.Version})
	log.Info("rolling back profile", "from_version", cur.Version, "to_version", target.Version,
		"snapshots", len(chain), "items", len(items))
	if len(res.Uncovered) > 0 {
		log.Warn("these steps are not undone by a rollback", "steps", res.Uncovered)
	}
	if err := a.restore(pc, items, res); err != nil {
		return a.fail(pc, store.SourceRollback, err)
	}
	pr.Duration = a.r.opts.Now().Sub(pc.start)
	m := *target.Marker
	// A snapshot holds a marker without the ownership it keeps in chunks.
	if err := a.r.store.LoadOwned(a.ctx(), p.Database, &m); err != nil {
		return a.fail(pc, "marker", err)
	}
	m.Profile = p.Name
	m.Fence, m.RunID, m.AppliedAt = a.lease.Fence(), a.r.opts.RunID, store.Millis(a.r.opts.Now())
	m.DurationMs, m.Host, m.Image = pr.Duration.Milliseconds(), a.r.opts.Host, a.r.opts.Image
	m.Source, m.RolledBackFrom, m.RestoredFence = store.SourceRollback, cur.Version, snapshot.Lineage(target.Marker)
	if err := a.putMarker(p.Database, &m); err != nil {
		return a.fail(pc, "marker", err)
	}
	if err := a.putRedisRecord(p, &m); err != nil {
		return a.fail(pc, "marker", err)
	}
	pr.Outcome = store.OutcomeRolledBack
	a.record(pc)
	return nil
}

// rollbackItems reads the snapshots from cur back to version to, and
// composes them into the items to restore. It writes nothing.
func (a *attempt) rollbackItems(p *profiles.Profile, cur *store.Marker, to string, res *RollbackResult, log *slog.Logger) ([]store.StoredSnapshot, []snapshot.RestoreItem, error) {
	st := a.r.store.SnapshotStore(p.Database, log)
	stored, err := st.List(a.ctx(), p.Name)
	if err != nil {
		return nil, nil, err
	}
	chain := snapshot.Chain(cur, stored)
	k, err := snapshot.Target(chain, stored, to)
	if err != nil {
		return nil, nil, fmt.Errorf("roll back %s: %w", p.Name, err)
	}
	chain = chain[:k+1]
	var layers []snapshot.Layer
	for _, s := range chain {
		if !s.Complete {
			return nil, nil, fmt.Errorf("roll back %s: %w: the snapshot of %.12s (fence %d) is incomplete", p.Name, ErrNoSnapshot, s.Version, s.Fence)
		}
		raws, err := st.Items(a.ctx(), s)
		if err != nil {
			return nil, nil, fmt.Errorf("roll back %s: %w: %w", p.Name, ErrNoSnapshot, err)
		}
		layers = append(layers, snapshot.Layer{TakenAt: s.TakenAt, Items: raws})
		res.Snapshots = append(res.Snapshots, s.Version)
		for _, u := range s.Uncovered {
			if !slices.Contains(res.Uncovered, u) {
				res.Uncovered = append(res.Uncovered, u)
			}
		}
	}
	items, err := snapshot.Compose(layers)
	if err != nil {
		return nil, nil, fmt.Errorf("roll back %s: %w", p.Name, err)
	}
	return chain, items, nil
}

// restore writes items back and records it as the profile's one step.
func (a *attempt) restore(pc *profileRun, items []snapshot.RestoreItem, res *RollbackResult) error {
	a.begins(pc.p.Name + "/" + store.SourceRollback)
	rs := &snapshot.Restorer{Mongo: a.r.mongo, Redis: a.r.redis, Batch: a.r.opts.BatchSize, Log: pc.log,
		Prog: progressOf(a.r.rep), Now: a.r.opts.Now(), Guard: a.s}
	c, err := rs.Restore(a.ctx(), items)
	res.Counts = c
	rec := store.StepRecord{Name: store.SourceRollback, Kind: store.SourceRollback}
	rec.Written = c.DocsRestored + c.KeysRestored + c.Members
	rec.Removed = c.DocsDeleted + c.KeysDeleted
	rec.DurationMs = a.r.opts.Now().Sub(pc.start).Milliseconds()
	rec.Note = "restored from the snapshots of " + strings.Join(shortVersions(res.Snapshots), ", ")
	if err != nil {
		rec.Error = err.Error()
	}
	pc.pr.Steps = []store.StepRecord{rec}
	return err
}

func shortVersions(vs []string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = fmt.Sprintf("%.12s", v)
	}
	return out
}
