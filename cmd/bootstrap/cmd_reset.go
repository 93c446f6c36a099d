package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner"
	"github.com/srvthreds/bootstrap/store"
)

// resetCmd is `bootstrap reset`: under the lock, each named profile's reset
// and nothing else (the legacy `-c`); the profile's marker is deleted so
// that the next run applies it again. Audited.
type resetCmd struct {
	result *runner.Result // set by Run, for the termination message and the report
	set    *profiles.Set  // set by Run: the profiles requested, in order

	outputFlag

	profileFlags `set:"what=reset"`
	connFlags    `group:"connection"`
	lockFlags    `group:"lock"`

	LockWait time.Duration `group:"lock" help:"How long to wait for the lock." default:"10m" env:"BOOTSTRAP_LOCK_WAIT"`
}

// Validate checks the lock flags.
func (c *resetCmd) Validate() error { return c.lockFlags.validate() }

// Run resets the profiles.
func (c *resetCmd) Run(ctx context.Context, log *slog.Logger, bi *buildInfo, io *stdio) error {
	set, err := c.load(log, false)
	if err != nil {
		return err
	}
	c.set = set
	rn, closeDBs, err := lockedRunner(ctx, &c.connFlags, &c.lockFlags, c.LockWait, runEnv{log, bi, io})
	if err != nil {
		return err
	}
	defer closeDBs()
	res, err := rn.Reset(ctx, set)
	c.result = res
	if c.json() {
		return err // the report says it
	}
	for _, p := range res.Profiles {
		removed := int64(0)
		for _, s := range p.Steps {
			removed += s.Removed
		}
		switch p.Outcome {
		case store.OutcomeReset:
			fmt.Fprintf(io.Out, "reset %s (fence %d): %d documents and keys removed; its next run applies it again\n", p.Profile, res.Fence, removed)
		case store.OutcomeSkipped:
			fmt.Fprintf(io.Out, "%s has no reset: nothing removed\n", p.Profile)
		}
	}
	return err
}
