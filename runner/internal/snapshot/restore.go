package snapshot

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/srvthreds/bootstrap/internal/mongox"
	"github.com/srvthreds/bootstrap/runner/internal/step"
)

// Layer is the items of one snapshot and when it was taken.
type Layer struct {
	TakenAt time.Time
	Items   []bson.Raw
}

// RestoreItem is an item to restore and when it was saved.
type RestoreItem struct {
	Item
	takenAt time.Time
}

// Compose merges snapshots, newest first, into the items that
// restore the state before the oldest of them: for each thing, the item of
// the oldest snapshot that holds it. (A thing only a later re-apply wrote
// was, when that later snapshot was taken, as the earlier versions left
// it.) The result is sorted by ident: documents, then Redis keys, then set
// memberships.
func Compose(layers []Layer) ([]RestoreItem, error) {
	byIdent := map[string]RestoreItem{}
	for _, l := range layers {
		for _, raw := range l.Items {
			var it Item
			if err := bson.Unmarshal(raw, &it); err != nil {
				return nil, fmt.Errorf("decode snapshot item: %w", err)
			}
			byIdent[it.ident()] = RestoreItem{Item: it, takenAt: l.TakenAt}
		}
	}
	out := make([]RestoreItem, 0, len(byIdent))
	for _, id := range slices.Sorted(maps.Keys(byIdent)) {
		out = append(out, byIdent[id])
	}
	return out, nil
}

// Counts is what a restore did.
type Counts struct {
	DocsRestored, DocsDeleted          int64
	KeysRestored, KeysDeleted, Members int64
}

// Restorer writes snapshot items back. Every field is required but Batch
// (<= 0: mongox.DefaultBatchSize).
type Restorer struct {
	Mongo *mongo.Client
	Redis redis.UniversalClient
	Batch int
	Log   *slog.Logger
	Prog  step.Progress
	Now   time.Time  // what remains of a saved TTL is counted to it
	Guard step.Guard // the run's lease: bounds every write, fences Redis batches; nil: unfenced
}

// redisEnv is the step environment that step.ExecRedis needs.
func (r *Restorer) redisEnv() *step.Env {
	return step.NewEnv(step.Env{Redis: r.Redis, Log: r.Log, Guard: r.Guard, BatchSize: r.Batch})
}

// Restore writes items back: for each collection, the saved documents
// replace-upserted by _id, then the key values that had no document
// deleted (deleteMany on the key); then the Redis keys, each deleted and
// recreated with what remains of its saved TTL (one that has run out since
// the snapshot is deleted), or deleted if it did not exist; then the set
// memberships (SADD or SREM). Writes go in batches of at most the batch
// size, Redis batches as MULTI/EXEC transactions; ctx is checked before
// each batch.
func (r *Restorer) Restore(ctx context.Context, items []RestoreItem) (Counts, error) {
	var c Counts
	if r.Batch <= 0 {
		r.Batch = mongox.DefaultBatchSize
	}
	r.Prog.SetTotal(int64(len(items)))
	docs, keys, members, err := splitItems(items)
	if err != nil {
		return c, err
	}
	if err := r.restoreDocs(ctx, docs, &c); err != nil {
		return c, err
	}
	if err := r.restoreKeys(ctx, keys, &c); err != nil {
		return c, err
	}
	return c, r.restoreMembers(ctx, members, &c)
}

type dbColl struct{ db, coll string }

// docModels are the writes that restore the documents of one collection.
type docModels struct {
	dbColl
	replaces, deletes []mongo.WriteModel
}

// splitItems sorts items into the document writes per collection (in the
// order the collections first appear), the keys and the set memberships.
func splitItems(items []RestoreItem) (docs []*docModels, keys, members []RestoreItem, err error) {
	byColl := map[dbColl]*docModels{}
	for _, it := range items {
		switch it.Kind {
		case itemDoc:
			c := dbColl{it.DB, it.Coll}
			m, ok := byColl[c]
			if !ok {
				m = &docModels{dbColl: c}
				byColl[c] = m
				docs = append(docs, m)
			}
			if err := m.add(it); err != nil {
				return nil, nil, nil, err
			}
		case itemKey:
			keys = append(keys, it)
		case itemMember:
			members = append(members, it)
		default:
			return nil, nil, nil, fmt.Errorf("snapshot item of unknown kind %q", it.Kind)
		}
	}
	return docs, keys, members, nil
}

func (m *docModels) add(it RestoreItem) error {
	if len(it.Docs) == 0 {
		if it.Value == nil {
			return fmt.Errorf("snapshot item of %s.%s has no key", it.DB, it.Coll)
		}
		filter := bson.D{{Key: it.Field, Value: *it.Value}}
		if it.Field == "" { // matched by a filter of its own (upsert, replace steps)
			if err := bson.Unmarshal(it.Value.Document(), &filter); err != nil {
				return fmt.Errorf("snapshot item of %s.%s: filter: %w", it.DB, it.Coll, err)
			}
		}
		m.deletes = append(m.deletes, mongo.NewDeleteManyModel().SetFilter(filter))
		return nil
	}
	for _, d := range it.Docs {
		doc := bson.Raw(d)
		id, err := doc.LookupErr("_id")
		if err != nil {
			return fmt.Errorf("snapshot item of %s.%s: saved document without _id", it.DB, it.Coll)
		}
		m.replaces = append(m.replaces, mongo.NewReplaceOneModel().
			SetFilter(bson.D{{Key: "_id", Value: id}}).SetReplacement(doc).SetUpsert(true))
	}
	return nil
}

