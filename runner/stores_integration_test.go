package runner_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/crypto/bcrypt"

	"github.com/srvthreds/bootstrap/health"
	"github.com/srvthreds/bootstrap/internal/testutil"
	"github.com/srvthreds/bootstrap/runner"
	"github.com/srvthreds/bootstrap/store"
)

// TestRun_redis_lost_its_data_is_repaired: a profile with active patterns
// is applied, then Redis loses everything (FLUSHALL, as a restart without
// persistence): wait keeps waiting, the next run restores Pattern:<id> and
// IDX:Pattern exactly (a profile is current only when both stores
// say so), and wait then passes.
func TestRun_redis_lost_its_data_is_repaired(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	ctx := t.Context()
	set := loadSet(t, lifecycleFS(), "legacy")
	if _, err := newRunner(t, f, run{}).Run(ctx, set); err != nil {
		t.Fatal(err)
	}
	before := dumpPatternCache(t, f)
	if len(before) == 0 {
		t.Fatal("no pattern cached")
	}
	if err := f.rc.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	w := readRunner(t, f, runner.Options{PollMin: 10 * time.Millisecond, PollMax: 50 * time.Millisecond})
	wctx, cancel := context.WithTimeoutCause(ctx, 500*time.Millisecond, runner.ErrWaitTimeout)
	err := w.Wait(wctx, set)
	cancel()
	if !errors.Is(err, runner.ErrWaitTimeout) {
		t.Fatalf("wait after Redis lost its data: %v, want ErrWaitTimeout", err)
	}
	res, err := newRunner(t, f, run{}).Run(ctx, set)
	if err != nil {
		t.Fatalf("run after Redis lost its data: %v", err)
	}
	if got := res.Profiles[0].Outcome; got != store.OutcomeApplied {
		t.Errorf("outcome = %s, want applied again", got)
	}
	after := dumpPatternCache(t, f)
	if !slices.Equal(after, before) {
		t.Errorf("pattern cache after the repair:\n %v\nwant\n %v", after, before)
	}
	wctx, cancel = context.WithTimeoutCause(ctx, 30*time.Second, runner.ErrWaitTimeout)
	defer cancel()
	if err := w.Wait(wctx, set); err != nil {
		t.Errorf("wait after the repair: %v", err)
	}
}

// dumpPatternCache returns IDX:Pattern's members and each Pattern:<id>'s
// data, sorted (ts left out: it is the time of the apply).
func dumpPatternCache(t *testing.T, f *fixture) []string {
	t.Helper()
	ids, err := f.rc.SMembers(t.Context(), "IDX:Pattern").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	var out []string
	for _, id := range ids {
		data, err := f.rc.HGet(t.Context(), "Pattern:"+id, "data").Result()
		if err != nil {
			t.Fatalf("Pattern:%s: %v", id, err)
		}
		out = append(out, id+"="+data)
	}
	return out
}

// TestRun_current_profiles_take_no_lock: once every profile is current in
// both stores, a run takes no lock (the fence counter does not move) and
// audits one skipped record per profile with fence 0.
func TestRun_current_profiles_take_no_lock(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	ctx := t.Context()
	set := loadSet(t, lifecycleFS(), "app", "legacy")
	if _, err := newRunner(t, f, run{}).Run(ctx, set); err != nil {
		t.Fatal(err)
	}
	fenceKey := "bootstrap:lock:{" + testLock + "}:fence"
	before, err := f.rc.Get(ctx, fenceKey).Int64()
	if err != nil {
		t.Fatal(err)
	}
	res, err := newRunner(t, f, run{opts: runner.Options{RunID: "fast"}}).Run(ctx, set)
	if err != nil {
		t.Fatal(err)
	}
	if res.Fence != 0 {
		t.Errorf("fence = %d, want 0 (no lock taken)", res.Fence)
	}
	for _, p := range res.Profiles {
		if p.Outcome != store.OutcomeSkipped {
			t.Errorf("%s: %s, want skipped", p.Profile, p.Outcome)
		}
	}
	if after, _ := f.rc.Get(ctx, fenceKey).Int64(); after != before {
		t.Errorf("fence counter %d → %d: the run took the lock", before, after)
	}
	recs := testutil.ReadAudit(t, f.mc, "nr", "legacy", "fast")
	if len(recs) != 1 || recs[0].Outcome != store.OutcomeSkipped || recs[0].Fence != 0 {
		t.Errorf("audit of the fast run = %+v, want one skipped record with fence 0", recs)
	}
}

