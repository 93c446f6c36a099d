package store

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/srvthreds/bootstrap/profiles"
)

// RedisRecordPrefix starts the key of a profile's completion record in
// Redis: <prefix><database>:<profile>. It is under bootstrap's own prefix,
// which profiles may not write (profiles.RedisOwnPrefix).
const RedisRecordPrefix = profiles.RedisOwnPrefix + "done:"

// RedisRecord is the completion record a profile that writes to Redis
// leaves there besides its MongoDB marker: Redis can lose its data
// while MongoDB keeps the marker (a restart without persistence), and the
// record tells that the Redis side is gone.
type RedisRecord struct {
	Version  string    `json:"version"`
	HashAlgo int       `json:"hashAlgo"`
	Fence    int64     `json:"fence"`
	RunID    string    `json:"runId"`
	At       time.Time `json:"at"`
}

// Current reports whether r records p at its present content, by the same
// rule as Marker.Current. A nil r is not current.
func (r *RedisRecord) Current(p *profiles.Profile) bool {
	return r != nil && current(r.Version, r.HashAlgo, p)
}

// RedisRecordKey is the key of the record of profile in db.
func RedisRecordKey(db, profile string) string { return RedisRecordPrefix + db + ":" + profile }

// putRecordScript stores the record unless one with a fence at least as
// high is stored (one key: atomic on every topology). Its arguments are, in
// order, the fence, version, hash algorithm, run id and time (unix ms).
var putRecordScript = redis.NewScript(putRecordLua)

//go:embed scripts/put_record.lua
var putRecordLua string

// RedisRecords reads and writes completion records in Redis. Safe for
// concurrent use.
type RedisRecords struct{ rc redis.UniversalClient }

// NewRedisRecords returns the records kept in rc.
func NewRedisRecords(rc redis.UniversalClient) *RedisRecords { return &RedisRecords{rc: rc} }

// Get returns the record of profile in db, or nil.
func (s *RedisRecords) Get(ctx context.Context, db, profile string) (*RedisRecord, error) {
	m, err := s.rc.HGetAll(ctx, RedisRecordKey(db, profile)).Result()
	if err != nil {
		return nil, fmt.Errorf("read redis record of %s.%s: %w", db, profile, err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	r := &RedisRecord{Version: m["version"], RunID: m["runId"]}
	r.HashAlgo, _ = strconv.Atoi(m["hashAlgo"])
	r.Fence, _ = strconv.ParseInt(m["fence"], 10, 64)
	if ms, err := strconv.ParseInt(m["at"], 10, 64); err == nil {
		r.At = time.UnixMilli(ms).UTC()
	}
	return r, nil
}

// Put stores r as the record of profile in db unless a record with a fence
// >= r.Fence is stored (ErrFenced).
func (s *RedisRecords) Put(ctx context.Context, db, profile string, r *RedisRecord) error {
	key := RedisRecordKey(db, profile)
	// The hash's key, field names and values, as Redis holds them.
	size := len(key) + len("fenceversionhashAlgorunIdat") + 3*20 + len(r.Version) + len(r.RunID)
	if err := checkSize("redis record "+key, size); err != nil {
		return err
	}
	n, err := putRecordScript.Run(ctx, s.rc, []string{key},
		r.Fence, r.Version, r.HashAlgo, r.RunID, r.At.UnixMilli()).Int()
	if err != nil {
		return fmt.Errorf("write redis record of %s.%s: %w", db, profile, err)
	}
	if n != 1 {
		return fmt.Errorf("write redis record of %s.%s with fence %d: %w", db, profile, r.Fence, ErrFenced)
	}
	return nil
}

// Delete removes the record of profile in db.
func (s *RedisRecords) Delete(ctx context.Context, db, profile string) error {
	if err := s.rc.Del(ctx, RedisRecordKey(db, profile)).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("delete redis record of %s.%s: %w", db, profile, err)
	}
	return nil
}
