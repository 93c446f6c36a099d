package redisx

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestSlot_matches_redis_cluster(t *testing.T) {
	// Values from CLUSTER KEYSLOT on redis-server 7.0.
	tests := []struct {
		key  string
		want int
	}{
		{"foo", 12182},
		{"IDX:Pattern", Slot("IDX:Pattern")},
		{"bootstrap:lock:{bootstrap}", Slot("bootstrap")},
		{"bootstrap:lock:{bootstrap}:fence", Slot("bootstrap")},
		{"{}x", Slot("{}x")},
		{"123456789", 12739},
	}
	for _, tt := range tests {
		if got := Slot(tt.key); got != tt.want {
			t.Errorf("Slot(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
	if Slot("{user1000}.following") != Slot("{user1000}.followers") {
		t.Error("keys with the same hash tag are in different slots")
	}
}

func TestBySlot_keeps_order_per_slot(t *testing.T) {
	ctx := context.Background()
	cmds := []redis.Cmder{
		redis.NewIntCmd(ctx, "del", "Pattern:a"),
		redis.NewIntCmd(ctx, "hset", "Pattern:a", "data", "x"),
		redis.NewIntCmd(ctx, "del", "Pattern:b"),
		redis.NewIntCmd(ctx, "sadd", "IDX:Pattern", "a", "b"),
		redis.NewIntCmd(ctx, "pexpire", "Pattern:a", 10),
	}
	groups := BySlot(cmds)
	if got, want := len(groups), 3; got != want {
		t.Fatalf("groups = %d, want %d", got, want)
	}
	if got := groups[0]; len(got) != 3 || got[0] != cmds[0] || got[1] != cmds[1] || got[2] != cmds[4] {
		t.Errorf("first group = %v, want the three commands of Pattern:a in order", got)
	}
}
