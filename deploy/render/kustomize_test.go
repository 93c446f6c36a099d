package render

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

const overlayDir = "../kubernetes/overlays/example"

// overlayTag is the commit the overlay pins the bootstrap image to.
func overlayTag(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(overlayDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Images []struct {
			Name   string `json:"name"`
			NewTag string `json:"newTag"`
		} `json:"images"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		t.Fatal(err)
	}
	for _, img := range k.Images {
		if img.Name == "bootstrap" {
			if !commitTag.MatchString(img.NewTag) {
				t.Fatalf("overlay newTag %q: want a 40-hex git commit", img.NewTag)
			}
			return img.NewTag
		}
	}
	t.Fatal("the overlay sets no tag for the bootstrap image")
	return ""
}

// buildOverlay runs `kustomize build` on the overlay and decodes every object
// strictly.
func buildOverlay(t *testing.T) *objects {
	t.Helper()
	dir, err := filepath.Abs(overlayDir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", overlayDir, err)
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

func TestOverlay(t *testing.T) {
	image := "bootstrap:" + overlayTag(t)
	o := buildOverlay(t)

	for i, ns := range o.namespaces {
		if ns != "srvthreds" {
			t.Errorf("object %d: namespace %q, want srvthreds", i, ns)
		}
	}
	job := o.theJob(t)
	if got, want := job.Name, "srvthreds-bootstrap-"+overlayTag(t); got != want {
		t.Errorf("Job name: got %q, want %q (named after the image tag)", got, want)
	}
	checkJobSpec(t, &job.Spec, o.configMaps, image)

	if got, want := len(o.cronJobs), 1; got != want {
		t.Fatalf("CronJobs: got %d, want %d", got, want)
	}
	cj := o.cronJobs[0]
	if got, want := string(cj.Spec.ConcurrencyPolicy), "Forbid"; got != want {
		t.Errorf("CronJob concurrencyPolicy: got %q, want %q", got, want)
	}
	checkJobSpec(t, &cj.Spec.JobTemplate.Spec, o.configMaps, image)

	if got, want := len(o.deployments), 1; got != want {
		t.Fatalf("Deployments: got %d, want %d", got, want)
	}
	checkWaitInitContainer(t, &o.deployments[0].Spec.Template.Spec, image)

	for _, c := range append(job.Spec.Template.Spec.Containers, o.deployments[0].Spec.Template.Spec.InitContainers...) {
		for _, src := range c.EnvFrom {
			if src.ConfigMapRef != nil && o.configMaps[src.ConfigMapRef.Name] == nil {
				t.Errorf("container %s: envFrom ConfigMap %q is not in the build", c.Name, src.ConfigMapRef.Name)
			}
		}
	}
}
