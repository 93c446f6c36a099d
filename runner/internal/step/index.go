package step

import (
	"context"
	"fmt"
	"slices"

	"github.com/srvthreds/bootstrap/internal/mongox"
)

// KeyIndexes returns the indexes that ds's writes match on, made sure of
// before its first batch (see ensureIndexes) so that a keyed upsert finds
// its document through an index instead of scanning the collection: none
// for a set matched on _id (the _id index) or a step that opted out
// (`index: false`); {Field: 1} for a set keyed on another field; for a set
// matched by filters (upsert and replace steps, handler calls), one per
// distinct list of filter fields without _id, in the filter's order.
//
// They are not unique: a unique index could not be created over duplicates
// already stored (nor, on Azure Cosmos DB, on a collection that holds
// documents), and the writes need none, each matching by its key.
func (ds *DocSet) KeyIndexes() []mongox.Index {
	if ds.NoIndex || ds.Field == "_id" {
		return nil
	}
	if ds.Field != "" {
		return []mongox.Index{mongox.KeyIndex(ds.Field)}
	}
	var out []mongox.Index
	for _, d := range ds.Docs {
		fields := make([]string, 0, len(d.Filter))
		for _, e := range d.Filter {
			fields = append(fields, e.Key)
		}
		if len(fields) == 0 || slices.Contains(fields, "_id") {
			continue
		}
		ix := mongox.KeyIndex(fields...)
		if !slices.ContainsFunc(out, func(o mongox.Index) bool { return o.Name == ix.Name }) {
			out = append(out, ix)
		}
	}
	return out
}

// ensureIndexes makes sure the indexes of ds's keys exist before its first
// batch, creating the missing ones under the run's lease (env.Guard), once
// per process for each collection (env.Indexes).
func ensureIndexes(ctx context.Context, env *Env, ds *DocSet) error {
	idx := ds.KeyIndexes()
	if len(idx) == 0 || ds.Delete {
		return nil
	}
	coll := env.Mongo.Database(ds.DB).Collection(ds.Coll)
	created, err := env.Indexes.Ensure(ctx, env.Log, env.window(), coll, idx...)
	if err != nil {
		return err
	}
	for _, name := range created {
		env.Log.Info("index created", "index", name, "collection", ds.DB+"."+ds.Coll)
	}
	return nil
}

// MissingIndexes returns, for the plan, a line for each index of ds's keys
// that a run would create: "would create index bootstrap_code on
// app.Thing {code: 1}". It writes nothing.
func MissingIndexes(ctx context.Context, env *Env, ds *DocSet) ([]string, error) {
	idx := ds.KeyIndexes()
	if len(idx) == 0 || ds.Delete {
		return nil, nil
	}
	missing, err := mongox.Missing(ctx, env.Log, env.Mongo.Database(ds.DB).Collection(ds.Coll), idx...)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(missing))
	for i, ix := range missing {
		out[i] = fmt.Sprintf("would create index %s on %s.%s %s", ix.Name, ds.DB, ds.Coll, ix)
	}
	return out, nil
}
