package render

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	corev1 "k8s.io/api/core/v1"
)

// valuesSchema compiles the chart's values.schema.json.
func valuesSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	path := filepath.Join(chartDir, "values.schema.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("values.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("values.schema.json")
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

// chartValues is the chart's values.yaml with vals merged over it (maps
// merged key by key), as JSON values for the schema.
func chartValues(t *testing.T, vals map[string]any) any {
	t.Helper()
	c := loadChart(t)
	merged := chartutil.CoalesceTables(vals, maps.Clone(c.Values))
	data, err := json.Marshal(merged)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestChartValuesSchema(t *testing.T) {
	s := valuesSchema(t)
	tests := []struct {
		name  string
		vals  map[string]any
		valid bool
	}{
		{"defaults", nil, true},
		{"tag", withTag(commit), true},
		{"digest_only", map[string]any{"image": map[string]any{"digest": "sha256:" + strings.Repeat("ab", 32)}}, true},
		{"conventions", conventionValues(), true},
		{"unknown_key", map[string]any{"imagePullPolicy": "Always"}, false},
		{"unknown_nested_key", map[string]any{"image": map[string]any{"tags": commit}}, false},
		{"bad_duration", map[string]any{"timeouts": map[string]any{"run": "fifteen minutes"}}, false},
		{"no_profiles", map[string]any{"profiles": []any{}}, false},
		{"bad_pull_policy", map[string]any{"image": map[string]any{"pullPolicy": "Sometimes"}}, false},
		{"bad_digest", map[string]any{"image": map[string]any{"digest": "latest"}}, false},
		{"env_without_name", map[string]any{"extraEnv": []any{map[string]any{"value": "x"}}}, false},
		{"mount_without_path", map[string]any{"extraVolumeMounts": []any{map[string]any{"name": "ca"}}}, false},
		{"bad_termination_policy", map[string]any{"terminationMessagePolicy": "Logs"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Validate(chartValues(t, tt.vals))
			if got := err == nil; got != tt.valid {
				t.Errorf("valid: got %v (%v), want %v", got, err, tt.valid)
			}
		})
	}
}

// Helm validates the values against the schema too, before rendering.
func TestChartRefusesValuesOutsideTheSchema(t *testing.T) {
	vals := withTag(commit)
	vals["imagePullPolicy"] = "Always"
	if _, err := renderChart(t, loadChart(t), vals); err == nil || !strings.Contains(err.Error(), "imagePullPolicy") {
		t.Errorf("render: got error %v, want one naming imagePullPolicy", err)
	}
}

func TestChartLint(t *testing.T) {
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	for name, vals := range map[string]map[string]any{"tag": withTag(commit), "conventions": conventionValues()} {
		t.Run(name, func(t *testing.T) {
			l := lint.AllWithKubeVersion(chartDir, vals, "srvthreds", kv)
			for _, m := range l.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("helm lint: %v", m)
				} else {
					t.Logf("helm lint: %v", m)
				}
			}
		})
	}
}

// conventionValues sets every value that well-kept charts have.
func conventionValues() map[string]any {
	return map[string]any{
		"image": map[string]any{"tag": commit, "digest": "sha256:" + strings.Repeat("ab", 32)},
		"serviceAccount": map[string]any{
			"create": true, "name": "bootstrap-runner",
			"annotations": map[string]any{"azure.workload.identity/client-id": "00000000-0000-0000-0000-000000000000"},
		},
		"extraEnv":     []any{map[string]any{"name": "SSL_CERT_FILE", "value": "/etc/ssl/corporate/ca.crt"}},
		"extraEnvFrom": []any{map[string]any{"configMapRef": map[string]any{"name": "srvthreds-config"}}},
		"extraVolumes": []any{map[string]any{"name": "ca", "configMap": map[string]any{"name": "corporate-ca"}}},
		"extraVolumeMounts": []any{
			map[string]any{"name": "ca", "mountPath": "/etc/ssl/corporate", "readOnly": true},
		},
		"podAnnotations": map[string]any{"example.com/owner": "platform"},
		"nodeSelector":   map[string]any{"kubernetes.io/os": "linux"},
		"tolerations": []any{
			map[string]any{"key": "dedicated", "operator": "Equal", "value": "jobs", "effect": "NoSchedule"},
		},
		"affinity": map[string]any{"nodeAffinity": map[string]any{
			"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{"nodeSelectorTerms": []any{
				map[string]any{"matchExpressions": []any{
					map[string]any{"key": "kubernetes.io/arch", "operator": "In", "values": []any{"amd64"}},
				}},
			}},
		}},
	}
}

