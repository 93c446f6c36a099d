package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/srvthreds/bootstrap/profiles"
)

// Waiter polls markers until every profile of a set is applied at its
// version (the `wait` command of the services' initContainers).
type Waiter struct {
	Records  RecordReader
	PollMin  time.Duration // first interval, default 250ms
	PollMax  time.Duration // cap of the exponential backoff, default 5s
	LogEvery time.Duration // how often to log what is awaited, default 10s
	// Unreachable, if positive: when every read of the markers fails for
	// this long in a row, Wait returns an error matching
	// conn.ErrUnreachable (exit 6) instead of waiting on (the connect
	// timeout, in the command).
	Unreachable time.Duration
	Log         *slog.Logger
}

// Wait returns nil once every profile's marker matches its version, or the
// cause of ctx's end (ErrWaitTimeout when ctx carries that cause). Polls back
// off exponentially with full jitter up to PollMax, so hundreds of waiting
// replicas cost the database little.
func (w *Waiter) Wait(ctx context.Context, set *profiles.Set) error {
	pollMin, pollMax, logEvery := w.PollMin, w.PollMax, w.LogEvery
	if pollMin <= 0 {
		pollMin = 250 * time.Millisecond
	}
	if pollMax <= 0 {
		pollMax = 5 * time.Second
	}
	if logEvery <= 0 {
		logEvery = 10 * time.Second
	}
	log := w.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	var lastLog time.Time
	interval := pollMin
	var pending []string
	down := outage{limit: w.Unreachable}
	for polls := 1; ; polls++ {
		now, err := w.pending(ctx, set)
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
func (w *Waiter) pending(ctx context.Context, set *profiles.Set) ([]string, error) {
	var out []string
	for _, p := range set.Profiles {
		c, err := w.Records.Get(ctx, p)
		if err != nil {
			return []string{p.Name + " (unknown)"}, err
		}
		if why := c.Pending(p); why != "" {
			out = append(out, why)
		}
	}
	return out, nil
}
