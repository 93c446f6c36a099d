package main

import (
	"context"
	"fmt"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/runner"
)

// statusCmd is `bootstrap status`.
type statusCmd struct {
	profileFlags
	connFlags
	lockFlags
	outputFlag
}

type statusReport struct {
	Profiles []runner.ProfileStatus `json:"profiles"`
	Lock     *lock.Holder           `json:"lock"` // null when free
	LockName string                 `json:"lockName"`
}

// Run prints, per profile, the applied version, when, by which run, host and
// image, and who holds the lock.
func (c *statusCmd) Run(ctx context.Context, log *slog.Logger, io *stdio) error {
	set, err := c.load(log, true)
	if err != nil {
		return err
	}
	mc, rc, err := c.both(ctx, log, io, dial{finalDNS: true})
	if err != nil {
		return err
	}
	defer disconnect(ctx, io.Shutdown, mc, rc)

	rn, err := runner.New(runner.Stores{Mongo: mc, Redis: rc}, nil)
	if err != nil {
		return err
	}
	rep := statusReport{LockName: c.LockName}
	if rep.Profiles, err = rn.Status(ctx, set); err != nil {
		return err
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
