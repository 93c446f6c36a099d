package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/srvthreds/bootstrap/runner"
)

// rollbackCmd is `bootstrap rollback`: under the lock, it restores one
// profile to an earlier version from the snapshots that runs took before
// re-applying it, and writes that version's marker. It is audited.
type rollbackCmd struct {
	done []profileOutcome       // set by Run, for the termination message
	res  *runner.RollbackResult // set by Run, for the report

	outputFlag

	profileFlags `set:"what=roll back (exactly one)"`
	connFlags    `group:"connection"`
	lockFlags    `group:"lock"`

	To       string        `help:"Version to restore, or a unique prefix of one (default: the version before the current one)." env:"BOOTSTRAP_ROLLBACK_TO" placeholder:"VERSION"`
	LockWait time.Duration `group:"lock" help:"How long to wait for the lock." default:"10m" env:"BOOTSTRAP_LOCK_WAIT"`
}

// Validate checks that exactly one profile is named.
func (c *rollbackCmd) Validate() error {
	if len(c.Profile) != 1 {
		return errors.New("rollback takes exactly one profile: -p NAME")
	}
	return c.lockFlags.validate()
}

// Run rolls the profile back.
func (c *rollbackCmd) Run(ctx context.Context, log *slog.Logger, bi *buildInfo, io *stdio) error {
	set, err := c.load(log, false)
	if err != nil {
		return err
	}
	p := set.Get(c.Profile[0])
	if p == nil {
		return usageError{fmt.Errorf("profile %q not found in %s", c.Profile[0], c.ProfilesDir)}
	}
	rn, closeDBs, err := lockedRunner(ctx, &c.connFlags, &c.lockFlags, c.LockWait, runEnv{log, bi, io})
	if err != nil {
		return err
	}
	defer closeDBs()
	res, err := rn.Rollback(ctx, p, c.To)
	c.done, c.res = rollbackOutcome(p.Name, res, err), res
	if err != nil || c.json() {
		return err // with -o json, the report says it
	}
	fmt.Fprintf(io.Out, "rolled back %s from %s to %s (fence %d): %d documents restored, %d deleted; "+
		"%d redis keys restored, %d deleted; %d set memberships restored\n",
		p.Name, short(res.From), short(res.To), res.Fence, res.DocsRestored, res.DocsDeleted,
		res.KeysRestored, res.KeysDeleted, res.Members)
	if len(res.Uncovered) > 0 {
		fmt.Fprintf(io.Out, "not undone (a snapshot cannot hold what these steps did): %s\n", strings.Join(res.Uncovered, ", "))
	}
	if res.To != p.Version {
		fmt.Fprintf(io.Out, "note: this image holds %s at %s; a run of it re-applies that version\n", p.Name, short(p.Version))
	}
	return nil
}
