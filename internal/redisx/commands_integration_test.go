package redisx_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/srvthreds/bootstrap/internal/harness"
)

// oldestRedis is the oldest Redis the binary supports: Azure Cache for Redis
// runs Redis 6.
const oldestRedis = "6.0.0"

// sentCommands is every command the binary sends to Redis, with where it is
// sent from. A command of a Lua script must be here too (the check of the
// scripts below fails otherwise). Subcommands are named "container|sub", as
// COMMAND DOCS knows them.
var sentCommands = map[string]string{
	// the connection (go-redis's handshake, Ping of conn.Dial, the
	// Cluster client's slots, go-redis's Script.Run, TxPipelined)
	"hello":         "go-redis handshake (RESP3; falls back to AUTH when refused)",
	"auth":          "go-redis handshake with a password",
	"select":        "go-redis handshake with a database number",
	"ping":          "conn: dialling waits for PING",
	"cluster|slots": "go-redis Cluster client: the slot map",
	"evalsha":       "go-redis Script.Run: every script of lock, store and lease",
	"eval":          "go-redis Script.Run after NOSCRIPT",
	"multi":         "redisx.TxPipelined",
	"exec":          "redisx.TxPipelined",
	// lock/scripts, store/scripts and the fenced batch's own check
	"set":     "lock acquire (NX PX); steps; snapshot restore",
	"get":     "lock scripts; records; verify; snapshot capture",
	"incr":    "lock acquire: the fence counter",
	"del":     "lock release, break; steps; reset; records",
	"hset":    "lock holder; completion record; steps; restore",
	"hget":    "lock break; completion record",
	"hgetall": "lock holder; records; verify; capture",
	"pexpire": "lock refresh; steps; restore",
	"pttl":    "lock holder, break; capture",
	// steps, verify, snapshots, reset (go-redis calls and the commands a
	// fenced batch runs inside its script)
	"sadd":      "index-set memberships",
	"srem":      "index-set memberships",
	"smembers":  "verify, capture",
	"sismember": "verify, capture",
	"exists":    "verify, reset",
	"type":      "snapshot capture",
	"dump":      "snapshot capture",
	"restore":   "snapshot restore (REPLACE)",
	"scan":      "reset of a key pattern",
	"info":      "go-redis Cluster/Sentinel clients and ForEachMaster",
}

// laterButHarmless are commands go-redis sends when a connection opens whose
// refusal it ignores (an error reply leaves the connection usable): they do
// not bind the binary to a later Redis.
var laterButHarmless = map[string]bool{
	"client|setinfo":             true, // 7.2.0: library name and version, ignored when refused
	"client|maint_notifications": true, // Redis Enterprise; ignored when refused in go-redis's default mode
}

// dynamicCalls are the scripts that call a command named by an argument, not
// a literal: the commands they run are go-redis calls that are in
// sentCommands.
var dynamicCalls = map[string]string{
	"runner/internal/lease/scripts/fenced_batch.lua": "runs the step's batch: SET, HSET, DEL, SADD, SREM, PEXPIRE, RESTORE",
}

// TestCommands_exist_in_redis_6 asks the Redis under test when every
// command the binary sends first appeared (COMMAND DOCS, Redis 7), and fails
// for one that Redis 6.0 does not have.
func TestCommands_exist_in_redis_6(t *testing.T) {
	rdb := harness.StartRedis(t, nil).Client(t)
	for name, where := range sentCommands {
		t.Run(strings.ReplaceAll(name, "|", "_"), func(t *testing.T) {
			since := commandSince(t, rdb, name)
			if versionAbove(t, since, oldestRedis) {
				t.Errorf("%s appeared in Redis %s, after %s (sent by %s)", name, since, oldestRedis, where)
			}
		})
	}
	for name := range laterButHarmless {
		if sentCommands[name] != "" {
			t.Errorf("%s is both sent and harmless", name)
		}
	}
}

// TestLuaScripts_call_only_listed_commands: every command a .lua script of
// the repository calls is in sentCommands, and a script that calls a
// command named by an argument is one of dynamicCalls.
func TestLuaScripts_call_only_listed_commands(t *testing.T) {
	root := filepath.Join("..", "..")
	call := regexp.MustCompile(`redis\.p?call\(\s*([^,)]*)`)
	literal := regexp.MustCompile(`^'([A-Za-z]+)'$|^"([A-Za-z]+)"$`)
	scripts := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".lua" {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		scripts++
		for _, m := range call.FindAllStringSubmatch(string(src), -1) {
			lit := literal.FindStringSubmatch(strings.TrimSpace(m[1]))
			if lit == nil {
				if dynamicCalls[filepath.ToSlash(rel)] == "" {
					t.Errorf("%s: redis.call(%s …) names its command by a value: list the script in dynamicCalls", rel, m[1])
				}
				continue
			}
			name := strings.ToLower(lit[1] + lit[2])
			if sentCommands[name] == "" {
				t.Errorf("%s calls %s, which sentCommands does not list (so its Redis version is not checked)", rel, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scripts < 8 {
		t.Errorf("found %d .lua scripts under %s; want the lock's, the store's and the lease's (8 or more)", scripts, root)
	}
}

// commandSince is the version COMMAND DOCS gives for name.
func commandSince(t *testing.T, rdb *redis.Client, name string) string {
	t.Helper()
	reply, err := rdb.Do(t.Context(), "COMMAND", "DOCS", name).Result()
	if err != nil {
		t.Fatalf("COMMAND DOCS %s: %v", name, err)
	}
	docs := pairs(reply)
	doc, ok := docs[name]
	if !ok {
		t.Fatalf("COMMAND DOCS %s: no such command (reply %v)", name, reply)
	}
	since, ok := pairs(doc)["since"].(string)
	if !ok || since == "" {
		t.Fatalf("COMMAND DOCS %s: no since in %v", name, doc)
	}
	return since
}

// pairs reads a RESP3 map or a RESP2 flat list of key, value.
func pairs(v any) map[string]any {
	out := map[string]any{}
	switch v := v.(type) {
	case map[any]any:
		for k, x := range v {
			out[fmt.Sprint(k)] = x
		}
	case []any:
		for i := 0; i+1 < len(v); i += 2 {
			out[fmt.Sprint(v[i])] = v[i+1]
		}
	}
	return out
}

// versionAbove reports whether version a is above b (both "x.y.z").
func versionAbove(t *testing.T, a, b string) bool {
	t.Helper()
	pa, pb := versionParts(t, a), versionParts(t, b)
	for i := range pa {
		if pa[i] != pb[i] {
			return pa[i] > pb[i]
		}
	}
	return false
}

func versionParts(t *testing.T, v string) [3]int {
	t.Helper()
	var out [3]int
	parts := strings.SplitN(v, ".", 3)
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			t.Fatalf("version %q: %v", v, err)
		}
		out[i] = n
	}
	return out
}

func TestVersionAbove(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"6.0.0", "6.0.0", false},
		{"7.2.0", "6.0.0", true},
		{"2.6.12", "6.0.0", false},
		{"6.2.0", "6.0.0", true},
		{"6.0.1", "6.0.0", true},
	}
	for _, tt := range tests {
		if got := versionAbove(t, tt.a, tt.b); got != tt.want {
			t.Errorf("versionAbove(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
