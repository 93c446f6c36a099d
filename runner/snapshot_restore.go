package runner

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
)

// snapshotLayer is the items of one snapshot and when it was taken.
type snapshotLayer struct {
	takenAt time.Time
	items   []bson.Raw
}

// restoreItem is an item to restore and when it was saved.
type restoreItem struct {
	snapItem
	takenAt time.Time
}

// composeSnapshots merges snapshots, newest first, into the items that
// restore the state before the oldest of them: for each thing, the item of
// the oldest snapshot that holds it. (A thing only a later re-apply wrote
// was, when that later snapshot was taken, as the earlier versions left
// it.) The result is sorted by ident: documents, then Redis keys, then set
// memberships.
func composeSnapshots(layers []snapshotLayer) ([]restoreItem, error) {
	byIdent := map[string]restoreItem{}
	for _, l := range layers {
		for _, raw := range l.items {
			var it snapItem
			if err := bson.Unmarshal(raw, &it); err != nil {
				return nil, fmt.Errorf("decode snapshot item: %w", err)
			}
			byIdent[it.ident()] = restoreItem{snapItem: it, takenAt: l.takenAt}
		}
	}
	out := make([]restoreItem, 0, len(byIdent))
	for _, id := range slices.Sorted(maps.Keys(byIdent)) {
		out = append(out, byIdent[id])
	}
	return out, nil
}

// restore writes items back: for each collection, the saved documents
// replace-upserted by _id, then the key values that had no document
// deleted (deleteMany on the key); then the Redis keys, each deleted and
// recreated with what remains of its saved TTL (one that has run out since
// the snapshot is deleted), or deleted if it did not exist; then the set
// memberships (SADD or SREM). Writes go in batches of at most the batch
// size, Redis batches as MULTI/EXEC transactions; ctx is checked before
// each batch.
func (r *Runner) restore(ctx context.Context, items []restoreItem, res *RollbackResult, prog Progress, log *slog.Logger) error {
	batch := r.opts.BatchSize
	if batch <= 0 {
		batch = defaultBatchSize
	}
	prog.SetTotal(int64(len(items)))
	type dbColl struct{ db, coll string }
	var colls []dbColl
	replaces := map[dbColl][]mongo.WriteModel{}
	deletes := map[dbColl][]mongo.WriteModel{}
	var keys, members []restoreItem
	for _, it := range items {
		switch it.Kind {
		case itemDoc:
			c := dbColl{it.DB, it.Coll}
			if _, ok := replaces[c]; !ok {
				colls = append(colls, c)
				replaces[c] = nil
			}
			if len(it.Docs) == 0 {
				if it.Value == nil || it.Field == "" {
					return fmt.Errorf("snapshot item of %s.%s has no key", it.DB, it.Coll)
				}
				deletes[c] = append(deletes[c], mongo.NewDeleteManyModel().
					SetFilter(bson.D{{Key: it.Field, Value: *it.Value}}))
				continue
			}
			for _, d := range it.Docs {
				doc := bson.Raw(d)
				id, err := doc.LookupErr("_id")
				if err != nil {
					return fmt.Errorf("snapshot item of %s.%s: saved document without _id", it.DB, it.Coll)
				}
				replaces[c] = append(replaces[c], mongo.NewReplaceOneModel().
					SetFilter(bson.D{{Key: "_id", Value: id}}).SetReplacement(doc).SetUpsert(true))
			}
		case itemKey:
			keys = append(keys, it)
		case itemMember:
			members = append(members, it)
		default:
			return fmt.Errorf("snapshot item of unknown kind %q", it.Kind)
		}
	}
	for _, c := range colls {
		coll := r.mongo.Database(c.db).Collection(c.coll)
		n, err := guardedBulkWrite(ctx, log, coll, replaces[c], batch, prog)
		res.DocsRestored += n
		if err != nil {
			return fmt.Errorf("restore documents: %w", err)
		}
		n, err = guardedBulkWrite(ctx, log, coll, deletes[c], batch, prog)
		res.DocsDeleted += n
		if err != nil {
			return fmt.Errorf("delete documents added since: %w", err)
		}
	}
	now := r.opts.Now()
	err := chunks(keys, batch, func(part []restoreItem) error {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		var restored, deleted int64
		err := retryTransient(ctx, log, func(ctx context.Context) error {
			restored, deleted = 0, 0
			_, err := r.redis.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
				for _, it := range part {
					ok, err := queueRestoreKey(ctx, pipe, it, now)
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
			return err
		})
		if err != nil {
			return fmt.Errorf("restore redis keys %q..%q: %w", part[0].Key, part[len(part)-1].Key, err)
		}
		res.KeysRestored += restored
		res.KeysDeleted += deleted
		prog.Add(int64(len(part)))
		return nil
	})
	if err != nil {
		return err
	}
	return chunks(members, batch, func(part []restoreItem) error {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		err := retryTransient(ctx, log, func(ctx context.Context) error {
			_, err := r.redis.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
				for _, it := range part {
					if it.Present {
						pipe.SAdd(ctx, it.Key, it.Member)
					} else {
						pipe.SRem(ctx, it.Key, it.Member)
					}
				}
				return nil
			})
			return err
		})
		if err != nil {
			return fmt.Errorf("restore members of redis set %q: %w", part[0].Key, err)
		}
		res.Members += int64(len(part))
		prog.Add(int64(len(part)))
		return nil
	})
}

// queueRestoreKey queues the commands that put a Redis key back as it was
// saved: DEL, then the value and what remains of its TTL at now. It
// reports false when the key ends up deleted (it did not exist, or its TTL
// ran out since the snapshot).
func queueRestoreKey(ctx context.Context, pipe redis.Pipeliner, it restoreItem, now time.Time) (bool, error) {
	k := it.Key
	pipe.Del(ctx, k)
	var ttl time.Duration
	if it.PTTL > 0 {
		ttl = redisTTL(pttlDuration(it.PTTL) - now.Sub(it.takenAt))
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

// guardedBulkWrite is bulkWriteBatched, checking ctx (the lease guard)
// before each batch.
func guardedBulkWrite(ctx context.Context, log *slog.Logger, coll *mongo.Collection, models []mongo.WriteModel, batch int, prog Progress) (int64, error) {
	var n int64
	err := chunks(models, batch, func(part []mongo.WriteModel) error {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		w, err := bulkWriteBatched(ctx, log, coll, part, batch, prog)
		n += w
		return err
	})
	return n, err
}

// pttlDuration is a saved PTTL as a duration (0: no expiry).
func pttlDuration(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }
