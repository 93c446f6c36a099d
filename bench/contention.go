package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// contentionPoint is the contention figure at one number of runners.
type contentionPoint struct {
	N int
	// Runners: time from starting N runner containers at once to the exit
	// of the last. Docker: the same for N containers of the image running
	// `version`, what Docker alone costs.
	Runners, Docker samples
	// MaxWait is, per trial, the longest lock wait a runner logged.
	MaxWait samples
}

// contentionResult is the contention figure.
type contentionResult struct {
	Points []*contentionPoint
	Runs   int
}

// runnerContainerArgs are the arguments of a runner container applying the
// example profiles of the image (/profiles) to the servers.
func (b *bench) runnerContainerArgs() []string {
	return []string{"run", "-p", exampleProfiles, "--mongo-uri", b.srv.NetMongoURI, "--redis-url", b.srv.NetRedisURL,
		"--health-addr", "off", "--log-format", "json"}
}

// contention starts N runner containers at once on empty servers, for each
// N, and times them until the last exits; the same with `version`
// containers gives Docker's own share. Trials of both kinds are
// interleaved.
func (b *bench) contention(ctx context.Context) (*contentionResult, error) {
	res := &contentionResult{Runs: b.opts.ContentionRuns}
	for _, n := range b.opts.Contention {
		res.Points = append(res.Points, &contentionPoint{N: n})
	}
	for rep := range b.opts.ContentionRuns {
		for _, pt := range res.Points {
			if err := b.srv.reset(ctx); err != nil {
				return nil, err
			}
			d, maxWait, err := b.containerTrial(ctx, pt.N, b.runnerContainerArgs(), true)
			if err != nil {
				return nil, fmt.Errorf("%d runners: %w", pt.N, err)
			}
			pt.Runners = append(pt.Runners, d)
			pt.MaxWait = append(pt.MaxWait, maxWait)
			d, _, err = b.containerTrial(ctx, pt.N, []string{"version"}, false)
			if err != nil {
				return nil, fmt.Errorf("%d version containers: %w", pt.N, err)
			}
			pt.Docker = append(pt.Docker, d)
			b.log.Info("contention", "runners", pt.N, "run", rep+1, "last_exit", pt.Runners[rep], "docker_only", d)
		}
	}
	return res, nil
}

// containerTrial creates n containers of the runner image with args, starts
// them all at once through the Engine API, and returns the time from the
// first start request to the exit of the last. With runs, it checks that
// every container exited 0 and that the example profiles were applied
// once in all, and returns the longest lock wait logged.
func (b *bench) containerTrial(ctx context.Context, n int, args []string, runs bool) (time.Duration, time.Duration, error) {
	ids := make([]string, n)
	var mu sync.Mutex
	var createErr error
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	opts := []string{"--network", b.srv.Network}
	for _, e := range exampleEnv() {
		opts = append(opts, "-e", e)
	}
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			id, err := b.docker.create(ctx, opts, b.opts.RunnerImage, args...)
			mu.Lock()
			defer mu.Unlock()
			ids[i] = id
			createErr = errors.Join(createErr, err)
		})
	}
	wg.Wait()
	defer func() {
		rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		var live []string
		for _, id := range ids {
			if id != "" {
				live = append(live, id)
			}
		}
		if err := b.docker.remove(rmCtx, live...); err != nil {
			b.log.Warn("remove containers", "err", err)
		}
	}()
	if createErr != nil {
		return 0, 0, createErr
	}

	codes := make([]int, n)
	errs := make([]error, n)
	t0 := time.Now()
	var last time.Time
	for i, id := range ids {
		wg.Go(func() {
			if err := b.engine.start(ctx, id); err != nil {
				errs[i] = err
				return
			}
			codes[i], errs[i] = b.engine.wait(ctx, id)
			mu.Lock()
			defer mu.Unlock()
			if now := time.Now(); now.After(last) {
				last = now
			}
		})
	}
	wg.Wait()
	elapsed := last.Sub(t0)
	if err := errors.Join(errs...); err != nil {
		return 0, 0, err
	}
	if !runs {
		return elapsed, 0, nil
	}
	applied := 0
	var maxWait time.Duration
	for i, id := range ids {
		logs, err := b.docker.logs(ctx, id)
		if err != nil {
			return 0, 0, err
		}
		if codes[i] != 0 {
			return 0, 0, fmt.Errorf("runner container exited %d:\n%s", codes[i], tail(logs, 2000))
		}
		lines := parseLogs(logs)
		s, ok := summary(lines)
		if !ok {
			return 0, 0, fmt.Errorf("runner container logged no run_summary:\n%s", tail(logs, 2000))
		}
		applied += int(s.num("applied"))
		for _, l := range lines {
			if l.str("msg") == "lock acquired" {
				maxWait = max(maxWait, time.Duration(l.num("waited_ms"))*time.Millisecond)
			}
		}
	}
	if applied != 3 {
		return 0, 0, fmt.Errorf("%d runners applied %d profiles in all, want 3 (each once)", n, applied)
	}
	return elapsed, maxWait, nil
}

