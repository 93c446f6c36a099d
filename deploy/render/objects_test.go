package render

import (
	"fmt"
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
	bootstrapContainer = "bootstrap"
	healthPort         = 8081
	imageUID           = 65532

	// The binary's defaults, when nothing sets the flag.
	defaultTimeout       = 15 * time.Minute
	defaultShutdownGrace = 10 * time.Second
)

// commitTag matches a full git commit, the only tag an image may have.
var commitTag = regexp.MustCompile(`^[0-9a-f]{40}$`)

// objects are rendered objects decoded by kind.
type objects struct {
	jobs        []*batchv1.Job
	cronJobs    []*batchv1.CronJob
	deployments []*appsv1.Deployment
	configMaps  map[string]*corev1.ConfigMap
	pods        []*corev1.Pod
	accounts    []*corev1.ServiceAccount
	namespaces  []string // of every namespaced object, in order
	nsObjects   []string // names of the Namespace objects
}

func newObjects() *objects {
	return &objects{configMaps: map[string]*corev1.ConfigMap{}}
}

// add decodes one rendered object into the k8s.io/api type of its kind,
// rejecting unknown and duplicate fields.
func (o *objects) add(doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	var (
		obj  metav1.Object
		want string
		keep func()
	)
	switch tm.Kind {
	case "Job":
		x := new(batchv1.Job)
		obj, want, keep = x, "batch/v1", func() { o.jobs = append(o.jobs, x) }
	case "CronJob":
		x := new(batchv1.CronJob)
		obj, want, keep = x, "batch/v1", func() { o.cronJobs = append(o.cronJobs, x) }
	case "Deployment":
		x := new(appsv1.Deployment)
		obj, want, keep = x, "apps/v1", func() { o.deployments = append(o.deployments, x) }
	case "ConfigMap":
		x := new(corev1.ConfigMap)
		obj, want, keep = x, "v1", func() { o.configMaps[x.Name] = x }
	case "Pod":
		x := new(corev1.Pod)
		obj, want, keep = x, "v1", func() { o.pods = append(o.pods, x) }
	case "Namespace":
		// Cluster-scoped: its own name, no namespace.
		x := new(corev1.Namespace)
		if err := strictKind(doc, x, tm, "v1"); err != nil {
			return err
		}
		o.nsObjects = append(o.nsObjects, x.Name)
		return nil
	case "ServiceAccount":
		x := new(corev1.ServiceAccount)
		obj, want, keep = x, "v1", func() { o.accounts = append(o.accounts, x) }
	default:
		return fmt.Errorf("unexpected kind %q", tm.Kind)
	}
	if err := strictKind(doc, obj, tm, want); err != nil {
		return err
	}
	o.namespaces = append(o.namespaces, obj.GetNamespace())
	keep()
	return nil
}

// strictKind decodes doc into obj, rejecting unknown and duplicate fields and
// an apiVersion other than want.
func strictKind(doc []byte, obj any, tm metav1.TypeMeta, want string) error {
	if tm.APIVersion != want {
		return fmt.Errorf("%s: apiVersion %q, want %q", tm.Kind, tm.APIVersion, want)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return fmt.Errorf("%s: %w", tm.Kind, err)
	}
	return nil
}

// theJob is the one Job.
func (o *objects) theJob(t *testing.T) *batchv1.Job {
	t.Helper()
	if got, want := len(o.jobs), 1; got != want {
		t.Fatalf("Jobs: got %d, want %d", got, want)
	}
	return o.jobs[0]
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

// setting is the value of a flag of the binary in a container: its argument,
// else BOOTSTRAP_<FLAG> from env, else from the ConfigMaps of envFrom.
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
				v = x
			}
		}
	}
	return v
}

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

// checkJobSpec checks the fields a bootstrap Job must have, running
// image, with the container and profile of this repository's files.
func checkJobSpec(t *testing.T, spec *batchv1.JobSpec, cms map[string]*corev1.ConfigMap, image string) {
	t.Helper()
	checkJob(t, spec, cms, jobWant{image: image, container: bootstrapContainer, profile: "example-patterns"})
}

// jobWant is what checkJob expects of a bootstrap Job.
type jobWant struct {
	image     string
	container string // the bootstrap container's name
	profile   string // one of the profiles it runs
}