// TestRun_waiter_leaves_the_queue_once_current: runner A applies x and then
// y; runner B, which wants only x, queues behind A and leaves the queue as
// soon as x is current, while A still holds the lock: A stands still at the
// start of y until B has returned.
func TestRun_waiter_leaves_the_queue_once_current(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	ctx := t.Context()
	fsys := fstest.MapFS{
		"x/profile.yaml":      file("database: nr\nsteps:\n  - configs: {dir: run-config}\n"),
		"x/run-config/x.json": file(`{"x": 1}`),
		"y/profile.yaml":      file("database: nr\nsteps:\n  - documents: {collection: Slow, dir: data}\n"),
		"y/data/items.json":   file(slowItems(30)),
	}
	inY, release := make(chan struct{}), make(chan struct{})
	var once, releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	rep := &hookReporter{State: health.NewState(nil), onStep: func(profile, _ string) {
		if profile == "y" {
			once.Do(func() {
				close(inY)
				<-release
			})
		}
	}}
	var aDone atomic.Bool
	errA := make(chan error, 1)
	go func() {
		_, err := newRunner(t, f, run{opts: runner.Options{RunID: "a", BatchSize: 1, Reporter: rep}}).Run(ctx, loadSet(t, fsys, "x", "y"))
		aDone.Store(true)
		errA <- err
	}()
	select {
	case <-inY:
	case err := <-errA:
		t.Fatalf("runner a ended before it started y: %v", err)
	}
	if holder(t, f) == nil {
		t.Fatal("runner a does not hold the lock while it applies y")
	}
	res, err := newRunner(t, f, run{opts: runner.Options{RunID: "b", LockWait: time.Minute}}).Run(ctx, loadSet(t, fsys, "x"))
	if err != nil {
		t.Fatalf("runner b: %v", err)
	}
	if aDone.Load() {
		t.Errorf("runner a finished before runner b left the queue: b waited for the lock instead of re-reading the records")
	}
	if res.Fence != 0 || len(res.Profiles) != 1 || res.Profiles[0].Outcome != store.OutcomeSkipped {
		t.Errorf("runner b: fence %d, %+v; want x skipped without the lock", res.Fence, res.Profiles)
	}
	releaseOnce.Do(func() { close(release) })
	if err := <-errA; err != nil {
		t.Errorf("runner a: %v", err)
	}
}

