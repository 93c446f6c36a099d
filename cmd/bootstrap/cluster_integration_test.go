package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/internal/testutil"
	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/store"
)

// patternsOnCluster is the number of active patterns of the Cluster's
// profile: enough that their keys land on every shard.
const patternsOnCluster = 200

// clusterPassword is the Cluster's requirepass, given to the runners as
// REDIS_PASSWORD (as srvthreds gives it).
const clusterPassword = "cluster-secret"

// TestCluster runs every command of the product against one Redis Cluster
// of three masters and three replicas, serving TLS only (between the nodes
// too) with a password, as Azure Cache for Redis's clustered caches do;
// the runners trust the test's CA through --redis-tls-ca-file. The Cluster
// is shared by the subtests, which run in order: each starts from what the
// one before left.
func TestCluster(t *testing.T) {
	t.Parallel()
	start := time.Now()
	n := harness.NewNetwork(t)
	env := &harness.Env{Net: n, Mongo: harness.StartMongo(t, n)}
	ca := harness.NewCA(t)
	cl := harness.StartRedisCluster(t, n, &harness.ClusterOptions{CA: ca, Password: clusterPassword})
	cc := cl.Client(t)
	tp := &topo{
		env: env, mc: env.Mongo.Client(t), rdb: cc,
		redisArgs: []string{"--redis-url", cl.URL(), "--redis-cluster", "--redis-tls-ca-file", "/tls/ca.pem"},
		dir:       topoProfiles(t, patternsOnCluster),
		vars:      map[string]string{"REDIS_PASSWORD": clusterPassword},
		files:     map[string][]byte{"/tls/ca.pem": ca.PEM},
	}
	if !strings.HasPrefix(cl.URL(), "rediss://") {
		t.Fatalf("cluster URL %s, want rediss://", cl.URL())
	}
	t.Logf("cluster and mongo up in %s", time.Since(start).Round(time.Millisecond))
	steps := []struct {
		name string
		fn   func(*testing.T, *topo, *harness.Cluster)
	}{
		{"examples_and_200_patterns_apply_then_skip", clusterApplyThenSkip},
		{"five_runners_of_different_content", clusterFiveRunners},
		{"status_wait_unlock", clusterStatusWaitUnlock},
		{"reapply_rollback_and_reset", clusterRollbackReset},
		{"master_of_the_lock_killed_mid_run", clusterKillLockMaster},
		{"lock_lost_by_failover", clusterLockLost},
	}
	for _, s := range steps {
		began := time.Now()
		ok := t.Run(s.name, func(t *testing.T) { s.fn(t, tp, cl) })
		t.Logf("%s: %s", s.name, time.Since(began).Round(time.Millisecond))
		if !ok {
			return
		}
	}
}

func clusterApplyThenSkip(t *testing.T, tp *topo, cl *harness.Cluster) {
	logs := tp.mustExec(t, exitOK, "first", "run", "-p", "example-patterns,many-patterns")
	if got, want := runSummary(t, logs).num("applied"), int64(2); got != want {
		t.Errorf("applied = %d, want %d", got, want)
	}
	members, hashes := cachedPatterns(t, tp.rdb)
	if members != patternsOnCluster || hashes != patternsOnCluster {
		t.Errorf("IDX:Pattern lists %d t.p patterns and %d hashes exist, want %d of each", members, hashes, patternsOnCluster)
	}
	cc := tp.rdb.(*redis.ClusterClient)
	masters := map[string]bool{}
	for i := range patternsOnCluster {
		m, err := cc.MasterForKey(t.Context(), fmt.Sprintf("Pattern:t.p%03d", i))
		if err != nil {
			t.Fatal(err)
		}
		masters[m.Options().Addr] = true
	}
	if got, want := len(masters), len(cl.Masters); got != want {
		t.Errorf("the pattern cache is on %d masters, want %d", got, want)
	}
	logs = tp.mustExec(t, exitOK, "again", "run", "-p", "example-patterns,many-patterns")
	if got := runSummary(t, logs).num("applied"); got != 0 {
		t.Errorf("second run applied %d, want 0", got)
	}
}

