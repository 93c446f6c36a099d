package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/runner"
	"github.com/srvthreds/bootstrap/store"
)

// statusCmd is `bootstrap status`.
type statusCmd struct {
	recordFlags `set:"what=show"`
	connFlags   `group:"connection"`
	LockName    string `group:"lock" help:"Name of the distributed lock." default:"bootstrap" env:"BOOTSTRAP_LOCK_NAME"`
	outputFlag  `group:"output"`
}

type statusReport struct {
	Profiles []runner.ProfileStatus `json:"profiles"`
	Lock     *lock.Holder           `json:"lock"` // null when free
	LockName string                 `json:"lockName"`
}

// Run prints, per profile, the applied version, when, by which run, host and
// image, and who holds the lock.
func (c *statusCmd) Run(ctx context.Context, log *slog.Logger, io *stdio) error {
	set, err := c.recordFlags.load(log)
	if err != nil {
		return err
	}
	mc, rc, err := c.both(ctx, log, io, dial{finalDNS: true})
	if err != nil {
		return err
	}
	defer disconnect(ctx, io.Shutdown, mc, rc)

	rep := statusReport{LockName: c.LockName, Profiles: []runner.ProfileStatus{}}
	if set != nil {
		rn, err := runner.New(runner.Stores{Mongo: mc, Redis: rc}, nil)
		if err != nil {
			return err
		}
		if rep.Profiles, err = rn.Status(ctx, set); err != nil {
			return err
		}
	}
	if missing := c.missing(set); set == nil || len(missing) > 0 {
		recorded, err := recordedStatus(ctx, mc, rc, c.Database, missing)
		if err != nil {
			return err
		}
		rep.Profiles = append(rep.Profiles, recorded...)
	}
	lf := lockFlags{LockName: c.LockName, LockTTL: 30 * time.Second} // the ttl is not used to read
	locker, err := lf.locker(rc, lock.Holder{}, nil, nil)
	if err != nil {
		return usageError{err}
	}
	if rep.Lock, err = locker.Holder(ctx); err != nil {
		return err
	}

	if c.json() {
		return writeJSON(io.Out, rep)
	}
	return printStatus(io, rep)
}

// printStatus writes rep as a table, then the lock's holder.
func printStatus(io *stdio, rep statusReport) error {
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
			rep.LockName, h.RunID, h.Host, h.Image, h.Fence, h.Since.Format(time.RFC3339), h.Renewed.Format(time.RFC3339), h.TTL)
	} else {
		fmt.Fprintf(io.Out, "lock %s: free\n", rep.LockName)
	}
	return nil
}

// stateRecorded is the state of a profile shown from its records only (no
// profiles directory holds it): whether it is current is not known.
const stateRecorded = "applied"

// recordedStatus is the status of the profiles that markers in db name (of
// those named, when names is not empty; a name without a marker is not
// applied), read from the records only.
func recordedStatus(ctx context.Context, mc *mongo.Client, rc redis.UniversalClient, db string, names []string) ([]runner.ProfileStatus, error) {
	st := store.New(mc)
	markers, err := st.Markers(ctx, db)
	if err != nil {
		return nil, err
	}
	var out []runner.ProfileStatus
	seen := map[string]bool{}
	for _, m := range markers {
		if len(names) > 0 && !slices.Contains(names, m.Profile) {
			continue
		}
		seen[m.Profile] = true
		ps := runner.ProfileStatus{Profile: m.Profile, Database: db, State: stateRecorded, Marker: &m}
		if ps.Redis, err = store.NewRedisRecords(rc).Get(ctx, db, m.Profile); err != nil {
			return nil, err
		}
		snaps, err := st.Snapshots(ctx, db, m.Profile)
		if err != nil {
			return nil, err
		}
		for _, s := range snaps {
			ps.Snapshots.Count++
			ps.Snapshots.Bytes += s.Bytes
		}
		out = append(out, ps)
	}
	for _, n := range names {
		if !seen[n] {
			out = append(out, runner.ProfileStatus{Profile: n, Database: db, State: runner.StateNotApplied})
		}
	}
	return out, nil
}
