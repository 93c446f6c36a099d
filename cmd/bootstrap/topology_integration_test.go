package main

import (
	"fmt"
	"maps"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/internal/testutil"
	"github.com/srvthreds/bootstrap/store"
)

// topo is a Redis topology (Cluster or Sentinel) with a MongoDB-wire server
// on one network, and the profiles the tests of that topology run: the
// runners are containers on the network, so that the addresses the Cluster's
// MOVED replies and the Sentinels name are theirs to dial.
type topo struct {
	env       *harness.Env // Net and Mongo; Redis is unused
	mc        *mongo.Client
	rdb       redis.UniversalClient // the test's own client of the topology
	redisArgs []string              // --redis-url ... and the topology's flag
	dir       string                // profiles, copied into every runner
	vars      map[string]string     // added to exampleEnv (REDIS_PASSWORD, say)
	files     map[string][]byte     // copied into every runner (a CA file, say)
}

// args returns the arguments of command cmd against the topology.
func (tp *topo) args(cmd string, extra ...string) []string {
	args := []string{cmd, "--mongo-uri", tp.env.Mongo.NetURI, "--connect-timeout", "30s"}
	args = append(args, tp.redisArgs...)
	return append(args, extra...)
}

// exec runs command cmd in a runner container and returns its exit code
// and logs.
func (tp *topo) exec(t testing.TB, name, cmd string, extra ...string) (int, string) {
	t.Helper()
	rc := tp.start(t, name, cmd, extra...)
	return rc.Wait(t, runTimeout)
}

func (tp *topo) start(t testing.TB, name, cmd string, extra ...string) *harness.RunnerContainer {
	t.Helper()
	return tp.startIn(t, tp.dir, name, cmd, extra...)
}

// startIn is start with the profiles of dir.
func (tp *topo) startIn(t testing.TB, dir, name, cmd string, extra ...string) *harness.RunnerContainer {
	t.Helper()
	vars := exampleEnv()
	maps.Copy(vars, tp.vars)
	return tp.env.StartRunner(t, harness.RunOptions{
		Args: tp.args(cmd, extra...), Env: vars, Name: name, ProfilesDir: dir, Files: tp.files,
	})
}

// mustExec is exec that fails t unless the exit code is want.
func (tp *topo) mustExec(t testing.TB, want int, name, cmd string, extra ...string) string {
	t.Helper()
	code, logs := tp.exec(t, name, cmd, extra...)
	if code != want {
		t.Fatalf("%s %v: exit %d, want %d; logs:\n%s", cmd, extra, code, want, logs)
	}
	return logs
}

// topoProfiles writes the example profiles, a profile of n active patterns
// (database bt, its Redis cache spread over every shard) with a reset of
// them, and a slow documents profile, under a new directory.
func topoProfiles(t testing.TB, n int) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../../examples/profiles")); err != nil {
		t.Fatal(err)
	}
	writePatternsProfile(t, dir, "many-patterns", n, 1)
	writeDocumentsProfile(t, dir, "slow-docs", slowDocs)
	return dir
}

// writePatternsProfile writes profile name: n patterns t.p000.. on database
// bt, those below active active (meta.active), each carrying version v; its
// reset deletes the pattern cache by glob.
func writePatternsProfile(t testing.TB, dir, name string, n, v int) {
	t.Helper()
	files := map[string]string{
		name + "/profile.yaml": "database: " + testDB + "\nreset:\n  redis: [\"Pattern:t.p*\"]\nsteps:\n  - patterns: {dir: patterns}\n",
	}
	for i := range n {
		files[fmt.Sprintf("%s/patterns/p%03d.json", name, i)] = fmt.Sprintf(
			`{"id": "t.p%03d", "name": "pattern %d v%d", "meta": {"active": true}, "events": [{"type": "t.event.%d"}]}`, i, i, v, i)
	}
	writeFiles(t, dir, files)
}

