package runner

import (
	"context"

	"github.com/srvthreds/bootstrap/profiles"
)

// Plan actions.
const (
	ActionApply   = "apply"    // no marker yet
	ActionReapply = "re-apply" // the version changed, or --force / --reset
	ActionSkip    = "skip"     // the marker matches
	ActionUnknown = "unknown"  // offline: markers not read
)

// PlanEntry is what a run would do with one profile.
type PlanEntry struct {
	Profile     string   `json:"profile"`
	Database    string   `json:"database"`
	Action      string   `json:"action"`
	Version     string   `json:"version"`
	PrevVersion string   `json:"prevVersion,omitempty"`
	Steps       []string `json:"steps"`
	Reset       []string `json:"reset,omitempty"` // what --reset would drop
	Warnings    []string `json:"warnings,omitempty"`
	// Diff compares, for a re-apply, what each document-writing step would
	// write with what is stored; set only when the store is a MongoStore.
	Diff []StepDiff `json:"diff,omitempty"`
}

// Plan tells, for each profile of set in order, whether a run would skip,
// apply or re-apply it and what its steps would write. With a nil store
// (offline) markers are not read; with a MongoStore, a re-apply's entry
// also compares what its steps would write with what is stored (Diff).
// Plan writes nothing.
func Plan(ctx context.Context, store MarkerStore, set *profiles.Set, force, reset bool) ([]PlanEntry, error) {
	out := make([]PlanEntry, 0, len(set.Profiles))
	for _, p := range set.Profiles {
		e := PlanEntry{Profile: p.Name, Database: p.Database, Version: p.Version, Warnings: p.Warnings}
		for _, s := range p.Steps {
			e.Steps = append(e.Steps, s.Summary())
		}
		if reset && p.Reset != nil {
			e.Reset = p.Reset.Summary(p.Database)
		}
		switch {
		case store == nil:
			e.Action = ActionUnknown
		default:
			m, err := store.Marker(ctx, p.Database, p.Name)
			if err != nil {
				return out, err
			}
			switch {
			case m == nil:
				e.Action = ActionApply
			case m.Version == p.Version && m.HashAlgo == p.HashAlgo && !force && e.Reset == nil:
				e.Action = ActionSkip
				e.PrevVersion = m.Version
			default:
				e.Action = ActionReapply
				e.PrevVersion = m.Version
				if ms, ok := store.(*MongoStore); ok {
					if e.Diff, err = planDiff(ctx, ms.c, p); err != nil {
						return out, err
					}
				}
			}
		}
		out = append(out, e)
	}
	return out, nil
}
