package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/srvthreds/bootstrap/store"
)

// historyCmd is `bootstrap history`.
type historyCmd struct {
	profileFlags
	connFlags

	Limit int `help:"Show at most this many records." default:"50" env:"BOOTSTRAP_LIMIT"`
	outputFlag
}

// Validate refuses a negative --limit (0 shows every record).
func (c *historyCmd) Validate() error {
	if c.Limit < 0 {
		return errors.New("--limit must be 0 or more")
	}
	return nil
}

// Run prints the audit records of the selected profiles' databases, newest
// first.
func (c *historyCmd) Run(ctx context.Context, log *slog.Logger, io *stdio) error {
	set, err := c.load(log, true)
	if err != nil {
		return err
	}
	mc, err := c.mongo(ctx, log, io, dial{finalDNS: true})
	if err != nil {
		return err
	}
	defer disconnect(ctx, io.Shutdown, mc, nil)
	st := store.New(mc)

	byDB := map[string][]string{}
	var dbs []string
	for _, p := range set.Profiles {
		if _, ok := byDB[p.Database]; !ok {
			dbs = append(dbs, p.Database)
		}
		byDB[p.Database] = append(byDB[p.Database], p.Name)
	}
	var recs []store.AuditRecord
	for _, db := range dbs {
		var names []string
		if len(c.Profile) > 0 {
			names = byDB[db]
		}
		r, err := st.History(ctx, db, names, c.Limit)
		if err != nil {
			return err
		}
		recs = append(recs, r...)
	}
	slices.SortStableFunc(recs, func(a, b store.AuditRecord) int { return b.At.Compare(a.At) })
	if c.Limit > 0 && len(recs) > c.Limit {
		recs = recs[:c.Limit]
	}
	if c.json() {
		if recs == nil {
			recs = []store.AuditRecord{}
		}
		return writeJSON(io.Out, recs)
	}
	if len(recs) == 0 {
		fmt.Fprintln(io.Out, "no audit records")
		return nil
	}
	tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tPROFILE\tOUTCOME\tVERSION\tDURATION\tRUN\tFENCE\tHOST\tIMAGE\tERROR")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.At.Format(time.RFC3339), r.Profile, r.Outcome,
			short(r.Version), time.Duration(r.DurationMs)*time.Millisecond, r.RunID, r.Fence, r.Host, r.Image, r.Error)
	}
	return tw.Flush()
}
