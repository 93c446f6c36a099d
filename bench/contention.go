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

// exampleCount is how many profiles a run of exampleProfiles applies
// (example-users requires example-base).
const exampleCount = 3

// contentionPoint is the contention figure at one number of runners started
// at once, as local processes.
type contentionPoint struct {
	N int
	// Current: every marker is current when the runners start (the usual
	// case of an initContainer in every replica, or of a nightly Job);
	// otherwise the servers are empty and one runner applies the profiles.
	Current bool
	// Runners: from starting N runner processes at once to the exit of the
	// last. Version: the same for N `bootstrap version` processes, what
	// starting N processes costs on this machine's cores. Apply (empty
	// servers only): one runner alone applying the profiles.
	Runners, Version, Apply samples
	// MaxWait is, per trial, the longest lock wait a runner logged.
	MaxWait samples
}

// baseline is the point's baseline per trial: N `version` processes, plus
// one apply on empty servers.
func (p *contentionPoint) baseline() samples {
	out := make(samples, len(p.Version))
	for i, v := range p.Version {
		out[i] = v
		if !p.Current {
			out[i] += p.Apply[i]
		}
	}
	return out
}

// contentionResult is the contention figure.
type contentionResult struct {
	Points []*contentionPoint
	Runs   int
}

// contention starts N runner processes at once, for each N on current
// markers and for the given N on empty servers, and times them until the
// last exits, interleaved with their baselines.
func (b *bench) contention(ctx context.Context) (*contentionResult, error) {
	res := &contentionResult{Runs: b.opts.ContentionRuns}
	for _, n := range b.opts.Contention {
		res.Points = append(res.Points, &contentionPoint{N: n, Current: true})
	}
	res.Points = append(res.Points, &contentionPoint{N: b.opts.ContentionEmpty})
	for rep := range b.opts.ContentionRuns {
		for _, pt := range res.Points {
			if err := b.contentionTrial(ctx, pt); err != nil {
				return nil, fmt.Errorf("%d runners (current markers: %v): %w", pt.N, pt.Current, err)
			}
			b.log.Info("contention", "runners", pt.N, "current", pt.Current, "run", rep+1,
				"processes", pt.Runners[rep], "version_processes", pt.Version[rep])
		}
	}
	return res, nil
}

// contentionTrial measures one trial of pt and its baseline.
func (b *bench) contentionTrial(ctx context.Context, pt *contentionPoint) error {
	run := b.localRun(b.opts.Repo+"/examples/profiles", exampleProfiles)
	if err := b.srv.reset(ctx); err != nil {
		return err
	}
	want := exampleCount
	if pt.Current {
		first, err := run.run(ctx) // untimed: makes every marker current
		if err != nil {
			return err
		}
		if err := first.mustSucceed("first apply"); err != nil {
			return err
		}
		want = 0
	} else {
		one, _, err := b.processTrial(ctx, 1, run, exampleCount)
		if err != nil {
			return fmt.Errorf("one apply: %w", err)
		}
		pt.Apply = append(pt.Apply, one)
		if err := b.srv.reset(ctx); err != nil {
			return err
		}
	}
	d, wait, err := b.processTrial(ctx, pt.N, run, want)
	if err != nil {
		return err
	}
	pt.Runners = append(pt.Runners, d)
	pt.MaxWait = append(pt.MaxWait, wait)
	v, _, err := b.processTrial(ctx, pt.N, proc{Name: b.opts.Bin, Args: []string{"version"}}, -1)
	if err != nil {
		return fmt.Errorf("version processes: %w", err)
	}
	pt.Version = append(pt.Version, v)
	return nil
}

// processTrial starts n local processes p at once and returns the time
// from the first start to the exit of the last. With wantApplied ≥ 0 (p is
// a runner), it checks that every runner exited 0 and that wantApplied
// profiles were applied in all, and returns the longest lock wait logged.
func (b *bench) processTrial(ctx context.Context, n int, p proc, wantApplied int) (time.Duration, time.Duration, error) {
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
	if wantApplied < 0 {
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
	maxWait, err := checkRunners(codes, outputs, wantApplied)
	return last.Sub(t0), maxWait, err
}

// checkRunners checks that every runner of a trial exited 0 and that the
// profiles applied in all were want, and returns the longest lock wait they
// logged.
func checkRunners(codes []int, outputs []string, want int) (time.Duration, error) {
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
	if applied != want {
		return 0, fmt.Errorf("%d runners applied %d profiles in all, want %d", len(outputs), applied, want)
	}
	return maxWait, nil
}

// section writes the contention part of the report.
func (c *contentionResult) section(r *report, t contentionTargets) {
	var rows [][]string
	for _, p := range c.Points {
		base := p.baseline()
		q := pairedRatio(p.Runners, base)
		target, what, baseName := t.Current, "current markers", fmt.Sprintf("%d `version` processes", p.N)
		if !p.Current {
			target, what, baseName = t.Empty, "empty servers", fmt.Sprintf("one apply + %d `version` processes", p.N)
		}
		r.row(summaryRow{
			Figure:   fmt.Sprintf("Contention: %d runner processes at once on %s, time to the last exit", p.N, what),
			Measured: fmtDur(p.Runners.median()),
			Baseline: fmtDur(base.median()) + " (" + baseName + ")",
			Ratio:    fmtRatio(q) + " (median of paired trials)",
			Target:   fmt.Sprintf("≤ %.1f×", target),
			Met:      met(q <= target),
		})
		apply := "–"
		if !p.Current {
			apply = p.Apply.spread()
		}
		rows = append(rows, []string{fmt.Sprint(p.N), what, p.Runners.spread(), p.Version.spread(), apply,
			fmtRatio(q), fmt.Sprintf("≤ %.1f×", target), fmtDur(p.MaxWait.max())})
	}
	s := r.section("Contention")
	s.p("N local runner processes (`bootstrap run -p %s`, the example profiles, %d profiles with the one "+
		"required) started at once against the Redis and MongoDB-wire containers, timed from the first start to "+
		"the exit of the last; checked: every runner exits 0 and the profiles are applied the expected number of "+
		"times in all (none on current markers, each once on empty servers). On current markers the servers "+
		"were emptied and the profiles applied once, untimed, before each trial: every runner should find its "+
		"markers current. The baseline is N `bootstrap version` processes started at once in the same trial, "+
		"what starting N processes costs on this machine's %d cores; on empty servers, one runner alone applying "+
		"the profiles is added to it. %d trials of each, interleaved; the ratio is the median of the ratios of "+
		"the trials. Containers are not measured any more: this machine's Docker engine starts them one after "+
		"the other (about 1 s each), which hides the runner entirely.",
		exampleProfiles, exampleCount, r.machine.NProc, c.Runs)
	s.table([]string{"N", "servers", "runner processes", "`version` processes", "one apply alone", "ratio", "target",
		"longest lock wait"}, rows...)
}

// contentionTargets are the targets of the contention figure.
type contentionTargets struct {
	Current float64 // N runners on current markers / N version processes
	Empty   float64 // N runners on empty servers / (one apply + N version processes)
}
