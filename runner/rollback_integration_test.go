package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/internal/testutil"
	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner"
	"github.com/srvthreds/bootstrap/store"
)

// rbDB is the database of the rollback tests' profile.
const rbDB = "rb"

// rbCollections are the collections the profile of rollbackFS writes.
var rbCollections = []string{"Config", "PatternModel", "User", "Reference"}

// rollbackFS is a profile "app" in database rb with every step kind that a
// snapshot holds. Version 2 changes a config value, adds a config,
// deactivates a pattern, adds an active one, changes a user's roles, changes and adds
// reference documents, and changes and adds Redis keys.
func rollbackFS(version int) fstest.MapFS {
	fsys := fstest.MapFS{
		"app/profile.yaml": file("database: " + rbDB + "\nsteps:\n" +
			"  - configs: {dir: run-config}\n" +
			"  - patterns: {dir: patterns}\n" +
			"  - users: {file: users.yaml}\n" +
			"  - documents: {collection: Reference, dir: data, key: code}\n" +
			"  - redis: {file: redis.yaml}\n"),
		"app/run-config/engine.json":   file(`{"name": "engine", "threads": 4, "nodeId": "${ENGINE_NODE_ID||org.wt.engine1}"}`),
		"app/run-config/sessions.json": file(`{"ttl": 60}`),
		"app/patterns/alarm.json":      file(`{"id": "p.alarm", "name": "Alarm", "meta": {"active": true}}`),
		"app/patterns/watch.json":      file(`{"id": "p.watch", "name": "Watch", "meta": {"active": true}, "created": "2020-01-01"}`),
		"app/users.yaml": file("users:\n  - id: ops\n    password: ops-test-only\n" +
			"    firstName: Olga\n    lastName: Ops\n    roles: [viewer]\n"),
		"app/data/levels.json": file(`[{"code": "low", "rank": 1}, {"code": "high", "rank": 2}]`),
		"app/redis.yaml": file("keys:\n" +
			"  - key: rb:version\n    string: \"1\"\n" +
			"  - key: rb:ranks\n    hash: {low: \"1\", high: \"2\"}\n" +
			"  - key: rb:warmup\n    string: \"true\"\n    ttl: 10m\n"),
	}
	if version >= 2 {
		fsys["app/run-config/engine.json"] = file(`{"name": "engine", "threads": 8, "nodeId": "${ENGINE_NODE_ID||org.wt.engine1}"}`)
		fsys["app/run-config/extra.json"] = file(`{"added": "in v2"}`)
		fsys["app/patterns/watch.json"] = file(`{"id": "p.watch", "name": "Watch", "meta": {"active": false}}`)
		fsys["app/patterns/fresh.json"] = file(`{"id": "p.fresh", "name": "Fresh", "meta": {"active": true}}`)
		fsys["app/users.yaml"] = file("users:\n  - id: ops\n    password: ops-test-only\n" +
			"    firstName: Olga\n    lastName: Ops\n    roles: [viewer, admin]\n")
		fsys["app/data/levels.json"] = file(`[{"code": "low", "rank": 1}, {"code": "mid", "rank": 2}, {"code": "high", "rank": 3}]`)
		fsys["app/redis.yaml"] = file("keys:\n" +
			"  - key: rb:version\n    string: \"2\"\n" +
			"  - key: rb:ranks\n    hash: {low: \"1\", mid: \"2\", high: \"3\"}\n" +
			"  - key: rb:warmup\n    string: \"true\"\n    ttl: 10m\n" +
			"  - key: rb:new\n    set: [a, b]\n")
	}
	return fsys
}

// rbRun is a run of the rollback tests: a cheap bcrypt cost.
func rbRun(o runner.Options) run {
	o.Env.Getenv = func(k string) string {
		if k == "BCRYPT_SALT_ROUNDS" {
			return "4"
		}
		return ""
	}
	return run{opts: o}
}

// state is what the databases hold: documents by "<collection>/<_id>"
// without their "modified" field, and Redis keys (but the lock's) by name.
type state struct {
	docs map[string]bson.Raw
	keys map[string]string
}

// readState reads the documents of db's collections colls and every Redis
// key.
func readState(t *testing.T, f *fixture, db string, colls ...string) state {
	t.Helper()
	st := state{docs: map[string]bson.Raw{}, keys: map[string]string{}}
	for _, c := range colls {
		for id, raw := range snapshot(t, f.mc, db, c) {
			st.docs[c+"/"+strings.Trim(id, `"`)] = withoutField(t, raw, "modified")
		}
	}
	keys, err := f.rc.Keys(t.Context(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "bootstrap:") { // bootstrap's own: the lock, the completion records
			st.keys[k] = keyState(t, f.rc, k)
		}
	}
	return st
}

