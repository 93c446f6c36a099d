package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/profiles"
)

// ErrNoSnapshot: a rollback found no snapshot that restores the version
// asked for (or only an incomplete one). Nothing was changed; retrying
// does not help (exit 3).
var ErrNoSnapshot = errors.New("runner: no snapshot")

// Marker sources (Marker.Source; empty also means a run).
const (
	SourceRun      = "run"
	SourceRollback = "rollback"
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
	DocsRestored, DocsDeleted int64
	// Redis keys recreated, and keys deleted because they did not exist
	// before; set memberships restored.
	KeysRestored, KeysDeleted, Members int64
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
	err := r.underLock(ctx, "rollback", []*profiles.Profile{p}, func(g *leaseGuard, lease *lock.Lease, prevs map[string]*Marker, prog *tracker, log *slog.Logger) error {
		res.Fence = lease.Fence()
		return r.rollback(g, p, prevs[p.Name], to, lease, prog, res, log.With("profile", p.Name))
	})
	res.Duration = r.opts.Now().Sub(start)
	return res, err
}

// rollback does the work of Rollback under the lock.
func (r *Runner) rollback(g *leaseGuard, p *profiles.Profile, cur *Marker, to string, lease *lock.Lease, prog *tracker, res *RollbackResult, log *slog.Logger) error {
	start := r.opts.Now()
	if cur == nil {
		return fmt.Errorf("roll back %s: %w: the profile has no marker in %s (never applied)", p.Name, ErrNoSnapshot, p.Database)
	}
	res.From = cur.Version
	store := newSnapshotStore(r.mongo, p.Database, log)
	stored, err := store.list(g, p.Name)
	if err != nil {
		return err
	}
	chain := rollbackChain(cur, stored)
	k, err := rollbackTarget(chain, stored, to)
	if err != nil {
		return fmt.Errorf("roll back %s: %w", p.Name, err)
	}
	chain = chain[:k+1]
	target := chain[k]
	var layers []snapshotLayer
	for _, s := range chain {
		if !s.Complete {
			return fmt.Errorf("roll back %s: %w: the snapshot of %.12s (fence %d) is incomplete", p.Name, ErrNoSnapshot, s.Version, s.Fence)
		}
		raws, err := store.items(g, s)
		if err != nil {
			return fmt.Errorf("roll back %s: %w: %w", p.Name, ErrNoSnapshot, err)
		}
		layers = append(layers, snapshotLayer{takenAt: s.TakenAt, items: raws})
		res.Snapshots = append(res.Snapshots, s.Version)
		for _, u := range s.uncovered {
			if !slices.Contains(res.Uncovered, u) {
				res.Uncovered = append(res.Uncovered, u)
			}
		}
	}
	items, err := composeSnapshots(layers)
	if err != nil {
		return fmt.Errorf("roll back %s: %w", p.Name, err)
	}
	res.To = target.Version

	// From here on the rollback writes: its outcome is audited. The audit
	// record and the log line carry the restored version.
	pv := *p
	pv.Version = target.Version
	pr := ProfileResult{Profile: p.Name, Version: target.Version, PrevVersion: cur.Version}
	r.rep.StartProfile(p.Name, target.Version)
	log.Info("rolling back profile", "from_version", cur.Version, "to_version", target.Version,
		"snapshots", len(chain), "items", len(items))
	if len(res.Uncovered) > 0 {
		log.Warn("these steps are not undone by a rollback", "steps", res.Uncovered)
	}
	rec := StepRecord{Name: SourceRollback, Kind: SourceRollback}
	prog.begin(p.Name + "/" + SourceRollback)
	err = r.restore(g, items, res, prog, log)
	prog.end()
	rec.Written = res.DocsRestored + res.KeysRestored + res.Members
	rec.Removed = res.DocsDeleted + res.KeysDeleted
	rec.DurationMs = r.opts.Now().Sub(start).Milliseconds()
	rec.Note = "restored from the snapshots of " + strings.Join(shortVersions(res.Snapshots), ", ")
	if err != nil {
		rec.Error = err.Error()
		pr.Steps = []StepRecord{rec}
		_, err = r.fail(g, &pv, &pr, lease, start, SourceRollback, err, log)
		return err
	}
	pr.Steps = []StepRecord{rec}

	if err := g.Err(); err != nil {
		_, err = r.fail(g, &pv, &pr, lease, start, "marker", err, log)
		return err
	}
	if err := lease.Refresh(g); err != nil {
		if errors.Is(err, lock.ErrLost) {
			err = fmt.Errorf("%w: %w", ErrLockLost, err)
			g.cancel(err)
		}
		_, err = r.fail(g, &pv, &pr, lease, start, "marker", err, log)
		return err
	}
	g.confirmed(r.opts.Now())
	pr.Duration = r.opts.Now().Sub(start)
	m := *target.marker
	m.Profile = p.Name
	m.Fence, m.RunID, m.AppliedAt = lease.Fence(), r.opts.RunID, msNow(r.opts.Now)
	m.DurationMs, m.Host, m.Image = pr.Duration.Milliseconds(), r.opts.Host, r.opts.Image
	m.Source, m.RolledBackFrom, m.RestoredFence = SourceRollback, cur.Version, lineage(target.marker)
	if err := r.store.PutMarker(g, p.Database, &m); err != nil {
		if errors.Is(err, ErrLockLost) {
			g.cancel(err)
		}
		_, err = r.fail(g, &pv, &pr, lease, start, "marker", err, log)
		return err
	}
	pr.Outcome = OutcomeRolledBack
	r.record(g, &pv, &pr, lease, log)
	return nil
}

