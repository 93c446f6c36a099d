package main

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestSetMemoryLimit: the default soft limit applies unless GOMEMLIMIT is
// set, whose value the runtime keeps.
func TestSetMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	tests := []struct {
		name      string
		env       string
		runtime   int64 // the limit the runtime has before (from GOMEMLIMIT)
		wantLimit int64
	}{
		{name: "unset_gets_the_default", wantLimit: defaultMemoryLimit, runtime: math.MaxInt64},
		{name: "set_is_kept", env: "96MiB", runtime: 96 << 20, wantLimit: 96 << 20},
		{name: "off_is_kept", env: "off", runtime: math.MaxInt64, wantLimit: math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			debug.SetMemoryLimit(tt.runtime)
			got := setMemoryLimit(func(k string) string {
				if k == "GOMEMLIMIT" {
					return tt.env
				}
				return ""
			})
			if got != tt.wantLimit || debug.SetMemoryLimit(-1) != tt.wantLimit {
				t.Errorf("limit = %d (runtime %d), want %d", got, debug.SetMemoryLimit(-1), tt.wantLimit)
			}
		})
	}
}
