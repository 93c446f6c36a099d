package runner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/srvthreds/bootstrap/profiles"
)

// Wait polls the records until every profile of set is applied at its
// version in every store it writes to (the `wait` command of the services'
// initContainers), and returns nil then, or the cause of ctx's end
// (ErrWaitTimeout when ctx carries that cause). Polls start at
// Options.PollMin and back off exponentially with full jitter up to
// Options.PollMax, so hundreds of waiting replicas cost the database
// little; see Options.Unreachable for a database that never answers.
func (r *Runner) Wait(ctx context.Context, set *profiles.Set) error {
	if err := r.needsRecords("wait"); err != nil {
		return err
	}
	pollMax, logEvery, log := r.opts.PollMax, r.opts.LogEvery, r.log
	start := time.Now()
	var lastLog time.Time
	interval := r.opts.PollMin
	var pending []string
	down := outage{limit: r.opts.Unreachable}
	for polls := 1; ; polls++ {
		now, err := r.pending(ctx, set)
		if err != nil && ctx.Err() == nil {
			log.Warn("reading markers", "err", err)
		}
		if uerr := down.observe(ctx, err, time.Now()); uerr != nil {
			return uerr
		}
		// A failed read (such as one cut short by the deadline) keeps what
		// the last complete poll found pending.
		if err == nil || pending == nil {
			pending = now
		}
		if err == nil && len(pending) == 0 {
			log.Info("all profiles current", "profiles", len(set.Profiles), "polls", polls,
				"waited_ms", time.Since(start).Milliseconds())
			return nil
		}
		if time.Since(lastLog) >= logEvery {
			log.Info("waiting for profiles", "pending", pending, "waited_ms", time.Since(start).Milliseconds())
			lastLog = time.Now()
		}
		sleep := rand.N(interval) + time.Millisecond
		select {
		case <-ctx.Done():
			cause := context.Cause(ctx)
			if errors.Is(cause, ErrWaitTimeout) {
				return fmt.Errorf("%w; still waiting for %s", cause, strings.Join(pending, ", "))
			}
			return cause
		case <-time.After(sleep):
		}
		interval = min(interval*2, pollMax)
	}
}

// pending lists the profiles that are not current in both stores, as
// "name (why)".
func (r *Runner) pending(ctx context.Context, set *profiles.Set) ([]string, error) {
	var out []string
	for _, p := range set.Profiles {
		c, err := r.reader.Get(ctx, p)
		if err != nil {
			return []string{p.Name + " (unknown)"}, err
		}
		if why := c.Pending(p); why != "" {
			out = append(out, why)
		}
	}
	return out, nil
}
