package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/yaml"
)

// policyAction is what the Job controller does with a failed pod whose
// container exited with code and that has the given conditions: the action
// of the first rule that matches, Count when none does.
func policyAction(p *batchv1.PodFailurePolicy, container string, code int32, conds ...corev1.PodConditionType) batchv1.PodFailurePolicyAction {
	for _, r := range p.Rules {
		if req := r.OnExitCodes; req != nil && code != 0 &&
			(req.ContainerName == nil || *req.ContainerName == container) &&
			slices.Contains(req.Values, code) == (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn) {
			return r.Action
		}
		for _, pat := range r.OnPodConditions {
			if slices.Contains(conds, pat.Type) && (pat.Status == "" || pat.Status == corev1.ConditionTrue) {
				return r.Action
			}
		}
	}
	return batchv1.PodFailurePolicyActionCount
}

func TestPodFailurePolicy(t *testing.T) {
	m := loadBase(t)
	specs := map[string]*batchv1.JobSpec{"job": &m.theJob(t).Spec}
	for _, cj := range m.cronJobs {
		specs["cronjob_"+cj.Name] = &cj.Spec.JobTemplate.Spec
	}
	tests := []struct {
		name  string
		code  int32
		conds []corev1.PodConditionType
		want  batchv1.PodFailurePolicyAction
	}{
		{"exit_1_internal", 1, nil, batchv1.PodFailurePolicyActionCount},
		{"exit_2_bad_command_line", 2, nil, batchv1.PodFailurePolicyActionFailJob},
		{"exit_3_invalid_profile", 3, nil, batchv1.PodFailurePolicyActionFailJob},
		{"exit_4_lock_not_acquired", 4, nil, batchv1.PodFailurePolicyActionCount},
		{"exit_5_lock_lost", 5, nil, batchv1.PodFailurePolicyActionCount},
		{"exit_6_unreachable", 6, nil, batchv1.PodFailurePolicyActionCount},
		{"exit_7_step_failed", 7, nil, batchv1.PodFailurePolicyActionCount},
		{"exit_8_stalled", 8, nil, batchv1.PodFailurePolicyActionCount},
		{"exit_130_sigint", 130, nil, batchv1.PodFailurePolicyActionCount},
		{"exit_137_killed", 137, nil, batchv1.PodFailurePolicyActionCount},
		{"exit_143_sigterm", 143, nil, batchv1.PodFailurePolicyActionCount},
		{"evicted", 143, []corev1.PodConditionType{corev1.DisruptionTarget}, batchv1.PodFailurePolicyActionIgnore},
	}
	for specName, spec := range specs {
		p := spec.PodFailurePolicy
		if p == nil {
			t.Errorf("%s: no podFailurePolicy", specName)
			continue
		}
		for _, r := range p.Rules {
			if req := r.OnExitCodes; req != nil {
				// Kubernetes' own validation of the rule.
				if !slices.IsSorted(req.Values) || len(slices.Compact(slices.Clone(req.Values))) != len(req.Values) {
					t.Errorf("%s: exit codes %v: want sorted and unique", specName, req.Values)
				}
				if req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && slices.Contains(req.Values, 0) {
					t.Errorf("%s: exit codes %v: 0 is not allowed with In", specName, req.Values)
				}
				if req.ContainerName != nil {
					container(t, &spec.Template.Spec, *req.ContainerName)
				}
			}
		}
		for _, tt := range tests {
			t.Run(specName+"/"+tt.name, func(t *testing.T) {
				if got := policyAction(p, bootstrapContainer, tt.code, tt.conds...); got != tt.want {
					t.Errorf("action: got %s, want %s", got, tt.want)
				}
			})
		}
	}
}

func TestCronJob(t *testing.T) {
	m := loadBase(t)
	job := m.theJob(t)
	if got, want := len(m.cronJobs), 1; got != want {
		t.Fatalf("CronJobs: got %d, want %d", got, want)
	}
	cj := m.cronJobs[0]
	if got, want := cj.Spec.ConcurrencyPolicy, batchv1.ForbidConcurrent; got != want {
		t.Errorf("concurrencyPolicy: got %q, want %q", got, want)
	}
	if got := len(strings.Fields(cj.Spec.Schedule)); got != 5 {
		t.Errorf("schedule %q: got %d fields, want 5", cj.Spec.Schedule, got)
	}
	spec := &cj.Spec.JobTemplate.Spec
	checkJobSpec(t, spec, m.configMaps)
	// The nightly run also repairs what drifted (--verify); otherwise its pod
	// is the Job's.
	args := spec.Template.Spec.Containers[0].Args
	if !slices.Contains(args, "--verify") {
		t.Errorf("CronJob args %q: want --verify, so that the nightly run repairs drift", args)
	}
	pod := *spec.Template.Spec.DeepCopy()
	pod.Containers[0].Args = slices.DeleteFunc(slices.Clone(args), func(a string) bool { return a == "--verify" })
	if !equality.Semantic.DeepEqual(pod, job.Spec.Template.Spec) {
		t.Error("the job template's pod spec differs from job.yaml's (but for --verify): keep them equal")
	}
	if !equality.Semantic.DeepEqual(spec.PodFailurePolicy, job.Spec.PodFailurePolicy) {
		t.Error("the job template's podFailurePolicy differs from job.yaml's: keep them equal")
	}
}