func slowItems(n int) string {
	b := []byte("[")
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"_id": "i%05d", "n": %d}`, i, i)
	}
	return string(append(b, ']'))
}

// TestRun_wall_clock_jumps_change_nothing: the run's clock (Options.Now,
// which stamps records) jumps an hour forward and back during a run; the
// lease, the stall watchdog and the run complete as usual: they count on
// the monotonic clock.
func TestRun_wall_clock_jumps_change_nothing(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	var calls atomic.Int64
	jumpy := func() time.Time {
		switch n := calls.Add(1); {
		case n%3 == 1:
			return time.Now().Add(time.Hour)
		case n%3 == 2:
			return time.Now().Add(-time.Hour)
		}
		return time.Now()
	}
	// The ttl and the stall timeout are seconds, far below the jumps:
	// either one counted on the run's clock would end the run at the
	// first jump. When renewals and the watchdog fire is for tests on a
	// fake clock, not this one.
	res, err := newRunner(t, f, run{opts: runner.Options{Now: jumpy, StallTimeout: 30 * time.Second}, lockTTL: 5 * time.Second}).
		Run(t.Context(), loadSet(t, lifecycleFS(), "app", "legacy"))
	if err != nil {
		t.Fatalf("run with a jumping clock: %v", err)
	}
	for _, p := range res.Profiles {
		if p.Outcome != store.OutcomeApplied {
			t.Errorf("%s: %s, want applied", p.Profile, p.Outcome)
		}
	}
	if n, _ := f.mc.Database("nr").Collection(store.MarkersCollection).CountDocuments(t.Context(), bson.D{}); n != 2 {
		t.Errorf("markers in nr = %d, want 2", n)
	}
}

// TestRun_verify_repairs_drift: a Config document edited and a Pattern:<id>
// deleted by hand are named by plan --verify, repaired by run --verify
// (audited repaired), and a second run --verify writes nothing. A changed
// password secret is applied by run --verify, not by a plain run.
func TestRun_verify_repairs_drift(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	ctx := t.Context()
	fsys := lifecycleFS()
	fsys["people/profile.yaml"] = file("database: nr\nsteps:\n  - users: {file: users.yaml}\n")
	fsys["people/users.yaml"] = file("- {id: ada, passwordFrom: {env: ADA_PW}, roles: [admin]}\n")
	secret := "first-Secret-1"
	env := runner.Env{Getenv: func(k string) string {
		switch k {
		case "ADA_PW":
			return secret
		case "BCRYPT_SALT_ROUNDS":
			return "4"
		}
		return ""
	}}
	set := loadSet(t, fsys, "legacy", "people")
	if _, err := newRunner(t, f, run{opts: runner.Options{Env: env}}).Run(ctx, set); err != nil {
		t.Fatal(err)
	}
	plan := func() []runner.PlanEntry {
		entries, err := readRunner(t, f, runner.Options{Verify: true, Env: env}).Plan(ctx, set)
		if err != nil {
			t.Fatal(err)
		}
		return entries
	}
	if runner.Changes(plan()) {
		t.Fatalf("plan --verify right after the apply: %+v, want no change", plan())
	}
	cfgs := f.mc.Database("nr").Collection("Config")
	if _, err := cfgs.UpdateOne(ctx, bson.D{{Key: "_id", Value: "engine"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "config.nodeId", Value: "hand-edited"}}}}); err != nil {
		t.Fatal(err)
	}
	if err := f.rc.Del(ctx, "Pattern:legacy.alarm").Err(); err != nil {
		t.Fatal(err)
	}
	entries := plan()
	if !runner.Changes(entries) || entries[0].Action != runner.ActionRepair {
		t.Fatalf("plan --verify after the edits: %+v, want legacy to repair", entries)
	}
	var named []string
	for _, d := range entries[0].Diff {
		named = append(named, d.Changed...)
	}
	if !slices.Contains(named, "engine") || !slices.Contains(named, "Pattern:legacy.alarm") {
		t.Errorf("plan --verify names %v, want engine and Pattern:legacy.alarm", named)
	}
	res, err := newRunner(t, f, run{opts: runner.Options{RunID: "repair", Verify: true, Env: env}}).Run(ctx, set)
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomeOf(res, "legacy"); got != store.OutcomeRepaired {
		t.Errorf("legacy: %s, want repaired", got)
	}
	if got := outcomeOf(res, "people"); got != store.OutcomeSkipped {
		t.Errorf("people: %s, want skipped (nothing drifted)", got)
	}
	if n, _ := f.rc.Exists(ctx, "Pattern:legacy.alarm").Result(); n != 1 {
		t.Error("Pattern:legacy.alarm not restored")
	}
	if recs := testutil.ReadAudit(t, f.mc, "nr", "legacy", "repair"); len(recs) != 1 || recs[0].Outcome != store.OutcomeRepaired {
		t.Errorf("audit = %+v, want one repaired record", recs)
	}
	res, err = newRunner(t, f, run{opts: runner.Options{Verify: true, Env: env}}).Run(ctx, set)
	if err != nil || outcomeOf(res, "legacy") != store.OutcomeSkipped || outcomeOf(res, "people") != store.OutcomeSkipped {
		t.Errorf("second run --verify: %v, %+v; want everything skipped", err, res.Profiles)
	}

	// A rotated secret: a plain run skips, run --verify applies it.
	secret = "rotated-Secret-2"
	if res, err := newRunner(t, f, run{opts: runner.Options{Env: env}}).Run(ctx, set); err != nil || outcomeOf(res, "people") != store.OutcomeSkipped {
		t.Errorf("plain run after the rotation: %v, %+v; want people skipped", err, res.Profiles)
	}
	if res, err := newRunner(t, f, run{opts: runner.Options{Verify: true, Env: env}}).Run(ctx, set); err != nil || outcomeOf(res, "people") != store.OutcomeRepaired {
		t.Errorf("run --verify after the rotation: %v, %+v; want people repaired", err, res.Profiles)
	}
	var u struct {
		Password string `bson:"password"`
	}
	if err := f.mc.Database("nr").Collection("User").FindOne(ctx, bson.D{{Key: "_id", Value: "ada"}}).Decode(&u); err != nil {
		t.Fatal(err)
	}
	if bcrypt.CompareHashAndPassword([]byte(u.Password), []byte(secret)) != nil {
		t.Error("the stored hash does not verify against the rotated secret")
	}
}

func outcomeOf(res *runner.Result, profile string) store.Outcome {
	for _, p := range res.Profiles {
		if p.Profile == profile {
			return p.Outcome
		}
	}
	return ""
}

// TestRun_reapply_removes_what_the_profile_no_longer_writes: v1 writes
// patterns p1, p2 (active), configs c1, c2 and users u1, u2; v2 drops p2, c2
// and u2: after v2 they are gone from MongoDB and from the pattern cache
// (plan names the deletions first), and a rollback to v1 brings them back.
func TestRun_reapply_removes_what_the_profile_no_longer_writes(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	ctx := t.Context()
	v1 := fstest.MapFS{
		"own/profile.yaml":       file("database: nr\nsteps:\n  - configs: {dir: run-config}\n  - patterns: {dir: patterns}\n  - users: {file: users.yaml}\n"),
		"own/run-config/c1.json": file(`{"c": 1}`),
		"own/run-config/c2.json": file(`{"c": 2}`),
		"own/patterns/p1.json":   file(`{"id": "p1", "meta": {"active": true}}`),
		"own/patterns/p2.json":   file(`{"id": "p2", "meta": {"active": true}}`),
		"own/users.yaml":         file("- {id: u1, password: pw-one-1}\n- {id: u2, password: pw-two-2}\n"),
	}
	v2 := maps.Clone(v1)
	delete(v2, "own/run-config/c2.json")
	delete(v2, "own/patterns/p2.json")
	v2["own/users.yaml"] = file("- {id: u1, password: pw-one-1}\n")
	env := runner.Env{Getenv: func(k string) string {
		if k == "BCRYPT_SALT_ROUNDS" {
			return "4"
		}
		return ""
	}}
	if _, err := newRunner(t, f, run{opts: runner.Options{Env: env}}).Run(ctx, loadSet(t, v1, "own")); err != nil {
		t.Fatal(err)
	}
	gone := func(want bool) {
		t.Helper()
		for coll, id := range map[string]string{"Config": "c2", "PatternModel": "p2", "User": "u2"} {
			n, err := f.mc.Database("nr").Collection(coll).CountDocuments(ctx, bson.D{{Key: "_id", Value: id}})
			if err != nil {
				t.Fatal(err)
			}
			if (n == 0) != want {
				t.Errorf("nr.%s %s: %d documents, want gone: %v", coll, id, n, want)
			}
		}
		n, _ := f.rc.Exists(ctx, "Pattern:p2").Result()
		member, _ := f.rc.SIsMember(ctx, "IDX:Pattern", "p2").Result()
		if (n == 0) != want || member == want {
			t.Errorf("Pattern:p2 exists %d, IDX:Pattern has p2 %v; want gone: %v", n, member, want)
		}
	}
	gone(false)
	entries, err := readRunner(t, f, runner.Options{}).Plan(ctx, loadSet(t, v2, "own"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(entries[0].Delete, "; "); !strings.Contains(got, "nr.Config") || !strings.Contains(got, "nr.User") || !strings.Contains(got, "redis keys") {
		t.Errorf("plan deletes %q, want Config, User and redis keys named", got)
	}
	if _, err := newRunner(t, f, run{opts: runner.Options{Env: env}}).Run(ctx, loadSet(t, v2, "own")); err != nil {
		t.Fatal(err)
	}
	gone(true)
	for coll, id := range map[string]string{"Config": "c1", "PatternModel": "p1", "User": "u1"} {
		if n, _ := f.mc.Database("nr").Collection(coll).CountDocuments(ctx, bson.D{{Key: "_id", Value: id}}); n != 1 {
			t.Errorf("nr.%s %s: %d documents, want kept", coll, id, n)
		}
	}
	if _, err := newRunner(t, f, run{opts: runner.Options{Env: env}}).Rollback(ctx, loadSet(t, v2, "own").Get("own"), ""); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	gone(false)
}

// TestRun_exclusive_removes_other_profiles: X (patterns a, b; configs k1,
// k2) then `run --exclusive -p Y` (pattern c; config k1): IDX:Pattern is
// {c}, Config holds only k1 with Y's content, X's marker is gone and an
// audit record says so, and a run-time key no profile wrote is untouched.
func TestRun_exclusive_removes_other_profiles(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	ctx := t.Context()
	fsys := fstest.MapFS{
		"x/run-config/k1.json": file(`{"from": "x"}`),
		"x/run-config/k2.json": file(`{"from": "x"}`),
		"x/patterns/a.json":    file(`{"id": "a", "meta": {"active": true}}`),
		"x/patterns/b.json":    file(`{"id": "b", "meta": {"active": true}}`),
		"y/run-config/k1.json": file(`{"from": "y"}`),
		"y/patterns/c.json":    file(`{"id": "c", "meta": {"active": true}}`),
	}
	if _, err := newRunner(t, f, run{}).Run(ctx, loadSet(t, fsys, "x")); err != nil {
		t.Fatal(err)
	}
	if err := f.rc.Set(ctx, "Thred:1", "running", 0).Err(); err != nil {
		t.Fatal(err)
	}
	res, err := newRunner(t, f, run{opts: runner.Options{RunID: "excl", Exclusive: true}}).Run(ctx, loadSet(t, fsys, "y"))
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomeOf(res, "x"); got != store.OutcomeRemoved {
		t.Errorf("x: %s, want removed", got)
	}
	ids, _ := f.rc.SMembers(ctx, "IDX:Pattern").Result()
	if !slices.Equal(ids, []string{"c"}) {
		t.Errorf("IDX:Pattern = %v, want [c]", ids)
	}
	for _, k := range []string{"Pattern:a", "Pattern:b"} {
		if n, _ := f.rc.Exists(ctx, k).Result(); n != 0 {
			t.Errorf("%s left behind", k)
		}
	}
	cur, err := f.mc.Database("nr").Collection("Config").Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var cfgs []struct {
		ID     string `bson:"_id"`
		Config struct {
			From string `bson:"from"`
		} `bson:"config"`
	}
	if err := cur.All(ctx, &cfgs); err != nil {
		t.Fatal(err)
	}
	if len(cfgs) != 1 || cfgs[0].ID != "k1" || cfgs[0].Config.From != "y" {
		t.Errorf("Config = %+v, want only k1 with y's content", cfgs)
	}
	if m := testutil.ReadMarker(t, f.mc, "nr", "x"); m != nil {
		t.Errorf("x's marker = %+v, want gone", m)
	}
	if recs := testutil.ReadAudit(t, f.mc, "nr", "x", "excl"); len(recs) != 1 || recs[0].Outcome != store.OutcomeRemoved {
		t.Errorf("audit of x = %+v, want one removed record", recs)
	}
	if v, _ := f.rc.Get(ctx, "Thred:1").Result(); v != "running" {
		t.Errorf("Thred:1 = %q, want untouched", v)
	}
}
