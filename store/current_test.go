package store_test

import (
	"testing"

	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/store"
)

// TestCurrent: a marker and a Redis record say a profile is current by the
// same rule: the same version, hashed with the same algorithm.
func TestCurrent(t *testing.T) {
	p := &profiles.Profile{Name: "app", Version: "v2", HashAlgo: profiles.HashAlgo}
	tests := []struct {
		name     string
		version  string
		hashAlgo int
		missing  bool
		want     bool
	}{
		{name: "same_version_and_algorithm", version: "v2", hashAlgo: profiles.HashAlgo, want: true},
		{name: "other_version", version: "v1", hashAlgo: profiles.HashAlgo},
		{name: "other_algorithm", version: "v2", hashAlgo: profiles.HashAlgo + 1},
		{name: "no_algorithm", version: "v2"},
		{name: "missing", missing: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m *store.Marker
			var r *store.RedisRecord
			if !tt.missing {
				m = &store.Marker{Profile: p.Name, Version: tt.version, HashAlgo: tt.hashAlgo}
				r = &store.RedisRecord{Version: tt.version, HashAlgo: tt.hashAlgo}
			}
			if got := m.Current(p); got != tt.want {
				t.Errorf("Marker.Current = %v, want %v", got, tt.want)
			}
			if got := r.Current(p); got != tt.want {
				t.Errorf("RedisRecord.Current = %v, want %v", got, tt.want)
			}
		})
	}
}
