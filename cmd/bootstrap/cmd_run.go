package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/srvthreds/bootstrap/health"
	"github.com/srvthreds/bootstrap/internal/panics"
	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner"
	"github.com/srvthreds/bootstrap/store"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// runCmd is `bootstrap run`: apply the selected profiles, in dependency
// order, under the lock.
type runCmd struct {
	result *runner.Result // set by Run, for the termination message and the report
	set    *profiles.Set  // set by Run: the profiles requested, in order
	runID  string         // set by Run

	outputFlag

	profileFlags `set:"what=apply"`
	connFlags    `group:"connection"`
	lockFlags    `group:"lock"`

	Force         bool          `help:"Re-apply profiles even when their markers match." env:"BOOTSTRAP_FORCE"`
	Exclusive     bool          `help:"Make these profiles the only ones applied in their databases: remove what other profiles' markers there say they wrote (snapshotted first), and those markers." env:"BOOTSTRAP_EXCLUSIVE"`
	Verify        bool          `help:"Compare the live documents and keys of current profiles with what they write, and apply again (outcome repaired) those that drifted." env:"BOOTSTRAP_VERIFY"`
	Reset         bool          `help:"Run each profile's reset before applying it: what its reset: section names; for a srvthreds-form profile the legacy wipe." env:"BOOTSTRAP_RESET"`
	DryRun        bool          `help:"Show the plan and write nothing (same as plan)." env:"BOOTSTRAP_DRY_RUN"`
	LockWait      time.Duration `group:"lock" help:"How long to wait for the lock." default:"10m" env:"BOOTSTRAP_LOCK_WAIT"`
	StallTimeout  time.Duration `group:"timing" help:"Abort (exit 8) when a step reports no progress for this long." default:"2m" env:"BOOTSTRAP_STALL_TIMEOUT"`
	Timeout       time.Duration `group:"timing" help:"Abort (exit 8) when the whole run takes longer." default:"15m" env:"BOOTSTRAP_TIMEOUT"`
	ShutdownGrace time.Duration `group:"timing" help:"Bound on cleanup after a signal or an abort." default:"10s" env:"BOOTSTRAP_SHUTDOWN_GRACE"`
	HealthAddr    string        `group:"output" help:"Address (host:port) of /livez, /readyz, /status and /metrics, or off." default:":8081" env:"BOOTSTRAP_HEALTH_ADDR"`
	BatchSize     int           `help:"Writes per database command (below 100 on FerretDB)." default:"50" env:"BOOTSTRAP_BATCH_SIZE"`
	KeepVersions  int           `help:"Snapshots kept per profile for rollback; 0 takes none." default:"5" env:"BOOTSTRAP_KEEP_VERSIONS"`
}

// Validate checks cross-flag rules.
func (c *runCmd) Validate() error {
	if c.BatchSize < 1 || c.BatchSize > 10000 {
		return errors.New("--batch-size must be between 1 and 10000")
	}
	if c.KeepVersions < 0 {
		return errors.New("--keep-versions must be 0 or more")
	}
	return c.lockFlags.validate()
}

// options are the runner options the flags set. The flag values pass
// through unchanged: --keep-versions 0 is KeepVersions 0, which takes no
// snapshot, and the flag's default (5) is the command's.
func (c *runCmd) options() runner.Options {
	return runner.Options{
		Force: c.Force, Reset: c.Reset, Verify: c.Verify, Exclusive: c.Exclusive,
		BatchSize: c.BatchSize, KeepVersions: c.KeepVersions,
		LockWait: c.LockWait, StallTimeout: c.StallTimeout, Timeout: c.Timeout, ShutdownGrace: c.ShutdownGrace,
	}
}

