package runner_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"maps"
	"slices"
	"testing"
	"testing/fstest"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/internal/testutil"
	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner"
	"github.com/srvthreds/bootstrap/store"
)

// Identity of the runs of these tests, checked in markers and audit records.
const (
	testLock  = "bootstrap"
	testHost  = "test-host"
	testImage = "test-image:1.2.3"
)

// fixture is a Redis and a MongoDB of one test, with clients.
type fixture struct {
	mc *mongo.Client
	rc *redis.Client
}

// startFixture starts Redis and MongoDB of t's own, concurrently.
func startFixture(t *testing.T) *fixture {
	t.Helper()
	env := harness.Start(t)
	return &fixture{mc: env.Mongo.Client(t), rc: env.Redis.Client(t)}
}

// run describes one Run of a test.
type run struct {
	opts    runner.Options
	lockTTL time.Duration // default lock.DefaultTTL
	logTo   io.Writer     // if set, also receives the run's log lines
}

// newRunner returns a Runner on f with opts, whose host and image default
// to testHost and testImage. Its debug logs go to t's log when t fails.
func newRunner(t *testing.T, f *fixture, rn run) *runner.Runner {
	t.Helper()
	o := rn.opts
	if o.RunID == "" {
		o.RunID = runner.NewRunID()
	}
	if o.Host == "" {
		o.Host = testHost
	}
	if o.Image == "" {
		o.Image = testImage
	}
	if o.KeepVersions == 0 {
		o.KeepVersions = 5 // the run command's default
	}
	logs := &testutil.Buffer{}
	var out io.Writer = logs
	if rn.logTo != nil {
		out = io.MultiWriter(logs, rn.logTo)
	}
	o.Log = slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs of run %s:\n%s", o.RunID, logs)
		}
	})
	locker, err := lock.New(f.rc, testLock, &lock.Options{
		TTL:    rn.lockTTL,
		Holder: lock.Holder{RunID: o.RunID, Host: o.Host, Image: o.Image},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(runner.Stores{Mongo: f.mc, Redis: f.rc, Locker: locker}, &o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runSet runs set with a new Runner and fails t on error.
func runSet(t *testing.T, f *fixture, set *profiles.Set, rn run) *runner.Result {
	t.Helper()
	res, err := newRunner(t, f, rn).Run(t.Context(), set)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

// loadSet loads the named profiles of fsys and fails t on error.
func loadSet(t *testing.T, fsys fstest.MapFS, names ...string) *profiles.Set {
	t.Helper()
	set, err := profiles.Load(fsys, names)
	if err != nil {
		t.Fatalf("load %v: %v", names, err)
	}
	return set
}

// file is a MapFS file.
func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s), Mode: 0o644} }

// lifecycleFS is a profiles directory with a srvthreds-form profile (legacy),
// a manifest profile (base) and one that requires it, in another database
// (app).
func lifecycleFS() fstest.MapFS {
	return fstest.MapFS{
		"legacy/run-config/engine.json":   file(`{"name": "engine", "nodeId": "${ENGINE_NODE_ID||org.wt.engine1}"}`),
		"legacy/run-config/sessions.json": file(`{"name": "sessions", "ttl": 60}`),
		"legacy/patterns/alarm.json": file(`{"id": "legacy.alarm", "name": "Alarm", "meta": {"active": true},
			"created": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z"}`),
		"legacy/patterns/draft.json": file(`{"id": "legacy.draft", "name": "Draft", "meta": {"active": false}}`),

		"base/profile.yaml": file("database: nr\nsteps:\n" +
			"  - documents: {collection: Reference, dir: data, key: code}\n" +
			"  - redis: {file: redis.yaml}\n"),
		"base/data/levels.json": file(`[{"code": "low", "rank": 1}, {"code": "high", "rank": 2}]`),
		"base/redis.yaml":       file("keys:\n  - key: ref:version\n    string: \"1\"\n"),

		"app/profile.yaml":        file("requires: [base]\ndatabase: appdb\nsteps:\n  - configs: {dir: run-config}\n"),
		"app/run-config/app.json": file(`{"name": "app", "port": 8080}`),
	}
}

// oneAudit reads the single audit record of profile in run runID and fails
// t unless there is exactly one.
func oneAudit(t *testing.T, mc *mongo.Client, db, profile, runID string) store.AuditRecord {
	t.Helper()
	recs := testutil.ReadAudit(t, mc, db, profile, runID)
	if len(recs) != 1 {
		t.Fatalf("audit records of %s in run %s: %d (%+v), want 1", profile, runID, len(recs), recs)
	}
	return recs[0]
}

// snapshot returns every document of db.coll by its _id.
func snapshot(t *testing.T, mc *mongo.Client, db, coll string) map[string]bson.Raw {
	t.Helper()
	cur, err := mc.Database(db).Collection(coll).Find(t.Context(), bson.D{})
	if err != nil {
		t.Fatalf("read %s.%s: %v", db, coll, err)
	}
	defer cur.Close(context.WithoutCancel(t.Context()))
	out := map[string]bson.Raw{}
	for cur.Next(t.Context()) {
		raw := slices.Clone(cur.Current)
		out[raw.Lookup("_id").String()] = raw
	}
	if err := cur.Err(); err != nil {
		t.Fatalf("read %s.%s: %v", db, coll, err)
	}
	return out
}

// outcomes maps each profile of res to its outcome.
func outcomes(res *runner.Result) map[string]store.Outcome {
	out := map[string]store.Outcome{}
	for _, p := range res.Profiles {
		out[p.Profile] = p.Outcome
	}
	return out
}

// stepNames returns the names of a profile's steps, "<index>:<kind>".
func stepNames(p *profiles.Profile) []string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, s.Name())
	}
	return out
}

