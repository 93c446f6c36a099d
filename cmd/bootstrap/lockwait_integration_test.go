package main

import (
	"strings"
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/lock"
)

// Redis going away while a runner waits for the lock that another holds is
// retried until --lock-wait ends: exit 4 (not 1 at once), the error naming
// the holder seen and the last Redis error.
func TestLockWait_redis_errors_retried_until_the_wait_ends(t *testing.T) {
	t.Parallel()
	// Redis must be stopped before the wait ends, however slow the
	// machine's docker stop: seconds would race it.
	const wait = 15 * time.Second
	env := harness.Start(t)
	dir := t.TempDir()
	writeDocumentsProfile(t, dir, "small", 3)

	other, err := lock.New(env.Redis.Client(t), "bootstrap", &lock.Options{TTL: time.Hour,
		Holder: lock.Holder{RunID: "run-other", Host: "pod-other"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.TryAcquire(t.Context()); err != nil {
		t.Fatalf("take the lock: %v", err)
	}
	r := startLocalRun(t, env, dir, "-p", "small", "--lock-wait", wait.String())
	r.waitLog(t, `"msg":"waiting for lock"`)
	env.Redis.Stop(t)
	stopped := time.Now()

	code := r.wait(t, wait+time.Minute)
	t.Logf("exited %d, %s after Redis stopped (lock wait %s)", code, time.Since(stopped).Round(time.Millisecond), wait)
	if code != exitNotAcquired {
		t.Fatalf("exit = %d, want %d", code, exitNotAcquired)
	}
	logs := r.logs.String()
	for _, want := range []string{"waiting for lock: Redis error, retrying until --lock-wait", "last Redis error: ", "run-other"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs do not contain %q", want)
		}
	}
}
