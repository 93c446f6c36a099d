package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/internal/testutil"
	"github.com/srvthreds/bootstrap/store"
)

// exitMargin is added to a bound the spec sets on how fast the runner
// stops (the shutdown grace, the stall timeout): the container's exit and
// a loaded machine's scheduling. It is a bound, not a speed.
const exitMargin = 10 * time.Second

// SIGTERM (what Kubernetes and docker stop send) and SIGINT stop a run at
// once: the profile is audited interrupted, no marker is written, the lock
// is released, and the exit code is 128+signal.
func TestSignals_interrupt_run_mid_profile(t *testing.T) {
	t.Parallel()
	const grace = 5 * time.Second
	tests := []struct {
		signal   string
		wantCode int
	}{
		{signal: "SIGTERM", wantCode: 143},
		{signal: "SIGINT", wantCode: 130},
	}
	for _, tt := range tests {
		t.Run(strings.ToLower(tt.signal), func(t *testing.T) {
			t.Parallel()
			env := harness.Start(t)
			mc := env.Mongo.Client(t)
			dir := t.TempDir()
			writeDocumentsProfile(t, dir, "slow", slowDocs)
			rc := env.StartRunner(t, harness.RunOptions{
				Args:        dbArgs(env, "run", "-p", "slow", "--batch-size", slowBatch, "--shutdown-grace", grace.String()),
				ProfilesDir: dir, Name: strings.ToLower(tt.signal),
			})
			waitMidProfile(t, mc, rc, slowDocs)

			sent := time.Now()
			rc.Kill(t, tt.signal)
			code, logs := rc.Wait(t, grace+time.Minute)
			took := time.Since(sent)
			if code != tt.wantCode {
				t.Fatalf("exit = %d, want %d; logs:\n%s", code, tt.wantCode, logs)
			}
			t.Logf("exited %s after %s", took.Round(time.Millisecond), tt.signal)
			if took > grace+exitMargin {
				t.Errorf("exited %s after %s, want within the shutdown grace %s (+%s margin)", took, tt.signal, grace, exitMargin)
			}
			recs := auditRecords(t, mc, testDB, "slow")
			if len(recs) != 1 || recs[0].Outcome != store.OutcomeInterrupted {
				t.Fatalf("audit records = %+v, want one interrupted", recs)
			}
			if !strings.Contains(recs[0].Error, "interrupted by") {
				t.Errorf("audited error %q does not say the run was interrupted", recs[0].Error)
			}
			if m := testutil.ReadMarker(t, mc, testDB, "slow"); m != nil {
				t.Errorf("marker written by an interrupted run: %+v", m)
			}
			if h := lockHolder(t, env.Redis.Client(t)); h != nil {
				t.Errorf("lock still held after the interrupted run: %+v", h)
			}
			firstMsg(t, parseLogs(t, logs), "lock released", logs)
		})
	}
}

