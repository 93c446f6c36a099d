package step

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/srvthreds/bootstrap/internal/mongox"
)

// Drift compares what w describes with what MongoDB and Redis hold now, and
// returns the differences (one Diff for each DocSet, and one for the Redis
// keys when w writes any) and how many documents and keys differ. It
// ignores "modified" and the Ignore fields of each DocSet (password hashes
// among them) and a hash's "ts" field (the pattern cache's time stamp). It
// writes nothing.
func Drift(ctx context.Context, mc *mongo.Client, rc redis.UniversalClient, stepName string, w *Writes) ([]Diff, int, error) {
	var out []Diff
	n := 0
	for _, ds := range w.Docs {
		d, err := DiffDocs(ctx, mc, stepName, ds)
		if err != nil {
			return out, n, err
		}
		n += d.Insert + d.Change
		out = append(out, d)
	}
	if len(w.Redis) > 0 {
		d, err := diffRedis(ctx, rc, stepName, w.Redis)
		if err != nil {
			return out, n, err
		}
		n += d.Insert + d.Change
		out = append(out, d)
	}
	return out, n, nil
}

// diffRedis compares the keys (and index memberships) ws write with those
// Redis holds.
func diffRedis(ctx context.Context, rc redis.UniversalClient, stepName string, ws []RedisWrite) (Diff, error) {
	d := Diff{Step: stepName, Collection: "redis"}
	err := mongox.Chunks(ws, mongox.DefaultBatchSize, func(part []RedisWrite) error {
		got, err := readRedisState(ctx, rc, part)
		if err != nil {
			return err
		}
		for i, rw := range part {
			switch same := got[i].equals(rw); {
			case same:
				d.Unchanged++
				continue
			case !got[i].exists && rw.Type != TypeDelete:
				d.Insert++
			default:
				d.Change++
			}
			if len(d.Changed) < diffListed { // the keys that differ, missing ones included
				d.Changed = append(d.Changed, rw.Key)
			}
		}
		return nil
	})
	return d, err
}

// redisState is what Redis holds of a key: its value and its membership
// in the key's index set.
type redisState struct {
	exists  bool
	str     string
	hash    map[string]string
	members []string
	indexed bool
}

// equals reports whether s is what rw writes (a hash's "ts" left out).
func (s redisState) equals(rw RedisWrite) bool {
	if rw.Index != "" && s.indexed != (rw.Type != TypeDelete) {
		return false
	}
	switch rw.Type {
	case TypeDelete:
		return !s.exists
	case TypeString:
		return s.exists && s.str == rw.String
	case TypeHash:
		want := map[string]string{}
		for i := 0; i+1 < len(rw.Fields); i += 2 {
			want[rw.Fields[i]] = rw.Fields[i+1]
		}
		delete(want, "ts")
		got := maps.Clone(s.hash)
		delete(got, "ts")
		return s.exists && maps.Equal(got, want)
	case TypeSet:
		want := slices.Sorted(slices.Values(rw.Members))
		return s.exists && slices.Equal(slices.Compact(want), s.members)
	}
	return false
}

// readRedisState reads the state of the keys of part in one pipeline.
func readRedisState(ctx context.Context, rc redis.UniversalClient, part []RedisWrite) ([]redisState, error) {
	vals := make([]redis.Cmder, len(part))
	idx := make([]*redis.BoolCmd, len(part))
	_, err := rc.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, rw := range part {
			switch rw.Type {
			case TypeString:
				vals[i] = pipe.Get(ctx, rw.Key)
			case TypeHash:
				vals[i] = pipe.HGetAll(ctx, rw.Key)
			case TypeSet:
				vals[i] = pipe.SMembers(ctx, rw.Key)
			default:
				vals[i] = pipe.Exists(ctx, rw.Key)
			}
			if rw.Index != "" {
				idx[i] = pipe.SIsMember(ctx, rw.Index, rw.Member)
			}
		}
		return nil
	})
	if err != nil && err != redis.Nil {
		return nil, fmt.Errorf("read redis keys: %w", err)
	}
	out := make([]redisState, len(part))
	for i := range part {
		out[i] = stateOf(vals[i])
		if idx[i] != nil {
			out[i].indexed = idx[i].Val()
		}
	}
	return out, nil
}

func stateOf(c redis.Cmder) redisState {
	switch c := c.(type) {
	case *redis.StringCmd:
		return redisState{exists: c.Err() == nil, str: c.Val()}
	case *redis.MapStringStringCmd:
		return redisState{exists: len(c.Val()) > 0, hash: c.Val()}
	case *redis.StringSliceCmd:
		return redisState{exists: len(c.Val()) > 0, members: slices.Sorted(slices.Values(c.Val()))}
	case *redis.IntCmd:
		return redisState{exists: c.Val() > 0}
	}
	return redisState{}
}
