package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/internal/testutil"
	"github.com/srvthreds/bootstrap/store"
)

// runTimeout bounds one run of the runner image in these tests; the runs
// take seconds, the bound is for a loaded machine.
const runTimeout = 3 * time.Minute

// The runner image against real databases: status on a fresh environment,
// and unreachable databases named in the error (exit 6), passwords never
// logged.
func TestStatus_reports_state_and_unreachable_databases(t *testing.T) {
	t.Parallel()
	env := harness.Start(t)
	redisURL := "redis://" + env.Redis.NetAddr
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string // in the output
		never    []string // nowhere in the output
	}{
		{
			name:     "fresh_environment",
			args:     dbArgs(env, "status"),
			wantCode: exitOK,
			want:     []string{"nothing applied yet", "lock bootstrap: free", "example-patterns", "not-applied"},
		},
		{
			name:     "redis_unreachable",
			args:     []string{"status", "--mongo-uri", env.Mongo.NetURI, "--redis-url", "redis://nowhere:6379", "--connect-timeout", "3s"},
			wantCode: exitUnreachable,
			want:     []string{"nowhere:6379"},
		},
		{
			name:     "mongo_unreachable_password_redacted",
			args:     []string{"status", "--mongo-uri", "mongodb://user:s3cret@nowhere:27017/", "--redis-url", redisURL, "--connect-timeout", "3s"},
			wantCode: exitUnreachable,
			want:     []string{"nowhere:27017"},
			never:    []string{"s3cret"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := env.StartRunner(t, harness.RunOptions{Args: tt.args, Name: "status"})
			code, logs := rc.Wait(t, runTimeout)
			if code != tt.wantCode {
				t.Fatalf("exit = %d, want %d; logs:\n%s", code, tt.wantCode, logs)
			}
			for _, w := range tt.want {
				if !strings.Contains(logs, w) {
					t.Errorf("output does not contain %q:\n%s", w, logs)
				}
			}
			for _, n := range tt.never {
				if strings.Contains(logs, n) {
					t.Errorf("output contains %q:\n%s", n, logs)
				}
			}
			if tt.wantCode != exitOK {
				l := firstMsg(t, parseLogs(t, logs), "bootstrap failed", logs)
				if got, want := l.num("exit_code"), int64(tt.wantCode); got != want {
					t.Errorf("logged exit_code = %d, want %d", got, want)
				}
				if err := l.str("err"); !strings.Contains(err, tt.want[0]) {
					t.Errorf("logged err %q does not name %q", err, tt.want[0])
				}
			}
		})
	}
}

// The example profiles of the image: applied once, then skipped; the demo
// admin's password is stored hashed and never logged.
func TestRun_example_profiles_apply_once_then_skip(t *testing.T) {
	t.Parallel()
	env := harness.Start(t)
	mc := env.Mongo.Client(t)
	args := dbArgs(env, "run", "-p", "example-patterns,example-users")
	wantProfiles := []string{"example-base", "example-users", "example-patterns"}

	rc := env.StartRunner(t, harness.RunOptions{Args: args, Env: exampleEnv(), Name: "first"})
	code, logs := rc.Wait(t, runTimeout)
	if code != exitOK {
		t.Fatalf("first run: exit = %d, want 0; logs:\n%s", code, logs)
	}
	if strings.Contains(logs, adminPassword) {
		t.Errorf("first run logged the admin password:\n%s", logs)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if dups, err := duplicateKeys(line); err != nil || len(dups) > 0 {
			t.Errorf("log line with duplicate keys %v (%v): %s", dups, err, line)
		}
	}
	s := runSummary(t, logs)
	if got, want := s.num("applied"), int64(len(wantProfiles)); got != want {
		t.Errorf("first run: applied = %d, want %d; summary %v", got, want, s)
	}
	for _, p := range wantProfiles {
		m := testutil.ReadMarker(t, mc, exampleDB, p)
		if m == nil {
			t.Fatalf("no marker for %s after the first run", p)
		}
		if got, want := m.Fence, s.num("fence"); got != want {
			t.Errorf("marker %s: fence = %d, want the run's %d", p, got, want)
		}
	}

	var admin bson.M
	if err := mc.Database(exampleDB).Collection("User").FindOne(t.Context(), bson.D{{Key: "_id", Value: "admin"}}).Decode(&admin); err != nil {
		t.Fatalf("read admin user: %v", err)
	}
	if pw, _ := admin["password"].(string); !strings.HasPrefix(pw, "$2") || strings.Contains(pw, adminPassword) {
		t.Errorf("admin password stored as %q, want a bcrypt hash", pw)
	}

	rc = env.StartRunner(t, harness.RunOptions{Args: args, Env: exampleEnv(), Name: "again"})
	code, logs = rc.Wait(t, runTimeout)
	if code != exitOK {
		t.Fatalf("second run: exit = %d, want 0; logs:\n%s", code, logs)
	}
	if strings.Contains(logs, adminPassword) {
		t.Errorf("second run logged the admin password:\n%s", logs)
	}
	s = runSummary(t, logs)
	if got := s.num("applied"); got != 0 {
		t.Errorf("second run: applied = %d, want 0; summary %v", got, s)
	}
	if got, want := s.num("skipped"), int64(len(wantProfiles)); got != want {
		t.Errorf("second run: skipped = %d, want %d", got, want)
	}
	for _, p := range wantProfiles {
		if got, want := outcomes(t, logs)[p], string(store.OutcomeSkipped); got != want {
			t.Errorf("second run: %s outcome = %q, want %q", p, got, want)
		}
		recs := auditRecords(t, mc, exampleDB, p)
		if got, want := len(withOutcome(recs, store.OutcomeApplied)), 1; got != want {
			t.Errorf("%s: %d applied audit records, want %d", p, got, want)
		}
		if got, want := len(withOutcome(recs, store.OutcomeSkipped)), 1; got != want {
			t.Errorf("%s: %d skipped audit records, want %d", p, got, want)
		}
	}
}

