package profiles_test

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/srvthreds/bootstrap/profiles"
)

// problemsWith is problems for LoadWith.
func problemsWith(t *testing.T, fsys fs.FS, opts *profiles.Options, names ...string) []string {
	t.Helper()
	set, err := profiles.LoadWith(fsys, names, opts)
	if err == nil {
		t.Fatalf("LoadWith(%q) = %d profiles, nil error; want an invalid profile", names, len(set.Profiles))
	}
	var ve *profiles.ValidationError
	if !errors.Is(err, profiles.ErrInvalid) || !errors.As(err, &ve) {
		t.Fatalf("LoadWith(%q) error %v is not a *ValidationError", names, err)
	}
	return strings.Split(err.Error(), "\n")
}

// nest returns a JSON value nested levels deep: {"a":{"a":...1...}}.
func nest(levels int) string {
	return strings.Repeat(`{"a":`, levels) + "1" + strings.Repeat("}", levels)
}

// docsProfile is a manifest with one documents step reading dir data.
const docsProfile = "steps:\n  - documents: {collection: Ref, dir: data}\n"

// TestLoad_hostile is the bad-input matrix of what apply could refuse or
// what could hurt the run, each refused by validation with file, line,
// column and field.
func TestLoad_hostile(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		opts  *profiles.Options
		want  []string
	}{
		{
			name:  "document_nested_101_levels",
			files: map[string]string{"a/profile.yaml": docsProfile, "a/data/d.json": `[{"_id": 1}, ` + "\n" + `{"_id": 2, "x": ` + nest(100) + `}]`},
			want:  []string{"a/data/d.json:2:" + fmt.Sprint(17+5*99) + ": [1].x" + strings.Repeat(".a", 99) + ": nested deeper than 100 levels"},
		},
		{
			name:  "config_nested_100_levels_is_101_once_stored",
			files: map[string]string{"a/run-config/c.json": nest(100)},
			want:  []string{"a/run-config/c.json:1:" + fmt.Sprint(1+5*99) + ": " + strings.TrimPrefix(strings.Repeat(".a", 99), ".") + ": nested deeper than 99 levels"},
		},
		{
			name:  "json_nested_beyond_the_old_limit_of_200",
			files: map[string]string{"a/patterns/p.json": `{"id": "p", "x": ` + nest(300) + `}`},
			want:  []string{"a/patterns/p.json:1:" + fmt.Sprint(18+5*99) + ": x" + strings.Repeat(".a", 99) + ": nested deeper than 100 levels"},
		},
		{
			name:  "nul_in_key",
			files: map[string]string{"a/patterns/p.json": "{\n  \"id\": \"p\",\n  \"meta\": {\"a\\u0000b\": 1}\n}"},
			want:  []string{"a/patterns/p.json:3:12: meta.a\x00b: key contains a NUL byte, which BSON cannot store"},
		},
		{
			name:  "pattern_with_underscore_id",
			files: map[string]string{"a/patterns/p.json": "{\n  \"id\": \"p\",\n  \"_id\": \"q\"\n}"},
			want:  []string{`a/patterns/p.json:3:3: _id: a pattern has no "_id" field: its "id" field becomes _id`},
		},
		{
			name:  "invalid_utf8_in_json",
			files: map[string]string{"a/run-config/c.json": "{\n  \"name\": \"caf\xe9\"\n}"},
			want:  []string{"a/run-config/c.json:2:15: invalid UTF-8 (byte 0xe9)"},
		},
		{
			name:  "duplicate_json_key",
			files: map[string]string{"a/profile.yaml": docsProfile, "a/data/d.json": "{\n  \"_id\": 1,\n  \"v\": {\"x\": 1, \"x\": 2}\n}"},
			want:  []string{`a/data/d.json:3:17: v.x: duplicate key "x" (also at line 3); JSON.parse would keep only the last value`},
		},
		{
			name:  "top_level_dollar_key_in_a_replaced_document",
			files: map[string]string{"a/profile.yaml": docsProfile, "a/data/d.json": `[{"_id": 1, "$set": {"a": 1}}]`},
			want:  []string{"a/data/d.json:1:13: [0].$set: a top-level key starting with $ is refused by MongoDB in a replaced document; leave it out (omitKeys) or nest it"},
		},
		{
			name: "array_id",
			files: map[string]string{
				"a/profile.yaml": "steps:\n  - documents: {collection: Ref, dir: data, key: code}\n",
				"a/data/d.json":  `{"code": "c", "_id": [1]}`,
			},
			want: []string{"a/data/d.json:1:15: _id: is an array; MongoDB refuses an array as _id"},
		},
		{
			name:  "document_over_16_mib_in_bson",
			files: map[string]string{"a/profile.yaml": docsProfile, "a/data/d.json": `{"_id": 1, "v": [` + strings.Repeat("1,", 1_400_000) + `1]}`},
			want:  []string{"a/data/d.json:1:1: is 16.3 MiB in BSON, over MongoDB's document size limit of 16 MiB"},
		},
		{
			name:  "json_file_over_the_size_limit",
			files: map[string]string{"a/run-config/big.json": `{"x": "` + strings.Repeat("x", 2000) + `"}`, "a/run-config/ok.json": `{}`},
			opts:  &profiles.Options{Limits: profiles.Limits{MaxFileSize: 1024}},
			want:  []string{"a/run-config/big.json: 2.0 KiB is over the file size limit of 1 KiB (--max-file-size)"},
		},
		{
			name: "yaml_file_over_its_size_limit",
			files: map[string]string{
				"a/profile.yaml": "steps:\n  - users: {file: users.yaml}\n",
				"a/users.yaml":   "- id: a\n  password: " + strings.Repeat("x", 3000) + "\n",
			},
			opts: &profiles.Options{Limits: profiles.Limits{MaxYAMLSize: 2048}},
			want: []string{"a/profile.yaml:2:19: steps[0].users.file: users.yaml: 3.0 KiB is over the file size limit of 2 KiB (--max-yaml-size)"},
		},
		{
			name: "profile_over_its_size_limit",
			files: map[string]string{
				"a/run-config/1.json": `{"x": "` + strings.Repeat("x", 600) + `"}`,
				"a/run-config/2.json": `{"x": "` + strings.Repeat("x", 600) + `"}`,
			},
			opts: &profiles.Options{Limits: profiles.Limits{MaxProfileSize: 1000}},
			want: []string{"a/run-config/2.json: the profile's files are over its size limit of 1000 bytes (--max-profile-size)"},
		},
		{
			name:  "too_many_documents",
			files: map[string]string{"a/profile.yaml": docsProfile, "a/data/d.json": "[{\"_id\": 1},\n {\"_id\": 2},\n {\"_id\": 3}]"},
			opts:  &profiles.Options{Limits: profiles.Limits{MaxDocuments: 2}},
			want:  []string{"a/data/d.json:3:2: [2]: the profile has more than 2 documents, its limit (--max-documents)"},
		},
		{
			name: "too_many_problems",
			files: map[string]string{
				"a/profile.yaml": docsProfile,
				"a/data/d.json":  "[" + strings.TrimSuffix(strings.Repeat("{\"_id\": 7},\n", 6), ",\n") + "]",
			},
			opts: &profiles.Options{Limits: profiles.Limits{MaxProblems: 2}},
			want: []string{
				"a/data/d.json:2:2: [1]._id: duplicate _id 7 (also in a/data/d.json[0])",
				"a/data/d.json:3:2: [2]._id: duplicate _id 7 (also in a/data/d.json[0])",
				"and 3 more problems (--max-problems)",
			},
		},
		{
			name:  "yaml_invalid_utf8",
			files: map[string]string{"a/profile.yaml": "database: nr\nsteps:\n  - exec: {command: [\"caf\xe9\"]}\n"},
			want:  []string{"a/profile.yaml:3:26: malformed YAML: invalid UTF-8 (invalid trailing UTF-8 octet)"},
		},
		{
			name:  "yaml_control_character",
			files: map[string]string{"a/profile.yaml": "database: nr\n\x01\n"},
			want:  []string{"a/profile.yaml:2:1: malformed YAML: control character U+0001 (control characters are not allowed)"},
		},
		{
			name: "reserved_reset_globs_and_collections",
			files: map[string]string{
				"a/profile.yaml": `reset:
  collections: [Config, bootstrap_markers]
  redis: ["Pattern:*", "b*", "boot?trap:*", "[ab]ootstrap:x", "*:lock:*", "bootstrap", "\\bootstrap:*"]
`,
			},
			want: []string{
				`a/profile.yaml:2:25: reset.collections[1]: collection "bootstrap_markers" is reserved: bootstrap_* collections are bootstrap's own (markers, ownership, audit, snapshots, fences)`,
				`a/profile.yaml:3:24: reset.redis[1]: "b*" could match bootstrap's own keys (bootstrap:*: the lock and its records); name keys that cannot`,
				`a/profile.yaml:3:30: reset.redis[2]: "boot?trap:*" could match bootstrap's own keys (bootstrap:*: the lock and its records); name keys that cannot`,
				`a/profile.yaml:3:45: reset.redis[3]: "[ab]ootstrap:x" could match bootstrap's own keys (bootstrap:*: the lock and its records); name keys that cannot`,
				`a/profile.yaml:3:63: reset.redis[4]: "*:lock:*" could match bootstrap's own keys (bootstrap:*: the lock and its records); name keys that cannot`,
				`a/profile.yaml:3:88: reset.redis[6]: "\\bootstrap:*" could match bootstrap's own keys (bootstrap:*: the lock and its records); name keys that cannot`,
			},
		},
		{
			name: "reserved_documents_collection",
			files: map[string]string{
				"a/profile.yaml": "steps:\n  - documents: {collection: bootstrap_audit, dir: data}\n",
				"a/data/d.json":  `{"_id": 1}`,
			},
			want: []string{`a/profile.yaml:2:29: steps[0].documents.collection: collection "bootstrap_audit" is reserved: bootstrap_* collections are bootstrap's own (markers, ownership, audit, snapshots, fences)`},
		},
		{
			name: "reserved_redis_step_key",
			files: map[string]string{
				"a/profile.yaml": "steps:\n  - redis: {file: r.yaml}\n",
				"a/r.yaml":       "keys:\n  - {key: \"bootstrap:lock:{bootstrap}:fence\", string: \"1\"}\n  - {key: app:flag, string: on}\n",
			},
			want: []string{`a/r.yaml:2:11: keys[0].key: key "bootstrap:lock:{bootstrap}:fence" is reserved: bootstrap:* keys are bootstrap's own (the lock and its records)`},
		},
		{
			name:  "empty_omit_key",
			files: map[string]string{"a/profile.yaml": "steps:\n  - configs: {dir: rc, omitKeys: [\"$schema\", \"\"]}\n", "a/rc/c.json": `{}`},
			want:  []string{`a/profile.yaml:2:46: steps[0].configs.omitKeys[1]: must not be empty`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problemsWith(t, mapFS(tt.files), tt.opts, "a")
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n%q\nwant:\n%q", got, tt.want)
			}
		})
	}
}

