package step

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
			err := mongox.Retry(ctx, log, nil, func(ctx context.Context) error { // a read
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
		replies, err := ExecRedis(ctx, env, func(pipe redis.Pipeliner) error {
			for _, k := range part {
				pipe.Del(ctx, k)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("delete redis keys: %w", err)
		}
		for _, r := range replies {
			n += replyInt(r)
		}
		env.Progress.Add(int64(len(part)))
		return nil
	})
	return n, err
}

// Reset drops the collections r names in env.DB and the databases it
// names, deletes the Redis keys it names, exactly or by glob pattern (SCAN
// MATCH, deleted a page at a time), and with RedisAll every key but
// bootstrap's own (the legacy reset of a srvthreds-form profile). It is
// what `run --reset` and `reset` do before applying. Removed counts the
// documents of the dropped collections and the keys deleted.
func Reset(ctx context.Context, env *Env, r *profiles.Reset) (store.StepRecord, error) {
	rec := store.StepRecord{Name: ResetName, Kind: ResetName}
	if r == nil {
		return rec, nil
	}
	for _, do := range []func(context.Context, *Env, *profiles.Reset) (int64, error){
		dropCollections, dropDatabases, deleteNamedKeys, deleteAllKeys,
	} {
		n, err := do(ctx, env, r)
		rec.Removed += n
		if err != nil {
			return rec, fmt.Errorf("reset: %w", err)
		}
	}
	return rec, nil
}

// dropCollections drops the collections r names in env.DB, and returns
// how many documents they held.
func dropCollections(ctx context.Context, env *Env, r *profiles.Reset) (int64, error) {
	var removed int64
	for _, name := range r.Collections {
		if name == "" {
			return removed, errors.New("empty collection name")
		}
		coll := env.Mongo.Database(env.DB).Collection(name)
		var n int64
		err := mongox.Retry(ctx, env.Log, env.window(), func(ctx context.Context) error {
			var err error
			if n, err = coll.EstimatedDocumentCount(ctx); err != nil {
				return err
			}
			return coll.Drop(ctx)
		})
		if err != nil {
			return removed, fmt.Errorf("drop %s.%s: %w", env.DB, name, err)
		}
		removed += n
		env.Progress.Add(n)
		env.Log.Info("reset: collection dropped", "database", env.DB, "collection", name, "documents", n)
	}
	return removed, nil
}

// dropDatabases drops the databases r names (the legacy reset's), with
// every collection in them, bootstrap's own records included: a dropped
// database forgets that it was bootstrapped.
func dropDatabases(ctx context.Context, env *Env, r *profiles.Reset) (int64, error) {
	for _, name := range r.DropDatabases {
		err := mongox.Retry(ctx, env.Log, env.window(), func(ctx context.Context) error {
			return env.Mongo.Database(name).Drop(ctx)
		})
		if err != nil {
			return 0, fmt.Errorf("drop database %s: %w", name, err)
		}
		env.Progress.Add(0)
		env.Log.Info("reset: database dropped", "database", name)
	}
	return 0, nil
}

// deleteNamedKeys deletes the Redis keys r names, exactly or by glob
// pattern (SCAN MATCH, deleted a page at a time), and returns how many
// existed.
func deleteNamedKeys(ctx context.Context, env *Env, r *profiles.Reset) (int64, error) {
	var removed int64
	var exact []string
	for _, k := range r.RedisKeys {
		if !isGlob(k) {
			exact = append(exact, k)
			continue
		}
		n, err := deleteMatching(ctx, env, k, nil)
		removed += n
		if err != nil {
			return removed, err
		}
		env.Log.Info("reset: redis keys deleted", "match", k, "keys", n)
	}
	if len(exact) > 0 {
		n, err := deleteKeys(ctx, env, exact)
		removed += n
		if err != nil {
			return removed, err
		}
		env.Log.Info("reset: redis keys deleted", "keys", n, "named", len(exact))
	}
	return removed, nil
}

// deleteAllKeys, when r says RedisAll, deletes every key of the selected
// Redis database except bootstrap's own (profiles.RedisOwnPrefix: the lock
// of this very run among them), key by key: never FLUSHDB.
func deleteAllKeys(ctx context.Context, env *Env, r *profiles.Reset) (int64, error) {
	if !r.RedisAll {
		return 0, nil
	}
	n, err := deleteMatching(ctx, env, "*", func(k string) bool { return !strings.HasPrefix(k, profiles.RedisOwnPrefix) })
	if err == nil {
		env.Log.Info("reset: redis keys deleted", "match", "*", "except", profiles.RedisOwnPrefix+"*", "keys", n)
	}
	return n, err
}

// deleteMatching deletes the keys matching the glob pattern (and keep, when
// not nil), a SCAN page at a time, and returns how many existed.
func deleteMatching(ctx context.Context, env *Env, pattern string, keep func(string) bool) (int64, error) {
	var deleted int64
	err := scanMatch(ctx, env, pattern, func(keys []string) error {
		if keep != nil {
			keys = slices.DeleteFunc(keys, func(k string) bool { return !keep(k) })
		}
		if len(keys) == 0 {
			return nil
		}
		n, err := deleteKeys(ctx, env, keys)
		deleted += n
		return err
	})
	return deleted, err
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
