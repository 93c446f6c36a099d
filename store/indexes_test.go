package store

import (
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/internal/mongox"
)

// serves reports whether ix serves q as MongoDB and Azure Cosmos DB use an
// index: its first keys are q's equality fields (in any order), then q's
// sort fields in order, all in the sort's directions or all reversed.
func serves(ix mongox.Index, q Query) bool {
	n := len(q.Equal)
	if len(ix.Keys) < n+len(q.Sort) {
		return false
	}
	for _, k := range ix.Keys[:n] {
		if !slices.Contains(q.Equal, k.Key) {
			return false
		}
	}
	flip := 0
	for i, s := range q.Sort {
		k := ix.Keys[n+i]
		want, okw := mongox.Direction(s.Value)
		got, okg := mongox.Direction(k.Value)
		if k.Key != s.Key || !okw || !okg {
			return false
		}
		if flip == 0 {
			flip = want * got
		}
		if want*got != flip {
			return false
		}
	}
	return true
}

func TestEveryQueryHasAnIndex(t *testing.T) {
	indexes := CollectionIndexes()
	for _, q := range Queries() {
		t.Run(q.Name, func(t *testing.T) {
			if len(q.Equal) == 0 && len(q.Sort) == 0 {
				t.Fatal("a query that matches and sorts on nothing needs no line")
			}
			// Every collection has the _id index.
			have := append([]mongox.Index{mongox.IDIndex()}, indexes[q.Collection]...)
			if !slices.ContainsFunc(have, func(ix mongox.Index) bool { return serves(ix, q) }) {
				t.Errorf("no index of %s serves equality on %v sorted by %v; indexes: %v",
					q.Collection, q.Equal, q.Sort, indexes[q.Collection])
			}
		})
	}
}

func TestServes(t *testing.T) {
	atID := mongox.Index{Keys: bson.D{{Key: "at", Value: -1}, {Key: "_id", Value: -1}}}
	profileAtID := mongox.Index{Keys: bson.D{{Key: "profile", Value: 1}, {Key: "at", Value: -1}, {Key: "_id", Value: -1}}}
	tests := []struct {
		name string
		ix   mongox.Index
		q    Query
		want bool
	}{
		{"sort_same_directions", atID, Query{Sort: historySort()}, true},
		{"sort_reversed", atID, Query{Sort: bson.D{{Key: "at", Value: 1}, {Key: "_id", Value: 1}}}, true},
		{"sort_mixed_directions", atID, Query{Sort: bson.D{{Key: "at", Value: -1}, {Key: "_id", Value: 1}}}, false},
		{"sort_other_order", atID, Query{Sort: bson.D{{Key: "_id", Value: -1}, {Key: "at", Value: -1}}}, false},
		{"sort_longer_than_index", mongox.Index{Keys: bson.D{{Key: "at", Value: -1}}}, Query{Sort: historySort()}, false},
		{"equality_then_sort", profileAtID, Query{Equal: []string{"profile"}, Sort: historySort()}, true},
		{"equality_not_in_index", atID, Query{Equal: []string{"profile"}, Sort: historySort()}, false},
		{"sort_without_its_equality_prefix", profileAtID, Query{Sort: historySort()}, false},
		{"equality_prefix_only", profileAtID, Query{Equal: []string{"profile"}}, true},
		{"equality_in_any_order", mongox.KeyIndex("a", "b"), Query{Equal: []string{"b", "a"}}, true},
		{"id_index", mongox.IDIndex(), Query{Equal: []string{"_id"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := serves(tt.ix, tt.q); got != tt.want {
				t.Errorf("serves(%v, %+v) = %v, want %v", tt.ix, tt.q, got, tt.want)
			}
		})
	}
}

func TestIndexesAreNamedOnce(t *testing.T) {
	for coll, list := range CollectionIndexes() {
		seen := map[string]bool{}
		for _, ix := range list {
			if seen[ix.Name] {
				t.Errorf("%s: index name %q twice", coll, ix.Name)
			}
			seen[ix.Name] = true
			if ix.Name != mongox.IDIndex().Name && len(ix.Name) < len("bootstrap_") {
				t.Errorf("%s: index %q is not named bootstrap_…", coll, ix.Name)
			}
		}
	}
}
