package runner_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/internal/testutil"
	"github.com/srvthreds/bootstrap/runner"
	"github.com/srvthreds/bootstrap/store"
)

// configFS is a profile "app" in database rb with one configs step whose
// engine config has the given thread count.
func configFS(threads int) fstest.MapFS {
	return fstest.MapFS{
		"app/profile.yaml":           file("database: " + rbDB + "\nsteps:\n  - configs: {dir: run-config}\n"),
		"app/run-config/engine.json": file(fmt.Sprintf(`{"threads": %d}`, threads)),
	}
}

// engineThreads reads the thread count of the engine config.
func engineThreads(t *testing.T, f *fixture) int32 {
	t.Helper()
	var doc struct {
		Config struct {
			Threads int32 `bson:"threads"`
		} `bson:"config"`
	}
	if err := f.mc.Database(rbDB).Collection("Config").FindOne(t.Context(), bson.D{{Key: "_id", Value: "engine"}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc.Config.Threads
}

// TestSnapshotRetention applies four versions keeping two snapshots: the
// two newest remain, a rollback two versions back restores through both,
// and one further back has no snapshot left.
func TestSnapshotRetention(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	st := store.New(f.mc)
	var versions []string
	for i := 1; i <= 4; i++ {
		set := loadSet(t, configFS(i), "app")
		versions = append(versions, set.Get("app").Version)
		runSet(t, f, set, run{opts: runner.Options{KeepVersions: 2}})
	}
	snaps, err := st.Snapshots(t.Context(), rbDB, "app")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range snaps {
		got = append(got, s.Version)
	}
	if want := []string{versions[2], versions[1]}; !slices.Equal(got, want) {
		t.Fatalf("snapshots = %.12q, want v3 and v2's %.12q", got, want)
	}
	if n := len(snapshot(t, f.mc, rbDB, store.SnapshotsCollection)); n != 2 {
		t.Errorf("snapshot documents = %d, want 2 (one chunk per version)", n)
	}

	v4 := loadSet(t, configFS(4), "app")
	res, err := newRunner(t, f, run{}).Rollback(t.Context(), v4.Get("app"), versions[1][:8])
	if err != nil {
		t.Fatalf("rollback to v2: %v", err)
	}
	if want := []string{versions[2], versions[1]}; !slices.Equal(res.Snapshots, want) {
		t.Errorf("snapshots restored = %.12q, want v3's then v2's", res.Snapshots)
	}
	if got, want := engineThreads(t, f), int32(2); got != want {
		t.Errorf("engine threads = %d, want v2's %d", got, want)
	}
	_, err = newRunner(t, f, run{}).Rollback(t.Context(), v4.Get("app"), versions[0])
	if !errors.Is(err, runner.ErrNoSnapshot) {
		t.Errorf("rollback to v1, whose snapshot was pruned: %v, want ErrNoSnapshot", err)
	}
}

// TestSnapshotTooLarge: past the snapshot limit the re-apply goes on
// without a snapshot, says so in its marker and audit record, and leaves
// nothing to roll back to.
func TestSnapshotTooLarge(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	v1, v2 := loadSet(t, rollbackFS(1), "app"), loadSet(t, rollbackFS(2), "app")
	runSet(t, f, v1, rbRun(runner.Options{}))
	res := runSet(t, f, v2, rbRun(runner.Options{RunID: "big", SnapshotLimit: 200}))
	if got := outcomes(res)["app"]; got != store.OutcomeApplied {
		t.Fatalf("outcome = %s, want applied", got)
	}
	note := func(steps []store.StepRecord) string {
		for _, s := range steps {
			if s.Name == "snapshot" {
				return s.Note
			}
		}
		return ""
	}
	if m := testutil.ReadMarker(t, f.mc, rbDB, "app"); m == nil || !strings.HasPrefix(note(m.Steps), "skipped (too large)") {
		t.Errorf("marker = %+v, want a snapshot record noting it was skipped (too large)", m)
	}
	if a := oneAudit(t, f.mc, rbDB, "app", "big"); !strings.HasPrefix(note(a.Steps), "skipped (too large)") {
		t.Errorf("audit steps = %+v, want the snapshot skipped (too large)", a.Steps)
	}
	if n := len(snapshot(t, f.mc, rbDB, store.SnapshotsCollection)); n != 0 {
		t.Errorf("snapshot documents = %d, want none", n)
	}
	if _, err := newRunner(t, f, run{}).Rollback(t.Context(), v2.Get("app"), ""); !errors.Is(err, runner.ErrNoSnapshot) {
		t.Errorf("rollback: %v, want ErrNoSnapshot", err)
	}
}

// TestPlanDiff: for a re-apply, plan counts per step the documents that
// would be inserted, changed or left unchanged, ignoring "modified", names
// the changed ones by the step's key and lists their changed fields;
// offline it compares nothing.
func TestPlanDiff(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	v1, v2 := loadSet(t, rollbackFS(1), "app"), loadSet(t, rollbackFS(2), "app")
	runSet(t, f, v1, rbRun(runner.Options{}))

	type counts struct {
		insert, change, unchanged int
		changed                   string
	}
	diffOf := func(t *testing.T, e runner.PlanEntry) map[string]counts {
		t.Helper()
		out := map[string]counts{}
		for _, d := range e.Diff {
			out[d.Step+" "+d.Collection] = counts{d.Insert, d.Change, d.Unchanged, strings.Join(d.Changed, ",")}
		}
		return out
	}
	entries, err := readRunner(t, f, runner.Options{Force: false, Reset: false}).Plan(t.Context(), v2)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Action != runner.ActionReapply {
		t.Fatalf("plan = %+v, want one re-apply", entries)
	}
	got := diffOf(t, entries[0])
	// The changed reference document is named by the step's key, not by
	// its server-assigned _id.
	want := map[string]counts{
		"0:configs rb.Config":        {insert: 1, change: 1, unchanged: 1, changed: "engine"},
		"1:patterns rb.PatternModel": {insert: 1, change: 1, unchanged: 1, changed: "p.watch"},
		"2:users rb.User":            {change: 1, changed: "ops"},
		"3:documents rb.Reference":   {insert: 1, change: 1, unchanged: 1, changed: "code=high"},
	}
	if len(got) != len(want) {
		t.Errorf("diff = %+v, want %+v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %+v, want %+v", k, got[k], w)
		}
	}
	fields := map[string]string{}
	for _, d := range entries[0].Diff {
		for _, c := range d.Changes {
			var lines []string
			for _, f := range c.Fields {
				lines = append(lines, f.Path+": "+string(f.Old)+" -> "+string(f.New))
			}
			fields[c.Key] = strings.Join(lines, "; ")
		}
	}
	wantFields := map[string]string{
		"engine":    `config.threads: 4 -> 8`,
		"p.watch":   `meta.active: true -> false`,
		"ops":       `roles.1:  -> {"name":"admin"}`, // the password hash is not compared
		"code=high": `rank: 2 -> 3`,
	}
	for k, w := range wantFields {
		if fields[k] != w {
			t.Errorf("changed fields of %s: %q, want %q", k, fields[k], w)
		}
	}

	// The same version, forced: every document compares equal.
	entries, err = readRunner(t, f, runner.Options{Force: true, Reset: false}).Plan(t.Context(), v1)
	if err != nil {
		t.Fatal(err)
	}
	for k, c := range diffOf(t, entries[0]) {
		if c.insert != 0 || c.change != 0 || c.unchanged == 0 {
			t.Errorf("forced plan of the applied version: %s = %+v, want all unchanged", k, c)
		}
	}
	entries, err = offlineRunner(t, runner.Options{Force: false, Reset: false}).Plan(t.Context(), v2)
	if err != nil || len(entries) != 1 || entries[0].Diff != nil {
		t.Errorf("offline plan = %+v, %v; want no diff", entries, err)
	}
}
