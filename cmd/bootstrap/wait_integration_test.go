package main

import (
	"strings"
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/internal/testutil"
)

// waitPollMax is the default cap of wait's polling backoff.
const waitPollMax = 5 * time.Second

// `bootstrap wait`, the initContainer of the services: it blocks until the
// bootstrap run has applied its profiles at this image's versions, and
// gives up with exit 4 while an older version is applied.
func TestWait_initContainer(t *testing.T) {
	t.Parallel()
	env := harness.Start(t)

	t.Run("returns_once_the_run_applied_the_profile", func(t *testing.T) {
		t.Parallel()
		w := env.StartRunner(t, harness.RunOptions{Args: dbArgs(env, "wait", "-p", "example-patterns", "--timeout", "2m"), Name: "wait"})
		waitForLog(t, w, time.Minute, `"waiting for profiles"`, msgIs("waiting for profiles"))
		time.Sleep(3 * time.Second)
		if !running(t, w) {
			t.Fatalf("wait exited before anything was applied; logs:\n%s", w.Logs(t))
		}

		rc := env.StartRunner(t, harness.RunOptions{Args: dbArgs(env, "run", "-p", "example-patterns"), Name: "run"})
		if code, logs := rc.Wait(t, runTimeout); code != exitOK {
			t.Fatalf("run: exit = %d, want 0; logs:\n%s", code, logs)
		}
		applied := finishedAt(t, rc)
		code, logs := w.Wait(t, time.Minute)
		if code != exitOK {
			t.Fatalf("wait: exit = %d, want 0; logs:\n%s", code, logs)
		}
		firstMsg(t, parseLogs(t, logs), "all profiles current", logs)
		took := finishedAt(t, w).Sub(applied)
		t.Logf("wait exited %s after the run", took.Round(time.Millisecond))
		if took > waitPollMax+exitMargin {
			t.Errorf("wait exited %s after the run, want within its poll cap %s (+%s margin)", took, waitPollMax, exitMargin)
		}
	})

	t.Run("older_version_applied_times_out_with_exit_4", func(t *testing.T) {
		t.Parallel()
		const timeout = 5 * time.Second
		older, newer := t.TempDir(), t.TempDir()
		writeDocumentsProfile(t, older, "cfg", 3)
		writeDocumentsProfile(t, newer, "cfg", 4) // another data file: another version
		rc := env.StartRunner(t, harness.RunOptions{Args: dbArgs(env, "run", "-p", "cfg"), ProfilesDir: older, Name: "older"})
		if code, logs := rc.Wait(t, runTimeout); code != exitOK {
			t.Fatalf("run: exit = %d, want 0; logs:\n%s", code, logs)
		}
		m := testutil.ReadMarker(t, env.Mongo.Client(t), testDB, "cfg")
		if m == nil {
			t.Fatal("no marker after the run")
		}

		w := env.StartRunner(t, harness.RunOptions{
			Args:        dbArgs(env, "wait", "-p", "cfg", "--timeout", timeout.String()),
			ProfilesDir: newer, Name: "wait-newer",
		})
		code, logs := w.Wait(t, time.Minute)
		if code != exitNotAcquired {
			t.Fatalf("wait: exit = %d, want %d; logs:\n%s", code, exitNotAcquired, logs)
		}
		lines := parseLogs(t, logs)
		f := firstMsg(t, lines, "bootstrap failed", logs)
		if err, want := f.str("err"), "cfg (have "+m.Version[:12]; !strings.Contains(err, want) {
			t.Errorf("error %q does not name the applied version (%s)", err, want)
		}
		// Both times are the runner's own: Docker stamps a container's start
		// when it learns of it, which may be later than the process began.
		begun := firstMsg(t, lines, "wait started", logs).at(t)
		if ran := f.at(t).Sub(begun); ran < timeout {
			t.Errorf("wait gave up after %s, before its timeout %s", ran, timeout)
		}
	})
}
