package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/lock"
)

// reportProfile writes profile "rep" of n documents (label tagged with
// tag), with a reset of its collection; fail adds an exec step that fails.
func reportProfile(t *testing.T, dir string, n int, tag string, fail bool) {
	t.Helper()
	var items []string
	for i := range n {
		items = append(items, fmt.Sprintf(`{"_id": "r-%d", "label": "item %d %s"}`, i, i, tag))
	}
	manifest := "database: " + testDB + "\nreset:\n  collections: [Rep]\nsteps:\n  - documents: {collection: Rep, dir: data}\n"
	if fail {
		manifest += "  - exec: {command: [/bin/sh, -c, \"echo boom >&2; exit 3\"], timeout: 30s}\n"
	}
	writeFiles(t, dir, map[string]string{
		"rep/profile.yaml":    manifest,
		"rep/data/items.json": "[" + strings.Join(items, ",") + "]",
	})
}

// reportOf runs a command line in-process with -o json and returns its
// exit code and its one JSON report; the log lines must be on stderr.
func reportOf(t *testing.T, args ...string) (int, report) {
	t.Helper()
	code, stdout, stderr := runCLI(t, envOf("BOOTSTRAP_TERMINATION_LOG", ""), append(args, "-o", "json")...)
	var rep report
	decodeOne(t, stdout, &rep)
	if !strings.Contains(stderr, `"msg":"connecting"`) {
		t.Errorf("%s: the log lines are not on stderr:\n%s", args[0], stderr)
	}
	if rep.Command != args[0] || rep.ExitCode != code || rep.OK != (code == exitOK) {
		t.Errorf("%s: report %+v does not match exit %d", args[0], rep, code)
	}
	return code, rep
}

// Against real servers, in-process: -o json on run, rollback, reset and
// unlock is one JSON document on stdout naming per profile the outcome,
// versions, fence and duration, and the error and exit code of a failure.
func TestReport_json_of_run_rollback_reset_unlock(t *testing.T) {
	t.Parallel()
	env := harness.Start(t)
	dir := t.TempDir()
	args := func(cmd string, extra ...string) []string {
		a := []string{cmd, "--mongo-uri", env.Mongo.URI, "--connect-timeout", "30s", "--redis-url", "redis://" + env.Redis.Addr}
		switch cmd {
		case "run":
			a = append(a, "--profiles-dir", dir, "--health-addr", "off")
		case "rollback", "reset":
			a = append(a, "--profiles-dir", dir)
		}
		return append(a, extra...)
	}
	profile := func(t *testing.T, rep report) profileReport {
		t.Helper()
		if len(rep.Profiles) != 1 || rep.Profiles[0].Profile != "rep" {
			t.Fatalf("%s: profiles = %+v, want rep alone", rep.Command, rep.Profiles)
		}
		return rep.Profiles[0]
	}

	// v1 applied, then skipped (current: no lock taken, no fence).
	reportProfile(t, dir, 3, "v1", false)
	code, rep := reportOf(t, args("run", "-p", "rep")...)
	p1 := profile(t, rep)
	if code != exitOK || p1.Outcome != "applied" || p1.Version == "" || rep.Fence <= 0 || rep.RunID == "" || rep.Error != "" {
		t.Fatalf("first run: exit %d, %+v", code, rep)
	}
	if len(p1.Steps) != 1 || p1.Steps[0].Written != 3 {
		t.Errorf("first run: steps = %+v, want one step that wrote 3", p1.Steps)
	}
	code, rep = reportOf(t, args("run", "-p", "rep")...)
	if p := profile(t, rep); code != exitOK || p.Outcome != "skipped" || p.Version != p1.Version {
		t.Errorf("second run: exit %d, %+v, want rep skipped at %s", code, rep, p1.Version)
	}

	// v2 applied over v1; v3 fails at its exec step (exit 7).
	reportProfile(t, dir, 4, "v2", false)
	code, rep = reportOf(t, args("run", "-p", "rep")...)
	p2 := profile(t, rep)
	if code != exitOK || p2.Outcome != "applied" || p2.PrevVersion != p1.Version || p2.Version == p1.Version {
		t.Fatalf("run of v2: exit %d, %+v", code, rep)
	}
	fence2 := rep.Fence
	reportProfile(t, dir, 4, "v3", true)
	code, rep = reportOf(t, args("run", "-p", "rep")...)
	p3 := profile(t, rep)
	if code != exitStepFailed || rep.OK || !strings.Contains(rep.Error, "exec") || p3.Outcome != "failed" ||
		p3.Error == "" || p3.PrevVersion != p2.Version || rep.Fence <= fence2 {
		t.Errorf("failed run: exit %d, %+v, want exit %d, rep failed over %s with its error, a higher fence", code, rep, exitStepFailed, p2.Version)
	}

	// Rollback of what is stored (v2) to v1.
	code, rep = reportOf(t, args("rollback", "-p", "rep", "--to", p1.Version)...)
	if p := profile(t, rep); code != exitOK || p.Outcome != "rolled-back" || p.Version != p1.Version ||
		rep.Rollback == nil || rep.Rollback.To != p1.Version || rep.Rollback.DocsRestored == 0 || rep.Fence <= 0 {
		t.Errorf("rollback: exit %d, %+v (rollback %+v)", code, rep, rep.Rollback)
	}

	// Reset: its collection dropped, its marker deleted.
	code, rep = reportOf(t, args("reset", "-p", "rep")...)
	if p := profile(t, rep); code != exitOK || p.Outcome != "reset" || rep.Fence <= 0 {
		t.Errorf("reset: exit %d, %+v", code, rep)
	}
	if n := countDocs(t, env.Mongo.Client(t), testDB, "Rep"); n != 0 {
		t.Errorf("after the reset: %d documents, want none", n)
	}

	// Unlock: refused while the holder renews, then forced.
	l, err := lock.New(env.Redis.Client(t), "bootstrap", &lock.Options{TTL: 2 * time.Minute, Holder: lock.Holder{RunID: "stale", Host: "gone"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(t.Context()); err != nil {
		t.Fatalf("take the lock: %v", err)
	}
	code, rep = reportOf(t, args("unlock")...)
	if u := rep.Unlock; code != exitNotAcquired || rep.Error == "" || u == nil || u.Broken || u.Holder == nil || u.Holder.RunID != "stale" {
		t.Errorf("unlock of a renewed lock: exit %d, %+v (unlock %+v)", code, rep, rep.Unlock)
	}
	code, rep = reportOf(t, args("unlock", "--force")...)
	if u := rep.Unlock; code != exitOK || u == nil || !u.Broken || !u.Force || u.Holder == nil ||
		u.Holder.RunID != "stale" || u.Holder.Host != "gone" || rep.Fence != u.Holder.Fence || len(rep.Profiles) != 0 {
		t.Errorf("unlock --force: exit %d, %+v (unlock %+v)", code, rep, rep.Unlock)
	}
	code, rep = reportOf(t, args("unlock")...)
	if u := rep.Unlock; code != exitOK || u == nil || u.Broken || u.Holder != nil {
		t.Errorf("unlock of a free lock: exit %d, %+v (unlock %+v)", code, rep, rep.Unlock)
	}
}