func (r *Restorer) restoreDocs(ctx context.Context, docs []*docModels, c *Counts) error {
	for _, m := range docs {
		coll := r.Mongo.Database(m.db).Collection(m.coll)
		n, err := r.guardedBulkWrite(ctx, coll, m.replaces)
		c.DocsRestored += n
		if err != nil {
			return fmt.Errorf("restore documents: %w", err)
		}
		n, err = r.guardedBulkWrite(ctx, coll, m.deletes)
		c.DocsDeleted += n
		if err != nil {
			return fmt.Errorf("delete documents added since: %w", err)
		}
	}
	return nil
}

func (r *Restorer) restoreKeys(ctx context.Context, keys []RestoreItem, c *Counts) error {
	return mongox.Chunks(keys, r.Batch, func(part []RestoreItem) error {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		var restored, deleted int64
		_, err := step.ExecRedis(ctx, r.redisEnv(), func(pipe redis.Pipeliner) error {
			restored, deleted = 0, 0
			for _, it := range part {
				ok, err := queueRestoreKey(ctx, pipe, it, r.Now)
				if err != nil {
					return err
				}
				if ok {
					restored++
				} else {
					deleted++
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("restore redis keys %q..%q: %w", part[0].Key, part[len(part)-1].Key, err)
		}
		c.KeysRestored += restored
		c.KeysDeleted += deleted
		r.Prog.Add(int64(len(part)))
		return nil
	})
}

func (r *Restorer) restoreMembers(ctx context.Context, members []RestoreItem, c *Counts) error {
	return mongox.Chunks(members, r.Batch, func(part []RestoreItem) error {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		_, err := step.ExecRedis(ctx, r.redisEnv(), func(pipe redis.Pipeliner) error {
			for _, it := range part {
				if it.Present {
					pipe.SAdd(ctx, it.Key, it.Member)
				} else {
					pipe.SRem(ctx, it.Key, it.Member)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("restore members of redis set %q: %w", part[0].Key, err)
		}
		c.Members += int64(len(part))
		r.Prog.Add(int64(len(part)))
		return nil
	})
}

// queueRestoreKey queues the commands that put a Redis key back as it was
// saved: DEL, then the value and what remains of its TTL at now. It
// reports false when the key ends up deleted (it did not exist, or its TTL
// ran out since the snapshot).
func queueRestoreKey(ctx context.Context, pipe redis.Pipeliner, it RestoreItem, now time.Time) (bool, error) {
	k := it.Key
	pipe.Del(ctx, k)
	var ttl time.Duration
	if it.PTTL > 0 {
		ttl = step.RedisTTL(pttlDuration(it.PTTL) - now.Sub(it.takenAt))
		if ttl <= 0 {
			return false, nil // it would have expired by now
		}
	}
	switch it.Type {
	case keyNone:
		return false, nil
	case keyString:
		pipe.Set(ctx, k, it.String, ttl)
		return true, nil
	case keyHash:
		if len(it.Fields) == 0 || len(it.Fields)%2 != 0 {
			return false, fmt.Errorf("key %q: saved hash has %d field values", k, len(it.Fields))
		}
		args := make([]any, len(it.Fields))
		for i, f := range it.Fields {
			args[i] = f
		}
		pipe.HSet(ctx, k, args...)
	case keySet:
		if len(it.Members) == 0 {
			return false, fmt.Errorf("key %q: saved set is empty", k)
		}
		args := make([]any, len(it.Members))
		for i, m := range it.Members {
			args[i] = m
		}
		pipe.SAdd(ctx, k, args...)
	case keyDump:
		pipe.RestoreReplace(ctx, k, ttl, string(it.Dump))
		return true, nil
	default:
		return false, fmt.Errorf("key %q: unknown saved type %q", k, it.Type)
	}
	if ttl > 0 {
		pipe.PExpire(ctx, k, ttl)
	}
	return true, nil
}

// guardedBulkWrite is a batched BulkWrite, checking ctx (the lease session's)
// before each batch.
func (r *Restorer) guardedBulkWrite(ctx context.Context, coll *mongo.Collection, models []mongo.WriteModel) (int64, error) {
	var n int64
	b := mongox.Batcher{Log: r.Log, Size: r.Batch, Progress: r.Prog}
	if r.Guard != nil {
		b.Window = r.Guard
	}
	err := mongox.Chunks(models, r.Batch, func(part []mongo.WriteModel) error {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		w, err := b.BulkWrite(ctx, coll, part)
		n += w
		return err
	})
	return n, err
}

// pttlDuration is a saved PTTL as a duration (0: no expiry).
func pttlDuration(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }
