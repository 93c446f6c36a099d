package harness

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterNodeTimeout is the Cluster's cluster-node-timeout: a master that
// does not answer for this long is failed over to its replica.
const clusterNodeTimeout = 2 * time.Second

// Cluster is a Redis Cluster of three masters, each with one replica, on a
// Network. The nodes announce their network addresses (the default on a
// Docker network: each learns its own address from the MEET of a peer), so
// a client on the same network (the runner image) follows MOVED replies
// directly; the test process reaches them through the published ports
// (Client maps the addresses). Over TLS the nodes announce their names
// instead (cluster-preferred-endpoint-type hostname), which their
// certificates carry.
type Cluster struct {
	Masters, Replicas []*Node
	// Seeds is the nodes' network addresses, "ip:6379" (over TLS
	// "<name>:6379", which the certificates name).
	Seeds []string

	opts ClusterOptions
}

// ClusterOptions make a Cluster serve TLS only, as Azure Cache for Redis's
// clustered caches do.
type ClusterOptions struct {
	// CA, when set, issues each node a certificate for its name, and the
	// nodes serve TLS only (--port 0, --tls-port 6379) between themselves
	// too (--tls-cluster, --tls-replication); clients need no certificate.
	CA *CA
	// Password, when set, is every node's requirepass and masterauth.
	Password string
}

// StartRedisCluster starts six nodes on n, builds the Cluster with the
// commands redis-cli --cluster create sends (CLUSTER ADDSLOTSRANGE, MEET,
// REPLICATE; the test image has no redis-cli) and returns once every node
// reports cluster_state:ok and every replica is in sync. opts may be nil
// (plain TCP, no password). It fails t on error.
func StartRedisCluster(t testing.TB, n *Network, opts *ClusterOptions) *Cluster {
	t.Helper()
	needDocker(t)
	c := &Cluster{}
	if opts != nil {
		c.opts = *opts
	}
	specs := make([]nodeSpec, 6)
	for i := range specs {
		specs[i] = c.nodeSpec(t)
	}
	nodes, err := startNodes(t, n, specs)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	c.Masters, c.Replicas = nodes[:3], nodes[3:]
	for _, nd := range nodes {
		nd.password = c.opts.Password
		seed := nd.NetAddr
		if c.opts.CA != nil {
			nd.tls = &tls.Config{RootCAs: c.opts.CA.pool(), ServerName: nd.Name, MinVersion: tls.VersionTLS12}
			seed = nd.hostAddr()
		}
		c.Seeds = append(c.Seeds, seed)
	}
	ctx, cancel := context.WithTimeout(t.Context(), setupTimeout)
	defer cancel()
	if err := c.create(ctx); err != nil {
		t.Fatalf("harness: create cluster: %v", err)
	}
	return c
}

// nodeSpec is the spec of one node of c.
func (c *Cluster) nodeSpec(t testing.TB) nodeSpec {
	spec := nodeSpec{
		prefix: "redis-cluster", name: uniqueName("redis-cluster"), port: redisPort, ready: "Ready to accept connections",
		args: []string{
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", fmt.Sprint(clusterNodeTimeout.Milliseconds()),
			"--save", "", "--appendonly", "no", "--protected-mode", "no",
		},
	}
	if c.opts.Password != "" {
		spec.args = append(spec.args, "--requirepass", c.opts.Password, "--masterauth", c.opts.Password)
	}
	if ca := c.opts.CA; ca != nil {
		spec.args = append(spec.args,
			"--port", "0", "--tls-port", redisPort, "--tls-cluster", "yes", "--tls-replication", "yes",
			"--tls-cert-file", "/tls/server.crt", "--tls-key-file", "/tls/server.key", "--tls-ca-cert-file", "/tls/ca.crt",
			"--tls-auth-clients", "no",
			"--cluster-announce-hostname", spec.name, "--cluster-preferred-endpoint-type", "hostname")
		spec.files = tlsFiles("/tls", ca, ca.Issue(t, spec.name, "localhost", loopback))
	}
	return spec
}

// URL returns the --redis-url of the Cluster for the runner (with
// --redis-cluster): the first seed, the others as addr= parameters;
// rediss:// over TLS. The password is not in it (REDIS_PASSWORD).
func (c *Cluster) URL() string {
	scheme := "redis://"
	if c.opts.CA != nil {
		scheme = "rediss://"
	}
	u := scheme + c.Seeds[0]
	for i, s := range c.Seeds[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + s
	}
	return u
}

// nodes returns every node, masters first.
func (c *Cluster) nodes() []*Node {
	return append(append([]*Node{}, c.Masters...), c.Replicas...)
}

// node returns the node at addr (its network address by IP or by name),
// or nil.
func (c *Cluster) node(addr string) *Node {
	for _, nd := range c.nodes() {
		if nd.NetAddr == addr || nd.hostAddr() == addr {
			return nd
		}
	}
	return nil
}

