package profiles_test

import (
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// TestLoad_invalid checks that every kind of bad input is reported with its
// file, line, column and field, and that all problems are reported.
func TestLoad_invalid(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		names []string // default: a
		want  []string
	}{
		{
			name:  "unknown_top_level_field",
			files: map[string]string{"a/profile.yaml": "database: nr\nstepz: []\n"},
			want:  []string{"a/profile.yaml:2:1: stepz: unknown field (known: requires, database, reset, steps)"},
		},
		{
			name:  "unknown_step_field",
			files: map[string]string{"a/profile.yaml": "steps:\n  - configs: {dir: rc, dri: x}\n", "a/rc/x.json": "{}"},
			want:  []string{"a/profile.yaml:2:24: steps[0].configs.dri: unknown field (known: dir, database, omitKeys)"},
		},
		{
			name:  "unknown_step_kind",
			files: map[string]string{"a/profile.yaml": "steps:\n  - config: {dir: rc}\n"},
			want:  []string{"a/profile.yaml:2:5: steps[0].config: unknown field (known: configs, patterns, users, documents, redis, http, exec, upsert, replace)"},
		},
		{
			name:  "two_kinds_in_a_step",
			files: map[string]string{"a/profile.yaml": "steps:\n  - configs: {dir: rc}\n    exec: {command: [x]}\n", "a/rc/x.json": "{}"},
			want:  []string{"a/profile.yaml:2:5: steps[0]: step has 2 kinds (configs, exec); want exactly one"},
		},
		{
			name:  "empty_step",
			files: map[string]string{"a/profile.yaml": "steps:\n  - {}\n"},
			want:  []string{"a/profile.yaml:2:5: steps[0]: empty step; want one of configs, patterns, users, documents, redis, http, exec, upsert, replace"},
		},
		{
			name:  "duplicate_field",
			files: map[string]string{"a/profile.yaml": "database: nr\ndatabase: other\n"},
			want:  []string{"a/profile.yaml:2:1: database: duplicate field (also at line 1)"},
		},
		{
			name:  "steps_not_a_list",
			files: map[string]string{"a/profile.yaml": "steps: {configs: {dir: rc}}\n"},
			want:  []string{"a/profile.yaml:1:8: steps: is a mapping; want a list"},
		},
		{
			name:  "malformed_yaml",
			files: map[string]string{"a/profile.yaml": "steps:\n  - configs: {dir: rc\n"},
			want:  []string{"a/profile.yaml:2: malformed YAML: did not find expected ',' or '}'"},
		},
		{
			name:  "malformed_yaml_block",
			files: map[string]string{"a/profile.yaml": "database: nr\nrequires: []\n- configs: {dir: x}\n"},
			want:  []string{"a/profile.yaml:3: malformed YAML: did not find expected key"},
		},
		{
			name:  "malformed_yaml_scanner",
			files: map[string]string{"a/profile.yaml": "database: nr\nrequires: []\nsteps: a: b\n"},
			want:  []string{"a/profile.yaml:3: malformed YAML: mapping values are not allowed in this context"},
		},
		{
			name:  "malformed_json",
			files: map[string]string{"a/run-config/x.json": "{\n  \"a\": 1,\n  \"b\": ]\n}\n"},
			want:  []string{"a/run-config/x.json:3:8: malformed JSON: invalid character ']' looking for beginning of value"},
		},
		{
			name:  "truncated_json",
			files: map[string]string{"a/run-config/x.json": "{\"a\": [1,\n"},
			want:  []string{"a/run-config/x.json:2:1: malformed JSON: unexpected end of JSON input"},
		},
		{
			name:  "empty_json",
			files: map[string]string{"a/run-config/x.json": ""},
			want:  []string{"a/run-config/x.json:1:1: malformed JSON: unexpected end of JSON input"},
		},
		{
			name:  "json_column_counts_characters",
			files: map[string]string{"a/run-config/x.json": `{"é": x}`},
			want:  []string{`a/run-config/x.json:1:7: malformed JSON: invalid character 'x' looking for beginning of value`},
		},
		{
			name:  "missing_dir",
			files: map[string]string{"a/profile.yaml": "steps:\n  - configs: {dir: nope}\n"},
			want:  []string{"a/profile.yaml:2:20: steps[0].configs.dir: nope: does not exist"},
		},
		{
			name:  "dir_is_a_file",
			files: map[string]string{"a/profile.yaml": "steps:\n  - patterns: {dir: p.json}\n", "a/p.json": "{}"},
			want:  []string{"a/profile.yaml:2:21: steps[0].patterns.dir: p.json: not a directory"},
		},
		{
			name:  "missing_file",
			files: map[string]string{"a/profile.yaml": "steps:\n  - users: {file: users.yaml}\n"},
			want:  []string{"a/profile.yaml:2:19: steps[0].users.file: users.yaml: does not exist"},
		},
		{
			name:  "missing_required_field",
			files: map[string]string{"a/profile.yaml": "steps:\n  - users: {}\n"},
			want:  []string{"a/profile.yaml:2:12: steps[0].users.file: required"},
		},
		{
			name:  "absolute_path",
			files: map[string]string{"a/profile.yaml": "steps:\n  - configs: {dir: /etc}\n"},
			want:  []string{`a/profile.yaml:2:20: steps[0].configs.dir: "/etc" is absolute; want a path relative to the profile directory`},
		},
		{
			name: "dotdot_path",
			files: map[string]string{
				"a/profile.yaml":      "steps:\n  - configs: {dir: ../b/run-config}\n  - redis: {file: x/../../b/r.yaml}\n",
				"b/run-config/x.json": "{}",
			},
			want: []string{
				`a/profile.yaml:2:20: steps[0].configs.dir: "../b/run-config" leaves the profile directory (..)`,
				`a/profile.yaml:3:19: steps[1].redis.file: "x/../../b/r.yaml" leaves the profile directory (..)`,
			},
		},
		{
			name:  "pattern_without_id",
			files: map[string]string{"a/patterns/p.json": `{"name": "no id"}`},
			want:  []string{"a/patterns/p.json:1:1: id: pattern has no id"},
		},
		{
			name:  "pattern_id_not_a_string",
			files: map[string]string{"a/patterns/p.json": "{\n  \"name\": \"x\",\n  \"id\": 5\n}"},
			want:  []string{"a/patterns/p.json:3:3: id: is a number; want a non-empty string"},
		},
		{
			name:  "pattern_not_an_object",
			files: map[string]string{"a/patterns/p.json": ` [{"id": "x"}]`},
			want:  []string{"a/patterns/p.json:1:2: a pattern is a JSON object; this is an array"},
		},
		{
			name: "duplicate_pattern_id",
			files: map[string]string{
				"a/patterns/one.json": `{"id": "same"}`,
				"a/patterns/two.json": `{"meta": {}, "id": "same"}`,
			},
			want: []string{`a/patterns/two.json:1:14: id: duplicate id "same" (also in a/patterns/one.json)`},
		},
		{
			name: "user_password_sources",
			files: map[string]string{
				"a/profile.yaml": "steps:\n  - users: {file: users.yaml}\n",
				"a/users.yaml": `users:
  - id: none
    firstName: No
  - id: both
    password: x
    passwordFrom: {env: X}
  - id: envfile
    passwordFrom: {env: X, file: /y}
  - id: relative
    passwordFrom: {file: secrets/pw}
  - id: badenv
    passwordFrom: {env: "1-X"}
  - id: empty
    password: ""
  - id: none
    password: x
    passwd: y
`,
			},
			want: []string{
				"a/users.yaml:2:5: users[0]: no password source; want password, passwordFrom: {env: NAME} or passwordFrom: {file: /path}",
				"a/users.yaml:6:19: users[1]: both password and passwordFrom; want exactly one",
				"a/users.yaml:8:19: users[2].passwordFrom: both env and file; want exactly one",
				`a/users.yaml:10:26: users[3].passwordFrom.file: "secrets/pw" is relative; want the absolute path of a mounted secret (or env for local runs)`,
				`a/users.yaml:12:25: users[4].passwordFrom.env: invalid environment variable name "1-X"`,
				"a/users.yaml:14:15: users[5].password: must not be empty",
				`a/users.yaml:15:9: users[6].id: duplicate id "none" (also at line 2)`,
				"a/users.yaml:17:5: users[6].passwd: looks like a password field; want password or passwordFrom (a plain-text password is never stored)",
			},
		},
		{
			name: "users_top_level_list_and_malformed",
			files: map[string]string{
				"a/profile.yaml": "steps:\n  - users: {file: u1.yaml}\n  - users: {file: u2.yaml}\n",
				"a/u1.yaml":      "- id: x\n  roles: admin\n  password: p\n",
				"a/u2.yaml":      "users:\n  - id: [x\n",
			},
			want: []string{
				"a/u1.yaml:2:10: users[0].roles: is not a list; want roles: [admin] or [{name: admin}]",
				"a/u2.yaml:2: malformed YAML: did not find expected ',' or ']'",
			},
		},
		{
			name: "documents_keys",
			files: map[string]string{
				"a/profile.yaml": "steps:\n  - documents: {collection: Ref, dir: data, key: code}\n",
				"a/data/a.json":  "[\n  {\"code\": \"x\"},\n  {\"name\": \"no code\"},\n  5,\n  {\"code\": [1]},\n  {\"code\": null}\n]",
				"a/data/b.json":  `{"code": "x"}`,
				"a/data/c.json":  `"just a string"`,
			},
			want: []string{
				"a/data/a.json:3:3: [1].code: missing; every document needs its key field",
				"a/data/a.json:4:3: [2]: is a number; want an object",
				"a/data/a.json:5:4: [3].code: is an array; want a string, number, boolean or object",
				"a/data/a.json:6:4: [4].code: missing; every document needs its key field",
				`a/data/b.json:1:2: code: duplicate code "x" (also in a/data/a.json[0])`,
				"a/data/c.json:1:1: is a string; want an object or an array of objects",
			},
		},
		{
			name: "documents_fields",
			files: map[string]string{
				"a/profile.yaml": "steps:\n  - documents: {collection: system.x, dir: d, key: a.b, database: \"my.db\"}\n",
				"a/d/x.json":     `{}`,
			},
			want: []string{
				`a/profile.yaml:2:29: steps[0].documents.collection: collection "system.x" is reserved`,
				`a/profile.yaml:2:52: steps[0].documents.key: "a.b": dotted paths are not supported; want a top-level field`,
				`a/profile.yaml:2:67: steps[0].documents.database: invalid database name "my.db"`,
			},
		},
		{
			name: "step_index_not_a_boolean",
			files: map[string]string{
				"a/profile.yaml": "steps:\n  - documents: {collection: Ref, dir: d, key: code, index: maybe}\n  - upsert: {collection: T, file: t.json, index: 0}\n",
				"a/d/x.json":     `{"code": "x"}`,
				"a/t.json":       `[{"matcher": {"code": "x"}, "values": {"n": 1}}]`,
			},
			want: []string{
				`a/profile.yaml:2:60: steps[0].documents.index: "maybe" is not true or false`,
				`a/profile.yaml:3:50: steps[1].upsert.index: "0" is not true or false`,
			},
		},
		{
			name: "redis_file",
			files: map[string]string{
				"a/profile.yaml": "steps:\n  - redis: {file: r.yaml}\n",
				"a/r.yaml": `keys:
  - {key: k1, string: a, hash: {f: v}}
  - {key: k2}
  - {key: k3, string: a, ttl: 10 seconds}
  - {key: k3, set: [a]}
  - {key: k4, set: []}
  - {key: k5, hash: {}, ttl: -1s}
  - {string: a}
`,
			},
			want: []string{
				"a/r.yaml:2:5: keys[0]: has 2 of string, hash, set; want exactly one",
				"a/r.yaml:3:5: keys[1]: has 0 of string, hash, set; want exactly one",
				`a/r.yaml:4:31: keys[2].ttl: invalid duration "10 seconds"; want e.g. 10s, 2m, 1h30m`,
				`a/r.yaml:5:11: keys[3].key: duplicate key "k3" (also at line 4)`,
				"a/r.yaml:6:20: keys[4].set: empty set; want at least one member",
				"a/r.yaml:7:21: keys[5].hash: empty hash; want at least one field",
				`a/r.yaml:7:30: keys[5].ttl: duration "-1s" must be positive`,
				"a/r.yaml:8:5: keys[6].key: required",
			},
		},
		{
			name: "http_step",
			files: map[string]string{
				"a/profile.yaml": `steps:
  - http: {method: FETCH, url: "ftp://x/y", expect: [200, 999, x], timeout: soon, retries: -1}
  - http: {url: "http://", expect: [0]}
  - http: {url: "http://x", expect: []}
  - http: {headers: {"Bad Name": x}, headersFrom: {X-A: {}}, bodyFile: nobody.json}
`,
			},
			want: []string{
				`a/profile.yaml:2:20: steps[0].http.method: unknown method "FETCH" (want one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)`,
				`a/profile.yaml:2:32: steps[0].http.url: invalid URL "ftp://x/y": want an http:// or https:// URL`,
				`a/profile.yaml:2:59: steps[0].http.expect[1]: 999 is not an HTTP status code`,
				`a/profile.yaml:2:64: steps[0].http.expect[2]: "x" is not an integer`,
				`a/profile.yaml:2:77: steps[0].http.timeout: invalid duration "soon"; want e.g. 10s, 2m, 1h30m`,
				`a/profile.yaml:2:92: steps[0].http.retries: -1 is out of range 0..100`,
				`a/profile.yaml:3:17: steps[1].http.url: invalid URL "http:": no host`,
				`a/profile.yaml:3:37: steps[1].http.expect[0]: 0 is not an HTTP status code`,
				`a/profile.yaml:4:37: steps[2].http.expect: empty; want a list of status codes`,
				`a/profile.yaml:5:11: steps[3].http.url: required`,
				`a/profile.yaml:5:21: steps[3].http.headers.Bad Name: invalid header name "Bad Name"`,
				`a/profile.yaml:5:57: steps[3].http.headersFrom.X-A: want env: NAME or file: /path`,
				`a/profile.yaml:5:72: steps[3].http.bodyFile: nobody.json: does not exist`,
			},
		},
		{
			name: "exec_step",
			files: map[string]string{
				"a/profile.yaml": "steps:\n  - exec: {command: []}\n  - exec: {command: \"/bin/x --y\"}\n  - exec: {timeout: 1m, env: {\"A=B\": x}}\n",
			},
			want: []string{
				"a/profile.yaml:2:21: steps[0].exec.command: empty command; want [program, args...]",
				"a/profile.yaml:3:21: steps[1].exec.command: is a scalar; want a list",
				"a/profile.yaml:4:11: steps[2].exec.command: required",
				`a/profile.yaml:4:30: steps[2].exec.env.A=B: invalid environment variable name "A=B"`,
			},
		},
		{
			name: "reset_section",
			files: map[string]string{
				"a/profile.yaml": "reset:\n  collections: [\"a$b\"]\n  redis: [\"*\", \"\"]\n  flush: true\n",
			},
			want: []string{
				`a/profile.yaml:2:17: reset.collections[0]: invalid collection name "a$b"`,
				`a/profile.yaml:3:11: reset.redis[0]: "*" matches every key, the lock's too; name the keys to delete`,
				"a/profile.yaml:3:16: reset.redis[1]: must not be empty",
				"a/profile.yaml:4:3: reset.flush: unknown field (known: collections, redis, databases, redisAll)",
			},
		},
		{
			name: "unknown_requires",
			files: map[string]string{
				"a/profile.yaml": "requires: [b, ../x, b]\n",
			},
			want: []string{
				`a/profile.yaml:1:12: requires[0]: unknown profile "b": no directory b/ in the profiles directory`,
				`a/profile.yaml:1:15: requires[1]: invalid profile name "../x": want a directory name`,
				"a/profile.yaml:1:21: requires[2]: b is required twice",
			},
		},
		{
			name: "requires_cycle",
			files: map[string]string{
				"a/profile.yaml": "requires: [b]\n",
				"b/profile.yaml": "requires: [c]\n",
				"c/profile.yaml": "requires: [a]\n",
				"d/profile.yaml": "requires: [d]\n",
			},
			names: []string{"a", "d"},
			want: []string{
				"c/profile.yaml:1:12: requires[0]: requires cycle: a -> b -> c -> a",
				"d/profile.yaml:1:12: requires[0]: requires cycle: d -> d",
			},
		},
		{
			name:  "unknown_profile_and_bad_names",
			files: map[string]string{"a/profile.yaml": ""},
			names: []string{"a,nope", "../etc", ".hidden"},
			want: []string{
				`../etc: invalid profile name "../etc": want a directory name`,
				`.hidden: invalid profile name ".hidden": must not start with a dot`,
				"nope: no such profile: no directory nope/ in the profiles directory",
			},
		},
		{
			name:  "neither_form",
			files: map[string]string{"a/README.md": "hello", "a/Handler.ts": "x"},
			want:  []string{"a: not a profile: no profile.yaml, run-config/ or patterns/"},
		},
		{
			name:  "misnamed_manifest",
			files: map[string]string{"a/profile.yml": "steps: []"},
			want:  []string{"a: found profile.yml; the manifest must be named profile.yaml"},
		},
		{
			name:  "profile_is_a_file",
			files: map[string]string{"a": "x"},
			want:  []string{"a: not a directory"},
		},
		{
			name:  "bad_database",
			files: map[string]string{"a/profile.yaml": "database: \"a/b\"\n"},
			want:  []string{`a/profile.yaml:1:11: database: invalid database name "a/b"`},
		},
		{
			name:  "manifest_not_a_mapping",
			files: map[string]string{"a/profile.yaml": "- configs: {dir: x}\n"},
			want:  []string{"a/profile.yaml:1:1: is a list; want a mapping"},
		},
		{
			name:  "two_yaml_documents",
			files: map[string]string{"a/profile.yaml": "steps: []\n---\nsteps: []\n"},
			want:  []string{"a/profile.yaml:2:1: more than one YAML document; want exactly one"},
		},
		{
			name: "problems_in_several_files_and_profiles",
			files: map[string]string{
				"a/profile.yaml":      "requires: [b]\nsteps:\n  - configs: {dir: rc}\n  - patterns: {dir: p}\n",
				"a/rc/bad.json":       "{",
				"a/rc/good.json":      "{}",
				"a/p/x.json":          `{"id": 1}`,
				"b/run-config/x.json": "[",
			},
			want: []string{
				"a/p/x.json:1:2: id: is a number; want a non-empty string",
				"a/rc/bad.json:1:2: malformed JSON: unexpected end of JSON input",
				"b/run-config/x.json:1:2: malformed JSON: unexpected end of JSON input",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names := tt.names
			if names == nil {
				names = []string{"a"}
			}
			got := problems(t, mapFS(tt.files), names...)
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestLoad_invalid_files checks symbolic links and special files, which a
// MapFS can hold.
func TestLoad_invalid_files(t *testing.T) {
	tests := []struct {
		name string
		fsys fstest.MapFS
		want []string
	}{
		{
			name: "symlink_out_of_the_profile",
			fsys: fstest.MapFS{
				"a/run-config/x.json": {Data: []byte(`../../b/secret.json`), Mode: fs.ModeSymlink},
				"b/secret.json":       {Data: []byte(`{}`)},
			},
			want: []string{"a/run-config/x.json: symbolic link leads outside the profile directory"},
		},
		{
			name: "symlinked_dir_out_of_the_root",
			fsys: fstest.MapFS{
				"a/profile.yaml": {Data: []byte("steps: [{configs: {dir: rc}}]\n")},
				"a/rc":           {Data: []byte(`../../elsewhere`), Mode: fs.ModeSymlink},
			},
			want: []string{"a/profile.yaml:1:25: steps[0].configs.dir: rc: symbolic link leads outside the profile directory"},
		},
		{
			name: "absolute_symlink",
			fsys: fstest.MapFS{
				"a/profile.yaml": {Data: []byte("steps: [{users: {file: u.yaml}}]\n")},
				"a/u.yaml":       {Data: []byte(`/etc/passwd`), Mode: fs.ModeSymlink},
			},
			want: []string{"a/profile.yaml:1:24: steps[0].users.file: u.yaml: symbolic link leads outside the profile directory"},
		},
		{
			name: "symlinked_profile_out_of_the_root",
			fsys: fstest.MapFS{
				"a":      {Data: []byte(`../outside`), Mode: fs.ModeSymlink},
				"b/x.md": {Data: []byte(`x`)},
			},
			want: []string{"a: symbolic link leads outside the profile directory"},
		},
		{
			name: "named_pipe",
			fsys: fstest.MapFS{
				"a/run-config/ok.json":   {Data: []byte(`{}`)},
				"a/run-config/fifo.json": {Mode: fs.ModeNamedPipe},
			},
			want: []string{"a/run-config/fifo.json: not a regular file"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problems(t, tt.fsys, "a")
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestLoad_symlinks_inside_the_profile checks that links that stay inside
// the profile directory are followed, as in a ConfigMap volume.
func TestLoad_symlinks_inside_the_profile(t *testing.T) {
	fsys := fstest.MapFS{
		"..data":                           {Data: []byte(`..2024_01_01`), Mode: fs.ModeSymlink},
		"a":                                {Data: []byte(`..data/a`), Mode: fs.ModeSymlink},
		"..2024_01_01/a/profile.yaml":      {Data: []byte("steps: [{configs: {dir: rc}}]\n")},
		"..2024_01_01/a/real/engine.json":  {Data: []byte(`{"x": 1}`)},
		"..2024_01_01/a/rc":                {Data: []byte(`real`), Mode: fs.ModeSymlink},
		"..2024_01_01/a/real/linked.json":  {Data: []byte(`../shared/l.json`), Mode: fs.ModeSymlink},
		"..2024_01_01/a/shared/l.json":     {Data: []byte(`{"y": 2}`)},
		"..2024_01_01/a/real/ignored.yaml": {Data: []byte(`x`)},
	}
	p := mustLoad(t, fsys, "a").Get("a")
	var names []string
	for _, it := range p.Steps[0].Configs.Items {
		names = append(names, it.Name+"="+string(it.JSON))
	}
	if got, want := names, []string{`engine={"x": 1}`, `linked={"y": 2}`}; !slices.Equal(got, want) {
		t.Errorf("configs = %q, want %q", got, want)
	}
}
