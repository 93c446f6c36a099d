package main

import (
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/internal/harness"
)

func TestProbe(t *testing.T) {
	env := harness.Start(t)
	dir := t.TempDir()
	writeDocumentsProfile(t, dir, "slow", 2000)
	mc := env.Mongo.Client(t)
	t0 := time.Now()
	rc := env.StartRunner(t, harness.RunOptions{Args: dbArgs(env, "run", "-p", "slow", "--batch-size", "100"), ProfilesDir: dir})
	code, logs := rc.Wait(t, 5*time.Minute)
	t.Logf("code %d in %v count %d\n%s", code, time.Since(t0), countDocs(t, mc, testDB, itemsCollection), logs)
	t0 = time.Now()
	rc = env.StartRunner(t, harness.RunOptions{Args: dbArgs(env, "run", "-p", "slow", "--batch-size", "100", "--force"), ProfilesDir: dir})
	code, logs = rc.Wait(t, 5*time.Minute)
	t.Logf("code %d in %v count %d\n%s", code, time.Since(t0), countDocs(t, mc, testDB, itemsCollection), logs)
}
