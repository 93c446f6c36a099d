package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/runner"
	"github.com/srvthreds/bootstrap/store"
)

// unlockCmd is `bootstrap unlock`: it breaks a stale lock, and refuses while
// the holder still renews its lease unless --force. It is audited.
type unlockCmd struct {
	// Set by Run, for the report: the holder found, whether its lock was
	// broken, the run id of the audit record.
	holder *lock.Holder
	broken bool
	runID  string

	connFlags  `group:"connection"`
	lockFlags  `group:"lock"`
	outputFlag `group:"output"`

	Force    bool   `help:"Break the lock even while its holder renews it." env:"BOOTSTRAP_UNLOCK_FORCE"`
	Database string `help:"Database of the audit record." default:"nr" env:"BOOTSTRAP_AUDIT_DATABASE"`
}

// Run breaks the lock.
func (c *unlockCmd) Run(ctx context.Context, log *slog.Logger, bi *buildInfo, io *stdio) error {
	mc, rc, err := c.both(ctx, log, io, dial{})
	if err != nil {
		return err
	}
	defer disconnect(ctx, io.Shutdown, mc, rc)
	locker, err := c.locker(rc, lock.Holder{}, nil, nil)
	if err != nil {
		return usageError{err}
	}
	h, err := locker.Break(ctx, c.Force)
	c.holder = h
	if err != nil {
		return err
	}
	if h == nil {
		if !c.json() {
			fmt.Fprintf(io.Out, "lock %s: free, nothing to break\n", c.LockName)
		}
		return nil
	}
	c.broken, c.runID = true, runner.NewRunID()
	msg := fmt.Sprintf("broke lock %s held by run %s on %s (fence %d, renewed %s)", c.LockName, h.RunID, h.Host, h.Fence, h.Renewed.Format(time.RFC3339))
	log.Warn("lock broken", "lock", c.LockName, "holder_run_id", h.RunID, "holder_host", h.Host, "holder_fence", h.Fence, "force", c.Force)
	rec := &store.AuditRecord{
		RunID: c.runID, Fence: h.Fence, Profile: "", Outcome: store.OutcomeUnlocked,
		Error: msg, At: time.Now().UTC().Truncate(time.Millisecond), Host: hostname(), Image: bi.Version,
	}
	if err := store.New(mc).Audit(ctx, c.Database, rec); err != nil {
		return err
	}
	if !c.json() {
		fmt.Fprintln(io.Out, msg)
	}
	return nil
}