// TestLoad_depth_limits_are_inclusive checks that MongoDB's 100 levels are
// accepted where the document is stored as is.
func TestLoad_depth_limits_are_inclusive(t *testing.T) {
	mustLoad(t, mapFS(map[string]string{
		"a/profile.yaml":      "steps:\n  - configs: {dir: rc}\n  - patterns: {dir: p}\n  - documents: {collection: R, dir: d}\n",
		"a/rc/c.json":         nest(99),
		"a/p/p.json":          `{"id": "p", "x": ` + nest(99) + `}`,
		"a/d/d.json":          `[{"_id": 1, "x": ` + nest(99) + `}]`,
		"a/d/single.json":     `{"_id": 2, "x": ` + nest(99) + `}`,
		"a/run-config/x.json": "{}",
	}), "a")
}

// bigFS reports a file of the given size and fails if it is opened: a
// file over the limit must be refused without being read.
type bigFS struct {
	fstest.MapFS
	name string
	size int64
}

type bigInfo struct {
	fs.FileInfo
	size int64
}

func (b bigInfo) Size() int64 { return b.size }

func (b bigFS) Stat(name string) (fs.FileInfo, error) {
	fi, err := b.MapFS.Stat(name)
	if err == nil && name == b.name {
		fi = bigInfo{fi, b.size}
	}
	return fi, err
}

