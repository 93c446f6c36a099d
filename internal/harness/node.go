package harness

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Node is one redis-server process (a Cluster node, a Sentinel, a TLS
// server) in a container on a Network, removed when the test that started it
// ends.
type Node struct {
	// Name is the container's name and its alias on the network.
	Name string
	// IP is the container's address on the network; NetAddr is IP:port,
	// the address other containers on the network (and the Cluster's MOVED
	// replies, the Sentinels' answers) use.
	IP, NetAddr string
	// Addr is "127.0.0.1:<port>", where the test process reaches the node.
	Addr string

	c *testcontainers.DockerContainer
	// tls, when set, is the test process's TLS configuration for the node
	// (the test's CA, the node's name as the server name); password is
	// the node's requirepass.
	tls      *tls.Config
	password string
}

// hostAddr is the node's address by name, "<name>:port", as a Cluster that
// announces host names gives it.
func (nd *Node) hostAddr() string {
	_, port, _ := net.SplitHostPort(nd.NetAddr)
	return net.JoinHostPort(nd.Name, port)
}

// nodeSpec describes a node to start.
type nodeSpec struct {
	prefix string
	name   string // the container's name; default prefix and a random suffix
	image  string // default the Redis image
	tmpfs  map[string]string
	port   string   // the port the server listens on in the container
	args   []string // redis-server's arguments (config file first, if any)
	files  []testcontainers.ContainerFile
	ready  string // a log line that says the server serves
}

// startNode starts spec on n and returns once its ready line is logged.
func startNode(ctx context.Context, t testing.TB, n *Network, spec nodeSpec) (*Node, error) {
	img, args := spec.image, spec.args
	if img == "" {
		var err error
		if img, err = redisImage(); err != nil {
			return nil, err
		}
		args = redisServerArgs(img, args)
	}
	name := spec.name
	if name == "" {
		name = uniqueName(spec.prefix)
	}
	port := network.MustParsePort(spec.port + "/tcp")
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithName(name),
		withLogger(t),
		testcontainers.WithCmd(args...),
		testcontainers.WithExposedPorts(port.String()),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.PortBindings = network.PortMap{port: {{HostIP: loopbackAddr, HostPort: "0"}}}
		}),
		testcontainers.WithWaitStrategyAndDeadline(setupTimeout, wait.ForLog(spec.ready)),
		n.withNetwork(name),
	}
	if spec.tmpfs != nil {
		opts = append(opts, testcontainers.WithTmpfs(spec.tmpfs))
	}
	if len(spec.files) > 0 {
		opts = append(opts, testcontainers.WithFiles(spec.files...))
	}
	c, err := testcontainers.Run(ctx, img, opts...)
	testcontainers.CleanupContainer(t, c)
	if err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", spec.prefix, img, err)
	}
	mapped, err := c.MappedPort(ctx, port.String())
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.prefix, err)
	}
	ins, err := c.Inspect(ctx)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.prefix, err)
	}
	ep := ins.NetworkSettings.Networks[n.Name]
	if ep == nil || !ep.IPAddress.IsValid() {
		return nil, fmt.Errorf("start %s: no address on network %s", spec.prefix, n.Name)
	}
	ip := ep.IPAddress.String()
	return &Node{
		Name: name, IP: ip, NetAddr: net.JoinHostPort(ip, spec.port),
		Addr: net.JoinHostPort(loopback, mapped.Port()), c: c,
	}, nil
}

// redisServerArgs returns the container command that runs redis-server
// with args: the local image's entrypoint is redis-server itself; an image
// such as redis:7 runs its entrypoint script, which wants the program named
// unless the first argument is a flag.
func redisServerArgs(img string, args []string) []string {
	if strings.HasPrefix(img, "bootstrap-test/redis") || len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return args
	}
	return append([]string{"redis-server"}, args...)
}

// startNodes starts specs concurrently.
func startNodes(t testing.TB, n *Network, specs []nodeSpec) ([]*Node, error) {
	ctx, cancel := context.WithTimeout(t.Context(), setupTimeout)
	defer cancel()
	nodes := make([]*Node, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Go(func() { nodes[i], errs[i] = startNode(ctx, t, n, s) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return nodes, nil
}

// Kill kills the node's process (SIGKILL): its data is gone, and clients
// see connections refused or reset.
func (nd *Node) Kill(t testing.TB) {
	t.Helper()
	if err := kill(t.Context(), nd.c.GetContainerID(), "SIGKILL"); err != nil {
		t.Fatalf("harness: kill %s: %v", nd.Name, err)
	}
}

// Pause freezes the node (docker pause) until Unpause.
func (nd *Node) Pause(t testing.TB) {
	t.Helper()
	if err := pause(t.Context(), nd.c.GetContainerID()); err != nil {
		t.Fatalf("harness: pause %s: %v", nd.Name, err)
	}
}

// Unpause resumes a paused node.
func (nd *Node) Unpause(t testing.TB) {
	t.Helper()
	if err := unpause(t.Context(), nd.c.GetContainerID()); err != nil {
		t.Fatalf("harness: unpause %s: %v", nd.Name, err)
	}
}

// addrMap maps the nodes' network addresses to their loopback ones.
type addrMap map[string]string

// dial dials addr, or the loopback address it maps to: the test process
// follows MOVED replies and Sentinel answers, which name network addresses,
// through the published ports.
func (m addrMap) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if a, ok := m[addr]; ok {
		addr = a
	}
	d := net.Dialer{Timeout: 2 * time.Second}
	return d.DialContext(ctx, network, addr)
}

// WaitMaster waits until the node says it is a master (INFO replication),
// as a replica does once a failover promoted it.
func (nd *Node) WaitMaster(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), setupTimeout)
	defer cancel()
	rc := nodeClient(nd)
	defer rc.Close()
	err := retry(ctx, nd.Name+" promoted", func(ctx context.Context) error {
		info, err := rc.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "role:master") {
			return fmt.Errorf("%s is still a replica", nd.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
}

// DropReplicas closes the node's replication links (CLIENT KILL TYPE
// replica). With its replica paused, what the node writes next reaches no
// replica until the replica reconnects, as when asynchronous replication
// lags behind a master that then dies.
func (nd *Node) DropReplicas(t testing.TB) {
	t.Helper()
	rc := nodeClient(nd)
	defer rc.Close()
	if err := rc.ClientKillByFilter(t.Context(), "TYPE", "replica").Err(); err != nil {
		t.Fatalf("harness: drop the replicas of %s: %v", nd.Name, err)
	}
}