func TestDeploymentWaitsForBootstrap(t *testing.T) {
	m := loadBase(t)
	jobContainer := container(t, &m.theJob(t).Spec.Template.Spec, bootstrapContainer)
	if len(m.deployments) == 0 {
		t.Fatal("no Deployment in the base")
	}
	for _, d := range m.deployments {
		t.Run(d.Name, func(t *testing.T) {
			var waits []corev1.Container
			for _, c := range d.Spec.Template.Spec.InitContainers {
				if name, _ := imageParts(c.Image); name == bootstrapImage {
					waits = append(waits, c)
				}
			}
			if got, want := len(waits), 1; got != want {
				t.Fatalf("bootstrap initContainers: got %d, want %d", got, want)
			}
			c := &waits[0]
			if len(c.Args) == 0 || c.Args[0] != "wait" {
				t.Errorf("args: got %q, want the wait command", c.Args)
			}
			if !slices.Contains(c.Args, "-p") || !slices.Contains(c.Args, "example-patterns") {
				t.Errorf("args: got %q, want -p example-patterns", c.Args)
			}
			explicit := slices.ContainsFunc(c.Args, func(a string) bool {
				return a == "--timeout" || strings.HasPrefix(a, "--timeout=")
			})
			if !explicit {
				t.Errorf("args: got %q, want an explicit --timeout", c.Args)
			} else if d := durationSetting(t, c, m.configMaps, "timeout", 0); d <= 0 {
				t.Errorf("--timeout: got %v, want > 0", d)
			}
			if !equality.Semantic.DeepEqual(c.SecurityContext, jobContainer.SecurityContext) {
				t.Errorf("securityContext: got %+v, want the Job's %+v", c.SecurityContext, jobContainer.SecurityContext)
			}
			if c.LivenessProbe != nil || c.ReadinessProbe != nil || c.StartupProbe != nil {
				t.Error("probes on an initContainer: Kubernetes rejects them")
			}
			var uri bool
			for _, e := range c.Env {
				if e.Name == "BOOTSTRAP_MONGO_URI" || e.Name == "BOOTSTRAP_MONGO_URI_FILE" {
					uri = true
				}
			}
			if !uri {
				t.Error("no BOOTSTRAP_MONGO_URI(_FILE): wait reads the markers in MongoDB")
			}
		})
	}
}

// bootstrapContainers are every container of the base running the
// bootstrap image, named by object and container.
func bootstrapContainers(t *testing.T, m *manifests) map[string]*corev1.Container {
	t.Helper()
	cs := map[string]*corev1.Container{}
	add := func(object string, pod *corev1.PodSpec) {
		for _, list := range [][]corev1.Container{pod.InitContainers, pod.Containers} {
			for i := range list {
				if name, _ := imageParts(list[i].Image); name == bootstrapImage {
					cs[object+"/"+list[i].Name] = &list[i]
				}
			}
		}
	}
	for _, j := range m.jobs {
		add("job_"+j.Name, &j.Spec.Template.Spec)
	}
	for _, cj := range m.cronJobs {
		add("cronjob_"+cj.Name, &cj.Spec.JobTemplate.Spec.Template.Spec)
	}
	for _, d := range m.deployments {
		add("deployment_"+d.Name, &d.Spec.Template.Spec)
	}
	if got, min := len(cs), 3; got < min {
		t.Fatalf("bootstrap containers: got %d, want at least %d (Job, CronJob, initContainer)", got, min)
	}
	return cs
}

