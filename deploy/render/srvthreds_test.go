package render

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

const (
	// The drop-in (components/ and overlays/) and a copy of srvthreds' own
	// base, written from how srvthreds runs the bootstrap today.
	srvthredsDir  = "../srvthreds/kubernetes"
	srvthredsBase = "../testdata/srvthreds/base"

	srvthredsJob       = "srvthreds-bootstrap"
	srvthredsImage     = "srvthreds/cmd-runner"
	srvthredsConfigMap = "srvthreds-config"
)

// srvthredsTree lays out srvthreds' kustomize tree in a temporary directory:
// their base, and our components/ and overlays/ beside it, as an operator
// drops them in. It returns the tree's root.
func srvthredsTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	copyDir(t, srvthredsBase, filepath.Join(root, "base"))
	copyDir(t, srvthredsDir, root)
	return root
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// build runs `kustomize build` on dir and decodes every object strictly.
func build(t *testing.T, dir string) *objects {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	o := newObjects()
	for _, r := range m.Resources() {
		doc, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		if err := o.add(doc); err != nil {
			t.Fatalf("%s %s: %v", r.GetKind(), r.GetName(), err)
		}
	}
	return o
}

// newTagRE finds the tag an overlay pins the image to.
var newTagRE = regexp.MustCompile(`(?m)^(\s+newTag:\s*)(\S+)\s*$`)

