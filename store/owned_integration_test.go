package store_test

import (
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/store"
)

// ownedOf is an ownership of n document keys of size bytes each.
func ownedOf(t *testing.T, n, size int) *store.Owned {
	t.Helper()
	od := store.OwnedDocs{DB: "db", Coll: "Items", Field: "_id"}
	for i := range n {
		raw, err := bson.Marshal(bson.D{{Key: "v", Value: fmt.Sprintf("%0*d", size, i)}})
		if err != nil {
			t.Fatal(err)
		}
		od.Values = append(od.Values, bson.Raw(raw).Lookup("v"))
	}
	return &store.Owned{Docs: []store.OwnedDocs{od}, Keys: []string{"k:1"}}
}

// TestStoreOwnership: a marker of the previous format (ownership inline,
// even large) still loads; a new marker keeps a small ownership inline and
// a large one in chunks, read back whole by Marker and Markers.
func TestStoreOwnership(t *testing.T) {
	t.Parallel()
	mc := harness.StartMongo(t, nil).Client(t)
	st := store.New(mc)
	const db = "store_owned"
	tests := []struct {
		name       string
		keys, size int
		legacy     bool // inserted as the previous version wrote it
		wantChunks int  // ownership chunks stored
	}{
		{name: "legacy_inline_large", keys: 1500, size: 400, legacy: true},
		{name: "small_stays_inline", keys: 100, size: 20},
		{name: "large_in_chunks", keys: 2600, size: 800, wantChunks: 3},
	}
	t.Run("each", func(t *testing.T) { // returns once its parallel subtests are done
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				m := &store.Marker{Profile: tt.name, Version: "v1", HashAlgo: 1, Fence: 3, Owned: ownedOf(t, tt.keys, tt.size)}
				if tt.legacy {
					if _, err := mc.Database(db).Collection(store.MarkersCollection).InsertOne(t.Context(), m); err != nil {
						t.Fatal(err)
					}
				} else if err := st.PutMarker(t.Context(), db, m); err != nil {
					t.Fatal(err)
				}
				n, err := mc.Database(db).Collection(store.OwnedCollection).CountDocuments(t.Context(), bson.D{{Key: "profile", Value: tt.name}})
				if err != nil || int(n) != tt.wantChunks {
					t.Errorf("ownership chunks = %d, %v; want %d", n, err, tt.wantChunks)
				}
				got, err := st.Marker(t.Context(), db, tt.name)
				if err != nil || got == nil || got.Owned == nil {
					t.Fatalf("Marker = %+v, %v; want it with its ownership", got, err)
				}
				want, _ := bson.Marshal(m.Owned)
				if raw, _ := bson.Marshal(got.Owned); string(raw) != string(want) {
					t.Errorf("ownership read back differs (%d bytes, want %d)", len(raw), len(want))
				}
			})
		}
	})
	t.Run("markers_read_chunks", func(t *testing.T) {
		all, err := st.Markers(t.Context(), db)
		if err != nil || len(all) != len(tests) {
			t.Fatalf("Markers = %d markers, %v; want %d", len(all), err, len(tests))
		}
		for _, m := range all {
			if m.Owned == nil || len(m.Owned.Docs) != 1 {
				t.Errorf("Markers: %s owns %+v, want its documents", m.Profile, m.Owned)
			}
		}
	})
}
