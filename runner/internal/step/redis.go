package step

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/store"
)

// redisKeys writes the keys of a redis step: strings, hashes and sets, with
// an optional TTL (see RedisWrite).
type redisKeys struct{}

func (redisKeys) WritesRedis() bool { return true }

func (redisKeys) Writes(_ *Env, s profiles.Step) (*Writes, error) {
	if s.Redis == nil {
		return nil, errors.New("redis: step has no keys")
	}
	w := &Writes{}
	for _, k := range s.Redis.Keys {
		rw := RedisWrite{Key: k.Key, Type: k.Type, TTL: k.TTL}
		switch k.Type {
		case TypeString:
			rw.String = k.String
		case TypeHash:
			for _, f := range slices.Sorted(maps.Keys(k.Hash)) {
				rw.Fields = append(rw.Fields, f, k.Hash[f])
			}
		case TypeSet:
			rw.Members = k.Set
		default:
			return nil, fmt.Errorf("redis: %s:%d: key %q: unknown type %q", s.Redis.File, k.Line, k.Key, k.Type)
		}
		w.Redis = append(w.Redis, rw)
	}
	return w, nil
}

func (k redisKeys) Apply(ctx context.Context, env *Env, s profiles.Step) (store.StepRecord, error) {
	rec, _, c, err := describe(ctx, env, k, s)
	rec.Written = c.Keys
	return rec, err
}
