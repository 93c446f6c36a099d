package mongox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Index is an index a query or a keyed write needs: its keys in order, each
// 1 (ascending) or -1 (descending), and the name it is created under.
//
// Azure Cosmos DB for MongoDB (3.6+ API) indexes only _id by default and
// refuses a sort on a field without an index, and a keyed upsert without an
// index scans the collection on every backend: every query the product
// sends on a field other than _id has one. The indexes are never unique: a
// unique index cannot be created over existing duplicates (on Cosmos DB not
// at all on a non-empty collection), and the product never relies on one.
type Index struct {
	Name string
	Keys bson.D
}

// IDIndex is the index every collection has on _id, under its server name;
// Ensure never creates it.
func IDIndex() Index { return Index{Name: idIndexName, Keys: bson.D{{Key: "_id", Value: 1}}} }

const idIndexName = "_id_"

// KeyIndex is the index of a keyed write on fields, named
// "bootstrap_<field>[_<field>...]" (dots kept, as MongoDB's own names do).
func KeyIndex(fields ...string) Index {
	keys := make(bson.D, len(fields))
	for i, f := range fields {
		keys[i] = bson.E{Key: f, Value: 1}
	}
	return Index{Name: "bootstrap_" + strings.Join(fields, "_"), Keys: keys}
}

