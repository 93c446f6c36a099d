package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Targets of the issue. None is asserted: a missed one is reported.
const (
	coldTarget     = 3.0 // `bootstrap version` / an empty static Go program
	noopTarget     = 100 * time.Millisecond
	imageTarget    = 20_000_000
	rssTarget      = 30 << 20               // first apply of the example profiles
	failoverSlack  = 250 * time.Millisecond // failover ≤ ttl + this
	makeTestTarget = 8 * time.Minute
)

var (
	applyTarget      = applyTargets{CPU: 1.2, RSS: 40 << 20}
	contentionTarget = contentionTargets{Current: 1.3, Empty: 1.5}
)

// sectionNames are the figures, in the order they are measured.
func sectionNames() []string {
	return []string{"size", "cold", "noop", "apply", "keyed", "memory", "contention", "failover"}
}

// config is the command line of bench.
type config struct {
	Out         string
	Repo        string
	Bin         string
	RunnerImage string
	RedisImage  string
	MongoImage  string
	Sections    []string

	ColdRuns   int
	NoopRuns   int
	RSSRuns    int
	ApplySizes []int
	ApplyRuns  int
	// ApplyRunsLargest: runs at the largest size (at most ApplyRuns).
	ApplyRunsLargest int
	Contention       []int
	ContentionRuns   int
	ContentionEmpty  int
	KeyedDocs        int
	KeyedRuns        int
	FailoverRuns     int
	LockTTL          time.Duration
	// MakeTest is the wall time of a warm `make test`, measured outside
	// the bench (0: not measured).
	MakeTest time.Duration
}

// parseFlags parses the command line.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var o config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Out, "out", "../docs/benchmarks.md", "report to write; charts go to benchmarks/ beside it")
	fs.StringVar(&o.Repo, "repo", "..", "root of the bootstrap repository")
	fs.StringVar(&o.Bin, "bin", "", "the bootstrap binary (default <repo>/bin/bootstrap, from make build)")
	fs.StringVar(&o.RunnerImage, "runner-image", "bootstrap:dev", "runner image (make image)")
	fs.StringVar(&o.RedisImage, "redis-image", "bootstrap-test/redis:local", "Redis image (make test-images)")
	fs.StringVar(&o.MongoImage, "mongo-image", "bootstrap-test/ferretdb:v1.24.2", "MongoDB-wire image (make test-images), or e.g. mongo:7")
	sections := fs.String("sections", strings.Join(sectionNames(), ","), "figures to measure")
	fs.IntVar(&o.ColdRuns, "cold-runs", 30, "timed rounds of the cold start figure")
	fs.IntVar(&o.NoopRuns, "noop-runs", 15, "timed no-op runs")
	fs.IntVar(&o.RSSRuns, "rss-runs", 3, "first applies measured for peak RSS")
	applySizes := fs.String("apply-sizes", "250,1000,2000,5000", "documents in the generated profile, ascending; the RSS target applies to the last")
	fs.IntVar(&o.ApplyRuns, "apply-runs", 3, "runs of the runner and of the raw program at each size")
	fs.IntVar(&o.ApplyRunsLargest, "apply-runs-largest", 1, "runs at the largest size (at most -apply-runs; 5,000 documents take minutes per run on FerretDB)")
	fs.IntVar(&o.KeyedDocs, "keyed-docs", 600, "documents of the keyed writes figure; 20000 against a MongoDB (-mongo-image mongo:7): FerretDB scans the collection for every keyed upsert, index or not, which takes hours at 20,000 and minutes at 2,000 on a busy machine")
	fs.IntVar(&o.KeyedRuns, "keyed-runs", 2, "runs of each program of the keyed writes figure")
	contention := fs.String("contention", "20,100", "runners started at once on current markers, ascending")
	fs.IntVar(&o.ContentionEmpty, "contention-empty", 20, "runners started at once on empty servers")
	fs.IntVar(&o.ContentionRuns, "contention-runs", 3, "trials at each number of runners")
	fs.IntVar(&o.FailoverRuns, "failover-runs", 5, "failover trials")
	fs.DurationVar(&o.LockTTL, "lock-ttl", 3*time.Second, "--lock-ttl of the failover trials")
	fs.DurationVar(&o.MakeTest, "make-test-time", 0, "wall time of a warm `make test`, measured outside the bench (0: not measured)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	for _, s := range strings.Split(*sections, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(sectionNames(), s) {
			return o, fmt.Errorf("-sections: unknown figure %q (known: %s)", s, strings.Join(sectionNames(), ", "))
		}
		o.Sections = append(o.Sections, s)
	}
	var err error
	if o.ApplySizes, err = parseInts(*applySizes); err != nil {
		return o, fmt.Errorf("-apply-sizes: %w", err)
	}
	if o.Contention, err = parseInts(*contention); err != nil {
		return o, fmt.Errorf("-contention: %w", err)
	}
	if min(o.ColdRuns, o.NoopRuns, o.RSSRuns, o.ApplyRuns, o.ContentionRuns, o.FailoverRuns, o.ContentionEmpty, o.ApplyRunsLargest, o.KeyedDocs, o.KeyedRuns) < 1 {
		return o, errors.New("every -*-runs must be at least 1")
	}
	if o.LockTTL < time.Second {
		return o, errors.New("-lock-ttl must be at least 1s")
	}
	if o.Repo, err = filepath.Abs(o.Repo); err != nil {
		return o, err
	}
	if o.Bin == "" {
		o.Bin = filepath.Join(o.Repo, "bin", "bootstrap")
	}
	if o.Bin, err = filepath.Abs(o.Bin); err != nil {
		return o, err
	}
	if o.Out, err = filepath.Abs(o.Out); err != nil {
		return o, err
	}
	return o, nil
}