// section writes the contention part of the report.
func (c *contentionResult) section(r *report, target float64, chart string) {
	if len(c.Points) < 2 {
		return
	}
	one, top := c.Points[0], c.Points[len(c.Points)-1]
	rt := ratio(top.Runners.median(), one.Runners.median())
	r.row(summaryRow{
		Figure:   fmt.Sprintf("Contention: %d runner containers at once vs %d, time to the last exit", top.N, one.N),
		Measured: fmtDur(top.Runners.median()),
		Baseline: fmtDur(one.Runners.median()) + fmt.Sprintf(" (%d runner)", one.N),
		Ratio:    fmtRatio(rt),
		Target:   fmt.Sprintf("≤ %.1f×", target),
		Met:      met(rt <= target),
	})
	s := r.section("Contention")
	s.p("N containers of the runner image (`bootstrap run -p %s`, the image's own profiles) on a Docker network "+
		"with the Redis and MongoDB-wire containers, created beforehand and started at once through the Docker "+
		"Engine API (a goroutine per container, so that no docker CLI process competes for the CPU), on emptied "+
		"servers: one runner takes the lock and applies the three profiles, the others wait for the lock and then "+
		"find every marker current. Timed from the first start request to the exit of the last container. The "+
		"same with N containers running `bootstrap version` shows what Docker itself costs to start N "+
		"containers on this machine. %d trials of each at each N, interleaved.", exampleProfiles, c.Runs)
	var rows [][]string
	for _, p := range c.Points {
		rows = append(rows, []string{fmt.Sprint(p.N), p.Runners.spread(),
			fmtRatio(ratio(p.Runners.median(), one.Runners.median())),
			p.Docker.spread(), fmtRatio(ratio(p.Docker.median(), one.Docker.median())),
			fmtDur(p.Runners.median() - p.Docker.median()),
			fmtDur(p.MaxWait.median())})
	}
	s.table([]string{"runners", "time to last exit", "ratio to 1", "`version` containers (Docker alone)",
		"ratio to 1", "runner time beyond Docker's", "longest lock wait (median)"}, rows...)
	s.image("time to the last exit against the number of runners started at once", chart)
	if rt <= target {
		s.p("Target met: %d runners at once finish %s after one does.", top.N, fmtRatio(rt))
	} else {
		s.p("Target missed (%s > %.1f×). Of the %s that %d runners take, Docker needs %s to start and reap %d "+
			"containers that do nothing (%s of one such container): that part is the machine's, not the "+
			"runner's. What is left is the hand-over of the lock: a waiter retries with backoff from 100 ms up "+
			"to 2 s (lock.DefaultRetryMax) and the runners go through the lock one after the other. A waiter that "+
			"sleeps only until the holder's remaining ttl (the acquire script already returns it) or a shorter "+
			"RetryMax would shorten the queue, and the waiters could check the markers before queueing for the "+
			"lock (`bootstrap wait` semantics) so that when every marker is current they exit without taking it.",
			fmtRatio(rt), target, fmtDur(top.Runners.median()), top.N, fmtDur(top.Docker.median()), top.N,
			fmtRatio(ratio(top.Docker.median(), one.Docker.median())))
	}
}