// String is the index's keys as MongoDB shows them: {code: 1}.
func (ix Index) String() string {
	parts := make([]string, len(ix.Keys))
	for i, k := range ix.Keys {
		parts[i] = fmt.Sprintf("%s: %v", k.Key, k.Value)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// sameKeys reports whether keys (as listIndexes returns them) are ix's keys
// in the same order and directions.
func (ix Index) sameKeys(keys bson.Raw) bool {
	elems, err := keys.Elements()
	if err != nil || len(elems) != len(ix.Keys) {
		return false
	}
	for i, e := range elems {
		want, ok := Direction(ix.Keys[i].Value)
		if e.Key() != ix.Keys[i].Key || !ok || !sameDirection(e.Value(), want) {
			return false
		}
	}
	return true
}

// Direction is the direction of an index key or a sort field given as a
// Go number: 1 or -1, false for anything else.
func Direction(v any) (int, bool) {
	var d int64
	switch n := v.(type) {
	case int:
		d = int64(n)
	case int32:
		d = int64(n)
	case int64:
		d = n
	case float64:
		d = int64(n)
	default:
		return 0, false
	}
	if d != 1 && d != -1 {
		return 0, false
	}
	return int(d), true
}

// sameDirection reports whether a key of a listed index (a number of any
// BSON type) has direction want.
func sameDirection(v bson.RawValue, want int) bool {
	if n, ok := v.AsInt64OK(); ok {
		return n == int64(want)
	}
	if f, ok := v.DoubleOK(); ok {
		return int64(f) == int64(want)
	}
	return false
}

// Indexes makes sure the indexes the queries and keyed writes need exist,
// once per process for each collection and index: after a collection's
// index was found or created, later calls send nothing. It never drops or
// changes an index, and an index with the same keys under another name
// serves. The zero value is not usable: see NewIndexes. Safe for
// concurrent use.
type Indexes struct {
	mu   sync.Mutex
	done map[string]bool // "<db>.<coll>\x00<index name>"
}

// NewIndexes returns an empty Indexes.
func NewIndexes() *Indexes { return &Indexes{done: map[string]bool{}} }

func indexKey(coll *mongo.Collection, ix Index) string {
	return coll.Database().Name() + "." + coll.Name() + "\x00" + ix.Name
}

// Ensure makes sure each of idx exists on coll, creating the missing ones
// (createIndexes, which on a missing collection creates it) in one
// command under w, retried as a write (see Retry). It returns the names of
// the indexes it created. A nil x checks every time.
func (x *Indexes) Ensure(ctx context.Context, log *slog.Logger, w Window, coll *mongo.Collection, idx ...Index) ([]string, error) {
	missing, err := x.missing(ctx, log, coll, idx)
	if err != nil || len(missing) == 0 {
		return nil, err
	}
	models := make([]mongo.IndexModel, len(missing))
	names := make([]string, len(missing))
	for i, ix := range missing {
		models[i] = mongo.IndexModel{Keys: ix.Keys, Options: options.Index().SetName(ix.Name)}
		names[i] = ix.Name
	}
	err = Retry(ctx, log, w, func(ctx context.Context) error {
		_, err := coll.Indexes().CreateMany(ctx, models)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create index %s on %s.%s: %w",
			strings.Join(names, ", "), coll.Database().Name(), coll.Name(), err)
	}
	x.mark(coll, missing)
	return names, nil
}

// EnsureExisting is Ensure for a read: on a collection that does not exist
// (nothing to read) it creates nothing, not even the collection.
func (x *Indexes) EnsureExisting(ctx context.Context, log *slog.Logger, w Window, coll *mongo.Collection, idx ...Index) error {
	missing, err := x.missing(ctx, log, coll, idx)
	if err != nil || len(missing) == 0 {
		return err
	}
	exists, err := collectionExists(ctx, log, coll)
	if err != nil || !exists {
		return err
	}
	_, err = x.Ensure(ctx, log, w, coll, missing...)
	return err
}

// Missing returns those of idx that coll lacks (all of them when coll does
// not exist), reading the server's index list whatever was ensured before.
func Missing(ctx context.Context, log *slog.Logger, coll *mongo.Collection, idx ...Index) ([]Index, error) {
	var specs []struct {
		Keys bson.Raw `bson:"key"`
	}
	err := Retry(ctx, log, nil, func(ctx context.Context) error {
		cur, err := coll.Indexes().List(ctx)
		if err != nil {
			return err
		}
		specs = specs[:0]
		return cur.All(ctx, &specs)
	})
	var se mongo.ServerError
	if errors.As(err, &se) && se.HasErrorCode(namespaceNotFound) {
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("list indexes of %s.%s: %w", coll.Database().Name(), coll.Name(), err)
	}
	var out []Index
	for _, ix := range idx {
		found := false
		for _, s := range specs {
			found = found || ix.sameKeys(s.Keys)
		}
		if !found {
			out = append(out, ix)
		}
	}
	return out, nil
}

// namespaceNotFound is MongoDB's error code for a collection that does not
// exist (listIndexes answers it where the driver does not hide it).
const namespaceNotFound = 26

// missing is Missing for the indexes not yet ensured; those found are
// remembered.
func (x *Indexes) missing(ctx context.Context, log *slog.Logger, coll *mongo.Collection, idx []Index) ([]Index, error) {
	var todo []Index
	for _, ix := range idx {
		if ix.Name != idIndexName && !x.isDone(coll, ix) {
			todo = append(todo, ix)
		}
	}
	if len(todo) == 0 {
		return nil, nil
	}
	missing, err := Missing(ctx, log, coll, todo...)
	if err != nil {
		return nil, err
	}
	var found []Index
	for _, ix := range todo {
		if !containsIndex(missing, ix) {
			found = append(found, ix)
		}
	}
	x.mark(coll, found)
	return missing, nil
}

func containsIndex(list []Index, ix Index) bool {
	for _, l := range list {
		if l.Name == ix.Name {
			return true
		}
	}
	return false
}

func (x *Indexes) isDone(coll *mongo.Collection, ix Index) bool {
	if x == nil {
		return false
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.done[indexKey(coll, ix)]
}

func (x *Indexes) mark(coll *mongo.Collection, idx []Index) {
	if x == nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, ix := range idx {
		x.done[indexKey(coll, ix)] = true
	}
}

// collectionExists reports whether coll's collection exists.
func collectionExists(ctx context.Context, log *slog.Logger, coll *mongo.Collection) (bool, error) {
	var names []string
	err := Retry(ctx, log, nil, func(ctx context.Context) error {
		var err error
		names, err = coll.Database().ListCollectionNames(ctx, bson.D{{Key: "name", Value: coll.Name()}})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("list collections of %s: %w", coll.Database().Name(), err)
	}
	return len(names) > 0, nil
}
