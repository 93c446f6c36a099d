package runner_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/store"
)

// Shape of the large-ownership profile: a profile owns what it wrote in
// its marker, by key, so what makes a marker large is the bytes of its
// keys, not the number of documents. 640 documents keyed by 3,600-byte
// _ids own 2.3 MB, as much as ~50,000 documents keyed by 40-byte ids
// (the figure) and over the 2 MiB limit, at a cost FerretDB
// applies in seconds (its upserts slow down with the collection's size).
const (
	bigDB      = "big"
	bigDocs    = 640
	bigKeySize = 3600
)

// bigKey is the _id of document i.
func bigKey(i int) string { return fmt.Sprintf("%s-%04d", strings.Repeat("k", bigKeySize), i) }

// bigFS is the profile "big" writing documents from..bigDocs-1, each
// with field n set to tag.
func bigFS(from int, tag string) fstest.MapFS {
	var b strings.Builder
	b.WriteString("[")
	for i := from; i < bigDocs; i++ {
		if i > from {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `{"_id": %q, "n": %d, "tag": %q}`, bigKey(i), i, tag)
	}
	b.WriteString("]")
	return fstest.MapFS{
		"big/profile.yaml":    file("database: " + bigDB + "\nsteps:\n  - documents: {collection: Items, dir: data}\n"),
		"big/data/items.json": file(b.String()),
	}
}

// recordsWithin fails t unless every document of bootstrap's own
// collections in db is at most store.MaxRecordBytes, measured as stored
// (the raw BSON the server returns: FerretDB 1.24 has no $bsonSize), and
// returns how many documents each holds.
func recordsWithin(t *testing.T, f *fixture) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, coll := range []string{store.MarkersCollection, store.OwnedCollection, store.AuditCollection, store.SnapshotsCollection} {
		docs := snapshot(t, f.mc, bigDB, coll)
		out[coll] = len(docs)
		for id, raw := range docs {
			if len(raw) > store.MaxRecordBytes {
				t.Errorf("%s %.40s is %d bytes, over %d", coll, id, len(raw), store.MaxRecordBytes)
			}
		}
	}
	return out
}

// ownedValues is how many document keys the marker of big owns, as the
// store reads it back.
func ownedValues(t *testing.T, f *fixture) int {
	t.Helper()
	m, err := store.New(f.mc).Marker(t.Context(), bigDB, "big")
	if err != nil || m == nil || m.Owned == nil {
		t.Fatalf("marker of big = %+v, %v; want one with its ownership", m, err)
	}
	n := 0
	for _, d := range m.Owned.Docs {
		n += len(d.Values)
	}
	return n
}

// TestLargeOwnership_every_record_within_2MiB: a profile whose ownership
// is over 2 MiB applies with every record (marker, ownership chunks,
// audit records, snapshot chunks) at most 2 MiB; the next version, which
// no longer writes some documents, reads the ownership back from its
// chunks and deletes them; a rollback restores them and the ownership.
func TestLargeOwnership_every_record_within_2MiB(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	const dropped = 40
	v1 := loadSet(t, bigFS(0, "v1"), "big")
	runSet(t, f, v1, run{})

	raw := snapshot(t, f.mc, bigDB, store.MarkersCollection)[`"big"`]
	_, inlineErr := raw.LookupErr("owned")
	if raw == nil || inlineErr == nil || raw.Lookup("ownedChunks").IsZero() {
		t.Fatalf("marker = %.200s, want its ownership in chunks (ownedChunks set)", raw)
	}
	counts := recordsWithin(t, f)
	if got := counts[store.OwnedCollection]; got < 2 {
		t.Errorf("ownership chunks = %d, want at least 2 (over 2 MiB of keys)", got)
	}
	for _, ix := range store.CollectionIndexes()[store.OwnedCollection] {
		if got := indexNames(t, f.mc, bigDB, store.OwnedCollection); !slices.Contains(got, ix.Name) {
			t.Errorf("indexes of %s = %v, want %s (created before the first chunk)", store.OwnedCollection, got, ix.Name)
		}
	}
	if got, want := ownedValues(t, f), bigDocs; got != want {
		t.Errorf("marker owns %d documents, want %d", got, want)
	}
	v1Fence := raw.Lookup("fence").Int64()

	v2 := loadSet(t, bigFS(dropped, "v2"), "big")
	runSet(t, f, v2, run{})
	items := f.mc.Database(bigDB).Collection("Items")
	if n, err := items.CountDocuments(t.Context(), bson.D{}); err != nil || n != bigDocs-dropped {
		t.Fatalf("documents after v2 = %d, %v; want %d (those v2 no longer writes deleted)", n, err, bigDocs-dropped)
	}
	counts = recordsWithin(t, f)
	if got := counts[store.SnapshotsCollection]; got < 2 {
		t.Errorf("snapshot chunks = %d, want at least 2 (v1's state is over 2 MiB)", got)
	}

	res, err := newRunner(t, f, run{}).Rollback(t.Context(), v2.Get("big"), v1.Get("big").Version)
	if err != nil {
		t.Fatalf("rollback to v1: %v", err)
	}
	if got, want := res.To, v1.Get("big").Version; got != want {
		t.Errorf("rolled back to %.12s, want v1 %.12s", got, want)
	}
	if n, err := items.CountDocuments(t.Context(), bson.D{{Key: "tag", Value: "v1"}}); err != nil || n != bigDocs {
		t.Errorf("v1 documents after the rollback = %d, %v; want %d", n, err, bigDocs)
	}
	if got, want := ownedValues(t, f), bigDocs; got != want {
		t.Errorf("rollback's marker owns %d documents, want v1's %d", got, want)
	}
	recordsWithin(t, f)
	// Left: the chunks of the stored marker and of v1's, which the
	// snapshots hold; v2's were deleted once the rollback's marker was
	// written.
	keep := map[int64]bool{v1Fence: true, res.Fence: true}
	for id, c := range snapshot(t, f.mc, bigDB, store.OwnedCollection) {
		if fence := c.Lookup("fence").Int64(); !keep[fence] {
			t.Errorf("ownership chunk %.60s of fence %d left, want only fences %v", id, fence, keep)
		}
	}
}
