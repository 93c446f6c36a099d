package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/srvthreds/bootstrap/internal/harness"
)

const (
	// A compose file shaped like srvthreds' own, and our service added after
	// it, the way an operator runs the two.
	srvthredsCompose = "testdata/srvthreds/docker-compose.yml"
	dropInCompose    = "srvthreds/compose/docker-compose.bootstrap.yaml"
)

// srvthredsImage builds the image srvthreds deploys: FROM the runner image,
// with their run-profiles under /profiles (the README's srvthreds build), here
// a profile ef-detection in srvthreds form. It is removed at the end of t.
func srvthredsImage(t *testing.T, runner string) string {
	t.Helper()
	dir := t.TempDir()
	dockerfile := "FROM " + runner + "\nCOPY run-profiles /profiles\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	copyTree(t, "testdata/srvthreds/run-profiles", filepath.Join(dir, "run-profiles"))
	tag := "srvthreds/bootstrap:compose-test-" + uniqueSuffix(t)
	run(t, nil, "docker", "build", "-q", "-t", tag, dir)
	t.Cleanup(func() { runErr(t, nil, "docker", "rmi", "-f", tag) })
	return tag
}

// The srvthreds-shaped stack with our service in place of theirs, brought up
// with `docker-compose --profile app up`: our service runs the binary (not
// npm), applies ef-detection and exits 0, and the service that depends on it
// with service_completed_successfully starts only after that (it runs
// `bootstrap wait`, which exits 0 only once the profile's markers are there).
//
// FerretDB stands in for MongoDB and is not a replica set: srvthreds' MONGO_HOST
// is host:port, to which the binary adds replicaSet=rs0 unless
// MONGO_DIRECT_CONNECTION=true, so the test sets MONGO_DIRECT_CONNECTION=true.
func TestCompose_srvthreds_stack_waits_for_bootstrap(t *testing.T) {
	if testing.Short() {
		t.Skip("container test")
	}
	image := srvthredsImage(t, harness.RunnerImage(t))
	mongo := harness.MongoImage(t)
	mongoData := "/data/db" // mongod's data directory
	if strings.Contains(strings.ToLower(mongo), "ferretdb") {
		mongoData = "/data" // FerretDB's SQLite directory (--sqlite-url)
	}
	env := []string{
		"SRVTHREDS_BOOTSTRAP_IMAGE=" + image,
		"SRVTHREDS_TEST_MONGO_IMAGE=" + mongo,
		"SRVTHREDS_TEST_MONGO_DATA=" + mongoData,
		"SRVTHREDS_TEST_REDIS_IMAGE=" + harness.RedisImage(t),
		"MONGO_DIRECT_CONNECTION=true",
	}
	compose := []string{"-p", "bootstrap-compose-" + uniqueSuffix(t),
		"-f", srvthredsCompose, "-f", dropInCompose, "--profile", "app"}
	t.Cleanup(func() {
		if out, err := runErr(t, env, "docker-compose", append(compose, "down", "-v", "--remove-orphans")...); err != nil {
			t.Errorf("docker-compose down: %v\n%s", err, out)
		}
	})
	run(t, env, "docker-compose", append(compose, "up", "-d")...)

	engineID := strings.TrimSpace(run(t, env, "docker-compose", append(compose, "ps", "-q", "srvthreds-engine")...))
	if engineID == "" {
		t.Fatal("srvthreds-engine: no container")
	}
	run(t, nil, "docker", "wait", engineID)
	bootID := strings.TrimSpace(run(t, env, "docker-compose", append(compose, "ps", "-q", "srvthreds-bootstrap")...))
	boot, engine := inspectContainer(t, bootID), inspectContainer(t, engineID)
	if t.Failed() || boot.State.ExitCode != 0 || engine.State.ExitCode != 0 {
		logs, _ := runErr(t, env, "docker-compose", append(compose, "logs", "--no-color")...)
		t.Logf("docker-compose logs:\n%s", logs)
	}

	if got, want := append([]string{boot.Path}, boot.Args...), []string{"/bootstrap", "run", "-p", "ef-detection"}; !slices.Equal(got, want) {
		t.Errorf("srvthreds-bootstrap runs %q, want %q (not npm)", got, want)
	}
	if got := boot.State.ExitCode; got != 0 {
		t.Errorf("srvthreds-bootstrap exit code: got %d, want 0", got)
	}
	if got := engine.State.ExitCode; got != 0 {
		t.Errorf("srvthreds-engine (bootstrap wait) exit code: got %d, want 0 (the profile applied before it started)", got)
	}
	if !engine.State.StartedAt.After(boot.State.FinishedAt) {
		t.Errorf("srvthreds-engine started at %v, srvthreds-bootstrap finished at %v: want the engine after",
			engine.State.StartedAt, boot.State.FinishedAt)
	}
}