// cachedPatterns returns the members of IDX:Pattern that start with t.p
// and how many of their Pattern:<id> hashes exist.
func cachedPatterns(t testing.TB, rdb redis.UniversalClient) (members, hashes int) {
	t.Helper()
	ids, err := rdb.SMembers(t.Context(), "IDX:Pattern").Result()
	if err != nil {
		t.Fatalf("read IDX:Pattern: %v", err)
	}
	for _, id := range ids {
		if !strings.HasPrefix(id, "t.p") {
			continue
		}
		members++
		n, err := rdb.Exists(t.Context(), "Pattern:"+id).Result()
		if err != nil {
			t.Fatalf("exists Pattern:%s: %v", id, err)
		}
		hashes += int(n)
	}
	return members, hashes
}

// fiveRunnersApplyOnce starts five runners of the same profiles at once
// and checks that exactly one applied each profile and all exit 0.
func fiveRunnersApplyOnce(t *testing.T, tp *topo, db string, profiles ...string) {
	t.Helper()
	var runners []*harness.RunnerContainer
	for i := range 5 {
		runners = append(runners, tp.start(t, fmt.Sprintf("five-%d", i), "run", "-p", strings.Join(profiles, ",")))
	}
	applied := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, rc := range runners {
		wg.Go(func() {
			code, logs := rc.Wait(t, runTimeout)
			if code != exitOK {
				t.Errorf("runner %s: exit %d, want 0; logs:\n%s", rc.Name, code, logs)
			}
			mu.Lock()
			defer mu.Unlock()
			for p, o := range outcomes(t, logs) {
				if o == string(store.OutcomeApplied) {
					applied[p]++
				}
			}
		})
	}
	wg.Wait()
	for _, p := range profiles {
		if got := applied[p]; got != 1 {
			t.Errorf("%s applied by %d runners, want exactly 1", p, got)
		}
		if got := len(withOutcome(auditRecords(t, tp.mc, db, p), store.OutcomeApplied)); got != 1 {
			t.Errorf("%s: %d applied audit records, want 1", p, got)
		}
	}
}

// markerFence returns the fence of profile's marker, or 0 without one.
func markerFence(t testing.TB, mc *mongo.Client, db, profile string) int64 {
	t.Helper()
	if m := testutil.ReadMarker(t, mc, db, profile); m != nil {
		return m.Fence
	}
	return 0
}

// failoverMidRun starts the slow profile, waits until it is part-way,
// calls fail (which kills the Redis master holding the lock key and waits
// for the failover), and checks what the issue of a lost lock allows: the
// run completes or exits 5; a second run then completes; every applied
// record of the profile is of the same version, and the marker's fence
// only grew; the documents are all there.
func failoverMidRun(t *testing.T, tp *topo, fail func()) {
	t.Helper()
	const n = slowDocs
	first := tp.start(t, "before-failover", "run", "-p", "slow-docs", "--batch-size", slowBatch, "--lock-ttl", lockTTL.String())
	waitMidProfile(t, tp.mc, first, n)
	fail()
	code, logs := first.Wait(t, runTimeout)
	if code != exitOK && code != exitLockLost {
		t.Fatalf("run during the failover: exit %d, want 0 or 5; logs:\n%s", code, logs)
	}
	fence1 := markerFence(t, tp.mc, testDB, "slow-docs")
	t.Logf("run during the failover: exit %d, marker fence %d", code, fence1)
	tp.mustExec(t, exitOK, "after-failover", "run", "-p", "slow-docs")
	fence2 := markerFence(t, tp.mc, testDB, "slow-docs")
	if fence2 == 0 || fence2 < fence1 {
		t.Errorf("marker fence %d after the second run, want at least %d", fence2, fence1)
	}
	versions := map[string]bool{}
	for _, r := range withOutcome(auditRecords(t, tp.mc, testDB, "slow-docs"), store.OutcomeApplied) {
		versions[r.Version] = true
	}
	if len(versions) != 1 {
		t.Errorf("slow-docs recorded applied with %d versions, want 1: %v", len(versions), versions)
	}
	if got := countDocs(t, tp.mc, testDB, itemsCollection); got != n {
		t.Errorf("%d documents after the second run, want %d", got, n)
	}
}

