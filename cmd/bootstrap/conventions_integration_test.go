package main

import (
	"strings"
	"testing"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/store"
)

// Against real servers, in-process: each report's -o json is one JSON
// document on stdout with the log lines on stderr; wait -o json reports
// both its timeout and its success; the run's termination message names each
// profile's outcome and version.
func TestConventions_json_reports_and_termination_message(t *testing.T) {
	t.Parallel()
	env := harness.Start(t)
	dir := t.TempDir()
	writeDocumentsProfile(t, dir, "cli", 3)
	conn := func(cmd string, extra ...string) []string {
		args := []string{cmd, "--profiles-dir", dir, "--mongo-uri", env.Mongo.URI, "--connect-timeout", "30s"}
		if cmd != "wait" && cmd != "history" {
			args = append(args, "--redis-url", "redis://"+env.Redis.Addr)
		}
		return append(args, extra...)
	}

	// Before any run: the wait times out (exit 4) and says so in JSON.
	code, stdout, stderr := runCLI(t, nil, conn("wait", "-p", "cli", "--timeout", "2s", "-o", "json")...)
	if code != exitNotAcquired {
		t.Fatalf("wait before the run: exit = %d, want %d; stderr:\n%s", code, exitNotAcquired, stderr)
	}
	var w waitReport
	decodeOne(t, stdout, &w)
	if w.Ready || len(w.Profiles) != 1 || w.Profiles[0].Profile != "cli" || !strings.Contains(w.Error, "cli (not applied") {
		t.Errorf("wait report = %+v", w)
	}
	if !strings.Contains(stderr, `"msg":"connecting"`) {
		t.Errorf("wait -o json logs are not on stderr: %q", stderr)
	}

	path := writeTerminationLog(t)
	for i, want := range []store.Outcome{store.OutcomeApplied, store.OutcomeSkipped} {
		code, stdout, _ = runCLI(t, nil, conn("run", "-p", "cli", "--health-addr", "off", "--termination-log", path)...)
		if code != exitOK {
			t.Fatalf("run %d: exit = %d; stdout:\n%s", i+1, code, stdout)
		}
		m := readFile(t, path)
		if prefix := "run: exit 0 (ok); profiles: cli " + string(want) + " "; !strings.HasPrefix(m, prefix) {
			t.Errorf("run %d: termination message = %q, want %q...", i+1, m, prefix)
		}
	}

	code, stdout, stderr = runCLI(t, nil, conn("wait", "-p", "cli", "--timeout", "30s", "-o", "json")...)
	if code != exitOK {
		t.Fatalf("wait after the run: exit = %d; stderr:\n%s", code, stderr)
	}
	var ready waitReport
	decodeOne(t, stdout, &ready)
	if !ready.Ready || ready.Error != "" {
		t.Errorf("wait report = %+v", ready)
	}

	var status statusReport
	code, stdout, stderr = runCLI(t, nil, conn("status", "-p", "cli", "-o", "json")...)
	decodeOne(t, stdout, &status)
	if code != exitOK || len(status.Profiles) != 1 || status.Profiles[0].State != "current" || !strings.Contains(stderr, `"msg":"connecting"`) {
		t.Errorf("status: exit %d, report %+v, stderr %q", code, status, stderr)
	}
	var recs []store.AuditRecord
	code, stdout, _ = runCLI(t, nil, conn("history", "-p", "cli", "-o", "json")...)
	decodeOne(t, stdout, &recs)
	if code != exitOK || len(recs) != 2 || recs[0].Outcome != store.OutcomeSkipped {
		t.Errorf("history: exit %d, records %+v", code, recs)
	}
}
