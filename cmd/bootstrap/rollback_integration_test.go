package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/store"
)

// rbProfileFiles is the profile "app" of the command's rollback test, at
// version 1 or 2 (v2 changes a config, adds one, and deactivates a
// pattern).
func rbProfileFiles(version int) map[string]string {
	files := map[string]string{
		"app/profile.yaml":           "database: " + testDB + "\nsteps:\n  - configs: {dir: run-config}\n  - patterns: {dir: patterns}\n",
		"app/run-config/engine.json": `{"threads": 4}`,
		"app/patterns/watch.json":    `{"id": "p.watch", "meta": {"active": true}}`,
	}
	if version >= 2 {
		files["app/run-config/engine.json"] = `{"threads": 8}`
		files["app/run-config/extra.json"] = `{"added": true}`
		files["app/patterns/watch.json"] = `{"id": "p.watch", "meta": {"active": false}}`
	}
	return files
}

// rbWriteProfile replaces the profiles under dir with files.
func rbWriteProfile(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(dir, "app")); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// rbExec runs the binary as a local process against env's databases (their
// loopback addresses) with the profiles of dir, and returns its exit code
// and output.
func rbExec(t *testing.T, env *harness.Env, dir, cmd string, extra ...string) (int, string) {
	t.Helper()
	args := []string{cmd, "--profiles-dir", dir, "--mongo-uri", env.Mongo.URI,
		"--redis-url", "redis://" + env.Redis.Addr, "--connect-timeout", "30s"}
	if cmd == "run" {
		args = append(args, "--health-addr", "off")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, harness.Binary(t), append(args, extra...)...)
	c.Env = []string{"BOOTSTRAP_LOG_FORMAT=json", "BCRYPT_SALT_ROUNDS=4"}
	out, err := c.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("run %s: %v\n%s", cmd, err, out)
	return -1, ""
}

// rbMustExec is rbExec that fails t unless the exit code is want.
func rbMustExec(t *testing.T, env *harness.Env, dir string, want int, cmd string, extra ...string) string {
	t.Helper()
	code, out := rbExec(t, env, dir, cmd, extra...)
	if code != want {
		t.Fatalf("%s %v: exit %d, want %d\n%s", cmd, extra, code, want, out)
	}
	return out
}

