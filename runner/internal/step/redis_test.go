package step

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/srvthreds/bootstrap/profiles"
)

// queuedArgs returns the commands queueKey queues for k, as strings.
// The pipeline is never executed, so no server is needed.
func queuedArgs(t *testing.T, k profiles.RedisKey) [][]string {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = c.Close() })
	pipe := c.Pipeline()
	w, err := redisKeys{}.Writes(NewEnv(Env{}), profiles.Step{Kind: profiles.KindRedis, Redis: &profiles.RedisStep{Keys: []profiles.RedisKey{k}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := queueKey(t.Context(), pipe, w.Redis[0]); err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, cmd := range pipe.Cmds() {
		var args []string
		for _, a := range cmd.Args() {
			args = append(args, fmt.Sprint(a))
		}
		out = append(out, args)
	}
	return out
}

func TestQueueRedisKey(t *testing.T) {
	tests := []struct {
		name string
		key  profiles.RedisKey
		want [][]string
	}{
		{"string", profiles.RedisKey{Key: "s", Type: "string", String: "v"},
			[][]string{{"set", "s", "v"}}},
		{"string_ttl", profiles.RedisKey{Key: "s", Type: "string", String: "v", TTL: 1500 * time.Millisecond},
			[][]string{{"set", "s", "v", "px", "1500"}}},
		{"hash_replaced_fields_sorted", profiles.RedisKey{Key: "h", Type: "hash", Hash: map[string]string{"b": "2", "a": "1"}},
			[][]string{{"del", "h"}, {"hset", "h", "a", "1", "b", "2"}}},
		{"hash_ttl", profiles.RedisKey{Key: "h", Type: "hash", Hash: map[string]string{"a": "1"}, TTL: time.Minute},
			[][]string{{"del", "h"}, {"hset", "h", "a", "1"}, {"pexpire", "h", "60000"}}},
		{"empty_hash_only_deleted", profiles.RedisKey{Key: "h", Type: "hash"},
			[][]string{{"del", "h"}}},
		{"set_ttl", profiles.RedisKey{Key: "x", Type: "set", Set: []string{"m1", "m2"}, TTL: time.Second},
			[][]string{{"del", "x"}, {"sadd", "x", "m1", "m2"}, {"pexpire", "x", "1000"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := queuedArgs(t, tt.key); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("commands = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestQueueRedisKeyUnknownType(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = c.Close() })
	if err := queueKey(t.Context(), c.Pipeline(), RedisWrite{Key: "k", Type: "list"}); err == nil {
		t.Error("unknown type accepted")
	}
	s := profiles.Step{Kind: profiles.KindRedis, Redis: &profiles.RedisStep{Keys: []profiles.RedisKey{{Key: "k", Type: "list"}}}}
	if _, err := (redisKeys{}).Writes(NewEnv(Env{}), s); err == nil {
		t.Error("unknown type described")
	}
}

func TestRedisTTL(t *testing.T) {
	tests := []struct {
		in, want time.Duration
	}{
		{0, 0},
		{-time.Second, 0},
		{time.Microsecond, time.Millisecond},
		{1500 * time.Microsecond, 2 * time.Millisecond},
		{time.Hour, time.Hour},
	}
	for _, tt := range tests {
		if got := RedisTTL(tt.in); got != tt.want {
			t.Errorf("RedisTTL(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
