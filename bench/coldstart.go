package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// coldResult is the cold start figure: medians of interleaved runs.
type coldResult struct {
	Bootstrap, Node, NPM samples
	// Empty is a Go program whose main does nothing, built like the
	// runner: the floor of starting a static binary on this machine.
	Empty samples
	// BootFaults and EmptyFaults are the median minor page faults.
	BootFaults, EmptyFaults int64
	NodeVersion             string
	NPMVersion              string
	// Inits are the costliest package initialisers of `bootstrap version`
	// (GODEBUG=inittrace=1, median of the traced runs), InitTotal the sum
	// of all of them.
	Inits     []initCost
	InitTotal time.Duration
}

// initCost is the time one package's init took.
type initCost struct {
	Pkg  string
	Cost time.Duration
}

// npmPackageJSON is the package of the npm baseline: one script that does
// nothing, so that `npm run` measures npm's own start alone.
const npmPackageJSON = `{
  "name": "bench-noop",
  "version": "1.0.0",
  "private": true,
  "scripts": {"noop": "true"}
}
`

// npmEnv keeps npm off the network and away from the user's settings.
func npmEnv(dir string) []string {
	return []string{
		"npm_config_update_notifier=false",
		"npm_config_fund=false",
		"npm_config_audit=false",
		"npm_config_offline=true",
		"npm_config_userconfig=" + filepath.Join(dir, "npmrc"),
		"npm_config_cache=" + filepath.Join(dir, "npm-cache"),
	}
}

// coldStart times `bootstrap version`, `node -e 0` and `npm run noop
// --offline`, interleaved (the order rotates every round) so that a change
// of the machine's load hits all three alike, after two untimed rounds that
// warm the page cache.
func (b *bench) coldStart(ctx context.Context) (*coldResult, error) {
	dir := filepath.Join(b.tmp, "npm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(npmPackageJSON), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "npmrc"), nil, 0o644); err != nil {
		return nil, err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("node is needed for the cold start baseline: %w", err)
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return nil, fmt.Errorf("npm is needed for the cold start baseline: %w", err)
	}
	res := &coldResult{}
	res.NodeVersion = versionOf(ctx, node, "--version")
	res.NPMVersion = versionOf(ctx, npm, "--version")

	empty, err := buildEmpty(ctx, filepath.Join(b.tmp, "empty"))
	if err != nil {
		return nil, err
	}
	var bootFaults, emptyFaults []int64
	cmds := []struct {
		p      proc
		out    *samples
		faults *[]int64
	}{
		{proc{Name: b.opts.Bin, Args: []string{"version"}}, &res.Bootstrap, &bootFaults},
		{proc{Name: empty}, &res.Empty, &emptyFaults},
		{proc{Name: node, Args: []string{"-e", "0"}}, &res.Node, nil},
		{proc{Dir: dir, Env: npmEnv(dir), Name: npm, Args: []string{"run", "noop", "--offline"}}, &res.NPM, nil},
	}
	const warmup = 2
	for round := range warmup + b.opts.ColdRuns {
		for i := range cmds {
			c := cmds[(round+i)%len(cmds)]
			r, err := c.p.run(ctx)
			if err != nil {
				return nil, err
			}
			if err := r.mustSucceed(c.p.Name); err != nil {
				return nil, err
			}
			if round >= warmup {
				*c.out = append(*c.out, r.Wall)
				if c.faults != nil {
					*c.faults = append(*c.faults, r.MinFlt)
				}
			}
		}
	}
	res.BootFaults, res.EmptyFaults = medianBytes(bootFaults), medianBytes(emptyFaults)
	res.Inits, res.InitTotal, err = initTrace(ctx, b.opts.Bin, 9)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// buildEmpty builds a Go program that does nothing, static and stripped
// like the runner, in dir, and returns its path.
func buildEmpty(ctx context.Context, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	files := map[string]string{
		"go.mod":  "module empty\n\ngo 1.26\n",
		"main.go": "package main\n\nfunc main() {}\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", "empty", ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the empty program: %w: %s", err, out)
	}
	return filepath.Join(dir, "empty"), nil
}

// initTrace runs `bin version` runs times with GODEBUG=inittrace=1 and
// returns the five costliest package initialisers (median clock time over
// the runs) and the median total.
func initTrace(ctx context.Context, bin string, runs int) ([]initCost, time.Duration, error) {
	per := map[string]samples{}
	var totals samples
	for range runs {
		r, err := proc{Name: bin, Args: []string{"version"}, Env: []string{"GODEBUG=inittrace=1"}}.run(ctx)
		if err != nil {
			return nil, 0, err
		}
		if err := r.mustSucceed("bootstrap version"); err != nil {
			return nil, 0, err
		}
		var total time.Duration
		for pkg, d := range parseInitTrace(r.Stderr) {
			per[pkg] = append(per[pkg], d)
			total += d
		}
		totals = append(totals, total)
	}
	var out []initCost
	for pkg, s := range per {
		out = append(out, initCost{Pkg: pkg, Cost: s.median()})
	}
	slices.SortFunc(out, func(a, b initCost) int {
		if a.Cost != b.Cost {
			return int(b.Cost - a.Cost)
		}
		return strings.Compare(a.Pkg, b.Pkg)
	})
	return out[:min(12, len(out))], totals.median(), nil
}

// parseInitTrace reads the lines "init <pkg> @<t> ms, <clock> ms clock, ..."
// of GODEBUG=inittrace=1.
func parseInitTrace(stderr string) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, line := range strings.Split(stderr, "\n") {
		f := strings.Fields(line)
		if len(f) < 7 || f[0] != "init" || f[6] != "clock," {
			continue
		}
		ms, err := strconv.ParseFloat(f[4], 64)
		if err != nil {
			continue
		}
		out[f[1]] += time.Duration(ms * float64(time.Millisecond))
	}
	return out
}

