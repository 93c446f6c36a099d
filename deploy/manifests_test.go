package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const (
	baseDir    = "kubernetes/base"
	overlayDir = "kubernetes/overlays/example"

	bootstrapImage     = "bootstrap"
	bootstrapContainer = "bootstrap"
	healthPort         = 8081
	imageUID           = 65532

	// The binary's defaults, used when neither an argument nor
	// the environment sets the flag.
	defaultTimeout       = 15 * time.Minute
	defaultShutdownGrace = 10 * time.Second
)

// manifests are the decoded objects of the kustomize base, by kind.
type manifests struct {
	jobs        []*batchv1.Job
	cronJobs    []*batchv1.CronJob
	deployments []*appsv1.Deployment
	configMaps  map[string]*corev1.ConfigMap
}

// splitDocuments splits a multi-document YAML stream on its "---" lines and
// drops the documents that hold nothing but comments.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	for _, doc := range regexp.MustCompile(`(?m)^---[ \t]*$`).Split(string(data), -1) {
		var content bool
		for _, line := range strings.Split(doc, "\n") {
			if s := strings.TrimSpace(line); s != "" && !strings.HasPrefix(s, "#") {
				content = true
				break
			}
		}
		if content {
			docs = append(docs, []byte(doc))
		}
	}
	return docs
}

// decodeStrict decodes one manifest into the k8s.io/api type of its kind,
// rejecting unknown and duplicate fields, and adds it to m.
func (m *manifests) decodeStrict(doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	var (
		obj            any
		wantAPIVersion string
		add            func()
	)
	switch tm.Kind {
	case "Job":
		o := new(batchv1.Job)
		obj, wantAPIVersion, add = o, "batch/v1", func() { m.jobs = append(m.jobs, o) }
	case "CronJob":
		o := new(batchv1.CronJob)
		obj, wantAPIVersion, add = o, "batch/v1", func() { m.cronJobs = append(m.cronJobs, o) }
	case "Deployment":
		o := new(appsv1.Deployment)
		obj, wantAPIVersion, add = o, "apps/v1", func() { m.deployments = append(m.deployments, o) }
	case "ConfigMap":
		o := new(corev1.ConfigMap)
		obj, wantAPIVersion, add = o, "v1", func() { m.configMaps[o.Name] = o }
	default:
		return &unexpectedKindError{kind: tm.Kind}
	}
	if tm.APIVersion != wantAPIVersion {
		return &unexpectedKindError{kind: tm.APIVersion + " " + tm.Kind}
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return err
	}
	add()
	return nil
}

type unexpectedKindError struct{ kind string }

func (e *unexpectedKindError) Error() string { return "unexpected kind " + e.kind }

// baseFiles lists the manifest files of the base (every YAML file except
// kustomization.yaml).
func baseFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"*.yaml", "*.yml"} {
		matches, err := filepath.Glob(filepath.Join(baseDir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range matches {
			if filepath.Base(f) != "kustomization.yaml" {
				files = append(files, f)
			}
		}
	}
	if len(files) == 0 {
		t.Fatalf("no manifests under %s", baseDir)
	}
	return files
}

// loadBase decodes every manifest of the base strictly.
func loadBase(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{configMaps: map[string]*corev1.ConfigMap{}}
	for _, f := range baseFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range splitDocuments(data) {
			if err := m.decodeStrict(doc); err != nil {
				t.Fatalf("%s, document %d: %v", f, i+1, err)
			}
		}
	}
	return m
}

// theJob is the base's one Job.
func (m *manifests) theJob(t *testing.T) *batchv1.Job {
	t.Helper()
	if got, want := len(m.jobs), 1; got != want {
		t.Fatalf("Jobs in the base: got %d, want %d", got, want)
	}
	return m.jobs[0]
}

// container returns the named container of a pod spec.
func container(t *testing.T, spec *corev1.PodSpec, name string) *corev1.Container {
	t.Helper()
	for i := range spec.Containers {
		if spec.Containers[i].Name == name {
			return &spec.Containers[i]
		}
	}
	t.Fatalf("no container %q", name)
	return nil
}

