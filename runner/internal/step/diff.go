package step

import (
	"context"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/srvthreds/bootstrap/internal/mongox"
)

// diffListed is how many changed documents (or Redis keys) a Diff lists.
const diffListed = 10

// Diff tells, for the documents of one step in one collection, how those a
// re-apply would write compare with those stored, ignoring the DocSet's
// Ignore fields.
type Diff struct {
	Step       string `json:"step"`       // "<index>:<kind>"
	Collection string `json:"collection"` // "<db>.<collection>"
	Insert     int    `json:"insert"`     // no stored document
	Change     int    `json:"change"`     // a stored document that differs
	Unchanged  int    `json:"unchanged"`
	// Changed names the first changed documents (at most 10) by the step's
	// key (DocChange.Key), or the Redis keys that differ.
	Changed []string `json:"changed,omitempty"`
	// Changes are the fields that differ in each document Changed names.
	Changes []DocChange `json:"changes,omitempty"`
	Note    string      `json:"note,omitempty"`
}

// compared returns the fields of ds's documents that a comparison keeps: for
// an Update set the fields it sets, otherwise all, less Ignore.
func (ds *DocSet) compared(want bson.D) func(string) bool {
	return func(k string) bool {
		if slices.Contains(ds.Ignore, k) {
			return false
		}
		if !ds.Update {
			return true
		}
		for _, e := range want {
			if e.Key == k {
				return true
			}
		}
		return false
	}
}

// DiffDocs compares the documents ds writes with those mc holds. It writes
// nothing.
func DiffDocs(ctx context.Context, mc *mongo.Client, stepName string, ds *DocSet) (Diff, error) {
	d := Diff{Step: stepName, Collection: ds.DB + "." + ds.Coll, Note: ds.Note}
	keys := make([]bson.RawValue, 0, len(ds.Docs))
	want := make(map[string][]byte, len(ds.Docs))
	keep := map[string]func(string) bool{}
	for _, doc := range ds.Docs {
		k, err := mongox.RawValueOf(ds.Match(doc))
		if err != nil {
			return d, err
		}
		vk := mongox.ValueKey(k)
		wantDoc, err := doc.Document()
		if err != nil {
			return d, err
		}
		keep[vk] = ds.compared(wantDoc)
		raw, err := bson.Marshal(wantDoc)
		if err != nil {
			return d, err
		}
		if want[vk], err = mongox.Project(raw, keep[vk]); err != nil {
			return d, err
		}
		keys = append(keys, k)
	}
	coll := mc.Database(ds.DB).Collection(ds.Coll)
	err := ds.find(ctx, coll, keys, func(part []bson.RawValue, found map[string][]bson.Raw) error {
		for _, k := range part {
			vk := mongox.ValueKey(k)
			docs := found[vk]
			if len(docs) == 0 {
				d.Insert++
				continue
			}
			got, err := mongox.Project(docs[0], keep[vk])
			if err != nil {
				return err
			}
			if string(got) == string(want[vk]) {
				d.Unchanged++
				continue
			}
			d.Change++
			if len(d.Changed) < diffListed {
				c := docChange(ds.keyName(k), got, want[vk])
				d.Changed = append(d.Changed, c.Key)
				d.Changes = append(d.Changes, c)
			}
		}
		return nil
	})
	return d, err
}

// find reads the stored documents of keys (values of ds's Field, or
// filters when ds has none) and calls fn as mongox.Batcher.FindByKey does.
func (ds *DocSet) find(ctx context.Context, coll *mongo.Collection, keys []bson.RawValue, fn func([]bson.RawValue, map[string][]bson.Raw) error) error {
	if ds.Field != "" {
		return mongox.Batcher{}.FindByKey(ctx, coll, ds.Field, keys, fn)
	}
	return FindByFilter(ctx, coll, keys, fn)
}

// FindByFilter reads, for each filter (a BSON document value), the
// documents it matches, one query per filter, and calls fn once with all,
// grouped by mongox.ValueKey of the filter.
func FindByFilter(ctx context.Context, coll *mongo.Collection, filters []bson.RawValue, fn func([]bson.RawValue, map[string][]bson.Raw) error) error {
	found := map[string][]bson.Raw{}
	for _, f := range filters {
		k := mongox.ValueKey(f)
		err := mongox.Retry(ctx, nil, nil, func(ctx context.Context) error { // a read
			cur, err := coll.Find(ctx, f.Document())
			if err != nil {
				return err
			}
			defer cur.Close(context.WithoutCancel(ctx))
			found[k] = nil
			for cur.Next(ctx) {
				found[k] = append(found[k], slices.Clone(cur.Current))
			}
			return cur.Err()
		})
		if err != nil {
			return fmt.Errorf("read %s.%s: %w", coll.Database().Name(), coll.Name(), err)
		}
	}
	return fn(filters, found)
}
