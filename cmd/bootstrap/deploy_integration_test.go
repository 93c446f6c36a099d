package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/internal/testutil"
	"github.com/srvthreds/bootstrap/profiles"
)

// readManifest strictly decodes a file of deploy/kubernetes/base.
func readManifest(t *testing.T, name string, into any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes", "base", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, into); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// The runner image, run with the exact args and environment of the Job
// manifest (its ConfigMap and literal env), applies the profile baked into
// the image. Only what a cluster provides differently is replaced: the
// database addresses (the Secret's files become BOOTSTRAP_MONGO_URI, and the
// test Redis has no password).
func TestDeploy_job_manifest_command_runs_against_real_databases(t *testing.T) {
	t.Parallel()
	var job batchv1.Job
	readManifest(t, "job.yaml", &job)
	var cm corev1.ConfigMap
	readManifest(t, "configmap.yaml", &cm)
	containers := job.Spec.Template.Spec.Containers
	if len(containers) != 1 {
		t.Fatalf("job has %d containers, want 1", len(containers))
	}
	c := containers[0]
	if len(c.Command) != 0 {
		t.Fatalf("job overrides the entrypoint with %v", c.Command)
	}

	env := harness.Start(t)
	vars := map[string]string{}
	for k, v := range cm.Data {
		vars[k] = v
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			vars[e.Name] = e.Value
		}
	}
	delete(vars, "BOOTSTRAP_MONGO_URI_FILE")
	delete(vars, "REDIS_PASSWORD_FILE")
	vars["BOOTSTRAP_MONGO_URI"] = env.Mongo.NetURI
	vars["REDIS_HOST"] = env.Redis.NetAddr

	run := env.StartRunner(t, harness.RunOptions{Args: c.Args, Env: vars, Name: "job"})
	code, logs := run.Wait(t, 3*time.Minute)
	if code != 0 {
		t.Fatalf("exit %d with the Job's args %v; logs:\n%s", code, c.Args, logs)
	}

	// The profile the Job names is applied at the version of this tree's
	// profiles (the image bakes them in).
	set, err := profiles.Load(profiles.DirFS(filepath.Join("..", "..", "examples", "profiles")), []string{"example-patterns"})
	if err != nil {
		t.Fatal(err)
	}
	mc := env.Mongo.Client(t)
	for _, p := range set.Profiles {
		m := testutil.ReadMarker(t, mc, p.Database, p.Name)
		if m == nil {
			t.Fatalf("no marker for %s after the Job's run; logs:\n%s", p.Name, logs)
		}
		if got, want := m.Version, p.Version; got != want {
			t.Errorf("%s marker version = %.12s, want %.12s", p.Name, got, want)
		}
	}
	if !bytes.Contains([]byte(logs), []byte(`"event":"run_summary"`)) {
		t.Errorf("no run summary in the JSON logs:\n%s", logs)
	}
}