// setting is the value a flag of the binary takes in a container: its
// argument (--flag v or --flag=v), else the BOOTSTRAP_<FLAG> variable of
// env (which wins over envFrom, as in Kubernetes), else of the ConfigMaps of
// envFrom, else "".
func setting(c *corev1.Container, cms map[string]*corev1.ConfigMap, flag string) string {
	for i, arg := range c.Args {
		if arg == "--"+flag && i+1 < len(c.Args) {
			return c.Args[i+1]
		}
		if v, ok := strings.CutPrefix(arg, "--"+flag+"="); ok {
			return v
		}
	}
	name := "BOOTSTRAP_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	var v string
	for _, src := range c.EnvFrom {
		if src.ConfigMapRef == nil {
			continue
		}
		key, ok := strings.CutPrefix(name, src.Prefix)
		if cm := cms[src.ConfigMapRef.Name]; ok && cm != nil {
			if x, ok := cm.Data[key]; ok {
				v = x // a later source wins
			}
		}
	}
	return v
}

// durationSetting parses setting, def when unset.
func durationSetting(t *testing.T, c *corev1.Container, cms map[string]*corev1.ConfigMap, flag string, def time.Duration) time.Duration {
	t.Helper()
	v := setting(c, cms, flag)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("container %s: --%s %q: %v", c.Name, flag, v, err)
	}
	return d
}

// imageParts splits an image reference into its name and tag.
func imageParts(image string) (name, tag string) {
	name, _, _ = strings.Cut(image, "@")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		return name[:i], name[i+1:]
	}
	return name, ""
}

func TestBaseKustomizationListsEveryManifest(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(baseDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
	}
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		t.Fatal(err)
	}
	if got, want := k.Kind, "Kustomization"; got != want {
		t.Errorf("kind: got %q, want %q", got, want)
	}
	var want []string
	for _, f := range baseFiles(t) {
		want = append(want, filepath.Base(f))
	}
	got := slices.Clone(k.Resources)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("resources: got %v, want every manifest of the directory %v", got, want)
	}
}

func TestDecodeStrictRejects(t *testing.T) {
	tests := []struct {
		name string
		doc  string
	}{
		{"unknown_field", "apiVersion: batch/v1\nkind: Job\nspec:\n  backofLimit: 3\n"},
		{"duplicate_field", "apiVersion: v1\nkind: ConfigMap\ndata: {}\ndata: {}\n"},
		{"unknown_kind", "apiVersion: v1\nkind: Secret\n"},
		{"wrong_api_version", "apiVersion: batch/v1beta1\nkind: CronJob\n"},
		{"wrong_type", "apiVersion: batch/v1\nkind: Job\nspec:\n  backoffLimit: four\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &manifests{configMaps: map[string]*corev1.ConfigMap{}}
			if err := m.decodeStrict([]byte(tt.doc)); err == nil {
				t.Errorf("decodeStrict(%q): got nil error, want one", tt.doc)
			}
		})
	}
}

func TestSplitDocuments(t *testing.T) {
	data := []byte("# header\n---\na: 1\n---\n# only a comment\n---\nb: 2\n")
	got := splitDocuments(data)
	if len(got) != 2 || !bytes.Contains(got[0], []byte("a: 1")) || !bytes.Contains(got[1], []byte("b: 2")) {
		t.Errorf("splitDocuments: got %q, want the documents a and b", got)
	}
}

func TestBaseHasEveryKind(t *testing.T) {
	m := loadBase(t)
	m.theJob(t)
	for _, c := range []struct {
		kind string
		n    int
	}{
		{"CronJob", len(m.cronJobs)},
		{"Deployment", len(m.deployments)},
		{"ConfigMap", len(m.configMaps)},
	} {
		if c.n == 0 {
			t.Errorf("no %s in the base", c.kind)
		}
	}
}

func TestJob(t *testing.T) {
	m := loadBase(t)
	job := m.theJob(t)
	if got, want := job.Name, "srvthreds-bootstrap"; got != want {
		t.Errorf("name: got %q, want %q", got, want)
	}
	checkJobSpec(t, &job.Spec, m.configMaps)
}