func (b bigFS) Open(name string) (fs.File, error) {
	if name == b.name {
		return nil, errors.New("opened a file over the size limit")
	}
	return b.MapFS.Open(name)
}

func TestLoad_file_over_the_limit_is_not_read(t *testing.T) {
	for _, size := range []int64{10_000_000, 100_000_000} {
		fsys := bigFS{
			MapFS: mapFS(map[string]string{"a/profile.yaml": docsProfile, "a/data/big.json": "[]"}),
			name:  "a/data/big.json",
			size:  size,
		}
		got := problemsWith(t, fsys, nil, "a")
		want := []string{fmt.Sprintf("a/data/big.json: %.1f MiB is over the file size limit of 8 MiB (--max-file-size)", float64(size)/(1<<20))}
		if !slices.Equal(got, want) {
			t.Errorf("size %d: problems %q, want %q", size, got, want)
		}
	}
}

// TestLoad_many_duplicate_ids checks that thousands of problems in one
// file are listed up to the limit and counted (their positions are found
// in one pass; see docs/limits.md for the time).
func TestLoad_many_duplicate_ids(t *testing.T) {
	var b strings.Builder
	b.WriteString("[")
	for i := range 8000 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"_id": "same", "name": "document number ` + fmt.Sprint(i) + `"}`)
	}
	b.WriteString("]") // one line of about 370 KB
	start := time.Now()
	got := problemsWith(t, mapFS(map[string]string{"a/profile.yaml": docsProfile, "a/data/d.json": b.String()}), nil, "a")
	t.Logf("8,000 duplicate _ids on one line: %v", time.Since(start))
	if len(got) != profiles.DefaultMaxProblems+1 {
		t.Fatalf("%d lines, want %d problems and a count", len(got), profiles.DefaultMaxProblems)
	}
	if want := "a/data/d.json:1:48: [1]._id: duplicate _id \"same\" (also in a/data/d.json[0])"; got[0] != want {
		t.Errorf("first problem %q, want %q", got[0], want)
	}
	if want := "and 7949 more problems (--max-problems)"; got[len(got)-1] != want {
		t.Errorf("last line %q, want %q", got[len(got)-1], want)
	}
}
