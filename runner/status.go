package runner

import (
	"context"
	"fmt"

	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/store"
)

// States of a profile in ProfileStatus.
const (
	StateCurrent      = "current"       // applied at this version in every store it writes to
	StateRedisMissing = "redis-missing" // MongoDB says applied; Redis lost its data or the record
	StateOutdated     = "outdated"      // another version applied
	StateNotApplied   = "not-applied"
)

// ProfileStatus is what the stores say of one profile (`status`).
type ProfileStatus struct {
	Profile      string        `json:"profile"`
	Database     string        `json:"database"`
	ImageVersion string        `json:"imageVersion"` // the version of the profile at hand
	State        string        `json:"state"`
	Marker       *store.Marker `json:"marker,omitempty"`
	// Redis is the profile's record in Redis, for a profile that writes
	// there: null when Redis has none.
	Redis     *store.RedisRecord `json:"redis,omitempty"`
	Snapshots SnapshotUsage      `json:"snapshots"` // kept for rollback
}

// SnapshotUsage is the space a profile's rollback snapshots take.
type SnapshotUsage struct {
	Count int   `json:"count"` // versions
	Bytes int64 `json:"bytes"`
}

// Status reads, for each profile of set in order, its records in both
// stores and the snapshots kept for it. It writes nothing.
func (r *Runner) Status(ctx context.Context, set *profiles.Set) ([]ProfileStatus, error) {
	if err := r.needsRecords("status"); err != nil {
		return nil, err
	}
	out := make([]ProfileStatus, 0, len(set.Profiles))
	for _, p := range set.Profiles {
		comp, err := r.reader.Get(ctx, p)
		if err != nil {
			return out, err
		}
		st := ProfileStatus{Profile: p.Name, Database: p.Database, ImageVersion: p.Version, Marker: comp.Marker,
			Redis: comp.Redis, State: StateNotApplied}
		snaps, err := r.store.Snapshots(ctx, p.Database, p.Name)
		if err != nil {
			return out, err
		}
		for _, s := range snaps {
			st.Snapshots.Count++
			st.Snapshots.Bytes += s.Bytes
		}
		switch {
		case comp.Current(p):
			st.State = StateCurrent
		case comp.RedisLost(p):
			st.State = StateRedisMissing
		case comp.Marker != nil:
			st.State = StateOutdated
		}
		out = append(out, st)
	}
	return out, nil
}

// String is "N (size)", or "-" when there is none.
func (u SnapshotUsage) String() string {
	if u.Count == 0 {
		return "-"
	}
	const unit = 1024
	size := fmt.Sprintf("%d B", u.Bytes)
	if u.Bytes >= unit {
		div, exp := int64(unit), 0
		for n := u.Bytes / unit; n >= unit; n /= unit {
			div *= unit
			exp++
		}
		size = fmt.Sprintf("%.1f %ciB", float64(u.Bytes)/float64(div), "KMGTPE"[exp])
	}
	return fmt.Sprintf("%d (%s)", u.Count, size)
}
