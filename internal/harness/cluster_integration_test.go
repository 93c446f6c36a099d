package harness

import (
	"fmt"
	"testing"
	"time"
)

func TestStartRedisCluster_serves_keys_on_every_master(t *testing.T) {
	start := time.Now()
	n := NewNetwork(t)
	c := StartRedisCluster(t, n)
	t.Logf("cluster of 6 nodes up in %s", time.Since(start).Round(time.Millisecond))
	cc := c.Client(t)
	masters := map[string]bool{}
	for i := range 30 {
		k := fmt.Sprintf("k%d", i)
		if err := cc.Set(t.Context(), k, i, 0).Err(); err != nil {
			t.Fatalf("set %s: %v", k, err)
		}
		masters[c.MasterOf(t, cc, k).Name] = true
	}
	if got, want := len(masters), 3; got != want {
		t.Errorf("keys on %d masters, want %d", got, want)
	}
}

func TestStartRedisSentinel_fails_over_to_the_replica(t *testing.T) {
	start := time.Now()
	n := NewNetwork(t)
	s := StartRedisSentinel(t, n)
	t.Logf("sentinel deployment up in %s", time.Since(start).Round(time.Millisecond))
	c := s.Client(t)
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatalf("set: %v", err)
	}
	start = time.Now()
	s.Master.Kill(t)
	s.WaitFailover(t)
	t.Logf("failover in %s", time.Since(start).Round(time.Millisecond))
	if err := c.Set(t.Context(), "k2", "v", 0).Err(); err != nil {
		t.Fatalf("set after failover: %v", err)
	}
}
