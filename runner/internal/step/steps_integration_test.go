package step

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"golang.org/x/crypto/bcrypt"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/internal/jsbson"
	"github.com/srvthreds/bootstrap/internal/testutil"
	"github.com/srvthreds/bootstrap/profiles"
)

// testNow is the clock of the integration tests' steps, with sub-millisecond
// digits that a BSON date drops.
var testNow = time.Date(2025, 3, 4, 5, 6, 7, 891234567, time.UTC)

// newIntegrationEnv returns a stepEnv on real clients, logging at debug
// level into the returned buffer.
func newIntegrationEnv(mc *mongo.Client, rc redis.UniversalClient, db string) (*Env, *testutil.Progress, *testutil.Buffer) {
	logs := &testutil.Buffer{}
	p := &testutil.Progress{}
	return NewEnv(Env{
		Mongo:     mc,
		Redis:     rc,
		Log:       slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Progress:  p,
		BatchSize: 100,
		Now:       testNow,
		DB:        db,
		Getenv:    func(string) string { return "" },
		ReadFile:  func(p string) ([]byte, error) { return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist} },
	}), p, logs
}

// findRaw returns the document of coll with the given _id.
func findRaw(t *testing.T, coll *mongo.Collection, id any) bson.Raw {
	t.Helper()
	raw, err := coll.FindOne(t.Context(), bson.D{{Key: "_id", Value: id}}).Raw()
	if err != nil {
		t.Fatalf("find %s %v: %v", coll.Name(), id, err)
	}
	return raw
}

// rawKeys returns the keys of a document, in order.
func rawKeys(t *testing.T, d bson.Raw) []string {
	t.Helper()
	elems, err := d.Elements()
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, len(elems))
	for i, e := range elems {
		keys[i] = e.Key()
	}
	return keys
}

// wantModified checks that d's "modified" is a date equal to testNow at
// millisecond precision.
func wantModified(t *testing.T, d bson.Raw) {
	t.Helper()
	v := d.Lookup("modified")
	dt, ok := v.DateTimeOK()
	if !ok {
		t.Fatalf("modified is %v, want a date", v.Type)
	}
	if got, want := dt, testNow.UnixMilli(); got != want {
		t.Errorf("modified = %d, want %d", got, want)
	}
}

func TestStepsIntegration(t *testing.T) {
	mongoSrv := harness.StartMongo(t, nil)
	redisSrv := harness.StartRedis(t, nil)
	mc := mongoSrv.Client(t)
	rc := redisSrv.Client(t)

	t.Run("configs_stored_exactly", func(t *testing.T) {
		t.Parallel()
		testConfigs(t, mc, rc)
	})
	t.Run("users_hashed_and_never_logged", func(t *testing.T) {
		t.Parallel()
		testUsers(t, mc, rc)
	})
	t.Run("documents_2000_in_batches", func(t *testing.T) {
		t.Parallel()
		testDocumentsBatched(t, mongoSrv, rc)
	})
	t.Run("documents_by_key", func(t *testing.T) {
		t.Parallel()
		testDocumentsByKey(t, mc, rc)
	})
	t.Run("redis_keys", func(t *testing.T) {
		t.Parallel()
		testRedisKeys(t, mc, rc)
	})
	t.Run("reset_removes_named_only", func(t *testing.T) {
		t.Parallel()
		testReset(t, mc, rc)
	})
	t.Run("patterns_cache", func(t *testing.T) {
		t.Parallel()
		// Pattern:* and IDX:Pattern are global names: a Redis of its own.
		testPatterns(t, mc, harness.StartRedis(t, nil).Client(t))
	})
}

