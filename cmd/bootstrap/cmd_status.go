package main

import (
	"context"
	"fmt"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/runner"
	"github.com/srvthreds/bootstrap/store"
)

// statusCmd is `bootstrap status`.
type statusCmd struct {
	profileFlags
	connFlags
	lockFlags
	outputFlag
}

// profileStatus is one profile's line of the status report.
type profileStatus struct {
	Profile      string        `json:"profile"`
	Database     string        `json:"database"`
	ImageVersion string        `json:"imageVersion"` // the version of the profile in this image
	State        string        `json:"state"`        // current, outdated, redis-missing, not-applied
	Marker       *store.Marker `json:"marker,omitempty"`
	// Redis is the profile's record in Redis, for a profile that writes
	// there (SPEC §4): null when Redis has none.
	Redis     *store.RedisRecord `json:"redis,omitempty"`
	Snapshots snapshotUsage      `json:"snapshots"` // kept for rollback
}

// snapshotUsage is the space a profile's rollback snapshots take.
type snapshotUsage struct {
	Count int   `json:"count"` // versions
	Bytes int64 `json:"bytes"`
}

type statusReport struct {
	Profiles []profileStatus `json:"profiles"`
	Lock     *lock.Holder    `json:"lock"` // null when free
	LockName string          `json:"lockName"`
}

// Run prints, per profile, the applied version, when, by which run, host and
// image, and who holds the lock.
func (c *statusCmd) Run(ctx context.Context, log *slog.Logger, io *stdio) error {
	set, err := c.load(log, true)
	if err != nil {
		return err
	}
	mc, rc, err := c.both(ctx, log, io, nil)
	if err != nil {
		return err
	}
	defer disconnect(ctx, mc, rc)

	db := store.New(mc)
	recs := runner.NewRecords(db, rc)
	rep := statusReport{LockName: c.LockName}
	for _, p := range set.Profiles {
		comp, err := recs.Get(ctx, p)
		if err != nil {
			return err
		}
		m := comp.Marker
		st := profileStatus{Profile: p.Name, Database: p.Database, ImageVersion: p.Version, Marker: m, State: "not-applied"}
		snaps, err := db.Snapshots(ctx, p.Database, p.Name)
		if err != nil {
			return err
		}
		for _, s := range snaps {
			st.Snapshots.Count++
			st.Snapshots.Bytes += s.Bytes
		}
		st.Redis = comp.Redis
		switch {
		case comp.Current(p):
			st.State = "current"
		case comp.RedisLost(p):
			st.State = "redis-missing" // MongoDB says applied; Redis lost its data
		case m != nil:
			st.State = "outdated"
		}
		rep.Profiles = append(rep.Profiles, st)
	}
	locker, err := c.locker(rc, lock.Holder{}, nil, nil)
	if err != nil {
		return usageError{err}
	}
	if rep.Lock, err = locker.Holder(ctx); err != nil {
		return err
	}

	if c.json() {
		return writeJSON(io.Out, rep)
	}
	applied := 0
	tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tDATABASE\tSTATE\tIMAGE VERSION\tAPPLIED VERSION\tAPPLIED AT\tRUN\tHOST\tIMAGE\tSNAPSHOTS")
	for _, s := range rep.Profiles {
		if s.Marker == nil {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t-\t-\t-\t-\t-\t%s\n", s.Profile, s.Database, s.State, short(s.ImageVersion),
				s.Snapshots)
			continue
		}
		applied++
		m := s.Marker
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Profile, s.Database, s.State, short(s.ImageVersion),
			short(m.Version), m.AppliedAt.Format(time.RFC3339), m.RunID, m.Host, m.Image, s.Snapshots)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if applied == 0 {
		fmt.Fprintln(io.Out, "nothing applied yet")
	}
	if h := rep.Lock; h != nil {
		fmt.Fprintf(io.Out, "lock %s: held by run %s on %s (image %s, fence %d) since %s, renewed %s, expires in %s\n",
			c.LockName, h.RunID, h.Host, h.Image, h.Fence, h.Since.Format(time.RFC3339), h.Renewed.Format(time.RFC3339), h.TTL)
	} else {
		fmt.Fprintf(io.Out, "lock %s: free\n", c.LockName)
	}
	return nil
}

// String is "N (size)", or "-" when there is none.
func (u snapshotUsage) String() string {
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
