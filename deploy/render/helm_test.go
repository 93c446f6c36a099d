package render

import (
	"maps"
	"path"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	corev1 "k8s.io/api/core/v1"
)

const (
	chartDir    = "../helm/bootstrap"
	commit      = "0123456789abcdef0123456789abcdef01234567"
	kubeVersion = "v1.33.0"
)

// rendered is a chart rendered the way `helm install` does: its hooks apart
// from its other manifests, its `helm test` hooks apart from the others, and
// its NOTES.txt.
type rendered struct {
	hooks     []*release.Hook
	tests     []*release.Hook
	manifests []releaseutil.Manifest
	notes     string
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load %s: %v", chartDir, err)
	}
	return c
}

// renderChart renders c as a first install of release "srvthreds" in
// namespace "srvthreds", with vals over the chart's values. Missing values are
// errors (strict mode).
func renderChart(t *testing.T, c *chart.Chart, vals map[string]any) (*rendered, error) {
	t.Helper()
	caps := chartutil.DefaultCapabilities.Copy()
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	caps.KubeVersion = *kv
	if c.Metadata.KubeVersion != "" && !chartutil.IsCompatibleRange(c.Metadata.KubeVersion, kubeVersion) {
		t.Fatalf("chart kubeVersion %q excludes %s", c.Metadata.KubeVersion, kubeVersion)
	}
	if err := chartutil.ProcessDependenciesWithMerge(c, vals); err != nil {
		return nil, err
	}
	opts := chartutil.ReleaseOptions{Name: "srvthreds", Namespace: "srvthreds", Revision: 1, IsInstall: true}
	values, err := chartutil.ToRenderValues(c, vals, opts, caps)
	if err != nil {
		return nil, err
	}
	files, err := engine.Engine{Strict: true}.Render(c, values)
	if err != nil {
		return nil, err
	}
	var r rendered
	for name := range files {
		if path.Base(name) == "NOTES.txt" {
			if strings.Count(name, "/charts/") == 0 {
				r.notes = files[name]
			}
			delete(files, name)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, caps.APIVersions, releaseutil.InstallOrder)
	if err != nil {
		return nil, err
	}
	r.manifests = manifests
	for _, h := range hooks {
		if slices.Contains(h.Events, release.HookTest) {
			r.tests = append(r.tests, h)
		} else {
			r.hooks = append(r.hooks, h)
		}
	}
	return &r, nil
}

// decode decodes every hook and manifest strictly.
func (r *rendered) decode(t *testing.T) *objects {
	t.Helper()
	o := newObjects()
	for _, h := range r.hooks {
		if err := o.add([]byte(h.Manifest)); err != nil {
			t.Fatalf("hook %s (%s): %v", h.Name, h.Path, err)
		}
	}
	for _, m := range r.manifests {
		if err := o.add([]byte(m.Content)); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
	}
	return o
}

func withTag(tag string) map[string]any {
	return map[string]any{"image": map[string]any{"tag": tag}}
}

func TestChartJobIsAnInstallAndUpgradeHook(t *testing.T) {
	r, err := renderChart(t, loadChart(t), withTag(commit))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.manifests) != 0 {
		// A pre-install hook runs before any other object of the release
		// exists: it must not depend on one.
		t.Errorf("manifests besides the hook: got %d, want none", len(r.manifests))
	}
	if got, want := len(r.hooks), 1; got != want {
		t.Fatalf("hooks: got %d, want %d", got, want)
	}
	h := r.hooks[0]
	if got, want := h.Kind, "Job"; got != want {
		t.Errorf("hook kind: got %q, want %q", got, want)
	}
	if got, want := h.Events, []release.HookEvent{release.HookPreInstall, release.HookPreUpgrade}; !slices.Equal(got, want) {
		t.Errorf("hook events: got %v, want %v", got, want)
	}
	if got, want := h.DeletePolicies, []release.HookDeletePolicy{release.HookBeforeHookCreation}; !slices.Equal(got, want) {
		t.Errorf("hook delete policies: got %v, want %v", got, want)
	}
	if got := h.Weight; got >= 0 {
		t.Errorf("hook weight: got %d, want < 0 (before the services' own hooks)", got)
	}
	o := r.decode(t)
	job := o.theJob(t)
	if got, want := job.Annotations["helm.sh/hook-weight"], "-5"; got != want {
		t.Errorf("hook-weight annotation: got %q, want %q", got, want)
	}
	checkJobSpec(t, &job.Spec, o.configMaps, "bootstrap:"+commit)
	if got, want := job.Name, "srvthreds-bootstrap"; got != want {
		t.Errorf("name: got %q, want %q", got, want)
	}
	if !strings.Contains(r.notes, "bootstrap:"+commit) {
		t.Errorf("NOTES.txt: got %q, want it to name the image", r.notes)
	}
}