func testConfigs(t *testing.T, mc *mongo.Client, rc redis.UniversalClient) {
	const db = "it_configs"
	env, progress, _ := newIntegrationEnv(mc, rc, db)
	appJSON := `{"z":1,"a":{"y":2.5,"x":[1,2147483648,"${MONGO_HOST||localhost:27017}",1.0]},` +
		`"n":null,"b":true,"1":"one","w":{"k":-7}}`
	step := profiles.Step{Kind: profiles.KindConfigs, Configs: &profiles.ConfigsStep{Items: []profiles.ConfigItem{
		{Name: "app", File: "run-config/app.json", JSON: json.RawMessage(appJSON)},
		{Name: "list", File: "run-config/list.json", JSON: json.RawMessage(`["${X||y}", 3]`)},
	}}}
	rec, err := (configs{}).Apply(t.Context(), env, step)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rec.Written, int64(2); got != want {
		t.Errorf("written = %d, want %d", got, want)
	}
	if got, want := progress.Done(), int64(2); got != want {
		t.Errorf("progress = %d, want %d", got, want)
	}
	coll := mc.Database(db).Collection("Config")

	app := findRaw(t, coll, "app")
	if got, want := rawKeys(t, app), []string{"_id", "config", "modified"}; !slices.Equal(got, want) {
		t.Errorf("document keys = %v, want %v", got, want)
	}
	wantModified(t, app)
	cfg := app.Lookup("config").Document()
	// JSON.parse puts the array-index key "1" first.
	if got, want := rawKeys(t, cfg), []string{"1", "z", "a", "n", "b", "w"}; !slices.Equal(got, want) {
		t.Errorf("config keys = %v, want %v", got, want)
	}
	types := []struct {
		path []string
		want bson.Type
	}{
		{[]string{"z"}, bson.TypeInt32},
		{[]string{"a", "y"}, bson.TypeDouble},
		{[]string{"a", "x", "0"}, bson.TypeInt32},
		{[]string{"a", "x", "1"}, bson.TypeDouble},
		{[]string{"a", "x", "3"}, bson.TypeInt32},
		{[]string{"n"}, bson.TypeNull},
		{[]string{"b"}, bson.TypeBoolean},
		{[]string{"w", "k"}, bson.TypeInt32},
	}
	for _, tt := range types {
		if got := cfg.Lookup(tt.path...).Type; got != tt.want {
			t.Errorf("config.%s type = %v, want %v", strings.Join(tt.path, "."), got, tt.want)
		}
	}
	if got, want := cfg.Lookup("a", "x", "2").StringValue(), "${MONGO_HOST||localhost:27017}"; got != want {
		t.Errorf("placeholder = %q, want %q (verbatim)", got, want)
	}
	var gotCfg bson.D
	if err := bson.Unmarshal(cfg, &gotCfg); err != nil {
		t.Fatal(err)
	}
	wantCfg, err := jsbson.Value(json.RawMessage(appJSON))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotCfg, wantCfg) {
		t.Errorf("config = %v, want %v", gotCfg, wantCfg)
	}
	list := findRaw(t, coll, "list").Lookup("config")
	if got, want := list.Type, bson.TypeArray; got != want {
		t.Errorf("array config type = %v, want %v", got, want)
	}

	// A new version replaces the whole config: a key removed from the file
	// disappears.
	step.Configs.Items = []profiles.ConfigItem{{Name: "app", JSON: json.RawMessage(`{"z":2}`)}}
	if _, err := (configs{}).Apply(t.Context(), env, step); err != nil {
		t.Fatal(err)
	}
	cfg = findRaw(t, coll, "app").Lookup("config").Document()
	if got, want := rawKeys(t, cfg), []string{"z"}; !slices.Equal(got, want) {
		t.Errorf("config keys after update = %v, want %v", got, want)
	}
	if n, err := coll.CountDocuments(t.Context(), bson.D{}); err != nil || n != 2 {
		t.Errorf("Config documents = %d, %v; want 2", n, err)
	}
}

