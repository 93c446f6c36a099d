package conn

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
)

// A go-redis line becomes one JSON record, a warning of source go-redis.
func TestRedisLog(t *testing.T) {
	var buf bytes.Buffer
	l := RedisLog{Log: slog.New(slog.NewJSONHandler(&buf, nil))}
	l.Printf(t.Context(), "redis: connection pool: failed to dial after %d attempts: %v\n", 5, "dial tcp 127.0.0.1:1: connect: connection refused")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not one JSON record: %q: %v", buf.String(), err)
	}
	if rec["level"] != "WARN" || rec["source"] != "go-redis" ||
		rec["msg"] != "redis: connection pool: failed to dial after 5 attempts: dial tcp 127.0.0.1:1: connect: connection refused" {
		t.Errorf("record %v", rec)
	}
	RedisLog{}.Printf(t.Context(), "dropped") // no logger: nothing, no panic
}
