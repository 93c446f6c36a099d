package runner

import (
	"testing"

	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/store"
)

// TestCompletionCurrent: a profile is current when its marker is, and, for
// one that writes to Redis, its Redis record too.
func TestCompletionCurrent(t *testing.T) {
	p := &profiles.Profile{Name: "app", Version: "v2", HashAlgo: profiles.HashAlgo}
	cur := &store.Marker{Profile: "app", Version: "v2", HashAlgo: profiles.HashAlgo}
	old := &store.Marker{Profile: "app", Version: "v1", HashAlgo: profiles.HashAlgo}
	curRec := &store.RedisRecord{Version: "v2", HashAlgo: profiles.HashAlgo}
	oldRec := &store.RedisRecord{Version: "v1", HashAlgo: profiles.HashAlgo}
	tests := []struct {
		name        string
		c           Completion
		wantCurrent bool
		wantLost    bool
		wantPending string
	}{
		{name: "mongo_only_current", c: Completion{Marker: cur}, wantCurrent: true},
		{name: "mongo_only_old", c: Completion{Marker: old}, wantPending: "app (have v1, want v2)"},
		{name: "not_applied", c: Completion{RedisNeeded: true}, wantPending: "app (not applied, want v2)"},
		{name: "both_current", c: Completion{Marker: cur, Redis: curRec, RedisNeeded: true}, wantCurrent: true},
		{name: "redis_record_missing", c: Completion{Marker: cur, RedisNeeded: true}, wantLost: true,
			wantPending: "app (applied at v2, but Redis has no record of it)"},
		{name: "redis_record_old", c: Completion{Marker: cur, Redis: oldRec, RedisNeeded: true}, wantLost: true,
			wantPending: "app (applied at v2, but Redis has no record of it)"},
		{name: "marker_old_redis_current", c: Completion{Marker: old, Redis: curRec, RedisNeeded: true},
			wantPending: "app (have v1, want v2)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Current(p); got != tt.wantCurrent {
				t.Errorf("Current = %v, want %v", got, tt.wantCurrent)
			}
			if got := tt.c.RedisLost(p); got != tt.wantLost {
				t.Errorf("RedisLost = %v, want %v", got, tt.wantLost)
			}
			if got := tt.c.Pending(p); got != tt.wantPending {
				t.Errorf("Pending = %q, want %q", got, tt.wantPending)
			}
		})
	}
}