// A malformed profile stops the run before anything is written, even the
// valid profile requested with it: exit 3, the error names
// file:line:col, and both databases stay empty.
func TestRun_invalid_profile_writes_nothing(t *testing.T) {
	t.Parallel()
	env := harness.Start(t)
	rc := env.StartRunner(t, harness.RunOptions{
		Args:        dbArgs(env, "run", "-p", "good,broken"),
		ProfilesDir: "testdata/invalid",
		Name:        "invalid",
	})
	code, logs := rc.Wait(t, runTimeout)
	if code != exitInvalid {
		t.Fatalf("exit = %d, want %d; logs:\n%s", code, exitInvalid, logs)
	}
	// One JSON record: the error is the summary, the problems a list of
	// "file:line:col: field: message".
	l := firstMsg(t, parseLogs(t, logs), "bootstrap failed", logs)
	if err, want := l.str("err"), "in 1 profile"; !strings.Contains(err, want) {
		t.Errorf("error %q is not a summary of the problems (%q)", err, want)
	}
	problems, _ := l["problems"].([]any)
	if want := "broken/data/items.json:3:49"; len(problems) == 0 || !strings.HasPrefix(fmt.Sprint(problems[0]), want) {
		t.Errorf("problems %q do not start with %s", problems, want)
	}

	if dbs := userDatabases(t, env.Mongo.Client(t)); len(dbs) != 0 {
		t.Errorf("databases written: %v, want none", dbs)
	}
	n, err := env.Redis.Client(t).DBSize(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("redis DBSIZE = %d, want 0", n)
	}
}

// A step that fails fails the run with exit 7; the profile is audited as
// failed with the step's error, no marker is written and the lock is
// released.
func TestRun_failing_exec_step_exits_7(t *testing.T) {
	t.Parallel()
	env := harness.Start(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"migrate/profile.yaml": "database: " + testDB + "\nsteps:\n  - exec: {command: [/nonexistent, --up], timeout: 30s}\n",
	})
	rc := env.StartRunner(t, harness.RunOptions{Args: dbArgs(env, "run", "-p", "migrate"), ProfilesDir: dir, Name: "exec"})
	code, logs := rc.Wait(t, runTimeout)
	if code != exitStepFailed {
		t.Fatalf("exit = %d, want %d; logs:\n%s", code, exitStepFailed, logs)
	}
	mc := env.Mongo.Client(t)
	recs := auditRecords(t, mc, testDB, "migrate")
	if len(recs) != 1 {
		t.Fatalf("audit records = %+v, want one", recs)
	}
	if got, want := recs[0].Outcome, store.OutcomeFailed; got != want {
		t.Errorf("outcome = %q, want %q", got, want)
	}
	if !strings.Contains(recs[0].Error, "/nonexistent") {
		t.Errorf("audited error %q does not name the command", recs[0].Error)
	}
	if m := testutil.ReadMarker(t, mc, testDB, "migrate"); m != nil {
		t.Errorf("marker written for a failed profile: %+v", m)
	}
	if h := lockHolder(t, env.Redis.Client(t)); h != nil {
		t.Errorf("lock still held after the run: %+v", h)
	}
}