// A step that hangs (an HTTP endpoint that accepts the connection and never
// answers) is aborted once it has reported no progress for --stall-timeout:
// exit 8, the profile audited interrupted, the lock free at once for the
// next runner.
func TestStall_hung_http_step_exits_8(t *testing.T) {
	t.Parallel()
	env := harness.Start(t)
	// A paused Redis accepts TCP connections (the kernel completes the
	// handshake) and never answers: a hung HTTP server.
	hung := harness.StartRedis(t, env.Net)
	hung.Pause(t)
	const stall = 3 * time.Second
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"notify/profile.yaml": fmt.Sprintf("database: %s\nsteps:\n  - http: {method: POST, url: \"http://%s/reload\", timeout: 5m, retries: 0}\n",
			testDB, hung.NetAddr),
	})
	writeDocumentsProfile(t, dir, "quick", 3)

	rc := env.StartRunner(t, harness.RunOptions{
		Args:        dbArgs(env, "run", "-p", "notify", "--stall-timeout", stall.String()),
		ProfilesDir: dir, Name: "stalled",
	})
	code, logs := rc.Wait(t, runTimeout)
	if code != exitStalled {
		t.Fatalf("exit = %d, want %d; logs:\n%s", code, exitStalled, logs)
	}
	holder := lockHolder(t, env.Redis.Client(t))
	started := firstMsg(t, parseLogs(t, logs), "step started", logs).at(t)
	took := finishedAt(t, rc).Sub(started)
	t.Logf("exited %s after the step started (stall timeout %s)", took.Round(time.Millisecond), stall)
	if took < stall || took > stall+exitMargin {
		t.Errorf("exited %s after the step started, want after the stall timeout %s and within %s more", took, stall, exitMargin)
	}
	if holder != nil {
		t.Errorf("lock still held right after the stalled run: %+v", holder)
	}
	mc := env.Mongo.Client(t)
	recs := auditRecords(t, mc, testDB, "notify")
	if len(recs) != 1 || recs[0].Outcome != store.OutcomeInterrupted {
		t.Fatalf("audit records = %+v, want one interrupted", recs)
	}
	if !strings.Contains(recs[0].Error, "no progress") {
		t.Errorf("audited error %q does not say the step stalled", recs[0].Error)
	}
	if m := testutil.ReadMarker(t, mc, testDB, "notify"); m != nil {
		t.Errorf("marker written by a stalled run: %+v", m)
	}

	next := env.StartRunner(t, harness.RunOptions{Args: dbArgs(env, "run", "-p", "quick"), ProfilesDir: dir, Name: "next"})
	code, logs = next.Wait(t, runTimeout)
	if code != exitOK {
		t.Fatalf("next run: exit = %d, want 0; logs:\n%s", code, logs)
	}
	if w := withMsg(parseLogs(t, logs), "waiting for lock"); len(w) > 0 {
		t.Errorf("next run waited for the lock: %v", w[0])
	}
}

// While a run makes progress its health server answers /livez, /readyz and
// /status.
func TestHealth_serves_probes_while_running(t *testing.T) {
	t.Parallel()
	env := harness.Start(t)
	mc := env.Mongo.Client(t)
	dir := t.TempDir()
	// The run is never waited for: a larger profile costs nothing more and
	// keeps it writing through the probes.
	const docs = 3 * slowDocs
	writeDocumentsProfile(t, dir, "slow", docs)
	// Seconds between two batches of 5 documents would be a starved
	// machine, not a stall: the test proves that progress keeps the run
	// live, not how fast it comes.
	const stall = 5 * time.Second
	rc := env.StartRunner(t, harness.RunOptions{
		Args:        dbArgs(env, "run", "-p", "slow", "--batch-size", slowBatch, "--stall-timeout", stall.String()),
		ProfilesDir: dir, Name: "health",
	})
	waitMidProfile(t, mc, rc, docs)
	base := "http://" + rc.HealthAddr(t)
	httpc := &http.Client{Timeout: 10 * time.Second}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := httpc.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// Longer than the stall timeout: a step that makes progress stays live.
	for deadline := time.Now().Add(stall + time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if code, body := get("/livez"); code != http.StatusOK {
			t.Fatalf("/livez = %d %q while the run writes documents, want 200", code, body)
		}
	}
	if code, body := get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d %q, want 200", code, body)
	}
	code, body := get("/status")
	if code != http.StatusOK {
		t.Fatalf("/status = %d %q, want 200", code, body)
	}
	var st struct {
		Profile string `json:"profile"`
		Step    string `json:"step"`
		Done    int64  `json:"done"`
		Total   int64  `json:"total"`
		Lock    struct {
			Held bool `json:"held"`
		} `json:"lock"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("/status is not JSON: %v: %s", err, body)
	}
	if st.Profile != "slow" || st.Step != "0:documents" || st.Done <= 0 || st.Total != docs || !st.Lock.Held {
		t.Errorf("/status = %s, want profile slow, step 0:documents, progress of %d documents, lock held", body, docs)
	}
	if !running(t, rc) {
		t.Fatal("the run ended during the test; make the profile slower")
	}
}
