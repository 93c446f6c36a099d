package runner_test

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/srvthreds/bootstrap/internal/testutil"
	"github.com/srvthreds/bootstrap/runner"
	"github.com/srvthreds/bootstrap/store"
)

// indexNames returns the names of coll's indexes, sorted.
func indexNames(t *testing.T, mc *mongo.Client, db, coll string) []string {
	t.Helper()
	cur, err := mc.Database(db).Collection(coll).Indexes().List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var specs []struct {
		Name string `bson:"name"`
	}
	if err := cur.All(t.Context(), &specs); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range specs {
		out = append(out, s.Name)
	}
	slices.Sort(out)
	return out
}

// explainIndexed asks the server to explain q (its equality fields matched
// with a placeholder) and, where the answer names a winning plan (MongoDB),
// fails t when the plan scans the collection or sorts in memory. FerretDB
// answers with its SQLite plan only (no pushdown of a filter on another
// field than _id, nor of a sort), which proves nothing either way: there the
// index list is the check (see TestOwnCollectionsIndexedByTheBinary).
func explainIndexed(t *testing.T, mc *mongo.Client, db string, q store.Query) {
	t.Helper()
	filter := bson.D{}
	for _, f := range q.Equal {
		filter = append(filter, bson.E{Key: f, Value: "x"})
	}
	find := bson.D{{Key: "find", Value: q.Collection}, {Key: "filter", Value: filter}}
	if q.Sort != nil {
		find = append(find, bson.E{Key: "sort", Value: q.Sort})
	}
	raw, err := mc.Database(db).RunCommand(t.Context(), bson.D{{Key: "explain", Value: find}}).Raw()
	if err != nil {
		t.Fatalf("explain %s: %v", q.Name, err)
	}
	plan, err := raw.LookupErr("queryPlanner", "winningPlan")
	if err != nil {
		t.Logf("explain %s: no winning plan in the answer (FerretDB): the index list is the check", q.Name)
		return
	}
	if s := plan.String(); strings.Contains(s, `"COLLSCAN"`) || strings.Contains(s, `"SORT"`) {
		t.Errorf("explain %s: winning plan %s scans the collection or sorts in memory", q.Name, s)
	}
}

// TestOwnCollectionsIndexedByTheBinary: on a server whose collections were
// created only by the binary (two runs, status, a rollback, history), each
// of bootstrap's collections has every index of its list, and every query
// of the store is served by one (explain, where the server says).
func TestOwnCollectionsIndexedByTheBinary(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	v1, v2 := loadSet(t, rollbackFS(1), "app"), loadSet(t, rollbackFS(2), "app")
	st := store.New(f.mc)
	if _, err := st.History(t.Context(), rbDB, nil, 0); err != nil {
		t.Fatal(err)
	}
	if names, err := f.mc.Database(rbDB).ListCollectionNames(t.Context(), bson.D{}); err != nil || len(names) != 0 {
		t.Fatalf("collections after history of an empty database = %v, %v; want none (a read creates nothing)", names, err)
	}
	runSet(t, f, v1, rbRun(runner.Options{}))
	runSet(t, f, v2, rbRun(runner.Options{}))
	if _, err := newRunner(t, f, run{}).Status(t.Context(), v2); err != nil {
		t.Fatal(err)
	}
	if _, err := newRunner(t, f, rbRun(runner.Options{})).Rollback(t.Context(), v2.Get("app"), v1.Get("app").Version); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	for _, profiles := range [][]string{nil, {"app"}} {
		if h, err := st.History(t.Context(), rbDB, profiles, 0); err != nil || len(h) < 3 {
			t.Fatalf("history %v = %d records, %v; want at least 3", profiles, len(h), err)
		}
	}

	for coll, list := range store.CollectionIndexes() {
		if coll == store.OwnedCollection {
			continue // these markers own little: no chunk; TestLargeOwnership_every_record_within_2MiB checks it
		}
		got := indexNames(t, f.mc, rbDB, coll)
		for _, ix := range list {
			if !slices.Contains(got, ix.Name) {
				t.Errorf("indexes of %s = %v, want %s %s among them", coll, got, ix.Name, ix)
			}
		}
	}
	for _, q := range store.Queries() {
		explainIndexed(t, f.mc, rbDB, q)
	}
	if got := indexNames(t, f.mc, rbDB, "Reference"); !slices.Contains(got, "bootstrap_code") {
		t.Errorf("indexes of Reference (keyed on code) = %v, want bootstrap_code", got)
	}
}

