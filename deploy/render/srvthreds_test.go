package render

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/kustomize/api/krusty"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

const (
	// The drop-in (components/ and overlays/) and a copy of srvthreds' own
	// base, written from how srvthreds runs the bootstrap today.
	srvthredsDir  = "../srvthreds/kubernetes"
	srvthredsBase = "../testdata/srvthreds/base"

	srvthredsJob       = "srvthreds-bootstrap"
	srvthredsConfigMap = "srvthreds-config"
	// srvthredsImage is the name the component gives the Job's image, which
	// each overlay maps with an images: entry; srvthredsAppImage is their
	// app's, which the Job must never run.
	srvthredsImage    = "srvthreds/bootstrap"
	srvthredsAppImage = "srvthreds:dev"
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
	return buildWith(t, dir, krusty.MakeDefaultOptions())
}

// buildUnrestricted is build with `--load-restrictor LoadRestrictionsNone`,
// which an overlay listing files outside its directory needs.
func buildUnrestricted(t *testing.T, dir string) *objects {
	t.Helper()
	opts := krusty.MakeDefaultOptions()
	opts.LoadRestrictions = kustypes.LoadRestrictionsNone
	return buildWith(t, dir, opts)
}

func buildWith(t *testing.T, dir string, opts *krusty.Options) *objects {
	t.Helper()
	m, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), dir)
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

// newTagRE finds the tag an overlay pins the bootstrap image to: the newTag
// of its images: entry named srvthreds/bootstrap.
var newTagRE = regexp.MustCompile(`(?m)^(\s*- name: srvthreds/bootstrap\n(?:\s+newName: \S+\n)?\s+newTag:\s*)(\S+)\s*$`)

// overlayImageTag returns the newTag of the bootstrap image in an overlay's
// kustomization.yaml.
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

// srvthreds' overlays, shaped like theirs (their images: entries for the app
// image, a pull-policy patch, labels, commonLabels, a prod overlay listing
// single base files), with the component: the Job runs the bootstrap image
// each overlay maps, named after its tag, pulled as the overlay says; their
// services keep their own image.
func TestSrvthredsOverlays(t *testing.T) {
	root := srvthredsTree(t)
	for _, tt := range []struct {
		overlay    string
		repository string
		pullPolicy corev1.PullPolicy
		// unrestricted: the overlay lists files outside its directory, as
		// their prod overlay does, and builds only with LoadRestrictionsNone.
		unrestricted bool
	}{
		{"minikube", srvthredsImage, corev1.PullIfNotPresent, false},
		{"dev", "srvthredsdev.azurecr.io/" + srvthredsImage, corev1.PullAlways, false},
		{"prod", "srvthredsprod.azurecr.io/" + srvthredsImage, corev1.PullIfNotPresent, true},
	} {
		t.Run(tt.overlay, func(t *testing.T) {
			dir := filepath.Join(root, "overlays", tt.overlay)
			tag := overlayImageTag(t, dir)
			o := buildOverlayOf(t, dir, tt.unrestricted)
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
			checkServicesKeepTheirImage(t, o)
			checkSrvthredsShape(t, job.Labels, job.Spec.Template.Labels, c)
			checkNoRequiredSecret(t, pod, c)
			checkSrvthredsEnv(t, c, o.configMaps)
		})
	}
}

func buildOverlayOf(t *testing.T, dir string, unrestricted bool) *objects {
	t.Helper()
	if !unrestricted {
		return build(t, dir)
	}
	// Theirs needs the flag: without it the build must fail, or the test
	// would not be of an overlay shaped like theirs.
	_, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err == nil {
		t.Errorf("%s: built without --load-restrictor LoadRestrictionsNone; want an overlay that needs it", dir)
	}
	return buildUnrestricted(t, dir)
}

// checkServicesKeepTheirImage checks that the services of the base still run
// an image of their own, however the overlay mapped it, and never the
// bootstrap's.
func checkServicesKeepTheirImage(t *testing.T, o *objects) {
	t.Helper()
	if len(o.deployments) == 0 {
		t.Fatal("no Deployment in the build: the base's srvthreds-engine is missing")
	}
	for _, d := range o.deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			if strings.Contains(c.Image, srvthredsImage) {
				t.Errorf("Deployment %s: image %q, want their app's, not the bootstrap's", d.Name, c.Image)
			}
		}
	}
}

// Their minikube overlay patches the Job's image (to srvthreds/cmd-runner):
// left in place, that patch wins over the component, which is why the README
// says to delete it. The test keeps that step honest: with the patch, the Job
// runs their image; without it, ours.
func TestSrvthredsOverlayImagePatchWins(t *testing.T) {
	root := srvthredsTree(t)
	dir := filepath.Join(root, "overlays", "minikube")
	patch := `apiVersion: batch/v1
kind: Job
metadata:
  name: srvthreds-bootstrap
  namespace: srvthreds
spec:
  template:
    spec:
      containers:
        - name: srvthreds-bootstrap
          image: srvthreds/cmd-runner:latest
`
	if err := os.WriteFile(filepath.Join(dir, "srvthreds-bootstrap.yaml"), []byte(patch), 0o644); err != nil {
		t.Fatal(err)
	}
	kust := filepath.Join(dir, "kustomization.yaml")
	data, err := os.ReadFile(kust)
	if err != nil {
		t.Fatal(err)
	}
	withPatch := strings.Replace(string(data), "  - path: configmap-minikube.yaml\n",
		"  - path: configmap-minikube.yaml\n  - path: srvthreds-bootstrap.yaml\n", 1)
	if withPatch == string(data) {
		t.Fatal("minikube overlay: no patches: entry to extend")
	}
	if err := os.WriteFile(kust, []byte(withPatch), 0o644); err != nil {
		t.Fatal(err)
	}
	c := container(t, &build(t, dir).theJob(t).Spec.Template.Spec, srvthredsJob)
	if got, want := c.Image, "srvthreds/cmd-runner:latest"; got != want {
		t.Errorf("with their image patch: Job image %q, want %q (the README's step to delete it is then moot)", got, want)
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
