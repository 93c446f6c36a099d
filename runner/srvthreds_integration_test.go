package runner_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"golang.org/x/crypto/bcrypt"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/internal/testutil"
	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner"
	"github.com/srvthreds/bootstrap/store"
)

// srvthredsDir holds a profile shaped like srvthreds' run-profiles: a
// Handler.ts with this. method calls, const aliases of UserController and
// of a persistence, writes to two databases, a cleanup() dropping both, an
// admin with roles [{name: 'admin'}], users without lastName.
const srvthredsDir = "../profiles/testdata/srvthreds"

func bcryptEnv() runner.Env {
	return runner.Env{Getenv: func(k string) string {
		if k == "BCRYPT_SALT_ROUNDS" {
			return "4"
		}
		return ""
	}}
}

// TestRun_srvthreds_profile_with_handler_and_legacy_reset applies the
// srvthreds-shaped profile with --reset over stray data: the legacy reset
// drops nr and the cleanup() databases and every Redis key but bootstrap's
// own (the run's lock survives it), then the configs, patterns and what
// the Handler.ts does are stored as the services store them.
func TestRun_srvthreds_profile_with_handler_and_legacy_reset(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	ctx := t.Context()
	set, err := profiles.Load(profiles.DirFS(srvthredsDir), []string{"dev"})
	if err != nil {
		t.Fatal(err)
	}
	for db, coll := range map[string]string{"nr": "Stray", "test": "Stray", "demo": "Leftover"} {
		if _, err := f.mc.Database(db).Collection(coll).InsertOne(ctx, bson.D{{Key: "_id", Value: "x"}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"stray:1", "Thred:9", "Pattern:old"} {
		if err := f.rc.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	res, err := newRunner(t, f, run{opts: runner.Options{Reset: true, Env: bcryptEnv()}}).Run(ctx, set)
	if err != nil {
		t.Fatalf("run --reset: %v", err)
	}
	if got := res.Profiles[0].Outcome; got != store.OutcomeApplied {
		t.Fatalf("outcome = %s, want applied", got)
	}
	for db, coll := range map[string]string{"nr": "Stray", "test": "Stray", "demo": "Leftover"} {
		if n, _ := f.mc.Database(db).Collection(coll).CountDocuments(ctx, bson.D{}); n != 0 {
			t.Errorf("%s.%s survived the reset (%d documents)", db, coll, n)
		}
	}
	for _, k := range []string{"stray:1", "Thred:9", "Pattern:old"} {
		if n, _ := f.rc.Exists(ctx, k).Result(); n != 0 {
			t.Errorf("redis key %s survived the reset", k)
		}
	}
	if h := holder(t, f); h != nil {
		t.Errorf("lock still held after the run: %+v", h)
	}
	if m := testutil.ReadMarker(t, f.mc, "nr", "dev"); !m.Current(set.Get("dev")) {
		t.Errorf("marker = %+v, want the current version", m)
	}
	checkHandlerEffects(t, f.mc)

	// Without --reset, the profile is current: skipped.
	res, err = newRunner(t, f, run{opts: runner.Options{Env: bcryptEnv()}}).Run(ctx, set)
	if err != nil || res.Profiles[0].Outcome != store.OutcomeSkipped {
		t.Errorf("second run: %v, outcome %v; want skipped", err, res.Profiles[0].Outcome)
	}
}

// checkHandlerEffects reads back, field by field, what the dev handler
// wrote.
func checkHandlerEffects(t *testing.T, mc *mongo.Client) {
	t.Helper()
	users := mc.Database("nr").Collection("User")
	wantUsers := map[string]struct {
		keys     []string
		password string
	}{
		"admin":        {[]string{"_id", "firstName", "lastName", "roles", "password", "modified"}, "admin-secret-pw"},
		"participant0": {[]string{"_id", "firstName", "password", "modified"}, "p0-secret-pw"},
		"participant1": {[]string{"_id", "roles", "age", "badge", "active", "password", "modified"}, "p1-secret-pw"},
	}
	for id, want := range wantUsers {
		d := findOne(t, users, bson.D{{Key: "_id", Value: id}})
		if got := keysOf(t, d); !slices.Equal(got, want.keys) {
			t.Errorf("user %s: keys = %v, want %v (absent fields absent, created dropped)", id, got, want.keys)
		}
		if err := bcrypt.CompareHashAndPassword([]byte(d.Lookup("password").StringValue()), []byte(want.password)); err != nil {
			t.Errorf("user %s: password does not verify: %v", id, err)
		}
	}
	admin := findOne(t, users, bson.D{{Key: "_id", Value: "admin"}})
	if got := admin.Lookup("roles", "0", "name").StringValue(); got != "admin" {
		t.Errorf("admin roles[0].name = %q, want admin (roles are objects)", got)
	}
	p1 := findOne(t, users, bson.D{{Key: "_id", Value: "participant1"}})
	if got := p1.Lookup("roles", "0", "name").StringValue(); got != "participant" {
		t.Errorf("participant1 roles[0].name = %q, want participant", got)
	}
	if got := p1.Lookup("age").Int32(); got != 31 {
		t.Errorf("participant1 age = %d, want 31", got)
	}
	if got := p1.Lookup("badge").StringValue(); got != "0042" {
		t.Errorf("participant1 badge = %q, want \"0042\"", got)
	}
	things := mc.Database("test").Collection("Thing")
	alpha := findOne(t, things, bson.D{{Key: "_id", Value: "alpha"}})
	// An upsert's $set adds new fields in lexicographic order (MongoDB 5.0+,
	// and FerretDB): _id from the matcher, then count, id, label, modified.
	if got, want := keysOf(t, alpha), []string{"_id", "count", "id", "label", "modified"}; !slices.Equal(got, want) {
		t.Errorf("test.Thing alpha keys = %v, want %v", got, want)
	}
	gamma := findOne(t, things, bson.D{{Key: "name", Value: "gamma"}, {Key: "kind", Value: "seed"}})
	if _, ok := gamma.Lookup("_id").ObjectIDOK(); !ok {
		t.Errorf("gamma _id = %v, want an ObjectId (the matcher has no id)", gamma.Lookup("_id"))
	}
	if got := gamma.Lookup("id").StringValue(); got != "gamma" {
		t.Errorf("gamma id = %q, want gamma (id in values stays a field)", got)
	}
	settings := findOne(t, mc.Database("demo").Collection("Settings"), bson.D{{Key: "_id", Value: "global"}})
	if got, want := keysOf(t, settings), []string{"_id", "theme", "modified"}; !slices.Equal(got, want) {
		t.Errorf("demo.Settings keys = %v, want %v (replace: id renamed _id, modified set)", got, want)
	}
	if _, ok := settings.Lookup("modified").DateTimeOK(); !ok {
		t.Errorf("demo.Settings modified = %v, want a date", settings.Lookup("modified"))
	}
}

// TestRun_converted_profile_writes_the_same_documents: `convert` output
// applied to empty servers gives the documents the srvthreds form gives,
// but for modified and generated _ids.
func TestRun_converted_profile_writes_the_same_documents(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	set, err := profiles.Load(profiles.DirFS(srvthredsDir), []string{"dev"})
	if err != nil {
		t.Fatal(err)
	}
	conv, err := profiles.Convert(set.Get("dev"), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, b := range conv.Files {
		path := filepath.Join(dir, "dev", filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	converted, err := profiles.Load(profiles.DirFS(dir), []string{"dev"})
	if err != nil {
		t.Fatalf("load the converted profile: %v", err)
	}
	var dumps [2]map[string][]string
	for i, s := range []*profiles.Set{set, converted} {
		f := startFixture(t)
		if _, err := newRunner(t, f, run{opts: runner.Options{Env: bcryptEnv()}}).Run(ctx, s); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		dumps[i] = dumpDocs(t, f.mc)
	}
	for coll, docs := range dumps[0] {
		if !slices.Equal(docs, dumps[1][coll]) {
			t.Errorf("%s differs:\n srvthreds form %v\n manifest form  %v", coll, docs, dumps[1][coll])
		}
	}
	if len(dumps[0]) != len(dumps[1]) || len(dumps[0]) == 0 {
		t.Errorf("collections: %d vs %d", len(dumps[0]), len(dumps[1]))
	}
}

// dumpDocs returns the documents of the application collections of nr,
// test and demo, as extended JSON without modified, password (a new salt
// each time) and generated ObjectId _ids, sorted.
func dumpDocs(t *testing.T, mc *mongo.Client) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, db := range []string{"nr", "test", "demo"} {
		names, err := mc.Database(db).ListCollectionNames(t.Context(), bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		for _, coll := range names {
			if len(coll) > 10 && coll[:10] == "bootstrap_" {
				continue
			}
			cur, err := mc.Database(db).Collection(coll).Find(t.Context(), bson.D{})
			if err != nil {
				t.Fatal(err)
			}
			for cur.Next(t.Context()) {
				var d bson.D
				if err := bson.Unmarshal(cur.Current, &d); err != nil {
					t.Fatal(err)
				}
				d = slices.DeleteFunc(d, func(e bson.E) bool {
					_, oid := e.Value.(bson.ObjectID)
					return e.Key == "modified" || e.Key == "password" || (e.Key == "_id" && oid)
				})
				b, err := bson.MarshalExtJSON(d, true, false)
				if err != nil {
					t.Fatal(err)
				}
				out[db+"."+coll] = append(out[db+"."+coll], string(b))
			}
			slices.Sort(out[db+"."+coll])
		}
	}
	return out
}

func findOne(t *testing.T, coll *mongo.Collection, filter bson.D) bson.Raw {
	t.Helper()
	raw, err := coll.FindOne(t.Context(), filter).Raw()
	if err != nil {
		t.Fatalf("%s %v: %v", coll.Name(), filter, err)
	}
	return raw
}

func keysOf(t *testing.T, d bson.Raw) []string {
	t.Helper()
	elems, err := d.Elements()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range elems {
		out = append(out, e.Key())
	}
	return out
}

func holder(t *testing.T, f *fixture) *lock.Holder {
	t.Helper()
	l, err := lock.New(f.rc, testLock, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := l.Holder(context.WithoutCancel(t.Context()))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestRun_dollar_keys_on_a_server_that_refuses_them: a config with a nested
// "$schema" (as srvthreds' rascal_config.json has) is refused before any
// write on FerretDB, naming file, line and key (exit 3); with --omit-keys
// '$schema' it applies without the key. On MongoDB 5.0+ the key is stored
// as is, so the first half applies there.
func TestRun_dollar_keys_on_a_server_that_refuses_them(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	ctx := t.Context()
	fsys := fstest.MapFS{
		"rabbit/run-config/rascal_config.json": {Data: []byte("{\n  \"vhosts\": {\n    \"v\": {\n      \"$schema\": \"../../../node_modules/rascal/lib/config/schema.json\",\n      \"exchanges\": [\"ex\"]\n    }\n  }\n}\n")},
	}
	set, err := profiles.Load(fsys, []string{"rabbit"})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(set.Get("rabbit").KeyNotes); got != 1 {
		t.Fatalf("key notes = %d, want 1", got)
	}
	_, err = newRunner(t, f, run{}).Run(ctx, set)
	if harness.MongoStoresDollarKeys() {
		if err != nil {
			t.Fatalf("run on a server that stores $ keys: %v", err)
		}
		return
	}
	var verr *profiles.ValidationError
	if !errors.As(err, &verr) || len(verr.Problems) != 1 {
		t.Fatalf("run: %v, want one validation problem", err)
	}
	if p := verr.Problems[0]; p.File != "rabbit/run-config/rascal_config.json" || p.Line != 4 || !strings.Contains(p.Msg, `"$schema"`) {
		t.Errorf("problem = %+v, want rascal_config.json line 4 naming $schema", p)
	}
	names, _ := f.mc.Database("nr").ListCollectionNames(ctx, bson.D{})
	for _, n := range names {
		if c, _ := f.mc.Database("nr").Collection(n).CountDocuments(ctx, bson.D{}); c > 0 {
			t.Errorf("nr.%s holds %d documents after the refusal, want none", n, c)
		}
	}

	set, err = profiles.LoadWith(fsys, []string{"rabbit"}, &profiles.Options{OmitKeys: []string{"$schema"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newRunner(t, f, run{}).Run(ctx, set); err != nil {
		t.Fatalf("run with $schema omitted: %v", err)
	}
	cfg := findOne(t, f.mc.Database("nr").Collection("Config"), bson.D{{Key: "_id", Value: "rascal_config"}})
	if _, err := cfg.LookupErr("config", "vhosts", "v", "$schema"); err == nil {
		t.Error("the stored config has $schema, want it left out")
	}
	if got := cfg.Lookup("config", "vhosts", "v", "exchanges", "0").StringValue(); got != "ex" {
		t.Errorf("exchanges[0] = %q, want ex", got)
	}
}
