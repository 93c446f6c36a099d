package runner_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/runner"
	"github.com/srvthreds/bootstrap/store"
)

// twoProfiles are profiles "one" and "two" of one database, each setting
// a key of its own: a run of one reads only its own marker, so the markers
// alone can't tell it which fences the other's runs drew.
func twoProfiles() fstest.MapFS {
	fs := fstest.MapFS{}
	for _, name := range []string{"one", "two"} {
		fs[name+"/profile.yaml"] = file("database: fences\nsteps:\n  - redis: {file: keys.yaml}\n")
		fs[name+"/keys.yaml"] = file(fmt.Sprintf("keys:\n  - {key: \"fence:%s\", string: %q}\n", name, name))
	}
	return fs
}

// runFence runs profile name on f (forced: every run takes the lock) and
// returns its fence.
func runFence(t *testing.T, f *fixture, name string) int64 {
	t.Helper()
	res := runSet(t, f, loadSet(t, twoProfiles(), name), run{opts: runner.Options{Force: true, RunID: "run-" + name}})
	if got := res.Profiles[0].Outcome; got != store.OutcomeApplied {
		t.Fatalf("run of %s: outcome %s, want applied", name, got)
	}
	return res.Fence
}

// wantIncreasing fails t unless fences strictly increase, and checks that
// the last one is the fence claimed in the database.
func wantIncreasing(t *testing.T, f *fixture, fences ...int64) {
	t.Helper()
	for i := 1; i < len(fences); i++ {
		if fences[i] <= fences[i-1] {
			t.Errorf("fences %v: run %d drew %d after %d", fences, i+1, fences[i], fences[i-1])
		}
	}
	claimed, err := store.New(f.mc).Fence(t.Context(), "fences", testLock)
	if err != nil {
		t.Fatal(err)
	}
	if last := fences[len(fences)-1]; claimed != last {
		t.Errorf("fence claimed in MongoDB = %d, want the last run's %d", claimed, last)
	}
}

// fenceCounter is the lock's fence counter in rc (0 when absent).
func fenceCounter(t *testing.T, rc *redis.Client) int64 {
	t.Helper()
	l, err := lock.New(rc, testLock, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := rc.Get(t.Context(), l.Key()+":fence").Int64()
	if err != nil && err != redis.Nil {
		t.Fatal(err)
	}
	return n
}

// TestFences_strictly_increase_across_a_redis_flush: Redis loses
// everything (FLUSHALL: a restart without persistence, a restore of an
// empty or old backup) between runs of two profiles; the run after it
// reads only its own profile's marker, older than the other's, and still
// draws a fence above every fence drawn before.
func TestFences_strictly_increase_across_a_redis_flush(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	first := runFence(t, f, "one")
	second := runFence(t, f, "two")
	if err := f.rc.FlushAll(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	third := runFence(t, f, "one")
	wantIncreasing(t, f, first, second, third)
	if c := fenceCounter(t, f.rc); c < third {
		t.Errorf("fence counter after the run = %d, want at least its fence %d", c, third)
	}
}

// TestFences_strictly_increase_after_failover_to_a_stale_replica: a replica
// stops replicating (as a replica does that misses the last writes before
// its master fails), the master draws one more fence, then the runners are
// pointed at the replica, promoted: its counter is behind, and the next run
// still draws a fence above every fence drawn before.
func TestFences_strictly_increase_after_failover_to_a_stale_replica(t *testing.T) {
	t.Parallel()
	n := harness.NewNetwork(t)
	mongo := harness.StartMongo(t, nil)
	master, replica := harness.StartRedis(t, n), harness.StartRedis(t, n)
	onMaster := &fixture{mc: mongo.Client(t), rc: master.Client(t)}
	onReplica := &fixture{mc: onMaster.mc, rc: replica.Client(t)}
	replicate(t, onReplica.rc, master.NetAddr)

	first := runFence(t, onMaster, "one")
	if got, err := onMaster.rc.Wait(t.Context(), 1, 30*time.Second).Result(); err != nil || got < 1 {
		t.Fatalf("WAIT 1: %d, %v; want the replica to have the first run's fence", got, err)
	}
	if err := onReplica.rc.Do(t.Context(), "REPLICAOF", "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	second := runFence(t, onMaster, "two")
	if got := fenceCounter(t, onReplica.rc); got >= second {
		t.Fatalf("replica's fence counter = %d, want behind the master's last fence %d", got, second)
	}
	third := runFence(t, onReplica, "one")
	wantIncreasing(t, onMaster, first, second, third)
}

// replicate makes rc a replica of the Redis at addr (host:port on the
// containers' network) and waits until its link is up.
func replicate(t *testing.T, rc *redis.Client, addr string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := rc.Do(ctx, "REPLICAOF", host, port).Err(); err != nil {
		t.Fatal(err)
	}
	for {
		info, err := rc.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("replica's link to %s not up: %v, %q", addr, err, info)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestFences_strictly_increase_after_the_counter_is_evicted: Redis runs
// with maxmemory-policy allkeys-lru (as Azure Cache for Redis does) and a
// filler of newer keys evicts the fence counter, touched once a run; the
// next run still draws a fence above every fence drawn before.
func TestFences_strictly_increase_after_the_counter_is_evicted(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	first := runFence(t, f, "one")
	second := runFence(t, f, "two")
	evictFenceCounter(t, f.rc)
	third := runFence(t, f, "one")
	wantIncreasing(t, f, first, second, third)
}

// evictFenceCounter caps rc's memory a little above what it uses, under
// allkeys-lru, writes filler keys until the fence counter is evicted, then
// lifts the cap (the filler stays).
func evictFenceCounter(t *testing.T, rc *redis.Client) {
	t.Helper()
	ctx := t.Context()
	l, err := lock.New(rc, testLock, nil)
	if err != nil {
		t.Fatal(err)
	}
	counter := l.Key() + ":fence"
	used, err := rc.MemoryUsage(ctx, counter).Result()
	if err != nil || used == 0 {
		t.Fatalf("the fence counter before eviction: %d bytes, %v", used, err)
	}
	info, err := rc.Info(ctx, "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	var base int64
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			fmt.Sscan(v, &base)
		}
	}
	for _, kv := range [][2]string{{"maxmemory-policy", "allkeys-lru"}, {"maxmemory", fmt.Sprint(base + 1<<20)}} {
		if err := rc.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	filler := strings.Repeat("x", 10<<10)
	for i := 0; ; i++ {
		if n, err := rc.Exists(ctx, counter).Result(); err != nil || n == 0 {
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("fence counter evicted after %d filler keys", i)
			break
		}
		if i == 10_000 {
			t.Fatal("the fence counter was not evicted after 10,000 filler keys")
		}
		if err := rc.Set(ctx, fmt.Sprintf("filler:%05d", i), filler, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rc.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
}
