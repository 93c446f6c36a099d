package step

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/internal/mongox"
	"github.com/srvthreds/bootstrap/store"
)

// PruneName names the record of the removal of what a profile's previous
// version wrote and this one no longer writes.
const PruneName = "prune"

// OwnedOf is what ws write, as a marker records it: the documents by key
// (or filter), the Redis keys, the index memberships. Deletions are not
// owned.
func OwnedOf(ws []*Writes) (*store.Owned, error) {
	o := &store.Owned{}
	for _, w := range ws {
		for _, ds := range w.Docs {
			if ds.Delete {
				continue
			}
			od := store.OwnedDocs{DB: ds.DB, Coll: ds.Coll, Field: ds.Field}
			for _, d := range ds.Docs {
				v, err := mongox.RawValueOf(ds.Match(d))
				if err != nil {
					return nil, fmt.Errorf("%s.%s: %w", ds.DB, ds.Coll, err)
				}
				od.Values = append(od.Values, v)
			}
			o.Docs = append(o.Docs, od)
		}
		for _, rw := range w.Redis {
			if rw.Type == TypeDelete {
				continue
			}
			o.Keys = append(o.Keys, rw.Key)
			if rw.Index != "" {
				o.Members = append(o.Members, store.OwnedMember{Set: rw.Index, Member: rw.Member})
			}
		}
	}
	return o, nil
}

// PruneWrites describes the removal of what prev (a previous version's
// Owned) has that now (this version's) has not: documents deleted by their
// key or filter, Redis keys deleted, members removed from their sets. Nil
// when there is nothing to remove.
func PruneWrites(prev, now *store.Owned) *Writes {
	if prev == nil {
		return nil
	}
	w := &Writes{}
	keep := map[string]bool{}
	for _, od := range now.Docs {
		for _, v := range od.Values {
			keep[docID(od, v)] = true
		}
	}
	for _, od := range prev.Docs {
		ds := &DocSet{DB: od.DB, Coll: od.Coll, Field: od.Field, Delete: true}
		for _, v := range od.Values {
			if keep[docID(od, v)] {
				continue
			}
			if od.Field == "" {
				var filter bson.D
				if bson.Unmarshal(v.Document(), &filter) == nil {
					ds.Docs = append(ds.Docs, Doc{Filter: filter})
				}
				continue
			}
			ds.Docs = append(ds.Docs, Doc{Key: v})
		}
		if len(ds.Docs) > 0 {
			w.Docs = append(w.Docs, ds)
		}
	}
	w.Redis = pruneRedis(prev, now)
	if len(w.Docs) == 0 && len(w.Redis) == 0 {
		return nil
	}
	return w
}

// pruneRedis deletes the keys prev has and now has not, and removes their
// members likewise.
func pruneRedis(prev, now *store.Owned) []RedisWrite {
	keys, members := map[string]bool{}, map[store.OwnedMember]bool{}
	for _, k := range now.Keys {
		keys[k] = true
	}
	for _, m := range now.Members {
		members[m] = true
	}
	var out []RedisWrite
	for _, k := range prev.Keys {
		if !keys[k] {
			out = append(out, RedisWrite{Key: k, Type: TypeDelete})
		}
	}
	for _, m := range prev.Members {
		if !members[m] {
			// An index member alone: SREM without a key to delete.
			out = append(out, RedisWrite{Type: typeRemoveMember, Index: m.Set, Member: m.Member})
		}
	}
	return out
}

// docID identifies a document of od by its key value.
func docID(od store.OwnedDocs, v bson.RawValue) string {
	return od.DB + "\x00" + od.Coll + "\x00" + od.Field + "\x00" + mongox.ValueKey(v)
}

// Prune executes what PruneWrites described and returns the record of it.
func Prune(ctx context.Context, env *Env, w *Writes) (store.StepRecord, error) {
	rec := store.StepRecord{Name: PruneName, Kind: PruneName}
	c, err := w.execute(ctx, env)
	rec.Removed = c.Docs + c.Removed
	if err != nil {
		return rec, fmt.Errorf("prune: %w", err)
	}
	return rec, nil
}
