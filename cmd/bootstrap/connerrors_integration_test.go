package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/internal/harness"
)

// connTest runs the binary, as a process with JSON logs, on the example
// profiles.
type connTest struct {
	dir string // profiles
}

func newConnTest(t *testing.T) *connTest {
	t.Helper()
	c := &connTest{dir: filepath.Join(t.TempDir(), "profiles")}
	if err := os.CopyFS(c.dir, os.DirFS("../../examples/profiles")); err != nil {
		t.Fatal(err)
	}
	return c
}

// exec runs the binary with args and env, and returns its exit code, stdout
// and stderr (the logs).
func (c *connTest) exec(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	args = append(args, "--profiles-dir", c.dir)
	cmd := exec.CommandContext(ctx, harness.Binary(t), args...)
	cmd.Env = append([]string{"BOOTSTRAP_LOG_FORMAT=json", "PATH=" + os.Getenv("PATH")}, env...)
	var out, errw strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errw
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("run %v: %v\n%s", args, err, errw.String())
	}
	return code, out.String(), errw.String()
}

// jsonRecords parses every line of logs as one JSON record, failing t on a
// line that is not.
func jsonRecords(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Errorf("not a JSON line: %q", sc.Text())
			continue
		}
		recs = append(recs, r)
	}
	return recs
}

// failure is the err of the "bootstrap failed" record of logs.
func failure(t *testing.T, logs string) string {
	t.Helper()
	for _, r := range jsonRecords(t, logs) {
		if r["msg"] == "bootstrap failed" {
			s, _ := r["err"].(string)
			return s
		}
	}
	t.Fatalf("no bootstrap failed record:\n%s", logs)
	return ""
}

var (
	portRE = regexp.MustCompile(`(127\.0\.0\.1|localhost|\.invalid):\d+`)
	tmpRE  = regexp.MustCompile(`/tmp/\S+?/(ca\.pem)`)
)

// golden compares got, with ports and temporary paths normalised, with
// testdata/connerrors/name.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	got = portRE.ReplaceAllString(got, "${1}:PORT")
	got = tmpRE.ReplaceAllString(got, "TMP/${1}") + "\n"
	path := filepath.Join("testdata", "connerrors", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("message differs from %s:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// Each way of not reaching a store gives one line per store that failed:
// the store, its address with the options the binary added, the problem in
// words and the fix (golden files); exit 6.
func TestConnectionErrors_say_what_happened_and_what_to_do(t *testing.T) {
	t.Parallel()
	n := harness.NewNetwork(t)
	ca := harness.NewCA(t)
	mongo := harness.StartMongo(t, nil)
	redis := harness.StartRedis(t, nil)
	mongoTLS := harness.StartMongoTLS(t, n, ca)
	redisTLS := harness.StartRedisTLS(t, n, ca, false)
	const password = "azure-cache-key"
	azure := harness.StartRedisTLSPassword(t, n, ca, password)
	c := newConnTest(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	mongoHost := strings.TrimSuffix(strings.TrimPrefix(mongo.URI, "mongodb://"), "/")
	direct := mongo.URI + "?directConnection=true"

	tests := []struct {
		name string
		env  []string
		args []string
	}{
		// Nothing listens on port 1 of the loopback: both stores refuse, both are named.
		{name: "refused", args: []string{"status", "--mongo-uri", "mongodb://127.0.0.1:1/?directConnection=true",
			"--redis-url", "redis://127.0.0.1:1", "--connect-timeout", "2s"}},
		// .invalid never resolves; status does not wait for --connect-timeout.
		{name: "no_such_host", args: []string{"status", "--mongo-uri", "mongodb://bootstrap-test.invalid:27017/?directConnection=true",
			"--redis-url", "redis://bootstrap-test.invalid:6379", "--connect-timeout", "10m"}},
		{name: "tls_not_trusted", args: []string{"status", "--mongo-uri", "mongodb://" + mongoTLS.Addr + "/?tls=true&directConnection=true",
			"--redis-url", "rediss://" + redisTLS.Addr, "--connect-timeout", "5s"}},
		// MONGO_HOST as srvthreds sets it, against a server that is not a replica set member.
		{name: "replica_set_without_primary", env: []string{"MONGO_HOST=" + mongoHost},
			args: []string{"status", "--redis-url", "redis://" + redis.Addr, "--connect-timeout", "3s"}},
		{name: "redis_wrong_password", env: []string{"REDIS_HOST=" + azure.Addr, "REDIS_USE_TLS=true", "REDIS_PASSWORD=not-the-key"},
			args: []string{"status", "--mongo-uri", direct, "--redis-tls-ca-file", caFile, "--connect-timeout", "5s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, logs := c.exec(t, tt.env, tt.args...)
			if code != exitUnreachable {
				t.Fatalf("exit %d, want %d; logs:\n%s", code, exitUnreachable, logs)
			}
			msg := failure(t, logs)
			golden(t, tt.name, msg)
			if strings.Contains(logs, "not-the-key") {
				t.Errorf("the password is in the logs:\n%s", logs)
			}
		})
	}

	// The Azure Cache form with the right password connects over TLS.
	t.Run("azure_cache_form_connects", func(t *testing.T) {
		code, out, logs := c.exec(t, []string{"REDIS_HOST=" + azure.Addr, "REDIS_USE_TLS=true", "REDIS_PASSWORD=" + password, "SSL_CERT_FILE=" + caFile},
			"status", "--mongo-uri", direct, "--connect-timeout", "30s")
		if code != exitOK || !strings.Contains(out, "lock bootstrap: free") {
			t.Fatalf("exit %d; stdout:\n%s\nlogs:\n%s", code, out, logs)
		}
		if strings.Contains(logs, password) || !strings.Contains(logs, "(TLS on, password from REDIS_PASSWORD)") {
			t.Errorf("logs show the password or do not describe the address:\n%s", logs)
		}
	})
}

// A run against a stopped Redis logs JSON only: go-redis's own lines are
// records of the logger too (a run logs to stdout; nothing else may appear
// on stderr but records).
func TestRun_against_stopped_redis_logs_json_only(t *testing.T) {
	t.Parallel()
	mongo := harness.StartMongo(t, nil)
	redis := harness.StartRedis(t, nil)
	redis.Stop(t)
	c := newConnTest(t)
	code, stdout, stderr := c.exec(t, nil, "run", "-p", "example-base", "--health-addr", "off",
		"--mongo-uri", mongo.URI+"?directConnection=true", "--redis-url", "redis://"+redis.Addr, "--connect-timeout", "3s")
	if code != exitUnreachable {
		t.Fatalf("exit %d, want %d; stdout:\n%s\nstderr:\n%s", code, exitUnreachable, stdout, stderr)
	}
	jsonRecords(t, stderr)
	fromRedis := 0
	for _, r := range jsonRecords(t, stdout) {
		if r["source"] == "go-redis" {
			fromRedis++
		}
	}
	if fromRedis == 0 {
		t.Errorf("no record of go-redis's own lines (source go-redis):\n%s", stdout)
	}
	if msg := failure(t, stdout); !strings.Contains(msg, "Redis unreachable") || !strings.Contains(msg, "connection refused") {
		t.Errorf("failure %q", msg)
	}
}
