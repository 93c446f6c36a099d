package main

import (
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/internal/harness"
)

func TestProbe(t *testing.T) {
	env := harness.Start(t)
	dir := t.TempDir()
	writeDocumentsProfile(t, dir, "slow", slowDocs)
	for _, args := range [][]string{{"--batch-size", "5"}, {"--batch-size", "5", "--force"}, {"--batch-size", "100", "--force"}} {
		t0 := time.Now()
		rc := env.StartRunner(t, harness.RunOptions{Args: dbArgs(env, "run", append([]string{"-p", "slow"}, args...)...), ProfilesDir: dir})
		code, logs := rc.Wait(t, 5*time.Minute)
		l := runSummary(t, logs)
		t.Logf("%v: code %d in %v (run %dms)", args, code, time.Since(t0), l.num("duration_ms"))
	}
}