// rollbackChain returns the snapshots a rollback from the marker cur can
// restore, newest first: each snapshot restores the state of the marker it
// replaced (its lineage), and the next one is the snapshot taken by the
// run that wrote that state. It starts with a snapshot taken over cur
// after cur was written, if any: that of a re-apply that did not complete,
// which restores cur's own version.
func rollbackChain(cur *Marker, stored []storedSnapshot) []storedSnapshot {
	if cur == nil {
		return nil
	}
	byFence := map[int64]storedSnapshot{}
	var chain []storedSnapshot
	for _, s := range stored {
		if s.marker == nil {
			continue
		}
		byFence[s.Fence] = s
		if chain == nil && lineage(s.marker) == lineage(cur) && s.Fence > cur.Fence {
			chain = append(chain, s)
		}
	}
	seen := map[int64]bool{}
	for link := lineage(cur); !seen[link]; {
		seen[link] = true
		s, ok := byFence[link]
		if !ok {
			break
		}
		chain = append(chain, s)
		link = lineage(s.marker)
	}
	return chain
}

// rollbackTarget returns the index in chain of the snapshot that restores
// version to (a version or a unique prefix of one; empty: the first), or
// an ErrNoSnapshot error naming the versions chain can restore and the
// others stored.
func rollbackTarget(chain, stored []storedSnapshot, to string) (int, error) {
	if to == "" && len(chain) > 0 {
		return 0, nil
	}
	found, matched := -1, ""
	for i, s := range chain {
		if !strings.HasPrefix(s.Version, to) {
			continue
		}
		if found >= 0 && s.Version != matched {
			return 0, fmt.Errorf("%w: version %q is ambiguous: it starts %s and %s", ErrNoSnapshot, to, matched, s.Version)
		}
		if found < 0 {
			found, matched = i, s.Version
		}
	}
	if found >= 0 {
		return found, nil
	}
	what := "no snapshot to roll back to"
	if to != "" {
		what = fmt.Sprintf("no snapshot restores version %q", to)
	}
	var reach, other []string
	for _, s := range chain {
		reach = append(reach, describeSnapshot(s))
	}
	for _, s := range stored {
		if !slices.ContainsFunc(chain, func(c storedSnapshot) bool { return c.Version == s.Version }) {
			other = append(other, describeSnapshot(s))
		}
	}
	msg := what
	switch {
	case len(reach) > 0:
		msg += "; versions with snapshots that can be restored: " + strings.Join(reach, ", ")
	case len(stored) == 0:
		msg += "; no snapshot is stored (none is taken on a first apply, or when too large)"
	default:
		msg += "; none can be restored from the current marker"
	}
	if len(other) > 0 {
		msg += "; stored but not reachable from the current marker: " + strings.Join(other, ", ")
	}
	return 0, fmt.Errorf("%w: %s", ErrNoSnapshot, msg)
}

func describeSnapshot(s storedSnapshot) string {
	d := fmt.Sprintf("%.12s (taken %s", s.Version, s.TakenAt.UTC().Format(time.RFC3339))
	if s.ReplacedBy != "" {
		d += fmt.Sprintf(" before %.12s", s.ReplacedBy)
	}
	if !s.Complete {
		d += ", incomplete"
	}
	return d + ")"
}

func shortVersions(vs []string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = fmt.Sprintf("%.12s", v)
	}
	return out
}