// dial dials the node at addr (a network address) through its published
// port, over TLS when the Cluster serves it, verifying the node's name.
func (c *Cluster) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	nd := c.node(addr)
	if nd == nil {
		return nil, fmt.Errorf("harness: %s is no node of the cluster", addr)
	}
	d := net.Dialer{Timeout: 2 * time.Second}
	conn, err := d.DialContext(ctx, network, nd.Addr)
	if err != nil || nd.tls == nil {
		return conn, err
	}
	tc := tls.Client(conn, nd.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

// Client returns a Cluster client for the test process, closed when t ends.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Seeds, Dialer: c.dial, Password: c.opts.Password})
	t.Cleanup(func() { cc.Close() })
	return cc
}

func nodeClient(nd *Node) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr: nd.Addr, TLSConfig: nd.tls, Password: nd.password,
		MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 2 * time.Second,
	})
}

func (c *Cluster) create(ctx context.Context) error {
	const slots = 16384
	all := c.nodes()
	clients := make([]*redis.Client, len(all))
	for i, nd := range all {
		clients[i] = nodeClient(nd)
		defer clients[i].Close()
	}
	for i := range c.Masters {
		lo, hi := i*slots/3, (i+1)*slots/3-1
		if err := clients[i].ClusterAddSlotsRange(ctx, lo, hi).Err(); err != nil {
			return fmt.Errorf("addslots on %s: %w", all[i].Name, err)
		}
	}
	for _, nd := range all[1:] {
		if err := clients[0].ClusterMeet(ctx, nd.IP, redisPort).Err(); err != nil {
			return fmt.Errorf("meet %s: %w", nd.Name, err)
		}
	}
	for i := range c.Replicas {
		master, err := clients[i].ClusterMyID(ctx).Result()
		if err != nil {
			return err
		}
		rc := clients[3+i]
		// The replica must have heard of its master first (gossip).
		err = retry(ctx, "replicate "+c.Replicas[i].Name, func(ctx context.Context) error {
			return rc.ClusterReplicate(ctx, master).Err()
		})
		if err != nil {
			return err
		}
	}
	return c.waitHealthy(ctx, clients)
}

// waitHealthy waits until every node says cluster_state:ok and knows six
// nodes, and every replica's link to its master is up.
func (c *Cluster) waitHealthy(ctx context.Context, clients []*redis.Client) error {
	return retry(ctx, "wait for cluster_state:ok", func(ctx context.Context) error {
		for i, rc := range clients {
			info, err := rc.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:6") {
				return errors.New("not yet ok")
			}
			if i >= len(c.Masters) {
				repl, err := rc.Info(ctx, "replication").Result()
				if err != nil {
					return err
				}
				if !strings.Contains(repl, "master_link_status:up") {
					return errors.New("replica not in sync yet")
				}
			}
		}
		return nil
	})
}

// MasterOf returns the node that is now the master of key's slot, as the
// Cluster itself says (CLUSTER SHARDS through the test's client).
func (c *Cluster) MasterOf(t testing.TB, cc *redis.ClusterClient, key string) *Node {
	t.Helper()
	addr := ""
	err := retry(t.Context(), "master of "+key, func(ctx context.Context) error {
		cc.ReloadState(ctx)
		m, err := cc.MasterForKey(ctx, key)
		if err != nil {
			return err
		}
		addr = m.Options().Addr
		return nil
	})
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	if nd := c.node(addr); nd != nil {
		return nd
	}
	t.Fatalf("harness: master of %s at %s is no node of the cluster", key, addr)
	return nil
}

// WaitOK waits until the Cluster, seen from the given nodes (those still
// running), says cluster_state:ok again, after a failover.
func (c *Cluster) WaitOK(t testing.TB, alive ...*Node) {
	t.Helper()
	err := retry(t.Context(), "wait for cluster_state:ok", func(ctx context.Context) error {
		for _, nd := range alive {
			rc := nodeClient(nd)
			info, err := rc.ClusterInfo(ctx).Result()
			rc.Close()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") {
				return errors.New("cluster not ok")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
}

// ReplicaOf returns the replica of master (as the replicas' INFO
// replication says); nodes that don't answer are passed over.
func (c *Cluster) ReplicaOf(t testing.TB, master *Node) *Node {
	t.Helper()
	for _, nd := range c.nodes() {
		rc := nodeClient(nd)
		info, err := rc.Info(t.Context(), "replication").Result()
		rc.Close()
		if err != nil {
			continue // a node killed by the test
		}
		if strings.Contains(info, "role:slave") && strings.Contains(info, "master_host:"+master.IP+"\r\n") {
			return nd
		}
	}
	t.Fatalf("harness: no replica of %s", master.Name)
	return nil
}
