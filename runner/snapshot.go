package runner

import (
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner/internal/lease"
	"github.com/srvthreds/bootstrap/runner/internal/snapshot"
	"github.com/srvthreds/bootstrap/runner/internal/step"
	"github.com/srvthreds/bootstrap/store"
)

// snapshotStepName names the record of a snapshot in markers and audit
// records.
const snapshotStepName = "snapshot"

// SnapshotInfo describes one stored snapshot (store.SnapshotInfo).
type SnapshotInfo = store.SnapshotInfo

// writesOf describes what each step of p writes (step.Writes), as applied
// over prev, stamped with now's time.
func (r *Runner) writesOf(p *profiles.Profile, prev *store.Marker) (names []string, ws []*step.Writes, err error) {
	for _, s := range p.Steps {
		kind, err := step.Lookup(s.Kind)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", s.Name(), err)
		}
		env := step.NewEnv(step.Env{DB: step.Database(p, s), Prev: prevStep(prev, s.Name()), Now: r.opts.Now()})
		w, err := kind.Writes(env, s)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", s.Name(), err)
		}
		names, ws = append(names, s.Name()), append(ws, w)
	}
	return names, ws, nil
}

// snapshot stores, before p is re-applied over pc.prev, what p's steps will
// overwrite or remove (see package snapshot), so that a rollback can restore
// it. When an earlier attempt at this same re-apply already took a complete
// snapshot (it failed or was interrupted after it), that snapshot's items
// are kept: they hold the state before the first attempt, which the
// partial writes since have changed. A snapshot over the limit is skipped
// with a note in the profile's record. Nothing is taken when KeepVersions
// is 0 or negative.
func (a *attempt) snapshot(pc *profileRun, names []string, ws []*step.Writes) error {
	r, p, prev := a.r, pc.p, pc.prev
	if r.opts.keepVersions() == 0 {
		return nil
	}
	log := pc.log.With("step", snapshotStepName)
	if n := len(ws); n > 0 && ws[n-1] == nil { // nothing to prune
		names, ws = names[:n-1], ws[:n-1]
	}
	targets, err := snapshot.TargetsOf(names, ws)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if len(targets.Uncovered) > 0 {
		log.Warn("a snapshot cannot hold what these steps do; a rollback will not undo them",
			"steps", targets.Uncovered)
	}
	a.begins(p.Name + "/" + snapshotStepName)
	st := r.store.SnapshotStore(p.Database, log).Under(a.s)
	c := &snapshot.Capturer{Mongo: r.mongo, Redis: r.redis, Batch: r.opts.BatchSize,
		Limit: r.opts.snapshotLimit(), Log: log, Prog: progressOf(r.rep)}
	if err := a.seedFromEarlierAttempt(st, pc, c); err != nil {
		return err
	}
	err = c.Capture(a.ctx(), targets)
	var chunks [][]bson.Raw
	if err == nil {
		chunks, err = snapshot.ChunkItems(c.Raws, snapshot.ChunkTarget, snapshot.ChunkMax)
	}
	if errors.Is(err, snapshot.ErrTooLarge) {
		return a.skipSnapshot(st, pc, err)
	}
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	hdr := store.SnapshotHeader{
		Profile: p.Name, Version: prev.Version, ReplacedBy: p.Version, Fence: a.s.Fence(), RunID: r.opts.RunID,
		TakenAt: store.Millis(r.opts.Now()), Marker: prev, TotalItems: len(c.Raws), TotalBytes: c.Bytes,
		Uncovered: targets.Uncovered,
	}
	if err := st.Write(a.ctx(), hdr, chunks); err != nil {
		return lease.Fenced(fmt.Errorf("snapshot: %w", err))
	}
	log.Info("snapshot taken", "version", prev.Version, "items", len(c.Raws), "bytes", c.Bytes,
		"chunks", len(chunks), "kept_from_earlier_attempt", c.Seeded)
	return nil
}

// skipSnapshot notes a snapshot too large to take, and drops the older
// snapshots of the same version (they no longer describe what a rollback
// would find).
func (a *attempt) skipSnapshot(st store.SnapshotStore, pc *profileRun, err error) error {
	pc.log.Warn("snapshot skipped: too large; a rollback to this version will not be possible",
		"step", snapshotStepName, "version", pc.prev.Version, "err", err)
	note := "skipped (too large): " + strings.TrimPrefix(err.Error(), snapshot.ErrTooLarge.Error()+": ")
	pc.pr.Steps = append(pc.pr.Steps, store.StepRecord{Name: snapshotStepName, Kind: snapshotStepName, Note: note})
	return st.Drop(a.ctx(), pc.p.Name, pc.prev.Version, a.s.Fence())
}

// seedFromEarlierAttempt seeds c with the items of a complete snapshot of
// pc.prev's version taken by an earlier attempt at the same re-apply (same
// lineage, a fence above pc.prev's), if there is one.
func (a *attempt) seedFromEarlierAttempt(st store.SnapshotStore, pc *profileRun, c *snapshot.Capturer) error {
	prev := pc.prev
	infos, err := st.List(a.ctx(), pc.p.Name)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	for _, s := range infos {
		if s.Version != prev.Version || s.Marker == nil || snapshot.Lineage(s.Marker) != snapshot.Lineage(prev) || s.Fence <= prev.Fence {
			continue
		}
		if !s.Complete {
			pc.log.Warn("an earlier attempt's snapshot is incomplete; taking a new one", "version", s.Version, "fence", s.Fence)
			return nil
		}
		raws, err := st.Items(a.ctx(), s)
		if err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		pc.log.Info("keeping the snapshot of an earlier attempt at this re-apply", "version", s.Version,
			"fence", s.Fence, "run_id", s.RunID, "items", len(raws))
		return c.Seed(raws)
	}
	return nil
}

// pruneSnapshots deletes the snapshots of pc's profile beyond the newest
// KeepVersions. A failure is logged, not returned: the profile is applied.
func (a *attempt) pruneSnapshots(pc *profileRun) {
	keep := a.r.opts.keepVersions()
	if keep == 0 || a.s.Err() != nil {
		return
	}
	st := a.r.store.SnapshotStore(pc.p.Database, pc.log).Under(a.s)
	infos, err := st.List(a.ctx(), pc.p.Name)
	if err != nil {
		pc.log.Warn("snapshot retention: list snapshots", "err", err)
		return
	}
	old := store.Prunable(infos, keep)
	if len(old) == 0 {
		return
	}
	n, err := st.DropVersions(a.ctx(), pc.p.Name, old, a.s.Fence())
	if err != nil {
		pc.log.Warn("snapshot retention: delete old snapshots", "versions", old, "err", err)
		return
	}
	pc.log.Info("old snapshots deleted", "versions", old, "chunks", n, "kept", keep)
}
