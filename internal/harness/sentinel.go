package harness

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"
)

// SentinelMaster is the name under which the Sentinels of StartRedisSentinel
// monitor the master.
const SentinelMaster = "mymaster"

const sentinelPort = "26379"

// Sentinel is one master, one replica and three Sentinels on a Network
// (quorum 2, down-after-milliseconds 1000): killing the master promotes the
// replica within a few seconds.
type Sentinel struct {
	Master, Replica *Node
	Sentinels       []*Node
}

// StartRedisSentinel starts the deployment on n and returns once every
// Sentinel knows the replica and the two other Sentinels (so that a
// failover can be agreed). It fails t on error.
func StartRedisSentinel(t testing.TB, n *Network) *Sentinel {
	t.Helper()
	needDocker(t)
	plain := []string{"--save", "", "--appendonly", "no", "--protected-mode", "no"}
	ms, err := startNodes(t, n, []nodeSpec{{prefix: "redis-master", port: redisPort, args: plain, ready: "Ready to accept connections"}})
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	s := &Sentinel{Master: ms[0]}
	conf := fmt.Sprintf("port %s\nsentinel monitor %s %s %s 2\nsentinel down-after-milliseconds %[2]s 1000\n"+
		"sentinel failover-timeout %[2]s 5000\nsentinel parallel-syncs %[2]s 1\n", sentinelPort, SentinelMaster, s.Master.IP, redisPort)
	specs := []nodeSpec{{
		prefix: "redis-replica", port: redisPort, ready: "MASTER <-> REPLICA sync: Finished",
		args: append([]string{"--replicaof", s.Master.IP, redisPort}, plain...),
	}}
	for range 3 {
		specs = append(specs, nodeSpec{
			prefix: "redis-sentinel", port: sentinelPort, ready: "+monitor master",
			args: []string{"/data/sentinel.conf", "--sentinel"},
			files: []testcontainers.ContainerFile{{
				Reader: strings.NewReader(conf), ContainerFilePath: "/data/sentinel.conf", FileMode: 0o644,
			}},
		})
	}
	nodes, err := startNodes(t, n, specs)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	s.Replica, s.Sentinels = nodes[0], nodes[1:]
	if err := s.waitAgreed(t.Context()); err != nil {
		t.Fatalf("harness: %v", err)
	}
	return s
}

// URL returns the --redis-url of the Sentinels for the runner (with
// --redis-sentinel-master SentinelMaster).
func (s *Sentinel) URL() string {
	return "redis://" + s.Sentinels[0].NetAddr + "?addr=" + s.Sentinels[1].NetAddr + "&addr=" + s.Sentinels[2].NetAddr
}

func (s *Sentinel) addrs() addrMap {
	m := addrMap{}
	for _, nd := range append([]*Node{s.Master, s.Replica}, s.Sentinels...) {
		m[nd.NetAddr] = nd.Addr
	}
	return m
}

// Client returns a failover client of the deployment for the test process,
// closed when t ends: it asks the Sentinels for the master.
func (s *Sentinel) Client(t testing.TB) *redis.Client {
	t.Helper()
	var addrs []string
	for _, nd := range s.Sentinels {
		addrs = append(addrs, nd.NetAddr)
	}
	c := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName: SentinelMaster, SentinelAddrs: addrs, Dialer: s.addrs().dial,
		DialTimeout: time.Second, ReadTimeout: 2 * time.Second,
	})
	t.Cleanup(func() { c.Close() })
	return c
}

func (s *Sentinel) waitAgreed(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	for _, nd := range s.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: nd.Addr, DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
		err := retry(ctx, "sentinel "+nd.Name+" discovery", func(ctx context.Context) error {
			reps, err := sc.Replicas(ctx, SentinelMaster).Result()
			if err != nil {
				return err
			}
			peers, err := sc.Sentinels(ctx, SentinelMaster).Result()
			if err != nil {
				return err
			}
			if len(reps) != 1 || len(peers) != 2 {
				return errors.New("not every node known yet")
			}
			return nil
		})
		sc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// MasterAddr returns the master's network address as the Sentinels now name
// it.
func (s *Sentinel) MasterAddr(t testing.TB) string {
	t.Helper()
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinels[0].Addr})
	defer sc.Close()
	a, err := sc.GetMasterAddrByName(t.Context(), SentinelMaster).Result()
	if err != nil {
		t.Fatalf("harness: master of %s: %v", SentinelMaster, err)
	}
	return a[0] + ":" + a[1]
}

// WaitFailover waits until the Sentinels name the replica as the master and
// it serves writes.
func (s *Sentinel) WaitFailover(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), setupTimeout)
	defer cancel()
	rc := nodeClient(s.Replica)
	defer rc.Close()
	err := retry(ctx, "failover to "+s.Replica.Name, func(ctx context.Context) error {
		if a := s.MasterAddr(t); a != s.Replica.NetAddr {
			return fmt.Errorf("master is still %s", a)
		}
		return rc.Set(ctx, "harness:failover", "1", time.Second).Err()
	})
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
}