// versionOf returns the first line of `bin args...`, or "?".
func versionOf(ctx context.Context, bin string, args ...string) string {
	out, err := exec.CommandContext(ctx, bin, args...).Output()
	if err != nil {
		return "?"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// section writes the cold start part of the report. target is the bound
// of `bootstrap version` as a multiple of the empty Go program.
func (c *coldResult) section(r *report, target float64) {
	boot := c.Bootstrap.median()
	emptyRatio := ratio(boot, c.Empty.median())
	npmRatio := ratio(boot, c.NPM.median())
	r.row(summaryRow{
		Figure:   "Cold start: `bootstrap version` vs an empty static Go program",
		Measured: fmtDur(boot),
		Baseline: fmtDur(c.Empty.median()) + " (empty Go program)",
		Ratio:    fmtRatio(emptyRatio),
		Target:   fmt.Sprintf("≤ %.0f×", target),
		Met:      met(emptyRatio <= target),
	})
	r.row(summaryRow{
		Figure:   "Cold start: `bootstrap version` vs `npm run` (no-op script)",
		Measured: fmtDur(boot),
		Baseline: fmtDur(c.NPM.median()) + " (npm run)",
		Ratio:    fmtRatio(npmRatio),
		Target:   "(none)",
	})
	s := r.section("Cold start")
	s.p("Wall time from fork to exit of each command, %d interleaved rounds after 2 untimed warm-up rounds "+
		"(the order rotates every round). node %s, npm %s; npm runs `npm run noop --offline` in a temporary "+
		"directory whose package.json has the script `\"noop\": \"true\"`, with the update notifier off and an empty "+
		"user config, so it never touches the network. The empty Go program (`func main() {}`, static and "+
		"stripped like the runner) is the floor of starting any binary on this machine.", len(c.Bootstrap), c.NodeVersion, c.NPMVersion)
	s.table([]string{"command", "median (spread)", "ratio to the empty Go program"},
		[]string{"empty Go program", c.Empty.spread(), "1×"},
		[]string{"`bin/bootstrap version`", c.Bootstrap.spread(), fmtRatio(emptyRatio)},
		[]string{"`node -e 0`", c.Node.spread(), fmtRatio(ratio(c.Node.median(), c.Empty.median()))},
		[]string{"`npm run noop --offline`", c.NPM.spread(), fmtRatio(ratio(c.NPM.median(), c.Empty.median()))},
	)
	var rows [][]string
	for _, ic := range c.Inits {
		rows = append(rows, []string{"`" + ic.Pkg + "`", fmtDur(ic.Cost)})
	}
	verdict := "Target met"
	if emptyRatio > target {
		verdict = fmt.Sprintf("Target missed (%s > %.0f×)", fmtRatio(emptyRatio), target)
	}
	s.p("%s. `bootstrap version` takes %s more than the empty program. Package initialisers take %s of it "+
		"(GODEBUG=inittrace=1, median over 9 runs of their sum); the rest goes to the runtime's "+
		"start and to paging in a larger binary (%d minor page faults per run against %d for the empty program). "+
		"The costliest initialisers:", verdict, fmtDur(boot-c.Empty.median()), fmtDur(c.InitTotal),
		c.BootFaults, c.EmptyFaults)
	s.table([]string{"package", "init, median"}, rows...)
}
