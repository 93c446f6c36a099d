package store

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/srvthreds/bootstrap/internal/mongox"
)

// Query is one query the store sends on one of its collections: the fields
// its filter matches by equality ($in counts as equality) and its sort.
// Every query has an index that serves it (see CollectionIndexes): Azure
// Cosmos DB for MongoDB indexes only _id and refuses a sort that no index
// serves, and MongoDB scans the collection without one. A new query on
// these collections gets its line in Queries, and its index its line in
// CollectionIndexes; a test holds one against the other.
type Query struct {
	Name       string
	Collection string
	Equal      []string // filter fields matched by equality
	Sort       bson.D   // nil: unsorted
}

// Queries returns every query the store sends on its collections.
func Queries() []Query {
	return []Query{
		{Name: "marker", Collection: MarkersCollection, Equal: []string{"_id"}},
		{Name: "marker write and delete (fenced)", Collection: MarkersCollection, Equal: []string{"_id"}},
		{Name: "markers", Collection: MarkersCollection, Sort: markersSort()},
		{Name: "history", Collection: AuditCollection, Sort: historySort()},
		{Name: "history of profiles", Collection: AuditCollection, Equal: []string{"profile"}, Sort: historySort()},
		{Name: "snapshot list", Collection: SnapshotsCollection, Equal: []string{"profile"}},
		{Name: "snapshot items", Collection: SnapshotsCollection, Equal: []string{"profile", "version"}, Sort: chunkSort()},
		{Name: "snapshot drop", Collection: SnapshotsCollection, Equal: []string{"profile", "version"}},
		{Name: "snapshot chunk write (fenced)", Collection: SnapshotsCollection, Equal: []string{"_id"}},
		{Name: "ownership chunk write", Collection: OwnedCollection, Equal: []string{"_id"}},
		// Sorted by the client, not the server.
		{Name: "ownership of a marker", Collection: OwnedCollection, Equal: []string{"profile", "fence"}},
		// fence: a range ($lt, $nin) after the profile's equality.
		{Name: "ownership drop", Collection: OwnedCollection, Equal: []string{"profile"}},
		{Name: "fence claim (fenced)", Collection: FencesCollection, Equal: []string{"_id"}},
	}
}

// CollectionIndexes returns the indexes of each of the store's collections,
// created (when missing) before the first write to the collection and
// before a read of an existing one, once per process. None is unique.
func CollectionIndexes() map[string][]mongox.Index {
	return map[string][]mongox.Index{
		MarkersCollection: {mongox.IDIndex()},
		AuditCollection: {
			{Name: "bootstrap_at_id", Keys: historySort()},
			{Name: "bootstrap_profile_at_id", Keys: append(bson.D{{Key: "profile", Value: 1}}, historySort()...)},
		},
		SnapshotsCollection: {
			{Name: "bootstrap_profile_version_chunk", Keys: append(bson.D{
				{Key: "profile", Value: 1}, {Key: "version", Value: 1},
			}, chunkSort()...)},
		},
		OwnedCollection: {
			{Name: "bootstrap_profile_fence", Keys: bson.D{{Key: "profile", Value: 1}, {Key: "fence", Value: 1}}},
		},
		FencesCollection: {mongox.IDIndex()},
	}
}

// markersSort orders markers by profile.
func markersSort() bson.D { return bson.D{{Key: "_id", Value: 1}} }

// historySort orders audit records newest first.
func historySort() bson.D { return bson.D{{Key: "at", Value: -1}, {Key: "_id", Value: -1}} }

// chunkSort orders a snapshot's chunks.
func chunkSort() bson.D { return bson.D{{Key: "chunk", Value: 1}} }

// ensureWrite makes sure the indexes of coll exist before a write to it.
func ensureWrite(ctx context.Context, ix *mongox.Indexes, w mongox.Window, coll *mongo.Collection) error {
	_, err := ix.Ensure(ctx, nil, w, coll, CollectionIndexes()[coll.Name()]...)
	return err
}

// readIndexed runs read after making sure the indexes of coll exist, when
// coll exists (a read creates no collection). When they cannot be created
// (a user allowed to read only, say) the read is tried all the same, and
// its error, if any, says both.
func readIndexed(ctx context.Context, ix *mongox.Indexes, coll *mongo.Collection, read func() error) error {
	ierr := ix.EnsureExisting(ctx, nil, nil, coll, CollectionIndexes()[coll.Name()]...)
	err := read()
	if err != nil && ierr != nil && ctx.Err() == nil {
		return errors.Join(err, ierr)
	}
	return err
}