// withoutField returns doc without its top-level field name.
func withoutField(t *testing.T, doc bson.Raw, name string) bson.Raw {
	t.Helper()
	elems, err := doc.Elements()
	if err != nil {
		t.Fatal(err)
	}
	var d bson.D
	for _, e := range elems {
		if e.Key() != name {
			d = append(d, bson.E{Key: e.Key(), Value: e.Value()})
		}
	}
	raw, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// keyState describes a Redis key: its type, value and whether it expires.
func keyState(t *testing.T, rc *redis.Client, k string) string {
	t.Helper()
	ctx := t.Context()
	typ := rc.Type(ctx, k).Val()
	var v any
	switch typ {
	case "string":
		v = rc.Get(ctx, k).Val()
	case "hash":
		v = rc.HGetAll(ctx, k).Val()
	case "set":
		v = slices.Sorted(slices.Values(rc.SMembers(ctx, k).Val()))
	}
	b, _ := json.Marshal(v)
	return fmt.Sprintf("%s %s expires=%v", typ, b, rc.PTTL(ctx, k).Val() > 0)
}

// checkState fails t, field by field, where got differs from want.
func checkState(t *testing.T, got, want state) {
	t.Helper()
	for _, id := range slices.Sorted(maps.Keys(want.docs)) {
		g, ok := got.docs[id]
		if !ok {
			t.Errorf("%s: missing, want %s", id, want.docs[id])
			continue
		}
		wantElems, _ := want.docs[id].Elements()
		gotElems, _ := g.Elements()
		if len(wantElems) != len(gotElems) {
			t.Errorf("%s: fields %s, want %s", id, g, want.docs[id])
		}
		for _, we := range wantElems {
			gv, err := g.LookupErr(we.Key())
			if err != nil || !gv.Equal(we.Value()) {
				t.Errorf("%s: %s = %s, want %s", id, we.Key(), gv, we.Value())
			}
		}
	}
	for id := range got.docs {
		if _, ok := want.docs[id]; !ok {
			t.Errorf("%s: present, want absent", id)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(want.keys)) {
		if got.keys[k] != want.keys[k] {
			t.Errorf("redis %s = %q, want %q", k, got.keys[k], want.keys[k])
		}
	}
	for k := range got.keys {
		if _, ok := want.keys[k]; !ok {
			t.Errorf("redis %s = %q, want absent", k, got.keys[k])
		}
	}
}

// rollback runs a Rollback of profile p of set with a new Runner.
func rollback(t *testing.T, f *fixture, set *profiles.Set, rn run, to string) (*runner.RollbackResult, error) {
	t.Helper()
	return newRunner(t, f, rn).Rollback(t.Context(), set.Get("app"), to)
}

// TestRollback applies v1, then v2, rolls back and finds v1's state field
// by field (but "modified"), including the Redis pattern cache, without the
// config v2 added; the marker says v1, so a Waiter for v2 keeps waiting.
// v2 applied again over the rollback can be rolled back the same way, and
// there is nothing to roll back to before the first apply.
func TestRollback(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	v1, v2 := loadSet(t, rollbackFS(1), "app"), loadSet(t, rollbackFS(2), "app")
	st := store.New(f.mc)
	// Documents and keys of no profile stay as they are.
	if _, err := f.mc.Database(rbDB).Collection("Config").InsertOne(t.Context(), bson.D{{Key: "_id", Value: "foreign"}, {Key: "x", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := f.rc.Set(t.Context(), "foreign:key", "kept", 0).Err(); err != nil {
		t.Fatal(err)
	}

	runSet(t, f, v1, rbRun(runner.Options{RunID: "apply-v1"}))
	state1 := readState(t, f, rbDB, rbCollections...)
	if snaps, err := st.Snapshots(t.Context(), rbDB, "app"); err != nil || len(snaps) != 0 {
		t.Fatalf("snapshots after a first apply = %+v, %v; want none", snaps, err)
	}

	res2 := runSet(t, f, v2, rbRun(runner.Options{RunID: "apply-v2"}))
	state2 := readState(t, f, rbDB, rbCollections...)
	if _, ok := state2.docs["Config/extra"]; !ok {
		t.Fatal("v2 did not add its config")
	}
	snaps, err := st.Snapshots(t.Context(), rbDB, "app")
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 1 || snaps[0].Version != v1.Get("app").Version || snaps[0].ReplacedBy != v2.Get("app").Version ||
		!snaps[0].Complete || snaps[0].Fence != res2.Fence || snaps[0].Items == 0 || snaps[0].Bytes == 0 {
		t.Fatalf("snapshots after v2 = %+v, want one complete snapshot of v1 taken at fence %d", snaps, res2.Fence)
	}

	ok := t.Run("rollback_restores_v1", func(t *testing.T) {
		res, err := rollback(t, f, v2, rbRun(runner.Options{RunID: "rollback-1"}), "")
		if err != nil {
			t.Fatalf("rollback: %v", err)
		}
		if res.From != v2.Get("app").Version || res.To != v1.Get("app").Version || !slices.Equal(res.Snapshots, []string{res.To}) {
			t.Errorf("result = %+v, want from v2 to v1 with v1's snapshot", res)
		}
		if res.Fence <= res2.Fence || res.DocsDeleted < 2 || res.KeysDeleted < 1 {
			t.Errorf("result = %+v, want a fence above %d, the added config and document and key deleted", res, res2.Fence)
		}
		checkState(t, readState(t, f, rbDB, rbCollections...), state1)

		m := testutil.ReadMarker(t, f.mc, rbDB, "app")
		if m == nil || m.Version != v1.Get("app").Version || m.Source != store.SourceRollback ||
			m.RolledBackFrom != v2.Get("app").Version || m.Fence != res.Fence || m.RunID != "rollback-1" {
			t.Fatalf("marker = %+v, want v1 written by rollback-1 at fence %d, rolled back from v2", m, res.Fence)
		}
		if got, want := recordNames(m.Steps), stepNames(v1.Get("app")); !slices.Equal(got, want) {
			t.Errorf("marker steps = %v, want v1's %v", got, want)
		}
		a := oneAudit(t, f.mc, rbDB, "app", "rollback-1")
		if a.Outcome != store.OutcomeRolledBack || a.Version != v1.Get("app").Version ||
			a.PrevVersion != v2.Get("app").Version || a.Fence != res.Fence || a.Error != "" {
			t.Errorf("audit = %+v, want rolled-back to v1 from v2", a)
		}
	})
	if !ok {
		return
	}

	t.Run("waiter_for_v2_keeps_waiting", func(t *testing.T) {
		w := readRunner(t, f, runner.Options{PollMin: 10 * time.Millisecond, PollMax: 50 * time.Millisecond})
		ctx, cancel := context.WithCancel(t.Context())
		done := startWait(ctx, w, v2)
		wantWaiting(t, done, "the marker says v1 after the rollback")
		cancel()
		<-done
		ctx, cancel = context.WithTimeoutCause(t.Context(), waitBound, runner.ErrWaitTimeout)
		defer cancel()
		if err := w.Wait(ctx, v1); err != nil {
			t.Errorf("Wait for v1 = %v, want nil", err)
		}
	})

	ok = t.Run("reapply_and_roll_back_again", func(t *testing.T) {
		res := runSet(t, f, v2, rbRun(runner.Options{RunID: "apply-v2-again"}))
		if got := outcomes(res)["app"]; got != store.OutcomeApplied {
			t.Fatalf("v2 over the rollback: %s, want applied", got)
		}
		if got := readState(t, f, rbDB, rbCollections...); got.keys["rb:version"] != state2.keys["rb:version"] {
			t.Fatalf("rb:version = %s after v2 again, want %s", got.keys["rb:version"], state2.keys["rb:version"])
		}
		if _, err := rollback(t, f, v2, rbRun(runner.Options{RunID: "rollback-2"}), v1.Get("app").Version[:12]); err != nil {
			t.Fatalf("rollback to v1 by prefix: %v", err)
		}
		checkState(t, readState(t, f, rbDB, rbCollections...), state1)
	})
	if !ok {
		return
	}

	t.Run("nothing_before_the_first_apply", func(t *testing.T) {
		before := readState(t, f, rbDB, slices.Concat(rbCollections, []string{store.MarkersCollection, store.AuditCollection})...)
		_, err := rollback(t, f, v2, rbRun(runner.Options{RunID: "rollback-3"}), "")
		if !errors.Is(err, runner.ErrNoSnapshot) {
			t.Fatalf("err = %v, want ErrNoSnapshot", err)
		}
		checkState(t, readState(t, f, rbDB, slices.Concat(rbCollections, []string{store.MarkersCollection, store.AuditCollection})...), before)
	})
}

// TestRollbackLockHeld: while another holds the lock, a rollback waits its
// lock wait and returns lock.ErrNotAcquired, changing nothing.
func TestRollbackLockHeld(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	v1, v2 := loadSet(t, rollbackFS(1), "app"), loadSet(t, rollbackFS(2), "app")
	runSet(t, f, v1, rbRun(runner.Options{}))
	runSet(t, f, v2, rbRun(runner.Options{}))
	colls := slices.Concat(rbCollections, []string{store.MarkersCollection, store.AuditCollection, store.SnapshotsCollection})
	before := readState(t, f, rbDB, colls...)

	holder, err := lock.New(f.rc, testLock, &lock.Options{Holder: lock.Holder{RunID: "holder-run", Host: "holder-pod"}})
	if err != nil {
		t.Fatal(err)
	}
	lease, err := holder.TryAcquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lease.Release(context.WithoutCancel(t.Context())) })

	_, err = rollback(t, f, v2, rbRun(runner.Options{LockWait: time.Second}), "")
	if !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("err = %v, want lock.ErrNotAcquired", err)
	}
	if !strings.Contains(err.Error(), "holder-run") {
		t.Errorf("err = %q, want it to name the holder", err)
	}
	checkState(t, readState(t, f, rbDB, colls...), before)
	if err := lease.Refresh(t.Context()); err != nil {
		t.Errorf("the holder's lease after the rollback: %v, want still held", err)
	}
}

// TestRollbackNoSnapshot: a rollback to a version without a snapshot
// returns ErrNoSnapshot naming the versions that have one, and changes
// nothing: no document, no key, no marker, no audit record.
func TestRollbackNoSnapshot(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	v1, v2 := loadSet(t, rollbackFS(1), "app"), loadSet(t, rollbackFS(2), "app")
	colls := slices.Concat(rbCollections, []string{store.MarkersCollection, store.AuditCollection, store.SnapshotsCollection})

	_, err := rollback(t, f, v1, rbRun(runner.Options{}), "")
	if !errors.Is(err, runner.ErrNoSnapshot) || !strings.Contains(err.Error(), "never applied") {
		t.Fatalf("rollback of a profile never applied: %v, want ErrNoSnapshot saying so", err)
	}

	runSet(t, f, v1, rbRun(runner.Options{}))
	runSet(t, f, v2, rbRun(runner.Options{}))
	before := readState(t, f, rbDB, colls...)
	_, err = rollback(t, f, v2, rbRun(runner.Options{}), "0123456789ab")
	if !errors.Is(err, runner.ErrNoSnapshot) {
		t.Fatalf("err = %v, want ErrNoSnapshot", err)
	}
	if want := v1.Get("app").Version[:12]; !strings.Contains(err.Error(), want) {
		t.Errorf("err = %q, want it to name v1 (%s), which has a snapshot", err, want)
	}
	checkState(t, readState(t, f, rbDB, colls...), before)
	checkLockFree(t, f)
}

// TestRollbackFailedAttempt: a re-apply that fails part-way leaves its
// snapshot; a second failed attempt keeps the first one's (the state it
// finds holds the first attempt's writes). The default rollback then
// restores the current version, undoing what the attempts wrote.
func TestRollbackFailedAttempt(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	v1 := loadSet(t, rollbackFS(1), "app")
	broken := rollbackFS(2)
	broken["app/profile.yaml"] = file("database: " + rbDB + "\nsteps:\n" +
		"  - configs: {dir: run-config}\n  - patterns: {dir: patterns}\n  - exec: {command: [/bin/false]}\n")
	v2 := loadSet(t, broken, "app")

	runSet(t, f, v1, rbRun(runner.Options{}))
	state1 := readState(t, f, rbDB, rbCollections...)
	for i := range 2 {
		_, err := newRunner(t, f, rbRun(runner.Options{RunID: fmt.Sprintf("attempt-%d", i)})).Run(t.Context(), v2)
		var se *runner.StepError
		if !errors.As(err, &se) || se.Step != "2:exec" {
			t.Fatalf("attempt %d: err = %v, want the exec step's failure", i, err)
		}
	}
	if got := readState(t, f, rbDB, rbCollections...); got.docs["Config/extra"] == nil {
		t.Fatal("the failed attempts wrote no config; the test needs them to")
	}
	res, err := rollback(t, f, v2, rbRun(runner.Options{RunID: "repair"}), "")
	if err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if res.To != v1.Get("app").Version || res.From != v1.Get("app").Version {
		t.Errorf("rollback from %.12s to %.12s, want v1 to v1 (undoing the failed attempt)", res.From, res.To)
	}
	checkState(t, readState(t, f, rbDB, rbCollections...), state1)
	if m := testutil.ReadMarker(t, f.mc, rbDB, "app"); m == nil || m.Source != store.SourceRollback || m.Version != v1.Get("app").Version {
		t.Errorf("marker = %+v, want v1 from a rollback", m)
	}
}