func recordNames(recs []store.StepRecord) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Name)
	}
	return out
}

// checkApplied checks the marker and the single audit record of every
// profile of set after run res applied them all.
func checkApplied(t *testing.T, mc *mongo.Client, set *profiles.Set, res *runner.Result) {
	t.Helper()
	for _, p := range set.Profiles {
		m := testutil.ReadMarker(t, mc, p.Database, p.Name)
		if m == nil {
			t.Errorf("%s: no marker in %s", p.Name, p.Database)
			continue
		}
		if got, want := m.Version, p.Version; got != want {
			t.Errorf("%s: marker version = %s, want %s", p.Name, got, want)
		}
		if got, want := m.HashAlgo, p.HashAlgo; got != want {
			t.Errorf("%s: marker hashAlgo = %d, want %d", p.Name, got, want)
		}
		if got, want := m.Fence, res.Fence; got != want {
			t.Errorf("%s: marker fence = %d, want the run's %d", p.Name, got, want)
		}
		if got, want := m.RunID, res.RunID; got != want {
			t.Errorf("%s: marker runId = %s, want %s", p.Name, got, want)
		}
		if m.Host != testHost || m.Image != testImage {
			t.Errorf("%s: marker host, image = %q, %q, want %q, %q", p.Name, m.Host, m.Image, testHost, testImage)
		}
		if got, want := recordNames(m.Steps), stepNames(p); !slices.Equal(got, want) {
			t.Errorf("%s: marker steps = %v, want %v", p.Name, got, want)
		}
		for _, s := range m.Steps {
			if s.Written == 0 || s.Error != "" {
				t.Errorf("%s: marker step %s wrote %d, error %q; want writes and no error", p.Name, s.Name, s.Written, s.Error)
			}
		}
		a := oneAudit(t, mc, p.Database, p.Name, res.RunID)
		if a.Outcome != store.OutcomeApplied || a.Fence != res.Fence || a.Version != p.Version ||
			a.Host != testHost || a.Image != testImage || a.Error != "" {
			t.Errorf("%s: audit = %+v, want applied at fence %d, version %s, host %s, image %s",
				p.Name, a, res.Fence, p.Version, testHost, testImage)
		}
	}
}

