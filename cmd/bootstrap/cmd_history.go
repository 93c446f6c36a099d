package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/store"
)

// historyCmd is `bootstrap history`.
type historyCmd struct {
	recordFlags `set:"what=show the records of"`
	connFlags   `group:"connection"`

	Limit      int `help:"Show at most this many records." default:"50" env:"BOOTSTRAP_LIMIT"`
	outputFlag `group:"output"`
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
	set, err := c.recordFlags.load(log)
	if err != nil {
		return err
	}
	mc, err := c.mongo(ctx, log, io, dial{finalDNS: true})
	if err != nil {
		return err
	}
	defer disconnect(ctx, io.Shutdown, mc, nil)
	recs, err := c.read(ctx, store.New(mc), set)
	if err != nil {
		return err
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

// read returns the audit records of the databases of set's profiles, and of
// --database for the profiles named that set does not hold (every record
// there when set is nil and none is named).
func (c *historyCmd) read(ctx context.Context, st *store.Store, set *profiles.Set) ([]store.AuditRecord, error) {
	byDB := map[string][]string{}
	var dbs []string
	add := func(db, name string) {
		if _, ok := byDB[db]; !ok {
			dbs = append(dbs, db)
		}
		if name != "" {
			byDB[db] = append(byDB[db], name)
		}
	}
	if set != nil {
		for _, p := range set.Profiles {
			add(p.Database, p.Name)
		}
	}
	if missing := c.missing(set); set == nil || len(missing) > 0 {
		add(c.Database, "")
		byDB[c.Database] = append(byDB[c.Database], missing...)
	}
	all := len(c.Profile) == 0
	var recs []store.AuditRecord
	for _, db := range dbs {
		var names []string
		if !all {
			names = byDB[db]
		}
		r, err := st.History(ctx, db, names, c.Limit)
		if err != nil {
			return nil, err
		}
		recs = append(recs, r...)
	}
	return recs, nil
}