// overlayImageTag returns the newTag of an overlay's kustomization.yaml.
func overlayImageTag(t *testing.T, overlay string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(overlay, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := newTagRE.FindSubmatch(data)
	if m == nil {
		t.Fatalf("%s: no newTag", overlay)
	}
	return string(m[2])
}

// setOverlayImageTag rewrites the newTag of an overlay, as
// `kustomize edit set image` does in CI.
func setOverlayImageTag(t *testing.T, overlay, tag string) {
	t.Helper()
	path := filepath.Join(overlay, "kustomization.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !newTagRE.Match(data) {
		t.Fatalf("%s: no newTag", path)
	}
	if err := os.WriteFile(path, newTagRE.ReplaceAll(data, []byte("${1}"+tag)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSrvthredsOverlays(t *testing.T) {
	root := srvthredsTree(t)
	for _, tt := range []struct {
		overlay    string
		repository string
		pullPolicy corev1.PullPolicy
	}{
		{"minikube", srvthredsImage, corev1.PullNever},
		{"dev", "srvthredsdev.azurecr.io/" + srvthredsImage, ""},
		{"prod", "srvthredsprod.azurecr.io/" + srvthredsImage, ""},
	} {
		t.Run(tt.overlay, func(t *testing.T) {
			dir := filepath.Join(root, "overlays", tt.overlay)
			tag := overlayImageTag(t, dir)
			o := build(t, dir)
			for i, ns := range o.namespaces {
				if ns != "srvthreds" {
					t.Errorf("object %d: namespace %q, want srvthreds", i, ns)
				}
			}
			job := o.theJob(t)
			if got, want := job.Name, srvthredsJob+"-"+tag; got != want {
				t.Errorf("Job name: got %q, want %q (named after the image tag)", got, want)
			}
			checkJob(t, &job.Spec, o.configMaps, jobWant{
				image: tt.repository + ":" + tag, container: srvthredsJob, profile: "ef-detection",
			})
			pod := &job.Spec.Template.Spec
			c := container(t, pod, srvthredsJob)
			if got := c.ImagePullPolicy; got != tt.pullPolicy {
				t.Errorf("imagePullPolicy: got %q, want %q", got, tt.pullPolicy)
			}
			checkSrvthredsShape(t, job.Labels, job.Spec.Template.Labels, c)
			checkNoRequiredSecret(t, pod, c)
			checkSrvthredsEnv(t, c, o.configMaps)
		})
	}
}

// checkSrvthredsShape checks what the drop-in keeps of srvthreds' Job: the
// labels and the resources.
func checkSrvthredsShape(t *testing.T, jobLabels, podLabels map[string]string, c *corev1.Container) {
	t.Helper()
	for what, labels := range map[string]map[string]string{"Job": jobLabels, "pod": podLabels} {
		if got, want := labels["app"], srvthredsJob; got != want {
			t.Errorf("%s label app: got %q, want %q", what, got, want)
		}
	}
	for _, r := range []struct {
		name       corev1.ResourceName
		list       corev1.ResourceList
		want, kind string
	}{
		{corev1.ResourceMemory, c.Resources.Requests, "128Mi", "request"},
		{corev1.ResourceCPU, c.Resources.Requests, "100m", "request"},
		{corev1.ResourceMemory, c.Resources.Limits, "256Mi", "limit"},
		{corev1.ResourceCPU, c.Resources.Limits, "200m", "limit"},
	} {
		if got, want := r.list[r.name], resource.MustParse(r.want); got.Cmp(want) != 0 {
			t.Errorf("%s %s: got %s, want srvthreds' %s", r.name, r.kind, got.String(), r.want)
		}
	}
}

// checkNoRequiredSecret checks that the pod starts without any Secret: every
// Secret it refers to is optional.
func checkNoRequiredSecret(t *testing.T, pod *corev1.PodSpec, c *corev1.Container) {
	t.Helper()
	for _, src := range c.EnvFrom {
		if r := src.SecretRef; r != nil && (r.Optional == nil || !*r.Optional) {
			t.Errorf("envFrom Secret %q: required, want optional: true", r.Name)
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			if r := e.ValueFrom.SecretKeyRef; r.Optional == nil || !*r.Optional {
				t.Errorf("env %s from Secret %q: required, want optional: true", e.Name, r.Name)
			}
		}
	}
	for _, v := range pod.Volumes {
		if s := v.Secret; s != nil && (s.Optional == nil || !*s.Optional) {
			t.Errorf("volume %s from Secret %q: required, want optional: true", v.Name, s.SecretName)
		}
		if v.Projected != nil {
			t.Errorf("volume %s: projected, want no Secret volume", v.Name)
		}
	}
}

// checkSrvthredsEnv checks that the container reads srvthreds-config, and
// that nothing in its own environment takes precedence over the services'
// MONGO_HOST and REDIS_HOST (BOOTSTRAP_MONGO_URI, BOOTSTRAP_REDIS_URL and
// their _FILE forms would).
func checkSrvthredsEnv(t *testing.T, c *corev1.Container, cms map[string]*corev1.ConfigMap) {
	t.Helper()
	var reads bool
	for _, src := range c.EnvFrom {
		if r := src.ConfigMapRef; r != nil && r.Name == srvthredsConfigMap {
			reads = true
			if src.Prefix != "" {
				t.Errorf("envFrom %s: prefix %q, want none", r.Name, src.Prefix)
			}
		}
	}
	if !reads {
		t.Fatalf("envFrom: got %+v, want the ConfigMap %s", c.EnvFrom, srvthredsConfigMap)
	}
	cm := cms[srvthredsConfigMap]
	if cm == nil {
		t.Fatalf("ConfigMap %s: not in the build", srvthredsConfigMap)
	}
	for _, k := range []string{"MONGO_HOST", "REDIS_HOST", "REDIS_USE_TLS", "MONGO_DIRECT_CONNECTION"} {
		if cm.Data[k] == "" {
			t.Errorf("ConfigMap %s: no %s", cm.Name, k)
		}
	}
	overriding := []string{"BOOTSTRAP_MONGO_URI", "BOOTSTRAP_MONGO_URI_FILE", "BOOTSTRAP_REDIS_URL", "BOOTSTRAP_REDIS_URL_FILE",
		"MONGO_HOST", "REDIS_HOST"}
	for _, e := range c.Env {
		if slices.Contains(overriding, e.Name) {
			t.Errorf("env %s: set by the Job, want MONGO_HOST/REDIS_HOST from %s", e.Name, srvthredsConfigMap)
		}
	}
}

// Applying the overlay after a new build creates a new Job: the Job's name
// carries the image tag, and stays a valid Job name.
func TestSrvthredsJobNameFollowsImageTag(t *testing.T) {
	names := map[string]string{}
	for _, tag := range []string{"4f1c2d9", "0123456789abcdef0123456789abcdef01234567"} {
		root := srvthredsTree(t)
		dir := filepath.Join(root, "overlays", "minikube")
		setOverlayImageTag(t, dir, tag)
		job := build(t, dir).theJob(t)
		if got, want := job.Name, srvthredsJob+"-"+tag; got != want {
			t.Errorf("tag %s: Job name %q, want %q", tag, got, want)
		}
		// The Job controller puts the name in a label of its pods: a DNS
		// label, at most 63 characters.
		if errs := validation.IsDNS1123Label(job.Name); len(errs) > 0 {
			t.Errorf("Job name %q: %v", job.Name, errs)
		}
		names[job.Name] = tag
	}
	if got, want := len(names), 2; got != want {
		t.Errorf("Job names for two image tags: got %d distinct (%v), want %d", got, names, want)
	}
}