func testUsers(t *testing.T, mc *mongo.Client, rc redis.UniversalClient) {
	const db = "it_users"
	env, _, logs := newIntegrationEnv(mc, rc, db)
	passwords := map[string]string{"alice": "alice-Pw-4417", "bob": "bob-Secret-9931", "carol": "carol-Pw-2288"}
	env.Getenv = func(k string) string {
		switch k {
		case "BCRYPT_SALT_ROUNDS":
			return "4"
		case "BOB_PW":
			return passwords["bob"]
		}
		return ""
	}
	env.ReadFile = func(p string) ([]byte, error) {
		if p == "/run/secrets/carol" {
			return []byte(passwords["carol"] + "\n"), nil
		}
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	roles := func(names ...string) bson.E {
		a := bson.A{}
		for _, n := range names {
			a = append(a, bson.D{{Key: "name", Value: n}})
		}
		return bson.E{Key: "roles", Value: a}
	}
	// As the services store users: other fields as given, absent ones
	// absent (bob has no roles, carol no lastName), roles as objects.
	step := profiles.Step{Kind: profiles.KindUsers, Users: &profiles.UsersStep{Users: []profiles.User{
		{ID: "alice", Password: profiles.PasswordSource{Value: passwords["alice"]},
			Fields: bson.D{{Key: "firstName", Value: "Alice"}, {Key: "lastName", Value: "A"}, roles("admin", "ops")}},
		{ID: "bob", Password: profiles.PasswordSource{Env: "BOB_PW"},
			Fields: bson.D{{Key: "firstName", Value: "Bob"}, {Key: "lastName", Value: "B"}}},
		{ID: "carol", Password: profiles.PasswordSource{File: "/run/secrets/carol"},
			Fields: bson.D{{Key: "firstName", Value: "Carol"}, roles("user"), {Key: "active", Value: true}}},
	}}}
	rec, err := (users{}).Apply(t.Context(), env, step)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rec.Written, int64(3); got != want {
		t.Errorf("written = %d, want %d", got, want)
	}
	coll := mc.Database(db).Collection("User")
	for _, u := range step.Users.Users {
		d := findRaw(t, coll, u.ID)
		want := []string{"_id"}
		for _, f := range u.Fields {
			want = append(want, f.Key)
		}
		want = append(want, "password", "modified")
		if got := rawKeys(t, d); !slices.Equal(got, want) {
			t.Errorf("%s: keys = %v, want %v", u.ID, got, want)
		}
		hash := d.Lookup("password").StringValue()
		if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(passwords[u.ID])); err != nil {
			t.Errorf("%s: stored hash does not match the source password: %v", u.ID, err)
		}
		if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != 4 {
			t.Errorf("%s: cost = %d, %v; want 4 (BCRYPT_SALT_ROUNDS)", u.ID, cost, err)
		}
		for _, f := range u.Fields {
			wantRaw, err := bson.Marshal(bson.D{f})
			if err != nil {
				t.Fatal(err)
			}
			gotRaw, err := bson.Marshal(bson.D{{Key: f.Key, Value: d.Lookup(f.Key)}})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(gotRaw, wantRaw) {
				t.Errorf("%s: %s = %v, want %v", u.ID, f.Key, d.Lookup(f.Key), f.Value)
			}
		}
		wantModified(t, d)
	}
	// A missing secret fails the step without naming any password.
	step.Users.Users[1].Password = profiles.PasswordSource{Env: "MISSING_PW"}
	_, err = (users{}).Apply(t.Context(), env, step)
	if err == nil || !strings.Contains(err.Error(), "MISSING_PW") {
		t.Errorf("err = %v, want one naming MISSING_PW", err)
	}
	out := logs.String() + fmt.Sprint(err)
	if !strings.Contains(logs.String(), "batch written") {
		t.Fatalf("no debug log captured; the check below would prove nothing:\n%s", logs)
	}
	for id, pw := range passwords {
		if strings.Contains(out, pw) {
			t.Errorf("the password of %s appears in the logs or the error", id)
		}
	}
}

func testRedisKeys(t *testing.T, mc *mongo.Client, rc redis.UniversalClient) {
	env, _, _ := newIntegrationEnv(mc, rc, "it_redis")
	ctx := t.Context()
	step := profiles.Step{Kind: profiles.KindRedis, Redis: &profiles.RedisStep{Keys: []profiles.RedisKey{
		{Key: "it-redis:str", Type: "string", String: "v1", TTL: time.Minute},
		{Key: "it-redis:plain", Type: "string", String: "forever"},
		{Key: "it-redis:hash", Type: "hash", Hash: map[string]string{"a": "1", "b": "2", "c": "3"}, TTL: time.Hour},
		{Key: "it-redis:set", Type: "set", Set: []string{"x", "y", "z"}, TTL: 90 * time.Second},
	}}}
	rec, err := (redisKeys{}).Apply(ctx, env, step)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rec.Written, int64(4); got != want {
		t.Errorf("written = %d, want %d", got, want)
	}
	if got, err := rc.Get(ctx, "it-redis:str").Result(); err != nil || got != "v1" {
		t.Errorf("GET str = %q, %v; want v1", got, err)
	}
	if got, err := rc.HGetAll(ctx, "it-redis:hash").Result(); err != nil || !reflect.DeepEqual(got, map[string]string{"a": "1", "b": "2", "c": "3"}) {
		t.Errorf("HGETALL hash = %v, %v", got, err)
	}
	members, err := rc.SMembers(ctx, "it-redis:set").Result()
	slices.Sort(members)
	if err != nil || !slices.Equal(members, []string{"x", "y", "z"}) {
		t.Errorf("SMEMBERS set = %v, %v", members, err)
	}
	for key, limit := range map[string]time.Duration{"it-redis:str": time.Minute, "it-redis:hash": time.Hour, "it-redis:set": 90 * time.Second} {
		if ttl, err := rc.PTTL(ctx, key).Result(); err != nil || ttl <= 0 || ttl > limit {
			t.Errorf("PTTL %s = %v, %v; want in (0, %v]", key, ttl, err, limit)
		}
	}
	if ttl, err := rc.PTTL(ctx, "it-redis:plain").Result(); err != nil || ttl != -1 {
		t.Errorf("PTTL plain = %v, %v; want -1 (no expiry)", ttl, err)
	}

	// A new version with fewer fields and members, and no TTL on str.
	step.Redis.Keys = []profiles.RedisKey{
		{Key: "it-redis:str", Type: "string", String: "v2"},
		{Key: "it-redis:hash", Type: "hash", Hash: map[string]string{"a": "10"}},
		{Key: "it-redis:set", Type: "set", Set: []string{"y"}, TTL: time.Minute},
	}
	if _, err := (redisKeys{}).Apply(ctx, env, step); err != nil {
		t.Fatal(err)
	}
	if got, err := rc.HGetAll(ctx, "it-redis:hash").Result(); err != nil || !reflect.DeepEqual(got, map[string]string{"a": "10"}) {
		t.Errorf("HGETALL hash after re-apply = %v, %v; want only a=10", got, err)
	}
	if got, err := rc.SMembers(ctx, "it-redis:set").Result(); err != nil || !slices.Equal(got, []string{"y"}) {
		t.Errorf("SMEMBERS set after re-apply = %v, %v; want [y]", got, err)
	}
	for _, key := range []string{"it-redis:str", "it-redis:hash"} {
		if ttl, err := rc.PTTL(ctx, key).Result(); err != nil || ttl != -1 {
			t.Errorf("PTTL %s after re-apply without TTL = %v, %v; want -1", key, ttl, err)
		}
	}
	if got, _ := rc.Get(ctx, "it-redis:plain").Result(); got != "forever" {
		t.Errorf("a key the new version does not list = %q, want it untouched", got)
	}
}