// TestKeyedWritesIndexed: a step keyed on a field other than _id makes sure
// of an index on it before its first batch, once; plan says so first; an
// index with the same keys under another name serves; index: false opts out.
func TestKeyedWritesIndexed(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	documents := func(db, extra string) fstest.MapFS {
		return fstest.MapFS{
			"p/profile.yaml": file("database: " + db + "\nsteps:\n  - documents: {collection: Thing, dir: d, key: code" + extra + "}\n"),
			"p/d/a.json":     file(`[{"code": "a", "n": 1}, {"code": "b", "n": 2}]`),
		}
	}
	tests := []struct {
		name     string
		fsys     fstest.MapFS
		db       string
		existing *mongo.IndexModel // created before the first run
		want     []string          // index names of Thing after two runs
		plan     []string          // plan's index lines before the first run
	}{
		{
			name: "documents_keyed_on_code", db: "ix_code", fsys: documents("ix_code", ""),
			want: []string{"_id_", "bootstrap_code"},
			plan: []string{"would create index bootstrap_code on ix_code.Thing {code: 1}"},
		},
		{
			name: "same_keys_under_another_name", db: "ix_other", fsys: documents("ix_other", ""),
			existing: &mongo.IndexModel{Keys: bson.D{{Key: "code", Value: 1}}, Options: options.Index().SetName("by_code")},
			want:     []string{"_id_", "by_code"},
		},
		{
			name: "opted_out", db: "ix_none", fsys: documents("ix_none", ", index: false"),
			want: []string{"_id_"},
		},
		{
			name: "upsert_by_matcher", db: "ix_match",
			fsys: fstest.MapFS{
				"p/profile.yaml": file("database: ix_match\nsteps:\n  - upsert: {collection: Thing, file: t.json}\n"),
				"p/t.json": file(`[{"matcher": {"org": "o", "name": "a"}, "values": {"n": 1}},` +
					`{"matcher": {"org": "o", "name": "b"}, "values": {"n": 2}}]`),
			},
			want: []string{"_id_", "bootstrap_org_name"},
			plan: []string{"would create index bootstrap_org_name on ix_match.Thing {org: 1, name: 1}"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.existing != nil {
				if _, err := f.mc.Database(tt.db).Collection("Thing").Indexes().CreateOne(t.Context(), *tt.existing); err != nil {
					t.Fatal(err)
				}
			}
			set := loadSet(t, tt.fsys, "p")
			plan, err := newRunner(t, f, run{}).Plan(t.Context(), set)
			if err != nil {
				t.Fatal(err)
			}
			if got := plan[0].Indexes; !slices.Equal(got, tt.plan) {
				t.Errorf("plan's indexes = %q, want %q", got, tt.plan)
			}
			for i := range 2 {
				logs := &testutil.Buffer{}
				runSet(t, f, set, run{opts: runner.Options{Force: true}, logTo: logs})
				created := strings.Count(logs.String(), "index created")
				if want := len(tt.plan); i == 0 && created != want || i == 1 && created != 0 {
					t.Errorf("run %d: %d indexes created, want %d", i+1, created, map[bool]int{true: want}[i == 0])
				}
			}
			if got := indexNames(t, f.mc, tt.db, "Thing"); !slices.Equal(got, tt.want) {
				t.Errorf("indexes of Thing = %v, want %v", got, tt.want)
			}
			again, err := newRunner(t, f, run{opts: runner.Options{Force: true}}).Plan(t.Context(), set)
			if err != nil {
				t.Fatal(err)
			}
			if len(again[0].Indexes) != 0 {
				t.Errorf("plan after the runs: indexes %q, want none", again[0].Indexes)
			}
		})
	}
}
