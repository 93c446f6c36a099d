package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/srvthreds/bootstrap/profiles"
)

// redisTTL rounds a positive TTL up to whole milliseconds, the precision
// of PX and PEXPIRE.
func redisTTL(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return 0
	}
	return (ttl + time.Millisecond - 1).Truncate(time.Millisecond)
}

// queueRedisKey queues the commands that write k: a string is SET (with PX
// when it has a TTL, so an earlier TTL is cleared otherwise); a hash or a
// set is deleted and written again, so that fields or members no longer
// listed vanish, then given its TTL.
func queueRedisKey(ctx context.Context, pipe redis.Pipeliner, k profiles.RedisKey) error {
	ttl := redisTTL(k.TTL)
	switch k.Type {
	case "string":
		pipe.Set(ctx, k.Key, k.String, ttl)
		return nil
	case "hash":
		pipe.Del(ctx, k.Key)
		if len(k.Hash) > 0 {
			fields := make([]string, 0, len(k.Hash))
			for f := range k.Hash {
				fields = append(fields, f)
			}
			slices.Sort(fields)
			args := make([]any, 0, 2*len(fields))
			for _, f := range fields {
				args = append(args, f, k.Hash[f])
			}
			pipe.HSet(ctx, k.Key, args...)
		}
	case "set":
		pipe.Del(ctx, k.Key)
		if len(k.Set) > 0 {
			members := make([]any, len(k.Set))
			for i, m := range k.Set {
				members[i] = m
			}
			pipe.SAdd(ctx, k.Key, members...)
		}
	default:
		return fmt.Errorf("key %q: unknown type %q", k.Key, k.Type)
	}
	if ttl > 0 {
		pipe.PExpire(ctx, k.Key, ttl)
	}
	return nil
}

// applyRedis writes the keys of a redis step. Each batch of keys is one
// MULTI/EXEC transaction sent in one round trip, so a reader never sees a
// hash or set half-written (or deleted and not yet written again).
func applyRedis(ctx context.Context, env *stepEnv, s profiles.Step) (StepRecord, error) {
	rec := StepRecord{Name: s.Name(), Kind: s.Kind}
	if s.Redis == nil {
		return rec, errors.New("redis: step has no keys")
	}
	keys := s.Redis.Keys
	for _, k := range keys {
		switch k.Type {
		case "string", "hash", "set":
		default:
			return rec, fmt.Errorf("redis: %s:%d: key %q: unknown type %q", s.Redis.File, k.Line, k.Key, k.Type)
		}
	}
	log, progress := envLog(env), envProgress(env)
	progress.SetTotal(int64(len(keys)))
	err := chunks(keys, envBatchSize(env), func(part []profiles.RedisKey) error {
		err := retryTransient(ctx, log, func(ctx context.Context) error {
			_, err := env.Redis.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
				for _, k := range part {
					if err := queueRedisKey(ctx, pipe, k); err != nil {
						return err
					}
				}
				return nil
			})
			return err
		})
		if err != nil {
			return fmt.Errorf("redis: keys %q..%q: %w", part[0].Key, part[len(part)-1].Key, err)
		}
		rec.Written += int64(len(part))
		progress.Add(int64(len(part)))
		return nil
	})
	return rec, err
}
