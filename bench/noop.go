package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// exampleProfiles are the profiles of the repository that the no-op run,
// the peak RSS and the contention figures apply (example-users requires
// example-base, so three profiles are applied).
const exampleProfiles = "example-patterns,example-users"

// exampleEnv is what the example profiles need from the environment.
func exampleEnv() []string {
	return []string{"DEMO_ADMIN_PASSWORD=bench-admin-password", "BCRYPT_SALT_ROUNDS=4"}
}

// localRun is `bin/bootstrap run` as a local process against the servers,
// JSON logs, no health server.
func (b *bench) localRun(profilesDir, profiles string, extra ...string) proc {
	args := []string{"run", "--profiles-dir", profilesDir, "-p", profiles,
		"--mongo-uri", b.srv.MongoURI, "--redis-url", b.srv.RedisURL,
		"--health-addr", "off", "--log-format", "json"}
	return proc{Name: b.opts.Bin, Args: append(args, extra...), Env: exampleEnv()}
}

// checkSummary returns an error unless the run's summary reports the given
// numbers of applied and skipped profiles.
func checkSummary(r procResult, applied, skipped int) error {
	s, ok := summary(parseLogs(r.Stdout))
	if !ok {
		return fmt.Errorf("no run_summary line in the output:\n%s", tail(r.Stdout, 2000))
	}
	if got, want := int(s.num("applied")), applied; got != want {
		return fmt.Errorf("run applied %d profiles, want %d:\n%s", got, want, tail(r.Stdout, 2000))
	}
	if got, want := int(s.num("skipped")), skipped; got != want {
		return fmt.Errorf("run skipped %d profiles, want %d:\n%s", got, want, tail(r.Stdout, 2000))
	}
	return nil
}

// noopResult is the no-op run figure and the peak RSS figure.
type noopResult struct {
	Profiles   int     // profiles in the run (requires included)
	FirstApply samples // wall time of the first applies (fresh servers)
	RSS        []int64 // peak RSS of the first applies, bytes
	NodeRSS    []int64 // peak RSS of `node -e 0`, bytes
	Noop       samples // wall time of the no-op runs
	NoopCPU    samples
	Redis      counts // commands one no-op run sent to Redis
	// RedisScript are the commands the lock's Lua scripts ran in Redis
	// during that run (not round trips).
	RedisScript counts
	Mongo       counts // commands one no-op run sent to MongoDB
	MongoErr    error  // why Mongo's commands could not be counted
}