// TestRollbackCommand drives `bootstrap rollback` as an operator would:
// two versions applied, status shows the snapshot, rollback restores v1
// (exit 0) and history shows it; a version without a snapshot exits 3 and
// changes nothing; a held lock makes it exit 4 after --lock-wait.
func TestRollbackCommand(t *testing.T) {
	t.Parallel()
	env := harness.Start(t)
	mc := env.Mongo.Client(t)
	rc := env.Redis.Client(t)
	dir := t.TempDir()
	st := store.New(mc)
	marker := func() *store.Marker {
		t.Helper()
		m, err := st.Marker(t.Context(), testDB, "app")
		if err != nil || m == nil {
			t.Fatalf("marker: %+v, %v", m, err)
		}
		return m
	}

	rbWriteProfile(t, dir, rbProfileFiles(1))
	rbMustExec(t, env, dir, 0, "run", "-p", "app")
	v1 := marker().Version
	rbWriteProfile(t, dir, rbProfileFiles(2))
	rbMustExec(t, env, dir, 0, "run", "-p", "app")
	v2 := marker().Version

	var rep struct {
		Profiles []struct {
			Profile   string `json:"profile"`
			State     string `json:"state"`
			Snapshots struct {
				Count int   `json:"count"`
				Bytes int64 `json:"bytes"`
			} `json:"snapshots"`
		} `json:"profiles"`
	}
	out := rbMustExec(t, env, dir, 0, "status", "-p", "app", "-o", "json")
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{\n"):]), &rep); err != nil {
		t.Fatalf("status output: %v\n%s", err, out)
	}
	if len(rep.Profiles) != 1 || rep.Profiles[0].Snapshots.Count != 1 || rep.Profiles[0].Snapshots.Bytes == 0 {
		t.Errorf("status = %+v, want one snapshot of app taking some bytes", rep)
	}
	if out := rbMustExec(t, env, dir, 0, "status", "-p", "app"); !strings.Contains(out, "SNAPSHOTS") || !strings.Contains(out, "1 (") {
		t.Errorf("status table does not show the snapshot:\n%s", out)
	}

	t.Run("unknown_version_exits_3", func(t *testing.T) {
		out := rbMustExec(t, env, dir, exitInvalid, "rollback", "-p", "app", "--to", "000000000000")
		if !strings.Contains(out, v1[:12]) {
			t.Errorf("output does not name v1 (%s), which has a snapshot:\n%s", v1[:12], out)
		}
		if m := marker(); m.Version != v2 || m.Source != "" {
			t.Errorf("marker = %+v, want v2's from the run", m)
		}
	})
	t.Run("lock_held_exits_4", func(t *testing.T) {
		l, err := lock.New(rc, "bootstrap", &lock.Options{Holder: lock.Holder{RunID: "someone-else"}})
		if err != nil {
			t.Fatal(err)
		}
		lease, err := l.TryAcquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer lease.Release(context.WithoutCancel(t.Context()))
		out := rbMustExec(t, env, dir, exitNotAcquired, "rollback", "-p", "app", "--lock-wait", "1s")
		if !strings.Contains(out, "someone-else") {
			t.Errorf("output does not name the holder:\n%s", out)
		}
	})
	t.Run("two_profiles_exit_2", func(t *testing.T) {
		rbMustExec(t, env, dir, exitUsage, "rollback", "-p", "app,other")
	})
	t.Run("rollback_restores_v1", func(t *testing.T) {
		out := rbMustExec(t, env, dir, 0, "rollback", "-p", "app")
		if !strings.Contains(out, "rolled back app from "+v2[:12]+" to "+v1[:12]) {
			t.Errorf("output does not report the rollback:\n%s", out)
		}
		if m := marker(); m.Version != v1 || m.Source != store.SourceRollback || m.RolledBackFrom != v2 {
			t.Errorf("marker = %+v, want v1 from a rollback of v2", m)
		}
		var doc struct {
			Config struct {
				Threads int `bson:"threads"`
			} `bson:"config"`
		}
		if err := mc.Database(testDB).Collection("Config").FindOne(t.Context(), bson.D{{Key: "_id", Value: "engine"}}).Decode(&doc); err != nil || doc.Config.Threads != 4 {
			t.Errorf("engine threads = %d, %v; want v1's 4", doc.Config.Threads, err)
		}
		if n, err := mc.Database(testDB).Collection("Config").CountDocuments(t.Context(), bson.D{{Key: "_id", Value: "extra"}}); err != nil || n != 0 {
			t.Errorf("v2's extra config: %d, %v; want gone", n, err)
		}
		if got, err := rc.SMembers(t.Context(), "IDX:Pattern").Result(); err != nil || !slices.Equal(got, []string{"p.watch"}) {
			t.Errorf("IDX:Pattern = %v, %v; want [p.watch] again", got, err)
		}

		out = rbMustExec(t, env, dir, 0, "history", "-p", "app", "-o", "json")
		var recs []store.AuditRecord
		if err := json.Unmarshal([]byte(out[strings.Index(out, "[\n"):]), &recs); err != nil {
			t.Fatalf("history output: %v\n%s", err, out)
		}
		if len(recs) == 0 || recs[0].Outcome != store.OutcomeRolledBack || recs[0].Version != v1 || recs[0].PrevVersion != v2 {
			t.Errorf("newest history record = %+v, want rolled-back to v1 from v2", recs)
		}
		if out := rbMustExec(t, env, dir, 0, "history", "-p", "app"); !strings.Contains(out, "rolled-back") {
			t.Errorf("history table does not show the rollback:\n%s", out)
		}
	})
}