func TestChartRefusesAMissingOrFloatingTag(t *testing.T) {
	tests := []struct {
		name string
		vals map[string]any
		want string
	}{
		{"no_tag", nil, "image.tag is required"},
		{"empty_tag", withTag(""), "image.tag is required"},
		{"latest", withTag("latest"), "not latest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := renderChart(t, loadChart(t), tt.vals)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("render: got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestChartValues(t *testing.T) {
	tests := []struct {
		name  string
		vals  map[string]any
		check func(t *testing.T, c *corev1.Container, pod *corev1.PodSpec)
	}{
		{
			name: "profiles_in_order",
			vals: map[string]any{"profiles": []any{"example-base", "example-patterns"}},
			check: func(t *testing.T, c *corev1.Container, _ *corev1.PodSpec) {
				if got, want := c.Args, []string{"run", "-p", "example-base", "-p", "example-patterns"}; !slices.Equal(got, want) {
					t.Errorf("args: got %q, want %q", got, want)
				}
			},
		},
		{
			name: "redis_without_password",
			vals: map[string]any{"redis": map[string]any{"existingSecret": ""}},
			check: func(t *testing.T, c *corev1.Container, pod *corev1.PodSpec) {
				for _, e := range c.Env {
					if e.Name == "REDIS_PASSWORD_FILE" {
						t.Errorf("env: got %s=%s, want none", e.Name, e.Value)
					}
				}
				for _, v := range pod.Volumes {
					if v.Projected != nil && len(v.Projected.Sources) != 1 {
						t.Errorf("volume %s: got %d sources, want the MongoDB Secret only", v.Name, len(v.Projected.Sources))
					}
				}
			},
		},
		{
			name: "secret_files_are_mounted",
			vals: map[string]any{"mongo": map[string]any{"existingSecret": "mongo-creds", "uriKey": "uri"}},
			check: func(t *testing.T, c *corev1.Container, pod *corev1.PodSpec) {
				files := map[string]bool{}
				for _, vm := range c.VolumeMounts {
					for _, v := range pod.Volumes {
						if v.Name != vm.Name || v.Projected == nil {
							continue
						}
						for _, src := range v.Projected.Sources {
							for _, item := range src.Secret.Items {
								files[path.Join(vm.MountPath, item.Path)] = true
								if item.Path == "mongo-uri" && (src.Secret.Name != "mongo-creds" || item.Key != "uri") {
									t.Errorf("mongo-uri: from %s/%s, want mongo-creds/uri", src.Secret.Name, item.Key)
								}
							}
						}
					}
				}
				var n int
				for _, e := range c.Env {
					if strings.HasSuffix(e.Name, "_FILE") {
						n++
						if !files[e.Value] {
							t.Errorf("%s=%s: not a mounted Secret file (have %v)", e.Name, e.Value, files)
						}
					}
				}
				if got, want := n, 2; got != want {
					t.Errorf("*_FILE variables: got %d, want %d", got, want)
				}
			},
		},
		{
			name: "extra_env_and_timeout",
			vals: map[string]any{
				"extraEnv": []any{map[string]any{"name": "BCRYPT_SALT_ROUNDS", "value": "10"}},
				"timeouts": map[string]any{"run": "30m"},
				"job":      map[string]any{"activeDeadlineSeconds": 7200},
			},
			check: func(t *testing.T, c *corev1.Container, _ *corev1.PodSpec) {
				var found bool
				for _, e := range c.Env {
					found = found || e.Name == "BCRYPT_SALT_ROUNDS" && e.Value == "10"
				}
				if !found {
					t.Errorf("env: got %v, want BCRYPT_SALT_ROUNDS=10", c.Env)
				}
				if got, want := setting(c, nil, "timeout"), "30m"; got != want {
					t.Errorf("--timeout: got %q, want %q", got, want)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vals := withTag(commit)
			maps.Copy(vals, tt.vals)
			r, err := renderChart(t, loadChart(t), vals)
			if err != nil {
				t.Fatal(err)
			}
			o := r.decode(t)
			job := o.theJob(t)
			checkJobSpec(t, &job.Spec, o.configMaps, "bootstrap:"+commit)
			tt.check(t, container(t, &job.Spec.Template.Spec, bootstrapContainer), &job.Spec.Template.Spec)
		})
	}
}

func TestChartRefusesNoProfiles(t *testing.T) {
	vals := withTag(commit)
	vals["profiles"] = []any{}
	if _, err := renderChart(t, loadChart(t), vals); err == nil || !strings.Contains(err.Error(), "profile") {
		t.Errorf("render: got error %v, want one about profiles", err)
	}
}

// serviceChart is a service's chart that depends on the bootstrap chart only
// for its initContainer template.
func serviceChart(t *testing.T) *chart.Chart {
	t.Helper()
	c := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "engine", Version: "0.1.0", Type: "application"},
		Templates: []*chart.File{{Name: "templates/deployment.yaml", Data: []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-engine
spec:
  selector:
    matchLabels:
      app: engine
  template:
    metadata:
      labels:
        app: engine
    spec:
      initContainers:
        {{- include "bootstrap.waitInitContainer" .Values.bootstrap | nindent 8 }}
      containers:
        - name: engine
          image: srvthreds/engine
`)}},
		Values: map[string]any{"bootstrap": map[string]any{"job": map[string]any{"enabled": false}}},
	}
	c.AddDependency(loadChart(t))
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestWaitInitContainerInAServiceChart(t *testing.T) {
	vals := map[string]any{"bootstrap": withTag(commit)}
	r, err := renderChart(t, serviceChart(t), vals)
	if err != nil {
		t.Fatal(err)
	}
	o := r.decode(t)
	if got := len(o.jobs); got != 0 {
		t.Errorf("Jobs: got %d, want none (job.enabled false)", got)
	}
	if got, want := len(o.deployments), 1; got != want {
		t.Fatalf("Deployments: got %d, want %d", got, want)
	}
	pod := &o.deployments[0].Spec.Template.Spec
	checkWaitInitContainer(t, pod, "bootstrap:"+commit)
	c := &pod.InitContainers[0]
	if got, want := c.Args, []string{"wait", "-p", "example-patterns", "--timeout", "10m"}; !slices.Equal(got, want) {
		t.Errorf("args: got %q, want %q", got, want)
	}
	var ref *corev1.SecretKeySelector
	for _, e := range c.Env {
		if e.Name == "BOOTSTRAP_MONGO_URI" && e.ValueFrom != nil {
			ref = e.ValueFrom.SecretKeyRef
		}
	}
	if ref == nil || ref.Name != "srvthreds-bootstrap" || ref.Key != "mongo-uri" {
		t.Errorf("BOOTSTRAP_MONGO_URI: from %+v, want the Secret srvthreds-bootstrap, key mongo-uri", ref)
	}

	t.Run("without_tag", func(t *testing.T) {
		if _, err := renderChart(t, serviceChart(t), nil); err == nil || !strings.Contains(err.Error(), "image.tag is required") {
			t.Errorf("render: got error %v, want image.tag is required", err)
		}
	})
}