// maxRSSRe matches GNU time's peak RSS line.
var maxRSSRe = regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`)

// peakRSS runs p under /usr/bin/time -v and returns its result and its peak
// resident set size in bytes.
func peakRSS(ctx context.Context, p proc) (procResult, int64, error) {
	timeBin, err := exec.LookPath("/usr/bin/time")
	if err != nil {
		return procResult{}, 0, fmt.Errorf("GNU time is needed for peak RSS (apt-get install -y time): %w", err)
	}
	p.Args = append([]string{"-v", p.Name}, p.Args...)
	p.Name = timeBin
	r, err := p.run(ctx)
	if err != nil {
		return r, 0, err
	}
	m := maxRSSRe.FindStringSubmatch(r.Stderr)
	if m == nil {
		return r, 0, fmt.Errorf("no peak RSS in /usr/bin/time's output:\n%s", tail(r.Stderr, 1000))
	}
	kb, err := strconv.ParseInt(m[1], 10, 64)
	return r, kb * 1024, err
}

// noopRun measures the first apply of the example profiles on empty servers
// under /usr/bin/time (peak RSS), then runs that find every marker current
// (the no-op run), then counts the commands one no-op run sends.
func (b *bench) noopRun(ctx context.Context) (*noopResult, error) {
	res := &noopResult{}
	dir := b.opts.Repo + "/examples/profiles"
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, err
	}
	for range b.opts.RSSRuns {
		if err := b.srv.reset(ctx); err != nil {
			return nil, err
		}
		r, rss, err := peakRSS(ctx, b.localRun(dir, exampleProfiles))
		if err != nil {
			return nil, err
		}
		if err := r.mustSucceed("first apply"); err != nil {
			return nil, err
		}
		s, _ := summary(parseLogs(r.Stdout))
		res.Profiles = int(s.num("applied"))
		if res.Profiles == 0 {
			return nil, fmt.Errorf("first apply applied nothing:\n%s", tail(r.Stdout, 2000))
		}
		res.FirstApply = append(res.FirstApply, r.Wall)
		res.RSS = append(res.RSS, rss)
		_, nrss, err := peakRSS(ctx, proc{Name: node, Args: []string{"-e", "0"}})
		if err != nil {
			return nil, err
		}
		res.NodeRSS = append(res.NodeRSS, nrss)
	}

	// One untimed no-op run, then the timed ones.
	for i := range b.opts.NoopRuns + 1 {
		r, err := b.localRun(dir, exampleProfiles).run(ctx)
		if err != nil {
			return nil, err
		}
		if err := r.mustSucceed("no-op run"); err != nil {
			return nil, err
		}
		if err := checkSummary(r, 0, res.Profiles); err != nil {
			return nil, err
		}
		if i > 0 {
			res.Noop = append(res.Noop, r.Wall)
			res.NoopCPU = append(res.NoopCPU, r.CPU)
		}
	}

	// Round trips: the smallest count of three runs, so that a heartbeat of
	// this process's own MongoDB client is not counted against the runner.
	for i := range 3 {
		trips, script, err := b.countRedis(ctx, func() error {
			mb, mErr := b.srv.mongoCalls(ctx)
			r, err := b.localRun(dir, exampleProfiles).run(ctx)
			if err != nil {
				return err
			}
			if err := r.mustSucceed("no-op run"); err != nil {
				return err
			}
			if mErr == nil {
				var ma counts
				if ma, mErr = b.srv.mongoCalls(ctx); mErr == nil {
					md := ma.sub(mb, "serverStatus")
					if res.Mongo == nil || md.total() < res.Mongo.total() {
						res.Mongo = md
					}
				}
			}
			res.MongoErr = mErr
			return nil
		}, fmt.Sprintf("bench-sentinel-%d", i))
		if err != nil {
			return nil, err
		}
		if res.Redis == nil || trips.total() < res.Redis.total() {
			res.Redis, res.RedisScript = trips, script
		}
	}
	if res.Mongo != nil {
		res.MongoErr = nil
	}
	return res, nil
}

// countRedis runs f and returns the commands Redis received from clients
// meanwhile (INFO commandstats deltas, less what Lua scripts ran, which
// MONITOR tells apart) and the commands the scripts ran. sentinel is an
// ECHO argument that marks the end of f's commands in the MONITOR stream.
func (b *bench) countRedis(ctx context.Context, f func() error, sentinel string) (trips, script counts, err error) {
	before, err := b.srv.redisCalls(ctx)
	if err != nil {
		return nil, nil, err
	}
	mon, err := startMonitor(ctx, b.srv.RedisAddr)
	if err != nil {
		return nil, nil, err
	}
	ferr := f()
	if err := b.srv.redis.Echo(ctx, sentinel).Err(); err != nil {
		mon.stop(ctx, sentinel)
		return nil, nil, err
	}
	lines, err := mon.stop(ctx, sentinel)
	if ferr != nil {
		return nil, nil, ferr
	}
	if err != nil {
		return nil, nil, err
	}
	after, err := b.srv.redisCalls(ctx)
	if err != nil {
		return nil, nil, err
	}
	script = scriptCalls(lines)
	return after.sub(before, "info", "echo", "monitor").minus(script), script, nil
}

// isHandshake reports whether cmd is one a client sends to set up or close
// its connections, once per run whatever the profiles: for go-redis the
// protocol negotiation, client name and the connect wait's PING; for the
// MongoDB driver the handshakes and monitoring, the connect wait's ping and
// the sessions ended at disconnect.
func isHandshake(cmd string) bool {
	switch cmd {
	case "hello", "client|setinfo", "client|setname", "ping", "auth", "select",
		"isMaster", "ismaster", "buildInfo", "endSessions", "getParameter", "saslStart", "saslContinue",
		"unknown": // FerretDB's name for the handshake of a new connection
		return true
	}
	return false
}

// splitCounts separates connection setup from the work of the run.
func splitCounts(c counts) (setup, work counts) {
	setup, work = counts{}, counts{}
	for k, v := range c {
		if isHandshake(k) {
			setup[k] = v
		} else {
			work[k] = v
		}
	}
	return setup, work
}

// medianBytes returns the median of v (of any unit).
func medianBytes(v []int64) int64 {
	s := make(samples, len(v))
	for i, n := range v {
		s[i] = time.Duration(n)
	}
	return int64(s.median())
}

// section writes the no-op run and the peak RSS parts of the report.
func (n *noopResult) section(r *report, npm, version samples, noopTarget time.Duration, rssTarget int64) {
	med := n.Noop.median()
	r.row(summaryRow{
		Figure:   fmt.Sprintf("No-op run (%d profiles, every marker current), end to end", n.Profiles),
		Measured: fmtDur(med),
		Baseline: fmt.Sprintf("%s target; %s `npm run` (no-op)", fmtDur(noopTarget), fmtDur(npm.median())),
		Ratio:    fmt.Sprintf("%s of target; %s of npm's start", fmtRatio(ratio(med, noopTarget)), fmtRatio(ratio(med, npm.median()))),
		Target:   "< " + fmtDur(noopTarget),
		Met:      met(med < noopTarget),
	})
	rss := medianBytes(n.RSS)
	nodeRSS := medianBytes(n.NodeRSS)
	r.row(summaryRow{
		Figure:   "Peak RSS of a first apply (local process)",
		Measured: fmtBytes(rss),
		Baseline: fmtBytes(nodeRSS) + " (`node -e 0`)",
		Ratio:    fmtRatio(float64(rss)/float64(nodeRSS)) + " of node's",
		Target:   "< " + fmtBytes(rssTarget),
		Met:      met(rss < rssTarget),
	})

	s := r.section("No-op run")
	s.p("`bin/bootstrap run -p %s --health-addr off` as a local process against the Redis and MongoDB-wire "+
		"containers (ports published on 127.0.0.1), with DEMO_ADMIN_PASSWORD set and BCRYPT_SALT_ROUNDS=4, after a first "+
		"apply, so that every marker is current and the run applies nothing. Wall time from fork to exit: the "+
		"process start, loading and hashing the profiles, both connections (with their handshakes), reading the "+
		"completion records (every one current, so no lock is taken), one audit record per profile and the "+
		"disconnects. %d timed runs after "+
		"one untimed.", exampleProfiles, len(n.Noop))
	s.table([]string{"", "median (spread)", "ratio"},
		[]string{"no-op run, wall", n.Noop.spread(), fmt.Sprintf("%s of the %s target", fmtRatio(ratio(med, noopTarget)), fmtDur(noopTarget))},
		[]string{"no-op run, CPU (user+sys)", n.NoopCPU.spread(), fmtRatio(ratio(n.NoopCPU.median(), med)) + " of its wall time"},
		[]string{"`bootstrap version` (cold start section)", version.spread(), fmtRatio(ratio(version.median(), med)) + " of the no-op run"},
		[]string{"`npm run noop` (cold start section)", npm.spread(), fmtRatio(ratio(npm.median(), med)) + " of the no-op run"},
		[]string{"first apply on empty servers", n.FirstApply.spread(), fmtRatio(ratio(n.FirstApply.median(), med)) + " of the no-op run"},
	)
	switch {
	case med < noopTarget && med < npm.median():
		s.p("Target met: a whole no-op run, connections included, takes less than `npm run` needs to start a " +
			"script that does nothing.")
	case med < noopTarget:
		s.p("Target met.")
	default:
		s.p("Target missed (%s against %s). Its CPU time is %s of its wall time, and starting the binary alone "+
			"(`bootstrap version`) takes %s of it: the levers of the Cold start and Image size sections (lazy "+
			"initialisers, a smaller binary) apply here first; the rest is the round trips below, which "+
			"connecting to MongoDB and Redis concurrently would overlap.", fmtDur(med), fmtDur(noopTarget),
			fmtRatio(ratio(n.NoopCPU.median(), med)), fmtRatio(ratio(version.median(), med)))
	}
	s.p("**Round trips of one no-op run**, counted on the servers (the fewest of three runs, so that a " +
		"heartbeat of the bench's own client is not counted): Redis from `INFO commandstats` deltas less the " +
		"commands that the lock's Lua scripts ran inside Redis (told apart with `MONITOR`), MongoDB from " +
		"`serverStatus` `metrics.commands` deltas; the bench's own `INFO`, `ECHO` and `serverStatus` are left out.")
	rs, rw := splitCounts(n.Redis)
	rows := [][]string{{"Redis", fmt.Sprint(n.Redis.total()), orNone(rs), orNone(rw),
		fmt.Sprintf("%.1f", float64(rw.total())/float64(n.Profiles))}}
	if n.MongoErr == nil {
		ms, mw := splitCounts(n.Mongo)
		rows = append(rows, []string{"MongoDB", fmt.Sprint(n.Mongo.total()), orNone(ms), orNone(mw),
			fmt.Sprintf("%.1f", float64(mw.total())/float64(n.Profiles))})
	} else {
		rows = append(rows, []string{"MongoDB", "not counted", inlineErr(n.MongoErr), "", ""})
	}
	s.table([]string{"server", "commands", "connection setup", "work of the run", fmt.Sprintf("work per profile (%d)", n.Profiles)}, rows...)
	s.p("Inside Redis the lock's scripts ran %s: no round trips of their own.", orNone(n.RedisScript))

	s = r.section("Peak memory")
	s.p("Peak resident set size (`/usr/bin/time -v`, \"Maximum resident set size\") of `bin/bootstrap run -p %s` "+
		"applying the example profiles to empty servers, %d runs; the baseline is `node -e 0` measured the same "+
		"way in the same rounds, the least any Node entrypoint can use.", exampleProfiles, len(n.RSS))
	s.table([]string{"process", "peak RSS, median", "runs", "ratio"},
		[]string{"`bootstrap run` (first apply)", fmtBytes(rss), joinBytes(n.RSS), fmtRatio(float64(rss)/float64(rssTarget)) + " of the " + fmtBytes(rssTarget) + " target"},
		[]string{"`node -e 0`", fmtBytes(nodeRSS), joinBytes(n.NodeRSS), fmtRatio(float64(nodeRSS)/float64(rss)) + " of bootstrap's"},
	)
	if rss < rssTarget {
		s.p("Target met.")
	} else {
		s.p("Target missed: the heap of a run is mostly the MongoDB driver's connection pools and the parsed "+
			"profiles; GOMEMLIMIT or a smaller --batch-size would lower it. Peak RSS %s against %s.", fmtBytes(rss), fmtBytes(rssTarget))
	}
}

// orNone formats c, or "none".
func orNone(c counts) string {
	if len(c) == 0 {
		return "none"
	}
	return c.String()
}

// joinBytes formats v as a list.
func joinBytes(v []int64) string {
	parts := make([]string, len(v))
	for i, n := range v {
		parts[i] = fmtBytes(n)
	}
	return strings.Join(parts, ", ")
}
