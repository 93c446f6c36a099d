package step

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/profiles"
)

// The documents step's integration tests, run by TestStepsIntegration.

// updateStats records the update commands a client sends.
type updateStats struct {
	mu         sync.Mutex
	commands   int
	maxUpdates int // statements in the largest one
}

// take returns the counts so far and starts again from zero.
func (s *updateStats) take() (commands, maxUpdates int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	commands, maxUpdates = s.commands, s.maxUpdates
	s.commands, s.maxUpdates = 0, 0
	return commands, maxUpdates
}

// monitoredClient connects to uri with a client of its own whose update
// commands are counted in the returned stats.
func monitoredClient(t *testing.T, uri string) (*mongo.Client, *updateStats) {
	t.Helper()
	stats := &updateStats{}
	monitor := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		if e.CommandName != "update" {
			return
		}
		vals, err := e.Command.Lookup("updates").Array().Values()
		if err != nil {
			return
		}
		stats.mu.Lock()
		stats.maxUpdates = max(stats.maxUpdates, len(vals))
		stats.commands++
		stats.mu.Unlock()
	}}
	mc, err := mongo.Connect(options.Client().ApplyURI(uri).SetMonitor(monitor))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mc.Disconnect(context.Background()) })
	return mc, stats
}

// documentItems generates n documents {code, n, version, price, tags,
// meta}, with _id = code when withID.
func documentItems(n, version int, withID bool) []profiles.DocumentItem {
	out := make([]profiles.DocumentItem, n)
	for i := range out {
		code := fmt.Sprintf("c%05d", i)
		id := ""
		if withID {
			id = fmt.Sprintf(`"_id":%q,`, code)
		}
		out[i] = profiles.DocumentItem{File: "data/all.json", Index: i, Key: code, JSON: json.RawMessage(fmt.Sprintf(
			`{%s"code":%q,"n":%d,"version":%d,"price":%d.5,"tags":["a","b"],"meta":{"even":%t}}`,
			id, code, i, version, i, i%2 == 0))}
	}
	return out
}

// ferretDBChangeLimit is the largest update command FerretDB (v1.24.2,
// SQLite backend) survives when its statements change existing documents:
// each statement keeps one of the database's 100 SQLite connections until
// the command ends, so 100 such statements hang the server for good, on
// _id or any other filter (seen here; 100 statements that leave the
// documents unchanged, or that insert, pass). MongoDB has no such limit.
const ferretDBChangeLimit = 99

