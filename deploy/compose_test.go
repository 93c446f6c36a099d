package deploy

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const composeFile = "compose/docker-compose.yaml"

// compose is the part of the Compose file format that the file uses;
// decoding with KnownFields rejects anything else, typos included.
type compose struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image       string                       `yaml:"image"`
	Restart     string                       `yaml:"restart"`
	StopGrace   string                       `yaml:"stop_grace_period"`
	Command     []string                     `yaml:"command"`
	Environment map[string]string            `yaml:"environment"`
	DependsOn   map[string]composeDependency `yaml:"depends_on"`
	Healthcheck *composeHealthcheck          `yaml:"healthcheck"`
	Profiles    []string                     `yaml:"profiles"`
	User        string                       `yaml:"user"`
	ReadOnly    bool                         `yaml:"read_only"`
	Tmpfs       []string                     `yaml:"tmpfs"`
	CapDrop     []string                     `yaml:"cap_drop"`
	SecurityOpt []string                     `yaml:"security_opt"`
	Ports       []string                     `yaml:"ports"`
}

type composeDependency struct {
	Condition string `yaml:"condition"`
}

type composeHealthcheck struct {
	Test        []string `yaml:"test"`
	Interval    string   `yaml:"interval"`
	Timeout     string   `yaml:"timeout"`
	Retries     int      `yaml:"retries"`
	StartPeriod string   `yaml:"start_period"`
}

// loadCompose decodes the Compose file strictly, and returns its node tree
// too for the checks that depend on how a value is written.
func loadCompose(t *testing.T) (*compose, *yaml.Node) {
	t.Helper()
	data, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("%s: %v", composeFile, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	return &c, &root
}

// lookup follows a path of mapping keys from a document node.
func lookup(n *yaml.Node, path ...string) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	for _, key := range path {
		if n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

func TestComposeBootstrapService(t *testing.T) {
	c, root := loadCompose(t)
	s, ok := c.Services["srvthreds-bootstrap"]
	if !ok {
		t.Fatal("no service srvthreds-bootstrap")
	}
	if got, want := s.Restart, "no"; got != want {
		t.Errorf("restart: got %q, want %q", got, want)
	}
	// YAML 1.1 readers take a bare no for false: the value must be quoted.
	if n := lookup(root, "services", "srvthreds-bootstrap", "restart"); n == nil ||
		n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
		t.Error(`restart: want the quoted string "no"`)
	}
	if got, want := s.Image, bootstrapImage+":${BOOTSTRAP_TAG"; !strings.HasPrefix(got, want) {
		t.Errorf("image: got %q, want %s...}, its tag from BOOTSTRAP_TAG", got, want)
	}
	if got, want := s.Command, []string{"run", "-p", "example-patterns"}; !slices.Equal(got, want) {
		t.Errorf("command: got %q, want %q", got, want)
	}
	for _, tt := range []struct {
		name    string
		env     string
		service string
		scheme  string
	}{
		{"mongo", "BOOTSTRAP_MONGO_URI", "mongo", "mongodb://"},
		{"redis", "BOOTSTRAP_REDIS_URL", "redis", "redis://"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := s.Environment[tt.env]
			if !strings.HasPrefix(v, tt.scheme+tt.service+":") {
				t.Errorf("%s: got %q, want %s%s:<port>...", tt.env, v, tt.scheme, tt.service)
			}
			if _, ok := c.Services[tt.service]; !ok {
				t.Errorf("no service %s", tt.service)
			}
			switch got := s.DependsOn[tt.service].Condition; got {
			case "service_started", "service_healthy":
			default:
				t.Errorf("depends_on %s: condition %q, want service_started or service_healthy", tt.service, got)
			}
			if got := s.DependsOn[tt.service].Condition; got == "service_healthy" && c.Services[tt.service].Healthcheck == nil {
				t.Errorf("depends_on %s healthy: %s has no healthcheck", tt.service, tt.service)
			}
		})
	}
	if !s.ReadOnly || s.User == "" || !slices.Contains(s.CapDrop, "ALL") {
		t.Errorf("hardening: got read_only %v, user %q, cap_drop %v; want read-only, non-root, drop ALL",
			s.ReadOnly, s.User, s.CapDrop)
	}
}

func TestComposeDatabases(t *testing.T) {
	c, _ := loadCompose(t)
	for service, want := range map[string]string{"mongo": "mongo:7", "redis": "redis:7"} {
		if got := c.Services[service].Image; got != want {
			t.Errorf("%s image: got %q, want %q", service, got, want)
		}
	}
}

func TestComposeServicesWaitForBootstrap(t *testing.T) {
	c, _ := loadCompose(t)
	var dependents int
	for name, s := range c.Services {
		if name == "srvthreds-bootstrap" {
			continue
		}
		d, ok := s.DependsOn["srvthreds-bootstrap"]
		if !ok {
			continue
		}
		dependents++
		if got, want := d.Condition, "service_completed_successfully"; got != want {
			t.Errorf("%s depends_on srvthreds-bootstrap: condition %q, want %q", name, got, want)
		}
	}
	if dependents == 0 {
		t.Error("no service depends on srvthreds-bootstrap")
	}
	if _, ok := c.Services["engine"].DependsOn["srvthreds-bootstrap"]; !ok {
		t.Error("engine: does not depend on srvthreds-bootstrap")
	}
}

// The runner's stop grace is above --shutdown-grace (its default, unless
// the service sets BOOTSTRAP_SHUTDOWN_GRACE), so that a stop lets it clean
// up and exit on its own before the SIGKILL.
func TestCompose_stop_grace_above_shutdown_grace(t *testing.T) {
	c, _ := loadCompose(t)
	s, ok := c.Services["srvthreds-bootstrap"]
	if !ok {
		t.Fatal("no srvthreds-bootstrap service")
	}
	grace := defaultShutdownGrace
	if v, ok := s.Environment["BOOTSTRAP_SHUTDOWN_GRACE"]; ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("BOOTSTRAP_SHUTDOWN_GRACE %q: %v", v, err)
		}
		grace = d
	}
	stop, err := time.ParseDuration(s.StopGrace)
	if err != nil || stop <= grace {
		t.Errorf("stop_grace_period: got %q, want more than --shutdown-grace (%s)", s.StopGrace, grace)
	}
}
