package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
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
	// Procs and ProcWait: the same with N local runner processes, which
	// start in milliseconds: the runner's own share of contention.
	// ProcVersion: N local `bootstrap version` processes, what starting N
	// processes costs on this machine's cores.
	Procs, ProcWait, ProcVersion samples
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
			if err := b.srv.reset(ctx); err != nil {
				return nil, err
			}
			p, pWait, err := b.processTrial(ctx, pt.N, b.localRun(b.opts.Repo+"/examples/profiles", exampleProfiles), true)
			if err != nil {
				return nil, fmt.Errorf("%d runner processes: %w", pt.N, err)
			}
			pt.Procs = append(pt.Procs, p)
			pt.ProcWait = append(pt.ProcWait, pWait)
			v, _, err := b.processTrial(ctx, pt.N, proc{Name: b.opts.Bin, Args: []string{"version"}}, false)
			if err != nil {
				return nil, fmt.Errorf("%d version processes: %w", pt.N, err)
			}
			pt.ProcVersion = append(pt.ProcVersion, v)
			b.log.Info("contention", "runners", pt.N, "run", rep+1, "containers", pt.Runners[rep], "docker_only", d,
				"processes", p, "version_processes", v)
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
	outputs := make([]string, n)
	for i, id := range ids {
		logs, err := b.docker.logs(ctx, id)
		if err != nil {
			return 0, 0, err
		}
		outputs[i] = logs
	}
	maxWait, err := checkRunners(codes, outputs)
	return elapsed, maxWait, err
}

