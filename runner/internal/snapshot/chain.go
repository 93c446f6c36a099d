package snapshot

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/srvthreds/bootstrap/store"
)

// ErrNoSnapshot: no stored snapshot can restore the version asked for.
var ErrNoSnapshot = errors.New("runner: no snapshot")

// Chain returns the snapshots a rollback from the marker cur can
// restore, newest first: each snapshot restores the state of the marker it
// replaced (its lineage), and the next one is the snapshot taken by the
// run that wrote that state. It starts with a snapshot taken over cur
// after cur was written, if any: that of a re-apply that did not complete,
// which restores cur's own version.
func Chain(cur *store.Marker, stored []store.StoredSnapshot) []store.StoredSnapshot {
	if cur == nil {
		return nil
	}
	byFence := map[int64]store.StoredSnapshot{}
	var chain []store.StoredSnapshot
	for _, s := range stored {
		if s.Marker == nil {
			continue
		}
		byFence[s.Fence] = s
		if chain == nil && Lineage(s.Marker) == Lineage(cur) && s.Fence > cur.Fence {
			chain = append(chain, s)
		}
	}
	seen := map[int64]bool{}
	for link := Lineage(cur); !seen[link]; {
		seen[link] = true
		s, ok := byFence[link]
		if !ok {
			break
		}
		chain = append(chain, s)
		link = Lineage(s.Marker)
	}
	return chain
}

// Target returns the index in chain of the snapshot that restores
// version to (a version or a unique prefix of one; empty: the first), or
// an ErrNoSnapshot error naming the versions chain can restore and the
// others stored.
func Target(chain, stored []store.StoredSnapshot, to string) (int, error) {
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
		if !slices.ContainsFunc(chain, func(c store.StoredSnapshot) bool { return c.Version == s.Version }) {
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

func describeSnapshot(s store.StoredSnapshot) string {
	d := fmt.Sprintf("%.12s (taken %s", s.Version, s.TakenAt.UTC().Format(time.RFC3339))
	if s.ReplacedBy != "" {
		d += fmt.Sprintf(" before %.12s", s.ReplacedBy)
	}
	if !s.Complete {
		d += ", incomplete"
	}
	return d + ")"
}