// checkJob checks the fields a bootstrap Job must have.
func checkJob(t *testing.T, spec *batchv1.JobSpec, cms map[string]*corev1.ConfigMap, want jobWant) {
	t.Helper()
	if spec.TTLSecondsAfterFinished == nil || *spec.TTLSecondsAfterFinished <= 0 {
		t.Errorf("ttlSecondsAfterFinished: got %v, want > 0", spec.TTLSecondsAfterFinished)
	}
	if spec.BackoffLimit == nil || *spec.BackoffLimit < 1 {
		t.Errorf("backoffLimit: got %v, want >= 1", spec.BackoffLimit)
	}
	pod := &spec.Template.Spec
	if got, want := pod.RestartPolicy, corev1.RestartPolicyNever; got != want {
		t.Errorf("restartPolicy: got %q, want %q (required by podFailurePolicy)", got, want)
	}
	checkPodFailurePolicy(t, spec.PodFailurePolicy, want.container)

	c := container(t, pod, want.container)
	if got := c.Image; got != want.image {
		t.Errorf("image: got %q, want %q", got, want.image)
	}
	if len(c.Command) != 0 {
		t.Errorf("command: got %q, want none (the image's entrypoint)", c.Command)
	}
	if len(c.Args) == 0 || c.Args[0] != "run" || !slices.Contains(c.Args, want.profile) {
		t.Errorf("args: got %q, want run -p %s", c.Args, want.profile)
	}
	if got, want := c.TerminationMessagePolicy, corev1.TerminationMessageFallbackToLogsOnError; got != want {
		t.Errorf("terminationMessagePolicy: got %q, want %q", got, want)
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
	port := p.HTTPGet.Port.IntVal
	for _, cp := range c.Ports {
		if p.HTTPGet.Port.StrVal != "" && cp.Name == p.HTTPGet.Port.StrVal {
			port = cp.ContainerPort
		}
	}
	if got, want := port, int32(healthPort); got != want {
		t.Errorf("livenessProbe port: got %d, want %d", got, want)
	}
	checkContainer(t, c, pod)
}

// checkPodFailurePolicy checks the rules: Ignore on DisruptionTarget first,
// FailJob on exactly 2 and 3, the rest counted.
func checkPodFailurePolicy(t *testing.T, p *batchv1.PodFailurePolicy, containerName string) {
	t.Helper()
	if p == nil || len(p.Rules) == 0 {
		t.Fatal("podFailurePolicy: none")
	}
	first := p.Rules[0]
	if first.Action != batchv1.PodFailurePolicyActionIgnore || len(first.OnPodConditions) != 1 ||
		first.OnPodConditions[0].Type != corev1.DisruptionTarget {
		t.Errorf("podFailurePolicy first rule: got %+v, want Ignore on DisruptionTarget", first)
	}
	var failJob []int32
	for _, r := range p.Rules {
		if r.Action == batchv1.PodFailurePolicyActionFailJob {
			if r.OnExitCodes == nil || r.OnExitCodes.Operator != batchv1.PodFailurePolicyOnExitCodesOpIn {
				t.Errorf("podFailurePolicy FailJob rule: got %+v, want onExitCodes In", r)
				continue
			}
			failJob = append(failJob, r.OnExitCodes.Values...)
		}
		if r.OnExitCodes != nil && r.OnExitCodes.ContainerName != nil && *r.OnExitCodes.ContainerName != containerName {
			t.Errorf("podFailurePolicy rule %+v: containerName %q, want %q", r, *r.OnExitCodes.ContainerName, containerName)
		}
	}
	if got, want := failJob, []int32{2, 3}; !slices.Equal(got, want) {
		t.Errorf("podFailurePolicy FailJob exit codes: got %v, want %v", got, want)
	}
}

// checkContainer checks the securityContext and resources of a container
// running the bootstrap image.
func checkContainer(t *testing.T, c *corev1.Container, pod *corev1.PodSpec) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil {
		t.Fatalf("container %s: no securityContext", c.Name)
	}
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("container %s: runAsNonRoot: want true", c.Name)
	}
	if sc.RunAsUser == nil || *sc.RunAsUser != imageUID {
		t.Errorf("container %s: runAsUser: got %v, want %d", c.Name, sc.RunAsUser, imageUID)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("container %s: readOnlyRootFilesystem: want true", c.Name)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container %s: allowPrivilegeEscalation: want false", c.Name)
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container %s: capabilities: got %+v, want drop ALL", c.Name, sc.Capabilities)
	}
	seccomp := sc.SeccompProfile
	if seccomp == nil && pod.SecurityContext != nil {
		seccomp = pod.SecurityContext.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("container %s: seccompProfile: got %+v, want RuntimeDefault", c.Name, seccomp)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[r]
		lim, okLim := c.Resources.Limits[r]
		if !okReq || !okLim {
			t.Errorf("container %s: resources %s: want a request and a limit", c.Name, r)
		} else if req.Cmp(lim) > 0 {
			t.Errorf("container %s: resources %s: request %s above limit %s", c.Name, r, req.String(), lim.String())
		}
	}
	for _, e := range c.Env {
		if e.Value != "" && regexp.MustCompile(`PASSWORD$|MONGO_URI$|REDIS_URL$`).MatchString(e.Name) {
			t.Errorf("container %s: env %s: a secret as a literal value", c.Name, e.Name)
		}
	}
}

// checkWaitInitContainer checks an initContainer that runs `bootstrap wait`
// with image.
func checkWaitInitContainer(t *testing.T, pod *corev1.PodSpec, image string) {
	t.Helper()
	var waits []*corev1.Container
	for i := range pod.InitContainers {
		if c := &pod.InitContainers[i]; len(c.Args) > 0 && c.Args[0] == "wait" {
			waits = append(waits, c)
		}
	}
	if got, want := len(waits), 1; got != want {
		t.Fatalf("initContainers running wait: got %d, want %d", got, want)
	}
	c := waits[0]
	if got := c.Image; got != image {
		t.Errorf("initContainer image: got %q, want %q", got, image)
	}
	if !slices.Contains(c.Args, "-p") || !slices.Contains(c.Args, "example-patterns") {
		t.Errorf("initContainer args: got %q, want -p example-patterns", c.Args)
	}
	if d := durationSetting(t, c, nil, "timeout", 0); d <= 0 || !slices.Contains(c.Args, "--timeout") {
		t.Errorf("initContainer args: got %q, want an explicit --timeout", c.Args)
	}
	if c.LivenessProbe != nil || c.ReadinessProbe != nil || c.StartupProbe != nil {
		t.Error("initContainer: probes, which Kubernetes rejects on initContainers")
	}
	checkContainer(t, c, pod)
}