func clusterStatusWaitUnlock(t *testing.T, tp *topo, _ *harness.Cluster) {
	out := tp.mustExec(t, exitOK, "status", "status", "-p", "example-base", "-o", "json")
	if !strings.Contains(out, "example-base") {
		t.Errorf("status does not name example-base:\n%s", out)
	}
	tp.mustExec(t, exitOK, "wait", "wait", "-p", "example-base,example-patterns", "--timeout", "1m")
	// A stale lock: taken by the test and never renewed.
	l, err := lock.New(tp.rdb, "bootstrap", &lock.Options{TTL: 2 * time.Minute, Holder: lock.Holder{RunID: "stale", Host: "gone"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(t.Context()); err != nil {
		t.Fatalf("take the lock: %v", err)
	}
	tp.mustExec(t, exitOK, "unlock", "unlock", "--force")
	h, err := l.Holder(t.Context())
	if err != nil || h != nil {
		t.Fatalf("after unlock --force: holder %v, err %v; want none", h, err)
	}
}

func clusterRollbackReset(t *testing.T, tp *topo, _ *harness.Cluster) {
	// v2: the last 50 patterns are gone, the others changed.
	if err := os.RemoveAll(tp.dir + "/many-patterns"); err != nil {
		t.Fatal(err)
	}
	writePatternsProfile(t, tp.dir, "many-patterns", patternsOnCluster-50, 2)
	tp.mustExec(t, exitOK, "v2", "run", "-p", "many-patterns")
	if m, h := cachedPatterns(t, tp.rdb); m != patternsOnCluster-50 || h != patternsOnCluster-50 {
		t.Fatalf("after v2: %d members, %d hashes; want %d", m, h, patternsOnCluster-50)
	}
	tp.mustExec(t, exitOK, "rollback", "rollback", "-p", "many-patterns")
	if m, h := cachedPatterns(t, tp.rdb); m != patternsOnCluster || h != patternsOnCluster {
		t.Fatalf("after rollback: %d members, %d hashes; want %d", m, h, patternsOnCluster)
	}
	data, err := tp.rdb.HGet(t.Context(), "Pattern:t.p007", "data").Result()
	if err != nil || !strings.Contains(data, "pattern 7 v1") {
		t.Errorf("Pattern:t.p007 after rollback = %q (%v), want v1's", data, err)
	}
	// The reset's glob deletes the hashes of v1's 200 patterns, on every
	// master, before v2 writes its 150 again.
	logs := tp.mustExec(t, exitOK, "reset", "run", "-p", "many-patterns", "--reset", "--force")
	deleted := withMsg(parseLogs(t, logs), "reset: redis keys deleted")
	if len(deleted) != 1 || deleted[0].num("keys") != patternsOnCluster {
		t.Errorf("reset deleted %v, want one line of %d keys; logs:\n%s", deleted, patternsOnCluster, logs)
	}
	if _, h := cachedPatterns(t, tp.rdb); h != patternsOnCluster-50 {
		t.Errorf("after --reset and v2: %d hashes, want %d", h, patternsOnCluster-50)
	}
}

func clusterKillLockMaster(t *testing.T, tp *topo, cl *harness.Cluster) {
	failoverMidRun(t, tp, func() {
		cc := cl.Client(t)
		victim := cl.MasterOf(t, cc, lock.DefaultPrefix+"{bootstrap}")
		t.Logf("killing %s, master of the lock's slot", victim.Name)
		victim.Kill(t)
		var alive []*harness.Node
		for _, nd := range append(append([]*harness.Node{}, cl.Masters...), cl.Replicas...) {
			if nd != victim {
				alive = append(alive, nd)
			}
		}
		cl.WaitOK(t, alive...)
	})
}

// clusterLockLost runs lockLostByFailover with a lock whose slot is on a
// master that still has its replica (the default lock's master was killed
// by the subtest before).
func clusterLockLost(t *testing.T, tp *topo, cl *harness.Cluster) {
	cc := cl.Client(t)
	var name string
	var master *harness.Node
	for i := 0; master == nil; i++ {
		name = fmt.Sprintf("lost-%d", i)
		// The killed master is no longer any slot's master: an original
		// master that is one still has its replica.
		m := cl.MasterOf(t, cc, lock.DefaultPrefix+"{"+name+"}")
		if slices.Contains(cl.Masters, m) {
			master = m
		}
	}
	replica := cl.ReplicaOf(t, master)
	t.Logf("lock %s on %s, replica %s", name, master.Name, replica.Name)
	lockLostByFailover(t, tp, func(phase string) {
		if phase == "freeze" {
			replica.Pause(t)
			master.DropReplicas(t)
			return
		}
		master.Kill(t)
		replica.Unpause(t)
		replica.WaitMaster(t)
		cl.WaitOK(t, replica)
	}, "--lock-name", name)
}

// fiveKeys is the number of Redis keys of profile "five": enough that they
// land on every shard.
const fiveKeys = 30

// writeFiveProfile writes profile "five" in dir: documents and Redis keys
// whose values carry tag, so that runners given different tags write
// different content under the same ids and keys.
func writeFiveProfile(t testing.TB, dir, tag string) {
	t.Helper()
	var docs, keys strings.Builder
	docs.WriteString("[\n")
	keys.WriteString("keys:\n")
	for i := range fiveKeys {
		if i > 0 {
			docs.WriteString(",\n")
		}
		fmt.Fprintf(&docs, `  {"_id": "five-%02d", "label": "item %d of %s"}`, i, i, tag)
		fmt.Fprintf(&keys, "  - {key: \"five:%02d\", string: %q}\n", i, tag)
	}
	docs.WriteString("\n]\n")
	writeFiles(t, dir, map[string]string{
		"five/profile.yaml":    fmt.Sprintf("database: %s\nsteps:\n  - documents: {collection: Five, dir: data}\n  - redis: {file: keys.yaml}\n", testDB),
		"five/data/items.json": docs.String(),
		"five/keys.yaml":       keys.String(),
	})
}

// clusterFiveRunners starts five runners at once, each with the example
// profiles and its own content of profile "five": the examples are applied
// by exactly one of them; every runner applies its "five" in turn, under
// the lock, with ever higher fences, and what is stored, in MongoDB and on
// every shard, is the content of the runner whose marker is stored.
func clusterFiveRunners(t *testing.T, tp *topo, _ *harness.Cluster) {
	shared := []string{"example-base", "example-users"}
	tags := map[string]string{} // run id → tag
	applied := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 5 {
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(tp.dir)); err != nil {
			t.Fatal(err)
		}
		tag := fmt.Sprintf("runner %d", i)
		writeFiveProfile(t, dir, tag)
		rc := tp.startIn(t, dir, fmt.Sprintf("five-%d", i), "run", "-p", strings.Join(append(shared, "five"), ","))
		wg.Go(func() {
			code, logs := rc.Wait(t, runTimeout)
			if code != exitOK {
				t.Errorf("runner %s: exit %d, want 0; logs:\n%s", rc.Name, code, logs)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			tags[runSummary(t, logs).str("run_id")] = tag
			for p, o := range outcomes(t, logs) {
				if o == string(store.OutcomeApplied) {
					applied[p]++
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for _, p := range shared {
		if got := applied[p]; got != 1 {
			t.Errorf("%s applied by %d runners, want exactly 1", p, got)
		}
	}
	if got := applied["five"]; got != 5 {
		t.Errorf("five applied by %d runners, want 5 (each runner's content differs)", got)
	}
	m := testutil.ReadMarker(t, tp.mc, testDB, "five")
	if m == nil {
		t.Fatal("no marker of five")
	}
	tag, ok := tags[m.RunID]
	if !ok {
		t.Fatalf("marker of five by run %s, which is none of the five runners %v", m.RunID, tags)
	}
	wantFiveData(t, tp, tag)
	var fences []int64
	for _, r := range withOutcome(auditRecords(t, tp.mc, testDB, "five"), store.OutcomeApplied) {
		fences = append(fences, r.Fence)
	}
	slices.Sort(fences)
	if len(slices.Compact(fences)) != 5 {
		t.Errorf("fences of the five applications %v, want five different ones", fences)
	}
	if m.Fence != fences[len(fences)-1] {
		t.Errorf("marker's fence %d, want the highest applied %d", m.Fence, fences[len(fences)-1])
	}
}

// wantFiveData checks that every document and key of profile "five" holds
// tag's content.
func wantFiveData(t *testing.T, tp *topo, tag string) {
	t.Helper()
	items := tp.mc.Database(testDB).Collection("Five")
	if n, err := items.CountDocuments(t.Context(), bson.D{}); err != nil || n != fiveKeys {
		t.Errorf("documents of five = %d (%v), want %d", n, err, fiveKeys)
	}
	other := bson.D{{Key: "label", Value: bson.D{{Key: "$not", Value: bson.Regex{Pattern: "of " + tag + "$"}}}}}
	if n, err := items.CountDocuments(t.Context(), other); err != nil || n != 0 {
		t.Errorf("%d documents of five are not %s's (%v), want none: the data must be the marker's", n, tag, err)
	}
	for i := range fiveKeys {
		k := fmt.Sprintf("five:%02d", i)
		if got, err := tp.rdb.Get(t.Context(), k).Result(); err != nil || got != tag {
			t.Errorf("%s = %q (%v), want %q: the data must be the marker's", k, got, err, tag)
		}
	}
}