// parseInts parses a comma-separated list of positive integers in
// ascending order.
func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("%d: the list must be ascending", n)
		}
		out = append(out, n)
	}
	return out, nil
}

// bench holds what the figures share.
type bench struct {
	opts   config
	log    *slog.Logger
	docker *dockerCLI
	srv    *servers // nil until a figure needs them
	tmp    string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "raw-apply" {
		os.Exit(rawApplyMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, log, opts)
	stop()
	if err != nil {
		log.Error("bench failed", "err", err)
		os.Exit(1)
	}
}

// run measures the selected figures and writes the report. It returns an
// error when a figure could not be measured (the report is still written,
// saying so).
func run(ctx context.Context, log *slog.Logger, o config) error {
	var id [4]byte
	rand.Read(id[:])
	d := &dockerCLI{run: hex.EncodeToString(id[:])}
	if _, err := os.Stat(o.Bin); err != nil {
		return fmt.Errorf("%w (run make build)", err)
	}
	for _, img := range []string{o.RunnerImage, o.RedisImage, o.MongoImage} {
		if _, err := d.cmd(ctx, "image", "inspect", "-f", "{{.Id}}", img); err != nil {
			return fmt.Errorf("image %s is missing (run make test-images image): %w", img, err)
		}
	}
	tmp, err := os.MkdirTemp("", "bootstrap-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	b := &bench{opts: o, log: log, docker: d, tmp: tmp}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if b.srv != nil {
			b.srv.close(cctx)
		}
		if err := d.cleanup(cctx); err != nil {
			log.Warn("cleanup", "err", err)
		}
	}()

	start := time.Now()
	rep := &report{machine: readMachine(ctx, o.Repo, d)}
	rep.machine.RunnerImage, rep.machine.RedisImage, rep.machine.MongoImage = o.RunnerImage, o.RedisImage, o.MongoImage
	loads := []float64{load1()}
	want := func(s string) bool { return slices.Contains(o.Sections, s) }
	step := func(name string) bool {
		if !want(name) || ctx.Err() != nil {
			return false
		}
		loads = append(loads, load1())
		log.Info("measuring", "figure", name, "load1", loads[len(loads)-1])
		return true
	}
	needServers := want("noop") || want("apply") || want("keyed") || want("memory") || want("contention") || want("failover")
	if needServers {
		network, err := d.newNetwork(ctx)
		if err != nil {
			return err
		}
		if b.srv, err = startServers(ctx, d, network, o.RedisImage, o.MongoImage); err != nil {
			return err
		}
	}

	var (
		size   *sizeResult
		cold   *coldResult
		noop   *noopResult
		apply  *applyResult
		keyed  *keyedResult
		mem    *memoryResult
		cont   *contentionResult
		fail   *failoverResult
		errs   = map[string]error{}
		charts = filepath.Join(filepath.Dir(o.Out), "benchmarks")
	)
	if step("size") {
		size, errs["size"] = b.imageSize(ctx)
	}
	if step("cold") {
		cold, errs["cold"] = b.coldStart(ctx)
	}
	if step("noop") {
		noop, errs["noop"] = b.noopRun(ctx)
	}
	if step("apply") {
		apply, errs["apply"] = b.applyThroughput(ctx)
	}
	if step("keyed") {
		keyed, errs["keyed"] = b.keyedWrites(ctx)
	}
	if step("memory") {
		mem, errs["memory"] = b.memory(ctx)
	}
	if step("contention") {
		cont, errs["contention"] = b.contention(ctx)
	}
	if step("failover") {
		fail, errs["failover"] = b.failover(ctx)
	}
	loads = append(loads, load1())
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	if err := os.MkdirAll(charts, 0o755); err != nil {
		return err
	}

	// The report, in reading order.
	var npm, version samples
	if cold != nil {
		npm, version = cold.NPM, cold.Bootstrap
		cold.section(rep, coldTarget)
	}
	if noop != nil {
		noop.section(rep, npm, version, noopTarget, rssTarget)
	}
	if apply != nil {
		if err := applyChart(filepath.Join(charts, "apply.png"), apply); err != nil {
			errs["apply chart"] = err
		}
		apply.section(rep, applyTarget, b.srv.Ferret, "benchmarks/apply.png")
	}
	if keyed != nil {
		keyed.section(rep, b.srv.Ferret)
	}
	if mem != nil {
		mem.section(rep)
	}
	if cont != nil {
		cont.section(rep, contentionTarget)
	}
	if fail != nil {
		fail.section(rep, failoverSlack)
	}
	makeTestSection(rep, o.MakeTest, makeTestTarget)
	if size != nil {
		size.section(rep, imageTarget, o.RunnerImage)
	}
	var failed []error
	for _, name := range append(sectionNames(), "apply chart") {
		if err := errs[name]; err != nil {
			rep.fail(sectionTitle(name), err)
			failed = append(failed, fmt.Errorf("%s: %w", name, err))
		}
	}

	m := &rep.machine
	m.LoadEnd = loadAvg()
	m.Duration = time.Since(start).Round(time.Second).String()
	lo, hi := slices.Min(loads), slices.Max(loads)
	m.LoadNote = fmt.Sprintf("The machine was shared with other work during the run: the 1-minute load average, "+
		"sampled before each figure, ranged from %.1f to %.1f on %d cores. Absolute times are inflated by that load "+
		"and vary with it; within a figure the program and its baseline ran interleaved, in the same minutes, so "+
		"the ratios are much less affected.", lo, hi, m.NProc)
	if err := writeFile(o.Out, rep); err != nil {
		return err
	}
	log.Info("report written", "path", o.Out, "duration", m.Duration)
	return errors.Join(failed...)
}