// TestRunLifecycle runs the same profiles four times against one pair of
// databases: a first run applies them, a second skips them, a changed file
// re-applies its profile and the profiles that require it, and --force
// re-applies everything under a new fence.
func TestRunLifecycle(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	fsys := lifecycleFS()
	set := loadSet(t, fsys, "legacy", "app")
	if got, want := len(set.Profiles), 3; got != want {
		t.Fatalf("profiles = %d, want %d (legacy, app and the base it requires)", got, want)
	}
	if got, want := set.Get("legacy").Form, profiles.FormSrvthreds; got != want {
		t.Fatalf("legacy form = %s, want %s", got, want)
	}

	var first *runner.Result
	ok := t.Run("first_run_applies_all", func(t *testing.T) {
		first = runSet(t, f, set, run{opts: runner.Options{RunID: "run-1"}})
		if got, want := first.RunID, "run-1"; got != want {
			t.Errorf("run id = %s, want %s", got, want)
		}
		if first.Fence < 1 {
			t.Errorf("fence = %d, want >= 1", first.Fence)
		}
		var order []string
		for i, p := range first.Profiles {
			order = append(order, p.Profile)
			if p.Outcome != store.OutcomeApplied || p.Err != nil || p.PrevVersion != "" {
				t.Errorf("profile %d = %+v, want applied without a previous version", i, p)
			}
		}
		if got, want := order, []string{set.Profiles[0].Name, set.Profiles[1].Name, set.Profiles[2].Name}; !slices.Equal(got, want) {
			t.Errorf("order = %v, want the set's %v", got, want)
		}
		if slices.Index(order, "base") > slices.Index(order, "app") {
			t.Errorf("order = %v: base must come before app, which requires it", order)
		}
		checkApplied(t, f.mc, set, first)
		// The steps' effects, read back.
		if got, want := len(snapshot(t, f.mc, "nr", "Config")), 2; got != want {
			t.Errorf("nr.Config documents = %d, want %d", got, want)
		}
		if got, want := len(snapshot(t, f.mc, "appdb", "Config")), 1; got != want {
			t.Errorf("appdb.Config documents = %d, want %d", got, want)
		}
		if got, want := len(snapshot(t, f.mc, "nr", "PatternModel")), 2; got != want {
			t.Errorf("nr.PatternModel documents = %d, want %d", got, want)
		}
		if got, want := len(snapshot(t, f.mc, "nr", "Reference")), 2; got != want {
			t.Errorf("nr.Reference documents = %d, want %d", got, want)
		}
		if got, err := f.rc.SMembers(t.Context(), "IDX:Pattern").Result(); err != nil || !slices.Equal(got, []string{"legacy.alarm"}) {
			t.Errorf("IDX:Pattern = %v, %v; want [legacy.alarm]", got, err)
		}
		if got, err := f.rc.Get(t.Context(), "ref:version").Result(); err != nil || got != "1" {
			t.Errorf("ref:version = %q, %v; want 1", got, err)
		}
	})
	if !ok {
		return
	}

	ok = t.Run("second_run_skips_all", func(t *testing.T) {
		colls := []struct{ db, coll string }{
			{"nr", "Config"}, {"appdb", "Config"}, {"nr", "PatternModel"}, {"nr", "Reference"},
		}
		before := make([]map[string]bson.Raw, len(colls))
		for i, c := range colls {
			before[i] = snapshot(t, f.mc, c.db, c.coll)
		}
		patternTS, err := f.rc.HGet(t.Context(), "Pattern:legacy.alarm", "ts").Result()
		if err != nil {
			t.Fatal(err)
		}

		res := runSet(t, f, set, run{opts: runner.Options{RunID: "run-2"}})
		if res.Fence != 0 {
			t.Errorf("fence = %d, want 0: every profile is current, so the run takes no lock", res.Fence)
		}
		for _, p := range res.Profiles {
			if p.Outcome != store.OutcomeSkipped || p.PrevVersion != p.Version {
				t.Errorf("%s: outcome %s, previous version %s; want skipped at %s", p.Profile, p.Outcome, p.PrevVersion, p.Version)
			}
		}
		if got, want := len(res.Profiles), len(set.Profiles); got != want {
			t.Errorf("results = %d, want %d", got, want)
		}
		for _, p := range set.Profiles {
			a := oneAudit(t, f.mc, p.Database, p.Name, "run-2")
			if a.Outcome != store.OutcomeSkipped || a.Fence != res.Fence || a.Version != p.Version {
				t.Errorf("%s: audit = %+v, want skipped at fence %d", p.Name, a, res.Fence)
			}
			// A skipped profile's marker is the first run's.
			if m := testutil.ReadMarker(t, f.mc, p.Database, p.Name); m == nil || m.RunID != "run-1" || m.Fence != first.Fence {
				t.Errorf("%s: marker = %+v, want the first run's", p.Name, m)
			}
		}
		for i, c := range colls {
			after := snapshot(t, f.mc, c.db, c.coll)
			if !maps.EqualFunc(before[i], after, func(a, b bson.Raw) bool { return bytes.Equal(a, b) }) {
				t.Errorf("%s.%s changed by a run that skipped every profile:\nbefore %v\nafter  %v", c.db, c.coll, before[i], after)
			}
		}
		if got, err := f.rc.HGet(t.Context(), "Pattern:legacy.alarm", "ts").Result(); err != nil || got != patternTS {
			t.Errorf("Pattern:legacy.alarm ts = %q, %v; want %q unchanged", got, err, patternTS)
		}
	})
	if !ok {
		return
	}

	changed := maps.Clone(fsys)
	changed["base/data/levels.json"] = file(`[{"code": "low", "rank": 1}, {"code": "high", "rank": 3}]`)
	set2 := loadSet(t, changed, "legacy", "app")
	ok = t.Run("changed_file_reapplies_profile_and_dependants", func(t *testing.T) {
		for _, name := range []string{"base", "app"} {
			if set2.Get(name).Version == set.Get(name).Version {
				t.Fatalf("%s: version unchanged by a change of base's data", name)
			}
		}
		if set2.Get("legacy").Version != set.Get("legacy").Version {
			t.Fatal("legacy: version changed by a change of base's data")
		}
		res := runSet(t, f, set2, run{opts: runner.Options{RunID: "run-3"}})
		want := map[string]store.Outcome{
			"legacy": store.OutcomeSkipped, "base": store.OutcomeApplied, "app": store.OutcomeApplied,
		}
		if got := outcomes(res); !maps.Equal(got, want) {
			t.Errorf("outcomes = %v, want %v", got, want)
		}
		for _, name := range []string{"base", "app"} {
			old, p := set.Get(name), set2.Get(name)
			m := testutil.ReadMarker(t, f.mc, p.Database, name)
			if m == nil || m.Version != p.Version || m.Fence != res.Fence || m.RunID != "run-3" {
				t.Errorf("%s: marker = %+v, want version %s at fence %d by run-3", name, m, p.Version, res.Fence)
			}
			a := oneAudit(t, f.mc, p.Database, name, "run-3")
			if a.Outcome != store.OutcomeApplied || a.Version != p.Version || a.PrevVersion != old.Version {
				t.Errorf("%s: audit = %+v, want applied %s over %s", name, a, p.Version, old.Version)
			}
		}
		if m := testutil.ReadMarker(t, f.mc, "nr", "legacy"); m == nil || m.RunID != "run-1" {
			t.Errorf("legacy: marker = %+v, want the first run's", m)
		}
		var high struct {
			Rank int `bson:"rank"`
		}
		if err := f.mc.Database("nr").Collection("Reference").FindOne(t.Context(), bson.D{{Key: "code", Value: "high"}}).Decode(&high); err != nil {
			t.Fatal(err)
		}
		if got, want := high.Rank, 3; got != want {
			t.Errorf("Reference high rank = %d, want %d (the changed file's)", got, want)
		}
	})
	if !ok {
		return
	}

	t.Run("force_reapplies_all_with_new_fence", func(t *testing.T) {
		before := snapshot(t, f.mc, "nr", "Config")
		res := runSet(t, f, set2, run{opts: runner.Options{RunID: "run-4", Force: true}})
		for _, p := range res.Profiles {
			if p.Outcome != store.OutcomeApplied {
				t.Errorf("%s: outcome %s, want applied", p.Profile, p.Outcome)
			}
		}
		checkApplied(t, f.mc, set2, res)
		var prevTop int64
		for _, p := range set.Profiles {
			prevTop = max(prevTop, oneAudit(t, f.mc, p.Database, p.Name, "run-3").Fence)
		}
		if res.Fence <= prevTop {
			t.Errorf("fence = %d, want above the previous run's %d", res.Fence, prevTop)
		}
		after := snapshot(t, f.mc, "nr", "Config")
		for id, doc := range after {
			if bytes.Equal(doc.Lookup("modified").Value, before[id].Lookup("modified").Value) {
				t.Errorf("nr.Config %s: modified unchanged by a forced run", id)
			}
		}
	})
}

