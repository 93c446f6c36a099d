package main

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/internal/testutil"
)

// localRun is the binary running as a local process against env's
// databases (their loopback addresses), so that a test can signal it
// precisely.
type localRun struct {
	cmd    *exec.Cmd
	logs   *testutil.Buffer
	exited chan struct{}
	code   int
}

func startLocalRun(t *testing.T, env *harness.Env, dir string, args ...string) *localRun {
	t.Helper()
	args = append([]string{"run", "--profiles-dir", dir, "--mongo-uri", env.Mongo.URI,
		"--redis-url", "redis://" + env.Redis.Addr, "--connect-timeout", "30s", "--health-addr", "off"}, args...)
	r := &localRun{cmd: exec.Command(harness.Binary(t), args...), logs: &testutil.Buffer{}, exited: make(chan struct{})}
	r.cmd.Env = []string{"BOOTSTRAP_LOG_FORMAT=json"}
	r.cmd.Stdout, r.cmd.Stderr = r.logs, r.logs
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", args, err)
	}
	go func() {
		_ = r.cmd.Wait()
		r.code = r.cmd.ProcessState.ExitCode()
		close(r.exited)
	}()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.exited
		if t.Failed() {
			t.Logf("runner logs:\n%s", r.logs)
		}
	})
	return r
}

// signal sends sig to the process.
func (r *localRun) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %s: %v", sig, err)
	}
}

// wait returns the exit code, failing t if the process runs past limit.
func (r *localRun) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-r.exited:
		return r.code
	case <-time.After(limit):
		t.Fatalf("runner still running after %s", limit)
		return -1
	}
}

// waitLog waits until a log line contains s.
func (r *localRun) waitLog(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(r.logs.String(), s) {
		select {
		case <-r.exited:
			t.Fatalf("runner exited (%d) before logging %q", r.code, s)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q within a minute", s)
		}
	}
}

// waitMidLocal waits until the slow profile is part-way written.
func waitMidLocal(t *testing.T, env *harness.Env, r *localRun) {
	t.Helper()
	mc := env.Mongo.Client(t)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		switch c := countDocs(t, mc, testDB, itemsCollection); {
		case c >= slowDocs:
			t.Fatalf("the slow profile finished (%d documents) before the test acted; make it slower", c)
		case c >= midProfile:
			return
		case time.Now().After(deadline):
			t.Fatalf("%d documents written in 2m", c)
		}
		select {
		case <-r.exited:
			t.Fatalf("runner exited (%d) before the profile was part-way written", r.code)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// pausedRun starts the slow profile with --shutdown-grace grace, waits
// until it is part-way written, and pauses MongoDB (and Redis too when
// redis).
func pausedRun(t *testing.T, grace time.Duration, redis bool) (*harness.Env, *localRun) {
	t.Helper()
	env := harness.Start(t)
	dir := t.TempDir()
	writeDocumentsProfile(t, dir, "slow", slowDocs)
	r := startLocalRun(t, env, dir, "-p", "slow", "--batch-size", slowBatch, "--shutdown-grace", grace.String())
	waitMidLocal(t, env, r)
	env.Mongo.Pause(t)
	if redis {
		env.Redis.Pause(t)
	}
	return env, r
}

// exitWithinGrace sends SIGTERM to r and fails t unless it exits 143 within
// grace + exitMargin (the margin is a loaded machine's scheduling: a bound,
// not a speed).
func exitWithinGrace(t *testing.T, r *localRun, grace time.Duration) {
	t.Helper()
	sent := time.Now()
	r.signal(t, syscall.SIGTERM)
	code := r.wait(t, grace+time.Minute)
	took := time.Since(sent)
	t.Logf("exited %d, %s after SIGTERM (shutdown grace %s)", code, took.Round(time.Millisecond), grace)
	if code != 143 {
		t.Fatalf("exit = %d, want 143", code)
	}
	if took > grace+exitMargin {
		t.Errorf("exited %s after SIGTERM, want within the shutdown grace %s (+%s margin)", took, grace, exitMargin)
	}
}

// SIGTERM while a step waits on a MongoDB that does not answer (paused):
// the whole cleanup (the audit record it cannot write, the release, the
// disconnects) is bounded by --shutdown-grace, the exit is 143, and the
// lock, in a Redis that answers, is released.
func TestShutdown_bounded_by_the_grace_with_mongo_paused(t *testing.T) {
	t.Parallel()
	const grace = 2 * time.Second
	env, r := pausedRun(t, grace, false)
	exitWithinGrace(t, r, grace)
	if h := lockHolder(t, env.Redis.Client(t)); h != nil {
		t.Errorf("lock still held after the interrupted run: %+v", h)
	}
}

// With Redis paused too, nothing of the cleanup can finish: the audit
// record (MongoDB) and the release (Redis; the lock then expires after its
// ttl) would each wait out their own bounds, one after the other. The hard
// deadline ends the process at the grace.
func TestShutdown_deadline_ends_a_cleanup_that_cannot_finish(t *testing.T) {
	t.Parallel()
	const grace = 2 * time.Second
	_, r := pausedRun(t, grace, true)
	exitWithinGrace(t, r, grace)
	if !strings.Contains(r.logs.String(), `"why":"cleanup outlasted --shutdown-grace"`) {
		t.Errorf("no log line saying the deadline forced the exit")
	}
}

// A second SIGTERM exits at once, without waiting for the cleanup, after
// releasing the lock.
func TestShutdown_second_sigterm_exits_at_once(t *testing.T) {
	t.Parallel()
	const grace = 60 * time.Second
	env, r := pausedRun(t, grace, false)
	first := time.Now()
	r.signal(t, syscall.SIGTERM)
	r.waitLog(t, `"msg":"shutting down"`)
	second := time.Now()
	r.signal(t, syscall.SIGTERM)
	code := r.wait(t, grace+time.Minute)
	t.Logf("exited %d, %s after the second SIGTERM, %s after the first (shutdown grace %s)", code,
		time.Since(second).Round(time.Millisecond), time.Since(first).Round(time.Millisecond), grace)
	if code != 143 {
		t.Fatalf("exit = %d, want 143", code)
	}
	// The audit record alone would wait grace/2 on the paused MongoDB.
	if took := time.Since(first); took >= grace/2 {
		t.Errorf("exited %s after the first SIGTERM, want before the cleanup's own bounds (%s)", took, grace/2)
	}
	if !strings.Contains(r.logs.String(), `"why":"second signal"`) {
		t.Errorf("no log line saying the second signal forced the exit")
	}
	if h := lockHolder(t, env.Redis.Client(t)); h != nil {
		t.Errorf("lock still held after the forced exit: %+v", h)
	}
}