// sectionTitle names a figure in the report.
func sectionTitle(name string) string {
	switch name {
	case "size":
		return "Image size"
	case "cold":
		return "Cold start"
	case "noop":
		return "No-op run and peak memory"
	case "apply":
		return "Apply throughput"
	case "keyed":
		return "Keyed writes"
	case "memory":
		return "Peak memory at the size limit"
	case "contention":
		return "Contention"
	case "failover":
		return "Failover"
	}
	return name
}

// writeFile writes the report to path through a temporary file.
func writeFile(path string, rep *report) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".benchmarks-*.md")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := rep.write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// makeTestSection reports the wall time of a warm `make test`, which the
// bench does not run itself (it takes minutes and needs the whole machine):
// make bench MAKE_TEST_TIME=6m30s passes it in, make bench
// MEASURE_MAKE_TEST=1 measures it first.
func makeTestSection(r *report, d, target time.Duration) {
	row := summaryRow{Figure: "`make test`, warm, wall time", Baseline: fmtDur(target) + " (target)",
		Target: "≤ " + fmtDur(target)}
	if d <= 0 {
		row.Measured, row.Ratio = "not measured (make bench MEASURE_MAKE_TEST=1 measures it)", "–"
		r.row(row)
		return
	}
	row.Measured, row.Ratio, row.Met = fmtDur(d), fmtRatio(ratio(d, target))+" of the target", met(d <= target)
	r.row(row)
}
