package deploy

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/conn"
	yamlv3 "go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// dropInService is the Compose format of the drop-in service; decoding with
// KnownFields rejects anything else.
type dropInService struct {
	Image           string   `yaml:"image"`
	Entrypoint      []string `yaml:"entrypoint"`
	Command         []string `yaml:"command"`
	Restart         string   `yaml:"restart"`
	Profiles        []string `yaml:"profiles"`
	Networks        []string `yaml:"networks"`
	Environment     []string `yaml:"environment"`
	StopGracePeriod string   `yaml:"stop_grace_period"`
	User            string   `yaml:"user"`
	ReadOnly        bool     `yaml:"read_only"`
	Tmpfs           []string `yaml:"tmpfs"`
	CapDrop         []string `yaml:"cap_drop"`
	SecurityOpt     []string `yaml:"security_opt"`
}

func TestSrvthredsComposeService(t *testing.T) {
	data, err := os.ReadFile(dropInCompose)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]dropInService `yaml:"services"`
	}
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("%s: %v", dropInCompose, err)
	}
	if got := len(c.Services); got != 1 {
		t.Fatalf("services: got %d, want only srvthreds-bootstrap", got)
	}
	s, ok := c.Services["srvthreds-bootstrap"]
	if !ok {
		t.Fatal("no service srvthreds-bootstrap")
	}
	var root yamlv3.Node
	if err := yamlv3.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	if n := lookup(&root, "services", "srvthreds-bootstrap", "restart"); n == nil || n.Value != "no" ||
		n.Style&(yamlv3.DoubleQuotedStyle|yamlv3.SingleQuotedStyle) == 0 {
		t.Error(`restart: want the quoted string 'no'`)
	}
	if !slices.Equal(s.Profiles, []string{"app"}) || !slices.Equal(s.Networks, []string{"srvthreds-net"}) {
		t.Errorf("profiles %q, networks %q: want [app] and [srvthreds-net]", s.Profiles, s.Networks)
	}
	if got, want := s.Image, "${SRVTHREDS_BOOTSTRAP_IMAGE:-srvthreds/bootstrap:latest}"; got != want {
		t.Errorf("image: got %q, want %q (the name their compose file and overlays give the bootstrap image)", got, want)
	}
	if slices.Contains(s.Entrypoint, "npm") || !slices.Equal(s.Entrypoint, []string{"/bootstrap"}) {
		t.Errorf("entrypoint: got %q, want [/bootstrap] (it replaces their [npm] when added after their file)", s.Entrypoint)
	}
	if got, want := s.Command, []string{"run", "-p", "ef-detection"}; !slices.Equal(got, want) {
		t.Errorf("command: got %q, want %q", got, want)
	}
	for _, want := range []string{"MONGO_HOST=${MONGO_HOST:-mongo-repl-1:27017}", "REDIS_HOST=${REDIS_HOST:-redis:6379}"} {
		if !slices.Contains(s.Environment, want) {
			t.Errorf("environment: got %q, want %s", s.Environment, want)
		}
	}
	for _, e := range s.Environment {
		if strings.HasPrefix(e, "BOOTSTRAP_MONGO_URI") || strings.HasPrefix(e, "BOOTSTRAP_REDIS_URL") {
			t.Errorf("environment %s: would win over MONGO_HOST/REDIS_HOST", e)
		}
	}
	grace, err := time.ParseDuration(s.StopGracePeriod)
	if err != nil || grace <= 10*time.Second {
		t.Errorf("stop_grace_period: got %q, want more than --shutdown-grace (10s)", s.StopGracePeriod)
	}
	if !s.ReadOnly || s.User == "" || !slices.Contains(s.CapDrop, "ALL") {
		t.Errorf("hardening: got read_only %v, user %q, cap_drop %v", s.ReadOnly, s.User, s.CapDrop)
	}
}

// envOf returns a lookup over literal variables.
func envOf(vars map[string]string) conn.Env {
	return conn.Env{
		Getenv:   func(k string) string { return vars[k] },
		ReadFile: func(string) ([]byte, error) { return nil, os.ErrNotExist },
	}
}

// With srvthreds' ConfigMap and no Secret, the binary connects where the
// services do: MONGO_HOST as a member of replica set rs0 (MONGO_DIRECT_CONNECTION
// 'false'), REDIS_HOST with TLS.
func TestSrvthredsConfigMapResolvesLikeTheServices(t *testing.T) {
	data, err := os.ReadFile("testdata/srvthreds/base/configmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(data, &cm); err != nil {
		t.Fatal(err)
	}
	env := envOf(cm.Data)
	uri, err := conn.ResolveMongoURI("", env)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := uri, "mongodb://mongodb-service:27017/?replicaSet=rs0"; got != want {
		t.Errorf("MongoDB: got %q, want %q", got, want)
	}
	r, err := conn.ResolveRedis("", env)
	if err != nil {
		t.Fatal(err)
	}
	if r.URL != "redis://redis-service:6379" || !r.TLS || r.Password != "" {
		t.Errorf("Redis: got %+v, want redis://redis-service:6379 with TLS, no password", r)
	}

	// The compose defaults: mongo-repl-1 as a member of rs0.
	uri, err = conn.ResolveMongoURI("", envOf(map[string]string{"MONGO_HOST": "mongo-repl-1:27017", "MONGO_DIRECT_CONNECTION": "false"}))
	if err != nil || uri != "mongodb://mongo-repl-1:27017/?replicaSet=rs0" {
		t.Errorf("compose MongoDB: got %q, %v; want mongodb://mongo-repl-1:27017/?replicaSet=rs0", uri, err)
	}
}
