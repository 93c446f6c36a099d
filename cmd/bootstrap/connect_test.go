package main

import (
	"strings"
	"testing"
)

// Both stores are dialled at once and the error names each that failed (a
// connect timeout long enough for go-redis's own dial retries to end); a
// bad setting of one does not wait for the other's connect timeout (the
// test would hang for its ten minutes if it did).
func TestBoth_reports_each_store(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
		wantNot  []string
	}{
		{name: "both_refused", wantCode: exitUnreachable,
			args: []string{"--mongo-uri", "mongodb://127.0.0.1:1/?directConnection=true", "--redis-url", "redis://127.0.0.1:1", "--connect-timeout", "2s"},
			want: []string{"MongoDB unreachable at mongodb://127.0.0.1:1/?directConnection=true: connection refused",
				"Redis unreachable at redis://127.0.0.1:1: connection refused"}},
		{name: "bad_redis_setting_stops_the_mongo_wait", wantCode: exitUsage,
			args:    []string{"--mongo-uri", "mongodb://127.0.0.1:1/?directConnection=true", "--redis-url", "rediss://127.0.0.1:1?skip_verify=true", "--connect-timeout", "10m"},
			want:    []string{"skip_verify"},
			wantNot: []string{"MongoDB unreachable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"status", "--profiles-dir", "testdata/warnings", "--log-format", "json"}, tt.args...)
			code, stdout, stderr := runCLI(t, nil, args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("logs do not say %q:\n%s", w, stderr)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(stderr, w) {
					t.Errorf("logs say %q:\n%s", w, stderr)
				}
			}
		})
	}
}
