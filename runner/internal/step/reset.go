package step

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/srvthreds/bootstrap/internal/mongox"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/store"
)

// ResetName names the record of a reset in markers and audit records.
const ResetName = "reset"

// scanCount is the COUNT hint of the SCANs that find keys matching a
// reset's glob patterns.
const scanCount = 1000

// isGlob reports whether a reset's Redis entry is a glob pattern (SCAN
// MATCH syntax) rather than an exact key name.
func isGlob(key string) bool { return strings.ContainsAny(key, "*?[") }

// scanMatch calls fn with the keys matching pattern, a SCAN page at a time,
// on every master of a cluster or on the one server otherwise. A key may be
// reported more than once (SCAN's guarantee).
func scanMatch(ctx context.Context, env *Env, pattern string, fn func([]string) error) error {
	log := env.Log
	scan := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for {
			var keys []string
			err := mongox.Retry(ctx, log, func(ctx context.Context) error {
				var err error
				keys, cursor, err = c.Scan(ctx, cursor, pattern, scanCount).Result()
				return err
			})
			if err != nil {
				return fmt.Errorf("scan %q: %w", pattern, err)
			}
			if len(keys) > 0 {
				if err := fn(keys); err != nil {
					return err
				}
			}
			if cursor == 0 {
				return nil
			}
		}
	}
	if cc, ok := env.Redis.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	}
	return scan(ctx, env.Redis)
}

// deleteKeys deletes keys in pipelines of at most the batch size, one DEL
// per key (so that keys of different cluster slots can be mixed), and
// returns how many existed.
func deleteKeys(ctx context.Context, env *Env, keys []string) (int64, error) {
	var n int64
	err := mongox.Chunks(keys, env.BatchSize, func(part []string) error {
		var cmds []*redis.IntCmd
		err := mongox.Retry(ctx, env.Log, func(ctx context.Context) error {
			cmds = cmds[:0]
			_, err := env.Redis.Pipelined(ctx, func(pipe redis.Pipeliner) error {
				for _, k := range part {
					cmds = append(cmds, pipe.Del(ctx, k))
				}
				return nil
			})
			return err
		})
		if err != nil {
			return fmt.Errorf("delete redis keys: %w", err)
		}
		for _, c := range cmds {
			n += c.Val()
		}
		env.Progress.Add(int64(len(part)))
		return nil
	})
	return n, err
}

// Reset drops the collections r names in db and deletes the Redis keys
// it names, exactly or by glob pattern (SCAN MATCH, deleted a page at a
// time). It is what `run --reset` does before applying a profile. Removed
// counts the documents of the dropped collections and the keys deleted.
func Reset(ctx context.Context, env *Env, r *profiles.Reset) (store.StepRecord, error) {
	db := env.DB
	rec := store.StepRecord{Name: ResetName, Kind: ResetName}
	if r == nil {
		return rec, nil
	}
	log := env.Log
	for _, name := range r.Collections {
		if name == "" {
			return rec, errors.New("reset: empty collection name")
		}
		coll := env.Mongo.Database(db).Collection(name)
		var n int64
		err := mongox.Retry(ctx, log, func(ctx context.Context) error {
			var err error
			n, err = coll.EstimatedDocumentCount(ctx)
			if err != nil {
				return err
			}
			return coll.Drop(ctx)
		})
		if err != nil {
			return rec, fmt.Errorf("reset: drop %s.%s: %w", db, name, err)
		}
		rec.Removed += n
		env.Progress.Add(n)
		log.Info("reset: collection dropped", "database", db, "collection", name, "documents", n)
	}
	var exact []string
	for _, k := range r.RedisKeys {
		if !isGlob(k) {
			exact = append(exact, k)
			continue
		}
		var deleted int64
		err := scanMatch(ctx, env, k, func(keys []string) error {
			n, err := deleteKeys(ctx, env, keys)
			deleted += n
			return err
		})
		rec.Removed += deleted
		if err != nil {
			return rec, fmt.Errorf("reset: %w", err)
		}
		log.Info("reset: redis keys deleted", "match", k, "keys", deleted)
	}
	if len(exact) > 0 {
		n, err := deleteKeys(ctx, env, exact)
		rec.Removed += n
		if err != nil {
			return rec, fmt.Errorf("reset: %w", err)
		}
		log.Info("reset: redis keys deleted", "keys", n, "named", len(exact))
	}
	return rec, nil
}

// PlanReset describes, one line per entry, what Reset would remove:
// the number of documents of each named collection (an estimate, from the
// collection's metadata) and the Redis keys that exist or match. It writes
// nothing.
func PlanReset(ctx context.Context, env *Env, r *profiles.Reset) ([]string, error) {
	db := env.DB
	if r == nil {
		return nil, nil
	}
	var lines []string
	for _, name := range r.Collections {
		n, err := env.Mongo.Database(db).Collection(name).EstimatedDocumentCount(ctx)
		if err != nil {
			return lines, fmt.Errorf("reset: count %s.%s: %w", db, name, err)
		}
		lines = append(lines, fmt.Sprintf("drop collection %s.%s (%d documents)", db, name, n))
	}
	for _, k := range r.RedisKeys {
		if !isGlob(k) {
			n, err := env.Redis.Exists(ctx, k).Result()
			if err != nil {
				return lines, fmt.Errorf("reset: redis key %q: %w", k, err)
			}
			state := "absent"
			if n > 0 {
				state = "exists"
			}
			lines = append(lines, fmt.Sprintf("delete redis key %s (%s)", k, state))
			continue
		}
		seen := make(map[string]struct{})
		err := scanMatch(ctx, env, k, func(keys []string) error {
			for _, key := range keys {
				seen[key] = struct{}{}
			}
			return nil
		})
		if err != nil {
			return lines, fmt.Errorf("reset: %w", err)
		}
		lines = append(lines, fmt.Sprintf("delete redis keys matching %s (%d keys)", k, len(seen)))
	}
	return lines, nil
}