func TestBootstrapContainers(t *testing.T) {
	m := loadBase(t)
	for name, c := range bootstrapContainers(t, m) {
		t.Run(name, func(t *testing.T) {
			if _, tag := imageParts(c.Image); tag != "" {
				t.Errorf("image %q: want no tag in the base; the overlay pins the commit", c.Image)
			}
			sc := c.SecurityContext
			if sc == nil {
				t.Fatal("no securityContext")
			}
			if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
				t.Error("runAsNonRoot: want true")
			}
			if sc.RunAsUser == nil || *sc.RunAsUser != imageUID {
				t.Errorf("runAsUser: got %v, want %d", sc.RunAsUser, imageUID)
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Error("readOnlyRootFilesystem: want true")
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Error("allowPrivilegeEscalation: want false")
			}
			if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
				t.Errorf("capabilities: got %+v, want drop ALL", sc.Capabilities)
			}
			if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("seccompProfile: got %+v, want RuntimeDefault", sc.SeccompProfile)
			}
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, okReq := c.Resources.Requests[r]
				lim, okLim := c.Resources.Limits[r]
				if !okReq || !okLim {
					t.Errorf("resources %s: want a request and a limit", r)
				} else if req.Cmp(lim) > 0 {
					t.Errorf("resources %s: request %s above limit %s", r, req.String(), lim.String())
				}
			}
			for _, e := range c.Env {
				if e.Value != "" && regexp.MustCompile(`PASSWORD$|MONGO_URI$|REDIS_URL$`).MatchString(e.Name) {
					t.Errorf("env %s: a secret as a literal value; use a Secret", e.Name)
				}
			}
			for _, src := range c.EnvFrom {
				if src.ConfigMapRef != nil && m.configMaps[src.ConfigMapRef.Name] == nil {
					t.Errorf("envFrom ConfigMap %q: not in the base", src.ConfigMapRef.Name)
				}
			}
		})
	}
}

// knownVariable matches the variables the binary reads: the
// BOOTSTRAP_<FLAG> of every run flag, and the services' own variables.
var knownVariable = regexp.MustCompile(`^(BOOTSTRAP_(PROFILES_DIR|PROFILE|MONGO_URI|REDIS_URL|FORCE|RESET|DRY_RUN|` +
	`LOCK_NAME|LOCK_TTL|LOCK_WAIT|CONNECT_TIMEOUT|STALL_TIMEOUT|TIMEOUT|SHUTDOWN_GRACE|HEALTH_ADDR|BATCH_SIZE|` +
	`LOG_FORMAT|LOG_LEVEL)|MONGO_HOST|MONGO_REPLICA_SET|MONGO_DIRECT_CONNECTION|REDIS_HOST|REDIS_PASSWORD|` +
	`REDIS_USE_TLS|BCRYPT_SALT_ROUNDS)$`)

func TestConfigMap(t *testing.T) {
	m := loadBase(t)
	if len(m.configMaps) == 0 {
		t.Fatal("no ConfigMap in the base")
	}
	for _, cm := range m.configMaps {
		for key, v := range cm.Data {
			if !knownVariable.MatchString(key) {
				t.Errorf("ConfigMap %s: %s is not a variable the binary reads", cm.Name, key)
			}
			if strings.Contains(key, "PASSWORD") || regexp.MustCompile(`://[^/@]*:[^/@]*@`).MatchString(v) {
				t.Errorf("ConfigMap %s: %s looks like a secret; use the Secret", cm.Name, key)
			}
			if strings.HasSuffix(key, "_TIMEOUT") || strings.HasSuffix(key, "_TTL") || strings.HasSuffix(key, "_WAIT") ||
				strings.HasSuffix(key, "_GRACE") {
				if _, err := time.ParseDuration(v); err != nil {
					t.Errorf("ConfigMap %s: %s=%q: %v", cm.Name, key, v, err)
				}
			}
		}
	}
}

func TestOverlayPinsTheImageToACommit(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(overlayDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Namespace  string   `json:"namespace"`
		Resources  []string `json:"resources"`
		// Transformers name the job-name transformer (the Job named after
		// the tag; deploy/render builds and checks it).
		Transformers []string `json:"transformers"`
		Images       []struct {
			Name    string `json:"name"`
			NewName string `json:"newName,omitempty"`
			NewTag  string `json:"newTag,omitempty"`
			Digest  string `json:"digest,omitempty"`
		} `json:"images"`
	}
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		t.Fatal(err)
	}
	if k.Namespace == "" {
		t.Error("namespace: unset")
	}
	if !slices.Contains(k.Resources, "../../base") {
		t.Errorf("resources: got %v, want ../../base", k.Resources)
	}
	if !slices.Contains(k.Transformers, "job-name") {
		t.Errorf("transformers: got %v, want job-name (the Job named after the image tag)", k.Transformers)
	}
	var pinned bool
	for _, img := range k.Images {
		if img.Name != bootstrapImage {
			continue
		}
		pinned = true
		if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(img.NewTag) {
			t.Errorf("image %s: newTag %q, want a 40-hex git commit", img.Name, img.NewTag)
		}
	}
	if !pinned {
		t.Errorf("images: got %+v, want an entry for %q", k.Images, bootstrapImage)
	}
}
