package runner

import (
	"context"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner/internal/step"
	"github.com/srvthreds/bootstrap/store"
)

// Plan actions.
const (
	ActionApply   = "apply"    // no marker yet
	ActionReapply = "re-apply" // the version changed, or --force / --reset
	ActionSkip    = "skip"     // the marker matches
	ActionUnknown = "unknown"  // offline: markers not read
	ActionRepair  = "repair"   // current, but the live data drifted (--verify)
)

// StepDiff tells, for one step that writes documents, how the documents a
// re-apply would write compare with those stored, ignoring "modified".
type StepDiff = step.Diff

// DocChange is one document a re-apply would change, named by its step's
// key, with its changed fields (secret-looking ones masked).
type DocChange = step.DocChange

// FieldChange is one changed field of a DocChange: its dotted path, old
// and new values.
type FieldChange = step.FieldChange

// PlanEntry is what a run would do with one profile.
type PlanEntry struct {
	Profile     string   `json:"profile"`
	Database    string   `json:"database"`
	Action      string   `json:"action"`
	Version     string   `json:"version"`
	PrevVersion string   `json:"prevVersion,omitempty"`
	Steps       []string `json:"steps"`
	Reset       []string `json:"reset,omitempty"` // what --reset would drop
	// Delete is what a re-apply would remove: what the previous version
	// wrote and this one no longer writes.
	Delete   []string `json:"delete,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	// Diff compares, for a re-apply, what each document-writing step would
	// write with what is stored.
	Diff []StepDiff `json:"diff,omitempty"`
	// Indexes are the indexes on the keys of its steps' writes that an
	// apply would create ("would create index bootstrap_code on
	// app.Thing {code: 1}").
	Indexes []string `json:"indexes,omitempty"`
}

// Changes reports whether a run would change anything (--detailed-exitcode):
// some entry is not a skip.
func Changes(entries []PlanEntry) bool {
	for _, e := range entries {
		if e.Action != ActionSkip {
			return true
		}
	}
	return false
}

// Plan tells, for each profile of set in order, whether a run with the
// Runner's options (Force, Reset, Verify) would skip, apply or re-apply it
// and what its steps would write. Without MongoDB (offline) nothing is
// read; otherwise a re-apply's entry also compares what its steps would
// write with what is stored (Diff). Plan writes nothing.
//
// With Verify, a current profile whose live documents or keys differ from
// what it writes is a repair, its Diff saying what differs.
func (r *Runner) Plan(ctx context.Context, set *profiles.Set) ([]PlanEntry, error) {
	o := r.opts
	out := make([]PlanEntry, 0, len(set.Profiles))
	for _, p := range set.Profiles {
		e := PlanEntry{Profile: p.Name, Database: p.Database, Version: p.Version, Warnings: p.Warnings}
		for _, s := range p.Steps {
			e.Steps = append(e.Steps, s.Summary())
		}
		if o.Reset && p.Reset != nil {
			e.Reset = p.Reset.Summary(p.Database)
		}
		if r.reader == nil {
			e.Action = ActionUnknown
			out = append(out, e)
			continue
		}
		c, err := r.reader.Get(ctx, p)
		if err != nil {
			return out, err
		}
		switch m := c.Marker; {
		case m == nil:
			e.Action = ActionApply
		case c.Current(p) && !o.Force && e.Reset == nil:
			e.Action, e.PrevVersion = ActionSkip, m.Version
			if o.Verify {
				diffs, n, err := r.drift(ctx, p, m)
				if err != nil {
					return out, err
				}
				if n > 0 {
					e.Action, e.Diff = ActionRepair, diffs
				}
			}
		default:
			e.Action, e.PrevVersion = ActionReapply, m.Version
			if c.RedisLost(p) {
				e.Warnings = append(e.Warnings, "Redis has no record of this version (Redis lost its data?): a run applies it again")
			}
			if e.Diff, err = planDiff(ctx, r.mongo, p); err != nil {
				return out, err
			}
			if e.Reset == nil {
				if e.Delete, err = r.planDelete(p, m); err != nil {
					return out, err
				}
			}
		}
		if e.Action != ActionSkip {
			if e.Indexes, err = planIndexes(ctx, r.mongo, p); err != nil {
				return out, err
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// planIndexes lists the indexes on the keys of p's writes that an apply
// would create. It writes nothing.
func planIndexes(ctx context.Context, mc *mongo.Client, p *profiles.Profile) ([]string, error) {
	var out []string
	for _, s := range p.Steps {
		kind, err := step.Lookup(s.Kind)
		if err != nil {
			return out, fmt.Errorf("plan %s/%s: %w", p.Name, s.Name(), err)
		}
		env := step.NewEnv(step.Env{Mongo: mc, DB: step.Database(p, s)})
		w, err := kind.Writes(env, s)
		if err != nil {
			return out, fmt.Errorf("plan %s/%s: %w", p.Name, s.Name(), err)
		}
		for _, ds := range w.Docs {
			lines, err := step.MissingIndexes(ctx, env, ds)
			if err != nil {
				return out, fmt.Errorf("plan %s/%s: %w", p.Name, s.Name(), err)
			}
			for _, l := range lines {
				if !slices.Contains(out, l) {
					out = append(out, l)
				}
			}
		}
	}
	return out, nil
}

// planDiff compares, step by step, what p's steps would write with what
// the store's database holds. It writes nothing.
func planDiff(ctx context.Context, mc *mongo.Client, p *profiles.Profile) ([]StepDiff, error) {
	var out []StepDiff
	for _, s := range p.Steps {
		kind, err := step.Lookup(s.Kind)
		if err != nil {
			return out, fmt.Errorf("plan %s/%s: %w", p.Name, s.Name(), err)
		}
		w, err := kind.Writes(step.NewEnv(step.Env{DB: step.Database(p, s)}), s)
		if err != nil {
			return out, fmt.Errorf("plan %s/%s: %w", p.Name, s.Name(), err)
		}
		for _, ds := range w.Docs {
			d, err := step.DiffDocs(ctx, mc, s.Name(), ds)
			if err != nil {
				return out, fmt.Errorf("plan %s/%s: %w", p.Name, s.Name(), err)
			}
			out = append(out, d)
		}
	}
	return out, nil
}

// planDelete describes what a re-apply of p over m would remove.
func (r *Runner) planDelete(p *profiles.Profile, m *store.Marker) ([]string, error) {
	_, ws, err := r.writesOf(p, m)
	if err != nil {
		return nil, err
	}
	owned, err := step.OwnedOf(ws)
	if err != nil {
		return nil, err
	}
	w := step.PruneWrites(m.Owned, owned)
	if w == nil {
		return nil, nil
	}
	var out []string
	for _, ds := range w.Docs {
		out = append(out, fmt.Sprintf("delete %d documents of %s.%s", len(ds.Docs), ds.DB, ds.Coll))
	}
	keys, members := 0, 0
	for _, rw := range w.Redis {
		if rw.Key != "" {
			keys++
		} else {
			members++
		}
	}
	if keys > 0 {
		out = append(out, fmt.Sprintf("delete %d redis keys", keys))
	}
	if members > 0 {
		out = append(out, fmt.Sprintf("remove %d members from redis sets", members))
	}
	return out, nil
}