// TestPlan tells skip for profiles whose markers are current, and re-apply
// with the previous version once a file changed. It writes nothing.
func TestPlan(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	fsys := lifecycleFS()
	set := loadSet(t, fsys, "app")

	entries, err := readRunner(t, f, runner.Options{Force: false, Reset: false}).Plan(t.Context(), set)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Action != runner.ActionApply {
			t.Errorf("before any run: %s action = %s, want %s", e.Profile, e.Action, runner.ActionApply)
		}
	}
	if got := len(snapshot(t, f.mc, "nr", store.MarkersCollection)); got != 0 {
		t.Fatalf("plan wrote %d markers", got)
	}

	runSet(t, f, set, run{})
	entries, err = readRunner(t, f, runner.Options{Force: false, Reset: false}).Plan(t.Context(), set)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(entries), len(set.Profiles); got != want {
		t.Fatalf("entries = %d, want %d", got, want)
	}
	for i, e := range entries {
		p := set.Profiles[i]
		if e.Profile != p.Name || e.Action != runner.ActionSkip || e.Version != p.Version {
			t.Errorf("markers current: entry %d = %+v, want %s skip at %s", i, e, p.Name, p.Version)
		}
	}
	forced, err := readRunner(t, f, runner.Options{Force: true, Reset: false}).Plan(t.Context(), set)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range forced {
		if e.Action != runner.ActionReapply {
			t.Errorf("forced: %s action = %s, want %s", e.Profile, e.Action, runner.ActionReapply)
		}
	}

	changed := maps.Clone(fsys)
	changed["app/run-config/app.json"] = file(`{"name": "app", "port": 9090}`)
	set2 := loadSet(t, changed, "app")
	entries, err = readRunner(t, f, runner.Options{Force: false, Reset: false}).Plan(t.Context(), set2)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"base": runner.ActionSkip, "app": runner.ActionReapply}
	for _, e := range entries {
		if got := e.Action; got != want[e.Profile] {
			t.Errorf("after a change: %s action = %s, want %s", e.Profile, got, want[e.Profile])
		}
		if got, want := e.PrevVersion, set.Get(e.Profile).Version; got != want {
			t.Errorf("after a change: %s previous version = %s, want %s", e.Profile, got, want)
		}
		if got, want := e.Version, set2.Get(e.Profile).Version; got != want {
			t.Errorf("after a change: %s version = %s, want %s", e.Profile, got, want)
		}
	}
	// Plan writes nothing: the markers are still the run's.
	if m := testutil.ReadMarker(t, f.mc, "appdb", "app"); m == nil || m.Version != set.Get("app").Version {
		t.Errorf("app marker = %+v, want version %s", m, set.Get("app").Version)
	}
}

// readRunner is a Runner of f's MongoDB and Redis without a lock: for Plan,
// Wait and Status.
func readRunner(t *testing.T, f *fixture, o runner.Options) *runner.Runner {
	t.Helper()
	r, err := runner.New(runner.Stores{Mongo: f.mc, Redis: f.rc}, &o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// offlineRunner is a Runner of no store: Plan offline.
func offlineRunner(t *testing.T, o runner.Options) *runner.Runner {
	t.Helper()
	r, err := runner.New(runner.Stores{}, &o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