// checkJobSpec checks the fields a bootstrap Job must have (also the
// CronJob's job template).
func checkJobSpec(t *testing.T, spec *batchv1.JobSpec, cms map[string]*corev1.ConfigMap) {
	t.Helper()
	if spec.TTLSecondsAfterFinished == nil || *spec.TTLSecondsAfterFinished <= 0 {
		t.Errorf("ttlSecondsAfterFinished: got %v, want > 0", spec.TTLSecondsAfterFinished)
	}
	if spec.BackoffLimit == nil || *spec.BackoffLimit < 1 {
		t.Errorf("backoffLimit: got %v, want >= 1 (exit codes 1, 4-8 are retried)", spec.BackoffLimit)
	}
	pod := &spec.Template.Spec
	if got, want := pod.RestartPolicy, corev1.RestartPolicyNever; got != want {
		t.Errorf("restartPolicy: got %q, want %q (required by podFailurePolicy)", got, want)
	}
	c := container(t, pod, bootstrapContainer)
	// The CronJob adds --verify (checked by TestCronJob).
	args := slices.DeleteFunc(slices.Clone(c.Args), func(a string) bool { return a == "--verify" })
	if got, want := args, []string{"run", "-p", "example-patterns"}; !slices.Equal(got, want) {
		t.Errorf("args: got %q, want %q", got, want)
	}

	timeout := durationSetting(t, c, cms, "timeout", defaultTimeout)
	grace := durationSetting(t, c, cms, "shutdown-grace", defaultShutdownGrace)
	if spec.ActiveDeadlineSeconds == nil {
		t.Error("activeDeadlineSeconds: unset")
	} else if got, min := time.Duration(*spec.ActiveDeadlineSeconds)*time.Second, timeout+grace; got <= min {
		t.Errorf("activeDeadlineSeconds: got %v, want more than --timeout + --shutdown-grace (%v)", got, min)
	}
	if pod.TerminationGracePeriodSeconds == nil {
		t.Error("terminationGracePeriodSeconds: unset")
	} else if got := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second; got <= grace {
		t.Errorf("terminationGracePeriodSeconds: got %v, want more than --shutdown-grace (%v)", got, grace)
	}

	p := c.LivenessProbe
	if p == nil || p.HTTPGet == nil {
		t.Fatalf("livenessProbe: got %+v, want an httpGet", p)
	}
	if got, want := p.HTTPGet.Path, "/livez"; got != want {
		t.Errorf("livenessProbe path: got %q, want %q", got, want)
	}
	if got, want := probePort(t, c, p), int32(healthPort); got != want {
		t.Errorf("livenessProbe port: got %d, want %d", got, want)
	}
	if got := setting(c, cms, "health-addr"); got != "" && got != ":8081" {
		t.Errorf("--health-addr: got %q, want the probe's port :8081", got)
	}
	checkSecretFiles(t, pod, c)
}

// probePort resolves the probe's port, by number or by the container port's
// name.
func probePort(t *testing.T, c *corev1.Container, p *corev1.Probe) int32 {
	t.Helper()
	port := p.HTTPGet.Port
	if port.StrVal == "" {
		return port.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == port.StrVal {
			return cp.ContainerPort
		}
	}
	t.Fatalf("probe port %q: no container port of that name", port.StrVal)
	return 0
}

// checkSecretFiles checks that every *_FILE variable names a file of a
// mounted Secret volume.
func checkSecretFiles(t *testing.T, pod *corev1.PodSpec, c *corev1.Container) {
	t.Helper()
	files := map[string]bool{}
	for _, vm := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name != vm.Name || v.Secret == nil {
				continue
			}
			for _, item := range v.Secret.Items {
				files[filepath.Join(vm.MountPath, item.Path)] = true
			}
		}
	}
	var n int
	for _, e := range c.Env {
		if !strings.HasSuffix(e.Name, "_FILE") {
			continue
		}
		n++
		if !files[e.Value] {
			t.Errorf("%s=%s: not a file of a mounted Secret (have %v)", e.Name, e.Value, files)
		}
	}
	if n == 0 {
		t.Errorf("container %s: no secret read from a *_FILE variable", c.Name)
	}
}
