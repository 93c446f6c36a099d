package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/srvthreds/bootstrap/conn"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner"
)

// waitCmd is `bootstrap wait`, the initContainer of the services: it blocks
// until every named profile's marker matches the version of that profile in
// this image. It needs MongoDB only, and no Kubernetes API access.
type waitCmd struct {
	profileFlags `set:"what=wait for"`
	connFlags    `group:"connection"`
	outputFlag   `group:"output"`

	Timeout  time.Duration `group:"timing" help:"Give up (exit 4) after this long; exit 6 only when MongoDB stays unreachable for --connect-timeout before that." default:"5m" env:"BOOTSTRAP_WAIT_TIMEOUT"`
	PollMax  time.Duration `group:"timing" help:"Cap of the polling backoff." default:"5s" env:"BOOTSTRAP_POLL_MAX"`
	PollMin  time.Duration `group:"timing" help:"First polling interval." default:"250ms" env:"BOOTSTRAP_POLL_MIN" hidden:""`
	LogEvery time.Duration `group:"output" help:"How often to log what is still awaited." default:"10s" env:"BOOTSTRAP_LOG_EVERY" hidden:""`
}

// waitReport is the JSON form of a wait's end (-o json).
type waitReport struct {
	Ready    bool          `json:"ready"`
	Profiles []waitProfile `json:"profiles"`
	WaitedMs int64         `json:"waitedMs"`
	Error    string        `json:"error,omitempty"`
}

type waitProfile struct {
	Profile string `json:"profile"`
	Version string `json:"version"` // the version in this image, awaited
}

// Run waits.
func (c *waitCmd) Run(ctx context.Context, log *slog.Logger, io *stdio) error {
	set, err := c.load(log, false)
	if err != nil {
		return err
	}
	t0 := time.Now()
	err = c.wait(ctx, log, io, set)
	if !c.json() {
		return err
	}
	rep := waitReport{Ready: err == nil, WaitedMs: time.Since(t0).Milliseconds()}
	for _, p := range set.Profiles {
		rep.Profiles = append(rep.Profiles, waitProfile{Profile: p.Name, Version: p.Version})
	}
	if err != nil {
		rep.Error = redactURLs(err.Error())
	}
	if jerr := writeJSON(io.Out, rep); jerr != nil && err == nil {
		return jerr
	}
	return err
}

func (c *waitCmd) wait(ctx context.Context, log *slog.Logger, io *stdio, set *profiles.Set) error {
	// Logged before the timeout starts: the time between this line and the
	// last is never shorter than the timeout.
	names := make([]string, len(set.Profiles))
	for i, p := range set.Profiles {
		names[i] = p.Name
	}
	log.Info("wait started", "profiles", names, "timeout", c.Timeout.String())
	ctx, cancel := context.WithTimeoutCause(ctx, c.Timeout,
		fmt.Errorf("%w after %s", runner.ErrWaitTimeout, c.Timeout))
	defer cancel()
	// Redis is read only for profiles that write there (their record in
	// Redis must say they are current too); then both are dialled at once.
	var rc redis.UniversalClient
	var mc *mongo.Client
	var err error
	if slices.ContainsFunc(set.Profiles, runner.WritesRedis) {
		mc, rc, err = c.both(ctx, log, io, dial{})
	} else {
		mc, err = c.mongo(ctx, log, io, dial{})
	}
	if err != nil {
		return c.connectFailed(ctx, err)
	}
	defer disconnect(ctx, io.Shutdown, mc, rc)
	rn, err := runner.New(runner.Stores{Mongo: mc, Redis: rc}, &runner.Options{PollMin: c.PollMin, PollMax: c.PollMax,
		LogEvery: c.LogEvery, Unreachable: c.ConnectTimeout, Log: log})
	if err != nil {
		return err
	}
	return rn.Wait(ctx, set)
}

// connectFailed is the error of a wait whose connection to MongoDB failed:
// unreachable (exit 6) only when MongoDB did not answer for the whole
// connect timeout, which must then be shorter than the wait's; when the
// wait's own timeout ended first (or the two are equal) it is the wait
// that timed out (exit 4), whatever timer fired first.
func (c *waitCmd) connectFailed(ctx context.Context, err error) error {
	var sig *signalError
	if cause := context.Cause(ctx); errors.As(cause, &sig) {
		return fmt.Errorf("%w: %w", cause, err)
	}
	if errors.Is(err, conn.ErrUnreachable) && c.ConnectTimeout >= c.Timeout {
		return fmt.Errorf("%w after %s: %w", runner.ErrWaitTimeout, c.Timeout, err)
	}
	if cause := context.Cause(ctx); errors.Is(cause, runner.ErrWaitTimeout) {
		return fmt.Errorf("%w: %w", cause, err)
	}
	return err
}
