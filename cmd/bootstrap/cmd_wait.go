package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/srvthreds/bootstrap/runner"
	"github.com/srvthreds/bootstrap/store"
)

// waitCmd is `bootstrap wait`, the initContainer of the services: it blocks
// until every named profile's marker matches the version of that profile in
// this image. It needs MongoDB only, and no Kubernetes API access.
type waitCmd struct {
	profileFlags
	connFlags

	Timeout  time.Duration `help:"Give up (exit 4) after this long." default:"5m" env:"BOOTSTRAP_WAIT_TIMEOUT"`
	PollMax  time.Duration `help:"Cap of the polling backoff." default:"5s" env:"BOOTSTRAP_POLL_MAX"`
	PollMin  time.Duration `help:"First polling interval." default:"250ms" env:"BOOTSTRAP_POLL_MIN" hidden:""`
	LogEvery time.Duration `help:"How often to log what is still awaited." default:"10s" env:"BOOTSTRAP_LOG_EVERY" hidden:""`
}

// Run waits.
func (c *waitCmd) Run(ctx context.Context, log *slog.Logger, io *stdio) error {
	set, err := c.load(log, false)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, c.Timeout,
		fmt.Errorf("%w after %s", runner.ErrWaitTimeout, c.Timeout))
	defer cancel()
	if c.ConnectTimeout > c.Timeout {
		c.ConnectTimeout = c.Timeout
	}
	mc, err := c.mongo(ctx, log, io, nil)
	if err != nil {
		return err
	}
	defer disconnect(ctx, mc, nil)
	st := store.New(mc)
	w := runner.Waiter{Store: st, PollMin: c.PollMin, PollMax: c.PollMax, LogEvery: c.LogEvery, Log: log}
	return w.Wait(ctx, set)
}