// processTrial starts n local processes p at once and returns the time
// from the first start to the exit of the last. With runs (p is a runner),
// it checks them as containerTrial does and returns the longest lock wait.
func (b *bench) processTrial(ctx context.Context, n int, p proc, runs bool) (time.Duration, time.Duration, error) {
	cmds := make([]*exec.Cmd, n)
	outs := make([]*bytes.Buffer, n)
	for i := range cmds {
		cmds[i] = exec.CommandContext(ctx, p.Name, p.Args...)
		cmds[i].Env = append(os.Environ(), p.Env...)
		outs[i] = &bytes.Buffer{}
		cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var last time.Time
	codes := make([]int, n)
	errs := make([]error, n)
	t0 := time.Now()
	for i, c := range cmds {
		if err := c.Start(); err != nil {
			errs[i] = err
			continue
		}
		wg.Go(func() {
			err := c.Wait()
			now := time.Now()
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				errs[i] = err
			}
			codes[i] = c.ProcessState.ExitCode()
			mu.Lock()
			defer mu.Unlock()
			if now.After(last) {
				last = now
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, 0, err
	}
	if !runs {
		for i, code := range codes {
			if code != 0 {
				return 0, 0, fmt.Errorf("%s exited %d: %s", p.Name, code, tail(outs[i].String(), 1000))
			}
		}
		return last.Sub(t0), 0, nil
	}
	outputs := make([]string, n)
	for i, o := range outs {
		outputs[i] = o.String()
	}
	maxWait, err := checkRunners(codes, outputs)
	return last.Sub(t0), maxWait, err
}

// checkRunners checks that every runner of a trial exited 0 and that the
// example profiles were applied once in all, and returns the longest lock
// wait they logged.
func checkRunners(codes []int, outputs []string) (time.Duration, error) {
	applied := 0
	var maxWait time.Duration
	for i, out := range outputs {
		if codes[i] != 0 {
			return 0, fmt.Errorf("a runner exited %d:\n%s", codes[i], tail(out, 2000))
		}
		lines := parseLogs(out)
		s, ok := summary(lines)
		if !ok {
			return 0, fmt.Errorf("a runner logged no run_summary:\n%s", tail(out, 2000))
		}
		applied += int(s.num("applied"))
		for _, l := range lines {
			if l.str("msg") == "lock acquired" {
				maxWait = max(maxWait, time.Duration(l.num("waited_ms"))*time.Millisecond)
			}
		}
	}
	if applied != 3 {
		return 0, fmt.Errorf("%d runners applied %d profiles in all, want 3 (each once)", len(outputs), applied)
	}
	return maxWait, nil
}

// section writes the contention part of the report.
func (c *contentionResult) section(r *report, target float64, charts [2]string) {
	if len(c.Points) < 2 {
		return
	}
	one, top := c.Points[0], c.Points[len(c.Points)-1]
	rt := ratio(top.Runners.median(), one.Runners.median())
	dt := ratio(top.Docker.median(), one.Docker.median())
	pt := ratio(top.Procs.median(), one.Procs.median())
	vt := ratio(top.ProcVersion.median(), one.ProcVersion.median())
	r.row(summaryRow{
		Figure:   fmt.Sprintf("Contention: %d runner containers started at once vs %d, time to the last exit", top.N, one.N),
		Measured: fmtDur(top.Runners.median()),
		Baseline: fmtDur(one.Runners.median()) + fmt.Sprintf(" (%d container)", one.N),
		Ratio:    fmtRatio(rt) + fmt.Sprintf(" (Docker alone: %s)", fmtRatio(dt)),
		Target:   fmt.Sprintf("≤ %.1f×", target),
		Met:      met(rt <= target),
	})
	r.row(summaryRow{
		Figure:   fmt.Sprintf("Contention without the container runtime: %d local runner processes at once vs %d", top.N, one.N),
		Measured: fmtDur(top.Procs.median()),
		Baseline: fmtDur(one.Procs.median()) + fmt.Sprintf(" (%d process)", one.N),
		Ratio:    fmtRatio(pt) + fmt.Sprintf(" (`version` processes: %s)", fmtRatio(vt)),
		Target:   fmt.Sprintf("≤ %.1f×", target),
		Met:      met(pt <= target),
	})
	s := r.section("Contention")
	s.p("N containers of the runner image (`bootstrap run -p %s`, the image's own profiles) on a Docker network "+
		"with the Redis and MongoDB-wire containers, created beforehand and started at once through the Docker "+
		"Engine API (a goroutine per container, so that no docker CLI process competes for the CPU), on emptied "+
		"servers: one runner takes the lock and applies the three profiles, the others wait for the lock and then "+
		"find every marker current (checked: every runner exits 0 and the profiles are applied once in all). "+
		"Timed from the first start request to the exit of the last container. Measured in the same rounds: N "+
		"containers of the same image running `bootstrap version`, which is what Docker alone costs to start and "+
		"reap N containers here; the same N runners as local processes against the same servers, without the "+
		"container runtime; and N local `bootstrap version` processes, what starting N processes costs on this "+
		"machine's %d cores. %d trials of each at each N, interleaved.", exampleProfiles, r.machine.NProc, c.Runs)
	var rows [][]string
	for _, p := range c.Points {
		rows = append(rows, []string{fmt.Sprint(p.N),
			p.Runners.spread(), fmtRatio(ratio(p.Runners.median(), one.Runners.median())),
			fmtDur(p.Docker.median()) + " (" + fmtRatio(ratio(p.Docker.median(), one.Docker.median())) + ")",
			p.Procs.spread(), fmtRatio(ratio(p.Procs.median(), one.Procs.median())),
			fmtDur(p.ProcVersion.median()) + " (" + fmtRatio(ratio(p.ProcVersion.median(), one.ProcVersion.median())) + ")",
			fmtDur(p.MaxWait.median()) + " / " + fmtDur(p.ProcWait.median())})
	}
	s.table([]string{"N", "runner containers", "ratio to 1", "`version` containers (ratio)",
		"runner processes", "ratio to 1", "`version` processes (ratio)", "longest lock wait, containers / processes"}, rows...)
	s.image("containers: time to the last exit against the number started at once", charts[0])
	s.image("local processes: time to the last exit against the number started at once", charts[1])

	if rt <= target {
		s.p("Target met for containers: %d runners at once finish %s after one does.", top.N, fmtRatio(rt))
	} else {
		s.p("Target missed for containers (%s > %.1f×), and the cause is the container runtime: the Docker "+
			"engine of this machine starts containers one after the other, so %d containers that do nothing "+
			"already take %s, about %s each (%s of one). The runner containers take %s longer than those; "+
			"nothing in the runner can close the rest, which is why the local processes are measured too. On a "+
			"Kubernetes node the kubelet starts pods in parallel and the figure would follow the processes' line.",
			fmtRatio(rt), target, top.N, fmtDur(top.Docker.median()), fmtDur(top.Docker.median()/time.Duration(top.N)),
			fmtRatio(dt), fmtDur(top.Runners.median()-top.Docker.median()))
	}
	if pt <= target {
		s.p("Without the container runtime the target is met: %d processes at once finish %s after one.", top.N, fmtRatio(pt))
	} else {
		s.p("Without the container runtime the target is missed too (%s > %.1f×). Part of it is the machine: "+
			"%d processes that only print their version take %s of one, because %d processes share %d cores and "+
			"each costs some CPU to start (see Cold start). The rest is the lock queue: the waiters take the lock "+
			"one after the other, each retrying with backoff from 100 ms up to 2 s (lock.DefaultRetryMax), and the "+
			"longest wait was %s. Bounding the retry delay by the holder's remaining lease (the acquire script "+
			"already returns the key's PTTL), or checking the markers before queueing for the lock (as `bootstrap "+
			"wait` does) so that waiters exit without the lock when every marker is already current, would shorten "+
			"it; a cheaper start (Cold start, Image size) would shrink the first part.",
			fmtRatio(pt), target, top.N, fmtRatio(vt), top.N, r.machine.NProc, fmtDur(top.ProcWait.median()))
	}
}