func TestChartConventions(t *testing.T) {
	r, err := renderChart(t, loadChart(t), conventionValues())
	if err != nil {
		t.Fatal(err)
	}
	o := r.decode(t)
	job := o.theJob(t)
	image := "bootstrap:" + commit + "@sha256:" + strings.Repeat("ab", 32)
	checkJobSpec(t, &job.Spec, o.configMaps, image)
	if got, want := job.Labels["app.kubernetes.io/version"], commit; got != want {
		t.Errorf("label app.kubernetes.io/version: got %q, want %q", got, want)
	}
	pod := &job.Spec.Template.Spec
	c := container(t, pod, bootstrapContainer)

	if got, want := len(o.accounts), 1; got != want {
		t.Fatalf("ServiceAccounts: got %d, want %d", got, want)
	}
	if sa := o.accounts[0]; sa.Name != "bootstrap-runner" || pod.ServiceAccountName != sa.Name {
		t.Errorf("serviceAccount: created %q, pod runs as %q, want bootstrap-runner for both", sa.Name, pod.ServiceAccountName)
	}
	weights := map[string]int{}
	for _, h := range r.hooks {
		weights[h.Kind] = h.Weight
	}
	if weights["ServiceAccount"] >= weights["Job"] {
		t.Errorf("hook weights: ServiceAccount %d, Job %d; want the ServiceAccount created first", weights["ServiceAccount"], weights["Job"])
	}
	if !slices.ContainsFunc(c.EnvFrom, func(e corev1.EnvFromSource) bool {
		return e.ConfigMapRef != nil && e.ConfigMapRef.Name == "srvthreds-config"
	}) {
		t.Errorf("envFrom: got %+v, want srvthreds-config", c.EnvFrom)
	}
	if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "SSL_CERT_FILE" }) {
		t.Errorf("env: got %+v, want SSL_CERT_FILE from extraEnv", c.Env)
	}
	checkMounted(t, pod, c, "ca", "/etc/ssl/corporate")
	if got, want := job.Spec.Template.Annotations["example.com/owner"], "platform"; got != want {
		t.Errorf("pod annotation: got %q, want %q", got, want)
	}
	if pod.NodeSelector["kubernetes.io/os"] != "linux" || len(pod.Tolerations) != 1 || pod.Affinity == nil ||
		pod.Affinity.NodeAffinity == nil {
		t.Errorf("scheduling: nodeSelector %v, tolerations %v, affinity %+v; want the values'", pod.NodeSelector,
			pod.Tolerations, pod.Affinity)
	}
}

// checkMounted checks that volume name is a volume of pod mounted at path in c.
func checkMounted(t *testing.T, pod *corev1.PodSpec, c *corev1.Container, name, path string) {
	t.Helper()
	if !slices.ContainsFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == name }) {
		t.Errorf("volumes: no %q", name)
	}
	if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == name && m.MountPath == path }) {
		t.Errorf("volumeMounts: got %+v, want %s at %s", c.VolumeMounts, name, path)
	}
}

// `helm test`: one pod that runs `bootstrap status` for the profiles with the
// Job's image, Secrets and settings.
func TestChartTestPodRunsStatus(t *testing.T) {
	r, err := renderChart(t, loadChart(t), withTag(commit))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(r.tests), 1; got != want {
		t.Fatalf("test hooks: got %d, want %d", got, want)
	}
	o := newObjects()
	if err := o.add([]byte(r.tests[0].Manifest)); err != nil {
		t.Fatalf("%s: %v", r.tests[0].Path, err)
	}
	if got, want := len(o.pods), 1; got != want {
		t.Fatalf("test pods: got %d, want %d", got, want)
	}
	p := o.pods[0]
	if got, want := p.Spec.RestartPolicy, corev1.RestartPolicyNever; got != want {
		t.Errorf("restartPolicy: got %q, want %q", got, want)
	}
	if len(p.Spec.Containers) != 1 {
		t.Fatalf("containers: got %d, want 1", len(p.Spec.Containers))
	}
	c := &p.Spec.Containers[0]
	if got, want := c.Args, []string{"status", "-p", "example-patterns"}; !slices.Equal(got, want) {
		t.Errorf("args: got %q, want %q", got, want)
	}
	if got, want := c.Image, "bootstrap:"+commit; got != want {
		t.Errorf("image: got %q, want %q", got, want)
	}
	checkContainer(t, c, &p.Spec)
	checkMounted(t, &p.Spec, c, "secrets", "/var/run/secrets/bootstrap")
	if got := setting(c, nil, "mongo-uri-file"); got != "/var/run/secrets/bootstrap/mongo-uri" {
		t.Errorf("BOOTSTRAP_MONGO_URI_FILE: got %q, want the mounted Secret file", got)
	}
}