// lockLostByFailover is the failover window: the replica that will be
// promoted is frozen and its replication link closed while runner A takes
// the lock (fence counter, lock key and holder reach the master only; a
// pause alone would not do, the kernel buffers the replication stream),
// then the master is killed and the replica thawed and promoted without
// them. cut does the freezing ("freeze") and the failover ("fail").
// Runner B then takes the lock, possibly with A's fence again; what must
// hold: B applies and exits 0, A exits 5 (or 0 had it finished), the marker
// is B's with a fence not below A's, every applied record is of one
// version, and the data is whole. extra is added to both runs' arguments.
func lockLostByFailover(t *testing.T, tp *topo, cut func(phase string), extra ...string) {
	t.Helper()
	const n = slowDocs
	if _, err := tp.mc.Database(testDB).Collection(itemsCollection).DeleteMany(t.Context(), map[string]any{}); err != nil {
		t.Fatal(err)
	}
	cut("freeze")
	a := tp.start(t, "a-loses", "run", append([]string{"-p", "slow-docs", "--force", "--batch-size", slowBatch, "--lock-ttl", lockTTL.String()}, extra...)...)
	waitMidProfile(t, tp.mc, a, n)
	fenceA := lastFence(t, a.Logs(t))
	cut("fail")
	b := tp.start(t, "b-takes-over", "run", append([]string{"-p", "slow-docs", "--force", "--lock-ttl", lockTTL.String()}, extra...)...)
	codeB, logsB := b.Wait(t, runTimeout)
	codeA, logsA := a.Wait(t, runTimeout)
	if codeB != exitOK {
		t.Fatalf("runner B: exit %d, want 0; logs:\n%s", codeB, logsB)
	}
	if codeA != exitLockLost && codeA != exitOK {
		t.Errorf("runner A: exit %d, want 5 (or 0); logs:\n%s", codeA, logsA)
	}
	fenceB := runSummary(t, logsB).num("fence")
	why := ""
	if f := withMsg(parseLogs(t, logsA), "bootstrap failed"); len(f) > 0 {
		why = f[0].str("err")
	}
	t.Logf("A: fence %d, exit %d (%s); B: fences %v", fenceA, codeA, why, fences(t, logsB))
	m := testutil.ReadMarker(t, tp.mc, testDB, "slow-docs")
	if m == nil || m.Fence != fenceB {
		t.Fatalf("marker %+v, want B's with fence %d", m, fenceB)
	}
	if fenceB < fenceA {
		t.Errorf("B's fence %d is below A's %d", fenceB, fenceA)
	}
	versions := map[string]bool{}
	for _, r := range withOutcome(auditRecords(t, tp.mc, testDB, "slow-docs"), store.OutcomeApplied) {
		versions[r.Version] = true
	}
	if len(versions) != 1 {
		t.Errorf("slow-docs recorded applied with %d versions, want 1", len(versions))
	}
	if got := countDocs(t, tp.mc, testDB, itemsCollection); got != n {
		t.Errorf("%d documents, want %d", got, n)
	}
}

// fences returns the fences of the "lock acquired" lines of logs, in order
// (more than one when the runner raised the counter past a marker's fence).
func fences(t testing.TB, logs string) []int64 {
	t.Helper()
	var out []int64
	for _, l := range withMsg(parseLogs(t, logs), "lock acquired") {
		out = append(out, l.num("fence"))
	}
	return out
}

// lastFence is the last of fences, failing t without one.
func lastFence(t testing.TB, logs string) int64 {
	t.Helper()
	f := fences(t, logs)
	if len(f) == 0 {
		t.Fatalf("no lock acquired line; logs:\n%s", logs)
	}
	return f[len(f)-1]
}