func testReset(t *testing.T, mc *mongo.Client, rc redis.UniversalClient) {
	const db = "it_reset"
	env, _, _ := newIntegrationEnv(mc, rc, db)
	ctx := t.Context()
	for name, docs := range map[string]int{"A": 3, "B": 2, "Keep": 4} {
		for i := range docs {
			if _, err := mc.Database(db).Collection(name).InsertOne(ctx, bson.D{{Key: "i", Value: i}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	keys := []string{"it-reset:x:1", "it-reset:x:2", "it-reset:exact", "it-reset:keep", "it-reset:xx"}
	for i := range 250 {
		keys = append(keys, "it-reset:many:"+strconv.Itoa(i))
	}
	for _, k := range keys {
		if err := rc.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	r := &profiles.Reset{
		Collections: []string{"A", "B", "Missing"},
		RedisKeys:   []string{"it-reset:x:*", "it-reset:exact", "it-reset:many:*", "it-reset:absent"},
	}

	lines, err := PlanReset(ctx, env, r)
	if err != nil {
		t.Fatal(err)
	}
	wantLines := []string{
		"drop collection it_reset.A (3 documents)",
		"drop collection it_reset.B (2 documents)",
		"drop collection it_reset.Missing (0 documents)",
		"delete redis keys matching it-reset:x:* (2 keys)",
		"delete redis key it-reset:exact (exists)",
		"delete redis keys matching it-reset:many:* (250 keys)",
		"delete redis key it-reset:absent (absent)",
	}
	if !slices.Equal(lines, wantLines) {
		t.Errorf("plan =\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(wantLines, "\n"))
	}
	if n, _ := rc.Exists(ctx, keys...).Result(); n != int64(len(keys)) {
		t.Fatalf("plan removed keys: %d of %d left", n, len(keys))
	}

	rec, err := Reset(ctx, env, r)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rec.Removed, int64(3+2+2+1+250); got != want {
		t.Errorf("removed = %d, want %d", got, want)
	}
	names, err := mc.Database(db).ListCollectionNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(names, "A") || slices.Contains(names, "B") || !slices.Contains(names, "Keep") {
		t.Errorf("collections after reset = %v, want Keep without A and B", names)
	}
	if n, err := mc.Database(db).Collection("Keep").CountDocuments(ctx, bson.D{}); err != nil || n != 4 {
		t.Errorf("Keep documents = %d, %v; want 4", n, err)
	}
	left, err := rc.Keys(ctx, "it-reset:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(left)
	if want := []string{"it-reset:keep", "it-reset:xx"}; !slices.Equal(left, want) {
		t.Errorf("keys left = %v, want %v", left, want)
	}
}

func testPatterns(t *testing.T, mc *mongo.Client, rc redis.UniversalClient) {
	const db = "it_patterns"
	env, _, _ := newIntegrationEnv(mc, rc, db)
	ctx := t.Context()
	pattern := func(id string, active bool) profiles.PatternItem {
		return profiles.PatternItem{ID: id, File: "patterns/" + id + ".json", Active: active, JSON: json.RawMessage(fmt.Sprintf(
			`{"created":"2020-01-01T00:00:00Z","id":%q,"name":"Pattern %s","meta":{"active":%t,"n":1.0},`+
				`"modified":"2021-01-01T00:00:00Z","steps":[{"a":1.5}]}`, id, id, active))}
	}
	// Cached by another profile: never touched.
	if err := rc.HSet(ctx, "Pattern:other", "data", "{}").Err(); err != nil {
		t.Fatal(err)
	}
	step := profiles.Step{Kind: profiles.KindPatterns, Patterns: &profiles.PatternsStep{Items: []profiles.PatternItem{
		pattern("p1", true), pattern("p2", true), pattern("p3", false), pattern("p5", true),
	}}}
	rec, err := (patterns{}).Apply(ctx, env, step)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rec.CachedPatterns, []string{"p1", "p2", "p5"}; !slices.Equal(got, want) {
		t.Errorf("cached = %v, want %v", got, want)
	}
	if got, want := rec.Written, int64(4); got != want {
		t.Errorf("written = %d, want %d", got, want)
	}

	coll := mc.Database(db).Collection("PatternModel")
	d := findRaw(t, coll, "p1")
	if got, want := rawKeys(t, d), []string{"_id", "name", "meta", "steps", "modified"}; !slices.Equal(got, want) {
		t.Errorf("PatternModel keys = %v, want %v (no id, no created)", got, want)
	}
	wantModified(t, d)
	if got, want := d.Lookup("meta", "n").Type, bson.TypeInt32; got != want {
		t.Errorf("meta.n type = %v, want %v", got, want)
	}
	findRaw(t, coll, "p3") // inactive patterns are stored too

	for _, id := range []string{"p1", "p2", "p5"} {
		h, err := rc.HGetAll(ctx, "Pattern:"+id).Result()
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(h["data"]), &got); err != nil {
			t.Fatalf("Pattern:%s data %q: %v", id, h["data"], err)
		}
		want := map[string]any{"id": id, "name": "Pattern " + id, "meta": map[string]any{"active": true, "n": 1.0},
			"steps": []any{map[string]any{"a": 1.5}}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Pattern:%s data = %v, want %v", id, got, want)
		}
		if got, want := h["ts"], strconv.FormatInt(testNow.UnixMilli(), 10); got != want {
			t.Errorf("Pattern:%s ts = %q, want %q", id, got, want)
		}
	}
	if n, _ := rc.Exists(ctx, "Pattern:p3").Result(); n != 0 {
		t.Error("inactive pattern p3 is cached")
	}
	index, err := rc.SMembers(ctx, "IDX:Pattern").Result()
	slices.Sort(index)
	if err != nil || !slices.Equal(index, []string{"p1", "p2", "p5"}) {
		t.Errorf("IDX:Pattern = %v, %v; want [p1 p2 p5]", index, err)
	}

	// The next version: p1 removed, p2 inactive, p4 new, p5 unchanged.
	env.Prev = &rec
	step.Patterns.Items = []profiles.PatternItem{pattern("p2", false), pattern("p3", false), pattern("p4", true), pattern("p5", true)}
	rec2, err := (patterns{}).Apply(ctx, env, step)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rec2.CachedPatterns, []string{"p4", "p5"}; !slices.Equal(got, want) {
		t.Errorf("cached = %v, want %v", got, want)
	}
	if got, want := rec2.Removed, int64(2); got != want {
		t.Errorf("removed = %d, want %d (p1 and p2)", got, want)
	}
	for key, want := range map[string]int64{"Pattern:p1": 0, "Pattern:p2": 0, "Pattern:p3": 0, "Pattern:p4": 1, "Pattern:p5": 1, "Pattern:other": 1} {
		if got, err := rc.Exists(ctx, key).Result(); err != nil || got != want {
			t.Errorf("EXISTS %s = %d, %v; want %d", key, got, err, want)
		}
	}
	index, err = rc.SMembers(ctx, "IDX:Pattern").Result()
	slices.Sort(index)
	if err != nil || !slices.Equal(index, []string{"p4", "p5"}) {
		t.Errorf("IDX:Pattern = %v, %v; want [p4 p5]", index, err)
	}
}
