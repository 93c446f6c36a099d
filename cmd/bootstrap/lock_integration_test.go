package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/internal/testutil"
	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/store"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// takeoverMargin is added to a lock ttl where the spec bounds a takeover by
// one ttl: the waiter's retry pause (at most 2s) and a loaded machine's
// scheduling. It is a bound, not a speed.
const takeoverMargin = 10 * time.Second

// lockTTL is the --lock-ttl of the runners of the lock fault tests:
// seconds, so that no lease runs out by itself on a loaded machine. A test
// that takes a lock from a live holder breaks it once it has seen the
// holder frozen midway, rather than racing a short ttl.
const lockTTL = 5 * time.Second

// Five runners started at once: the lock lets one apply every profile and
// the others find them current.
func TestLock_concurrent_runners_apply_each_profile_once(t *testing.T) {
	t.Parallel()
	env := harness.Start(t)
	const runners = 5
	args := dbArgs(env, "run", "-p", "example-patterns,example-users")
	rcs := make([]*harness.RunnerContainer, runners)
	var wg sync.WaitGroup
	for i := range rcs {
		wg.Go(func() {
			rcs[i] = env.StartRunner(t, harness.RunOptions{Args: args, Env: exampleEnv(), Name: fmt.Sprintf("race-%d", i)})
		})
	}
	wg.Wait()
	if t.Failed() { // a start failed (the harness reported it)
		t.FailNow()
	}
	for _, rc := range rcs {
		if code, logs := rc.Wait(t, runTimeout); code != exitOK {
			t.Errorf("runner %s: exit = %d, want 0; logs:\n%s", rc.Name, code, logs)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	mc := env.Mongo.Client(t)
	type run struct {
		fence        int64
		first, last  time.Time
		applied, all int
	}
	runs := map[string]*run{}
	for _, p := range []string{"example-base", "example-users", "example-patterns"} {
		recs := auditRecords(t, mc, exampleDB, p)
		applied := withOutcome(recs, store.OutcomeApplied)
		if got, want := len(applied), 1; got != want {
			t.Fatalf("%s: %d applied audit records, want %d: %+v", p, got, want, recs)
		}
		if got, want := len(withOutcome(recs, store.OutcomeSkipped)), runners-1; got != want {
			t.Errorf("%s: %d skipped audit records, want %d", p, got, want)
		}
		if m := testutil.ReadMarker(t, mc, exampleDB, p); m == nil || m.Fence != applied[0].Fence || m.RunID != applied[0].RunID {
			t.Errorf("%s: marker %+v, want the applying run's (%s, fence %d)", p, m, applied[0].RunID, applied[0].Fence)
		}
		for _, r := range recs {
			ru := runs[r.RunID]
			if ru == nil {
				ru = &run{fence: r.Fence, first: r.At, last: r.At}
				runs[r.RunID] = ru
			}
			if ru.fence != r.Fence {
				t.Errorf("run %s recorded fences %d and %d", r.RunID, ru.fence, r.Fence)
			}
			ru.first, ru.last = minTime(ru.first, r.At), maxTime(ru.last, r.At)
			ru.all++
			if r.Outcome == store.OutcomeApplied {
				ru.applied++
			}
		}
	}
	if got, want := len(runs), runners; got != want {
		t.Fatalf("audit records of %d runs, want %d", got, want)
	}
	// Runs that found every profile current before queueing (or while
	// waiting) took no lock: their records carry fence 0, and they applied
	// nothing. The others are serialized by the lock.
	ordered := make([]*run, 0, len(runs))
	for _, r := range runs {
		if r.fence == 0 {
			if r.applied != 0 || r.all != 3 {
				t.Errorf("run without the lock: %d records, %d applied; want 3, none applied", r.all, r.applied)
			}
			continue
		}
		ordered = append(ordered, r)
	}
	slices.SortFunc(ordered, func(a, b *run) int { return cmp.Compare(a.fence, b.fence) })
	// One run applied everything: the first to take the lock.
	if got, want := ordered[0].applied, 3; got != want {
		t.Errorf("the lowest fence's run applied %d profiles, want %d", got, want)
	}
	for i := 1; i < len(ordered); i++ {
		prev, cur := ordered[i-1], ordered[i]
		if cur.fence <= prev.fence {
			t.Errorf("fences not strictly increasing: %d then %d", prev.fence, cur.fence)
		}
		// Runs are serialized by the lock: every record of a run comes
		// after every record of the run with the lower fence.
		if cur.first.Before(prev.last) {
			t.Errorf("run with fence %d recorded at %s, before the run with fence %d finished at %s",
				cur.fence, cur.first, prev.fence, prev.last)
		}
		if cur.applied != 0 || cur.all != 3 {
			t.Errorf("run with fence %d: %d records, %d applied; want 3, none applied", cur.fence, cur.all, cur.applied)
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// A holder killed with SIGKILL mid-profile blocks the next runner for at
// most one ttl; that runner then applies the whole profile.
func TestLock_killed_holder_is_taken_over_within_ttl(t *testing.T) {
	t.Parallel()
	env := harness.Start(t)
	mc := env.Mongo.Client(t)
	dir := t.TempDir()
	writeDocumentsProfile(t, dir, "slow", slowDocs)
	// The point is expiry: nobody breaks the lock, the killed holder's
	// lease runs out.
	const ttl = lockTTL
	args := dbArgs(env, "run", "-p", "slow", "--lock-ttl", ttl.String(), "--batch-size", slowBatch)
	a := env.StartRunner(t, harness.RunOptions{Args: args, ProfilesDir: dir, Name: "a"})
	b := env.StartRunner(t, harness.RunOptions{Args: args, ProfilesDir: dir, Name: "b"})
	holder, waiter, held := holderAndWaiter(t, a, b)
	waitMidProfile(t, mc, holder, slowDocs)

	killed := time.Now()
	holder.Kill(t, "SIGKILL")
	acquired := waitForLog(t, waiter, time.Minute, `"lock acquired"`, msgIs("lock acquired"))
	took := acquired.at(t).Sub(killed)
	t.Logf("lock taken over %s after the kill (ttl %s)", took.Round(time.Millisecond), ttl)
	if took <= 0 || took > ttl+takeoverMargin {
		t.Errorf("lock taken over %s after the kill, want within the ttl %s (+%s margin)", took, ttl, takeoverMargin)
	}

	code, logs := waiter.Wait(t, runTimeout)
	if code != exitOK {
		t.Fatalf("waiter: exit = %d, want 0; logs:\n%s", code, logs)
	}
	if got, want := countDocs(t, mc, testDB, itemsCollection), int64(slowDocs); got != want {
		t.Errorf("documents = %d, want %d", got, want)
	}
	m := testutil.ReadMarker(t, mc, testDB, "slow")
	if m == nil {
		t.Fatal("no marker after the takeover")
	}
	if got, want := m.Fence, acquired.num("fence"); got != want {
		t.Errorf("marker fence = %d, want the second runner's %d", got, want)
	}
	if m.Fence <= held.num("fence") {
		t.Errorf("marker fence %d not above the killed holder's %d", m.Fence, held.num("fence"))
	}
	if code, _ := holder.Wait(t, time.Minute); code != 137 {
		t.Errorf("killed holder: exit = %d, want 137", code)
	}
}

// A holder frozen past its ttl loses the lock to the next runner (the test
// breaks it once the holder is frozen midway); once resumed it stops with
// exit 5 and writes nothing more: no document (each runner writes different
// content under the same ids, and every stored document is the second
// runner's) and no marker over the newer one.
func TestLock_paused_holder_exits_5_without_marker(t *testing.T) {
	t.Parallel()
	env := harness.Start(t)
	mc := env.Mongo.Client(t)
	dirs := map[string]string{"a": t.TempDir(), "b": t.TempDir()}
	for name, dir := range dirs {
		writeTaggedDocumentsProfile(t, dir, "slow", slowDocs, "runner "+name)
	}
	args := dbArgs(env, "run", "-p", "slow", "--lock-ttl", lockTTL.String(), "--batch-size", slowBatch)
	a := env.StartRunner(t, harness.RunOptions{Args: args, ProfilesDir: dirs["a"], Name: "a"})
	b := env.StartRunner(t, harness.RunOptions{Args: args, ProfilesDir: dirs["b"], Name: "b"})
	holder, waiter, held := holderAndWaiter(t, a, b)
	tags := map[*harness.RunnerContainer]string{a: "runner a", b: "runner b"}
	waitMidProfile(t, mc, holder, slowDocs)
	second := pausedHolderLosesTo(t, env.Redis.Client(t), holder, waiter)

	m := testutil.ReadMarker(t, mc, testDB, "slow")
	if m == nil {
		t.Fatal("no marker")
	}
	if got, want := m.Fence, second.num("fence"); got != want || m.RunID != second.str("run_id") {
		t.Errorf("marker fence %d of run %s, want the second runner's %d of run %s", got, m.RunID, want, second.str("run_id"))
	}
	if m.Fence <= held.num("fence") {
		t.Errorf("marker fence %d not above the old holder's %d", m.Fence, held.num("fence"))
	}
	var old []store.AuditRecord
	for _, r := range auditRecords(t, mc, testDB, "slow") {
		if r.RunID == held.str("run_id") {
			old = append(old, r)
		}
	}
	if len(old) != 1 || old[0].Outcome != store.OutcomeInterrupted {
		t.Errorf("old holder's audit records = %+v, want one interrupted", old)
	}
	if got, want := countDocs(t, mc, testDB, itemsCollection), int64(slowDocs); got != want {
		t.Errorf("documents = %d, want %d", got, want)
	}
	items := mc.Database(testDB).Collection(itemsCollection)
	holderTag := bson.D{{Key: "label", Value: bson.D{{Key: "$regex", Value: "of " + tags[holder] + "$"}}}}
	if n, err := items.CountDocuments(t.Context(), holderTag); err != nil || n != 0 {
		t.Errorf("%d documents carry the resumed holder's content (%v), want none: the data must be what the marker says", n, err)
	}
}

// pausedHolderLosesTo freezes holder (docker pause) and breaks its lock
// (rdb is the lock's Redis), so that waiter takes it without waiting for the
// lease to run out; once waiter has applied its profile and exited 0, and
// the holder's lease is past (the freeze outlasts the lock key's remaining
// ttl, read when the lock was broken: the fault, a holder frozen past its
// ttl), it resumes holder, which must exit 5 without logging the profile
// applied. It returns waiter's "lock acquired" line.
func pausedHolderLosesTo(t *testing.T, rdb *redis.Client, holder, waiter *harness.RunnerContainer) logLine {
	t.Helper()
	if !paused(t, holder) {
		holder.Pause(t)
	}
	l, err := lock.New(rdb, "bootstrap", nil)
	if err != nil {
		holder.Unpause(t)
		t.Fatal(err)
	}
	// The holder's lease ends before its key does: it is counted from
	// before the request that set the key's ttl.
	h, err := l.Break(t.Context(), true)
	leaseOver := time.Now()
	if err != nil {
		holder.Unpause(t)
		t.Fatalf("break the frozen holder's lock: %v", err)
	}
	if h != nil {
		leaseOver = leaseOver.Add(h.TTL)
	}
	code, logs := waiter.Wait(t, runTimeout)
	if code != exitOK {
		holder.Unpause(t)
		t.Fatalf("second runner: exit = %d, want 0; logs:\n%s", code, logs)
	}
	second := firstMsg(t, parseLogs(t, logs), "lock acquired", logs)
	time.Sleep(time.Until(leaseOver)) // the freeze outlasts the lease: the fault, not a wait for an event
	holder.Unpause(t)
	code, logs = holder.Wait(t, runTimeout)
	if code != exitLockLost {
		t.Fatalf("resumed holder: exit = %d, want %d; logs:\n%s", code, exitLockLost, logs)
	}
	for name, o := range outcomes(t, logs) {
		if o == string(store.OutcomeApplied) {
			t.Errorf("resumed holder logged %s applied", name)
		}
	}
	return second
}

// A holder frozen right after it acquired the lock (before its first
// renewal, ttl/3 later), or in the middle of a patterns step, past its ttl
// (its lock broken while it is frozen): the other runner applies its own
// content; the resumed holder writes neither a PatternModel document nor a
// cache entry, and exits 5 (fencing covers data). (A redis step is
// too fast to freeze midway from outside:
// TestFault_lock_lost_mid_redis_step_writes_nothing, in the runner's tests,
// holds the holder between two batches instead.)
func TestLock_paused_holder_mid_redis_writes_nothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		profile func(t *testing.T, dir, tag string)
		midway  func(t *testing.T, mc *mongo.Client, rc *redis.Client) bool // polled
		check   func(t *testing.T, env *harness.Env, tag string)
	}{
		{name: "right_after_acquiring", profile: writeFencedPatterns, midway: func(t *testing.T, _ *mongo.Client, rc *redis.Client) bool {
			return lockHolder(t, rc) != nil
		}, check: checkFencedPatterns},
		{name: "patterns_step", profile: writeFencedPatterns, midway: func(t *testing.T, mc *mongo.Client, _ *redis.Client) bool {
			return countDocs(t, mc, testDB, "PatternModel") >= 10
		}, check: checkFencedPatterns},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := harness.Start(t)
			dirs := map[string]string{"a": t.TempDir(), "b": t.TempDir()}
			for name, dir := range dirs {
				tt.profile(t, dir, "runner "+name)
			}
			args := dbArgs(env, "run", "-p", "fenced", "--lock-ttl", lockTTL.String())
			// The holder runs alone, one statement a batch, until it is
			// midway and frozen; only then does the other runner start (a
			// runner that started first could finish before the second
			// one's container is up), with batches of the default size.
			holder := env.StartRunner(t, harness.RunOptions{Args: append(slices.Clone(args), "--batch-size", "1"), ProfilesDir: dirs["a"], Name: "a"})
			mc, rc := env.Mongo.Client(t), env.Redis.Client(t)
			deadline := time.Now().Add(2 * time.Minute)
			for !tt.midway(t, mc, rc) {
				if time.Now().After(deadline) || !running(t, holder) {
					t.Fatalf("holder %s never got midway; logs:\n%s", holder.Name, holder.Logs(t))
				}
				time.Sleep(5 * time.Millisecond)
			}
			holder.Pause(t)
			acquired := firstMsg(t, parseLogs(t, holder.Logs(t)), "lock acquired", "").at(t)
			t.Logf("holder frozen %s after it acquired the lock", time.Since(acquired).Round(time.Millisecond))
			waiter := env.StartRunner(t, harness.RunOptions{Args: args, ProfilesDir: dirs["b"], Name: "b"})
			pausedHolderLosesTo(t, rc, holder, waiter)
			tags := map[*harness.RunnerContainer]string{holder: "runner a", waiter: "runner b"}
			tt.check(t, env, tags[waiter])
		})
	}
}

// fencedKeys/20 is the number of patterns of the generated profile: with
// --batch-size 1 their documents take tens of seconds on FerretDB, so a
// test can pause the runner midway even when its polls are starved of CPU
// for seconds.
const fencedKeys = 40000

// writeFencedPatterns writes the profile "fenced": a srvthreds-form
// profile of fencedKeys/20 active patterns whose description is tag.
func writeFencedPatterns(t *testing.T, dir, tag string) {
	t.Helper()
	files := map[string]string{}
	for i := range fencedKeys / 20 {
		files[fmt.Sprintf("fenced/patterns/p%04d.json", i)] = fmt.Sprintf(
			`{"id": "p.%04d", "name": "p%04d", "description": %q, "meta": {"active": true}, "reactions": []}`, i, i, tag)
	}
	files["fenced/profile.yaml"] = "database: " + testDB + "\nsteps:\n  - patterns: {dir: patterns}\n"
	writeFiles(t, dir, files)
}

func checkFencedPatterns(t *testing.T, env *harness.Env, tag string) {
	t.Helper()
	rc := env.Redis.Client(t)
	n := fencedKeys / 20
	if got, err := rc.SCard(t.Context(), "IDX:Pattern").Result(); err != nil || got != int64(n) {
		t.Errorf("IDX:Pattern members = %d (%v), want %d", got, err, n)
	}
	for i := range n {
		data, err := rc.HGet(t.Context(), fmt.Sprintf("Pattern:p.%04d", i), "data").Result()
		if err != nil || !strings.Contains(data, tag) {
			t.Fatalf("Pattern:p.%04d data = %q (%v), want the description %q", i, data, err, tag)
		}
	}
	coll := env.Mongo.Client(t).Database(testDB).Collection("PatternModel")
	if got, err := coll.CountDocuments(t.Context(), bson.D{{Key: "description", Value: tag}}); err != nil || got != int64(n) {
		t.Errorf("PatternModel documents of %q = %d (%v), want %d", tag, got, err, n)
	}
}

// Redis frozen past the ttl, or restarted, during a run: the holder can no
// longer confirm its lease and stops with exit 5 and no marker; a later run
// completes.
func TestLock_redis_fault_during_run_exits_5(t *testing.T) {
	t.Parallel()
	const ttl = lockTTL
	tests := []struct {
		name  string
		fault func(t *testing.T, env *harness.Env)
	}{
		{name: "redis_paused_past_ttl", fault: func(t *testing.T, env *harness.Env) {
			env.Redis.Pause(t)
			// The fault: Redis stays frozen for longer than a ttl. Every
			// renewal it answered was sent before the pause, so the lease,
			// and the lock key, are past their end when it answers again.
			time.Sleep(ttl + time.Second)
			env.Redis.Unpause(t)
		}},
		{name: "redis_restarted", fault: func(t *testing.T, env *harness.Env) {
			env.Redis.Stop(t)
			env.Redis.Start(t)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := harness.Start(t)
			mc := env.Mongo.Client(t)
			dir := t.TempDir()
			writeDocumentsProfile(t, dir, "slow", slowDocs)
			holder := env.StartRunner(t, harness.RunOptions{
				Args:        dbArgs(env, "run", "-p", "slow", "--lock-ttl", ttl.String(), "--batch-size", slowBatch),
				ProfilesDir: dir, Name: "holder",
			})
			waitMidProfile(t, mc, holder, slowDocs)
			tt.fault(t, env)

			code, logs := holder.Wait(t, runTimeout)
			if code != exitLockLost {
				t.Fatalf("holder: exit = %d, want %d; logs:\n%s", code, exitLockLost, logs)
			}
			if m := testutil.ReadMarker(t, mc, testDB, "slow"); m != nil {
				t.Errorf("marker written by a holder that lost its lock: %+v", m)
			}
			recs := auditRecords(t, mc, testDB, "slow")
			if len(recs) != 1 || recs[0].Outcome != store.OutcomeInterrupted {
				t.Errorf("audit records = %+v, want one interrupted", recs)
			}

			later := env.StartRunner(t, harness.RunOptions{
				Args: dbArgs(env, "run", "-p", "slow", "--lock-ttl", ttl.String()), ProfilesDir: dir, Name: "later",
			})
			if code, logs := later.Wait(t, runTimeout); code != exitOK {
				t.Fatalf("later run: exit = %d, want 0; logs:\n%s", code, logs)
			}
			if m := testutil.ReadMarker(t, mc, testDB, "slow"); m == nil {
				t.Error("no marker after the later run")
			}
			if got, want := countDocs(t, mc, testDB, itemsCollection), int64(slowDocs); got != want {
				t.Errorf("documents = %d, want %d", got, want)
			}
		})
	}
}

// A runner that can't get the lock within --lock-wait exits 4 and names
// who holds it.
func TestLock_wait_exceeded_exits_4_naming_holder(t *testing.T) {
	t.Parallel()
	env := harness.Start(t)
	rdb := env.Redis.Client(t)
	l, err := lock.New(rdb, "bootstrap", &lock.Options{
		TTL: 5 * time.Minute, Holder: lock.Holder{RunID: "test-holder", Host: "test-process", Image: "test"},
	})
	if err != nil {
		t.Fatal(err)
	}
	lease, err := l.TryAcquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lease.Release(t.Context()) })

	rc := env.StartRunner(t, harness.RunOptions{Args: dbArgs(env, "run", "-p", "example-patterns", "--lock-wait", "3s"), Name: "blocked"})
	code, logs := rc.Wait(t, runTimeout)
	if code != exitNotAcquired {
		t.Fatalf("exit = %d, want %d; logs:\n%s", code, exitNotAcquired, logs)
	}
	lines := parseLogs(t, logs)
	if w := firstMsg(t, lines, "waiting for lock", logs); w.str("holder_run_id") != "test-holder" || w.str("holder_host") != "test-process" {
		t.Errorf("waiting line %v does not name the holder test-holder on test-process", w)
	}
	if f := firstMsg(t, lines, "bootstrap failed", logs); !strings.Contains(f.str("err"), "test-holder") {
		t.Errorf("error %q does not name the holder test-holder", f.str("err"))
	}
	if m := testutil.ReadMarker(t, env.Mongo.Client(t), exampleDB, "example-patterns"); m != nil {
		t.Errorf("marker written without the lock: %+v", m)
	}
	if h := lockHolder(t, rdb); h == nil || h.RunID != "test-holder" {
		t.Errorf("lock holder = %+v, want test-holder still", h)
	}
}