// testDocumentsBatched applies 2,000 new documents in batches of 100 (the
// default), then re-applies a changed version of 1,000 of them over the
// stored ones (ten full commands; all 2,000 again would only add minutes
// on FerretDB) in batches of ferretDBChangeLimit. The documents carry their
// own _id and are matched on it: FerretDB scans the whole collection for
// any other key.
func testDocumentsBatched(t *testing.T, mongoSrv *harness.Mongo, rc redis.UniversalClient) {
	const db, n = "it_documents", 2000
	mc, stats := monitoredClient(t, mongoSrv.URI)
	env, progress, _ := newIntegrationEnv(mc, rc, db)
	step := profiles.Step{Kind: profiles.KindDocuments, Documents: &profiles.DocumentsStep{
		Collection: "Reference", Items: documentItems(n, 1, true),
	}}
	// A command too large for FerretDB hangs it: bound the test instead.
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	rec, err := (documents{}).Apply(ctx, env, step)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rec.Written, int64(n); got != want {
		t.Errorf("written = %d, want %d", got, want)
	}
	if got, want := progress.Total(), int64(n); got != want {
		t.Errorf("progress total = %d, want %d", got, want)
	}
	if got, want := progress.Done(), int64(n); got != want {
		t.Errorf("progress done = %d, want %d", got, want)
	}
	if got, want := progress.Beats(), int64(n/100); got != want {
		t.Errorf("progress reports = %d, want %d (one per batch)", got, want)
	}
	commands, largest := stats.take()
	if got, want := largest, 100; got != want {
		t.Errorf("largest update command carried %d statements, want %d (the batch size)", got, want)
	}
	if got, want := commands, n/100; got < want {
		t.Errorf("update commands = %d, want at least %d", got, want)
	}
	coll := mc.Database(db).Collection("Reference")
	if got, err := coll.CountDocuments(ctx, bson.D{}); err != nil || got != n {
		t.Fatalf("count = %d, %v; want %d", got, err, n)
	}
	first := findRaw(t, coll, "c01234")
	if got, want := rawKeys(t, first), []string{"_id", "code", "n", "version", "price", "tags", "meta"}; !slices.Equal(got, want) {
		t.Errorf("keys = %v, want %v", got, want)
	}
	if got, want := first.Lookup("n").Int32(), int32(1234); got != want {
		t.Errorf("n = %d, want %d", got, want)
	}
	if got, want := first.Lookup("price").Double(), 1234.5; got != want {
		t.Errorf("price = %v, want %v", got, want)
	}
	if got, want := first.Lookup("meta", "even").Boolean(), true; got != want {
		t.Errorf("meta.even = %v, want %v", got, want)
	}

	// A changed version over existing documents completes.
	env.BatchSize = ferretDBChangeLimit
	step.Documents.Items = documentItems(1000, 2, true)
	if _, err := (documents{}).Apply(ctx, env, step); err != nil {
		t.Fatal(err)
	}
	if _, largest := stats.take(); largest != ferretDBChangeLimit {
		t.Errorf("largest update command carried %d statements, want %d", largest, ferretDBChangeLimit)
	}
	if got, err := coll.CountDocuments(ctx, bson.D{}); err != nil || got != n {
		t.Errorf("count after re-apply = %d, %v; want %d", got, err, n)
	}
	for id, want := range map[string]int32{"c00999": 2, "c01000": 1} {
		if got := findRaw(t, coll, id).Lookup("version").Int32(); got != want {
			t.Errorf("%s version = %d, want %d", id, got, want)
		}
	}
}

// testDocumentsByKey upserts documents without _id on another key: the
// server assigns _id on insert, and a replace keeps it.
func testDocumentsByKey(t *testing.T, mc *mongo.Client, rc redis.UniversalClient) {
	const db, n = "it_documents_key", 150
	env, _, _ := newIntegrationEnv(mc, rc, db)
	env.BatchSize = ferretDBChangeLimit
	step := profiles.Step{Kind: profiles.KindDocuments, Documents: &profiles.DocumentsStep{
		Collection: "Reference", Key: "code", Items: documentItems(n, 1, false),
	}}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	if _, err := (documents{}).Apply(ctx, env, step); err != nil {
		t.Fatal(err)
	}
	coll := mc.Database(db).Collection("Reference")
	sample := func() bson.Raw {
		t.Helper()
		raw, err := coll.FindOne(ctx, bson.D{{Key: "code", Value: "c00123"}}).Raw()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	first := sample()
	id, ok := first.Lookup("_id").ObjectIDOK()
	if !ok {
		t.Fatalf("_id = %v, want one assigned by the server", first.Lookup("_id"))
	}
	step.Documents.Items = documentItems(n, 2, false)
	if _, err := (documents{}).Apply(ctx, env, step); err != nil {
		t.Fatal(err)
	}
	if got, err := coll.CountDocuments(ctx, bson.D{}); err != nil || got != n {
		t.Errorf("count after re-apply = %d, %v; want %d", got, err, n)
	}
	second := sample()
	if got := second.Lookup("_id").ObjectID(); got != id {
		t.Errorf("_id changed on replace: %v, want %v", got, id)
	}
	if got, want := second.Lookup("version").Int32(), int32(2); got != want {
		t.Errorf("version = %d, want %d", got, want)
	}
}