// Run executes a run: it applies the selected profiles under the lock,
// serving /livez, /readyz, /status and /metrics meanwhile.
func (c *runCmd) Run(ctx context.Context, log *slog.Logger, bi *buildInfo, io *stdio) error {
	if c.DryRun {
		p := planCmd{profileFlags: c.profileFlags, connFlags: c.connFlags, outputFlag: c.outputFlag, Force: c.Force, Reset: c.Reset, Verify: c.Verify}
		return p.Run(ctx, log, io)
	}
	set, err := c.load(log, false)
	if err != nil {
		return err
	}
	c.set = set
	if err := c.preflight(set, io); err != nil {
		return err
	}
	runID := runner.NewRunID()
	c.runID = runID
	runLog := log // the runner adds run_id to its own lines
	log = log.With("run_id", runID)
	sd := io.Shutdown
	sd.configure(c.ShutdownGrace, log)
	state := health.NewState(&health.StateOptions{StallTimeout: c.StallTimeout})
	stopHealth, err := health.Serve(ctx, c.HealthAddr, health.NewHandler(state), log)
	if err != nil { // the port is taken, or the address is not one to listen on: the command line's
		return usageError{fmt.Errorf("--health-addr %s (BOOTSTRAP_HEALTH_ADDR; off serves nothing): %w", c.HealthAddr, err)}
	}
	var mc *mongo.Client
	var rc redis.UniversalClient
	defer func() { cleanup(ctx, sd, stopHealth, mc, rc) }()

	names := make([]string, len(set.Profiles))
	for i, p := range set.Profiles {
		names[i] = p.Name
	}
	log.Info("run starting", "profiles", names, "version", bi.Version, "force", c.Force, "reset", c.Reset)
	mc, rc, err = c.both(ctx, log, io, dial{onAttempt: state.Heartbeat, throttled: state.MongoThrottled})
	if err != nil {
		return err
	}
	state.SetReady(true)

	host := hostname()
	locker, err := c.waitingLocker(rc, lock.Holder{RunID: runID, Host: host, Image: bi.Version}, log, state.Heartbeat)
	if err != nil {
		return err
	}
	opts := c.options()
	opts.RunID, opts.Host, opts.Image = runID, host, bi.Version
	rep := withETAWarning(state, log, cmp.Or(c.Timeout, runner.DefaultTimeout))
	opts.Log, opts.Reporter, opts.Env, opts.OnLease = runLog, withProgressBar(rep, io), c.env(io), sd.held
	rn, err := runner.New(runner.Stores{Mongo: mc, Redis: rc, Locker: locker}, &opts)
	if err != nil {
		return err
	}
	t0 := time.Now()
	res, err := rn.Run(ctx, set)
	c.result = res
	counts := map[store.Outcome]int{}
	for _, p := range res.Profiles {
		counts[p.Outcome]++
	}
	log.Info("run finished", "event", "run_summary", "fence", res.Fence,
		"applied", counts[store.OutcomeApplied], "skipped", counts[store.OutcomeSkipped],
		"failed", counts[store.OutcomeFailed], "interrupted", counts[store.OutcomeInterrupted],
		"duration_ms", time.Since(t0).Milliseconds(), "ok", err == nil)
	return err
}

// cleanup stops the health server and disconnects the clients (either may
// be nil) at the same time, each bounded by a second (the server) or five
// (the clients) and, after a signal, by the shutdown grace.
func cleanup(ctx context.Context, sd *shutdown, stopHealth func(context.Context) error, mc *mongo.Client, rc redis.UniversalClient) {
	var wg sync.WaitGroup
	wg.Go(func() {
		defer panics.Recover(nil, "health stop", nil)
		c, cancel := sd.cleanupContext(ctx, time.Second)
		defer cancel()
		_ = stopHealth(c)
	})
	wg.Go(func() {
		defer panics.Recover(nil, "disconnect", nil)
		c, cancel := sd.cleanupContext(ctx, disconnectTimeout)
		defer cancel()
		disconnectWithin(c, mc, rc)
	})
	wg.Wait()
}
