package profiles_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"testing/fstest"

	"github.com/srvthreds/bootstrap/profiles"
)

// versionFS: app (manifest) requires legacy (srvthreds form); other stands
// alone.
func versionFS() fstest.MapFS {
	return mapFS(map[string]string{
		"app/profile.yaml":              "requires: [legacy]\nsteps:\n  - configs: {dir: rc}\n  - users: {file: users.yaml}\n",
		"app/rc/a.json":                 `{"a": 1}`,
		"app/rc/b.json":                 `{"b": 2}`,
		"app/users.yaml":                "- {id: u, passwordFrom: {env: PW}}\n",
		"app/README.md":                 "not read by any step",
		"legacy/run-config/engine.json": `{"e": 1}`,
		"legacy/patterns/p.json":        `{"id": "p"}`,
		"legacy/Handler.ts":             "export default class {}",
		"other/profile.yaml":            "",
	})
}

// versions loads every profile of fsys and returns their versions.
func versions(t *testing.T, fsys fstest.MapFS) map[string]string {
	t.Helper()
	set, err := profiles.LoadAll(fsys)
	if err != nil {
		t.Fatalf("LoadAll: %v", err)
	}
	out := map[string]string{}
	for _, p := range set.Profiles {
		out[p.Name] = p.Version
	}
	return out
}

func TestVersion_changes(t *testing.T) {
	base := versions(t, versionFS())
	tests := []struct {
		name    string
		change  func(fstest.MapFS)
		changed map[string]bool // profiles whose version must change; the others must not
	}{
		{
			name:    "config_file_content",
			change:  func(f fstest.MapFS) { f["app/rc/a.json"].Data = []byte(`{"a": 2}`) },
			changed: map[string]bool{"app": true},
		},
		{
			name:    "users_file_content",
			change:  func(f fstest.MapFS) { f["app/users.yaml"].Data = []byte("- {id: v, passwordFrom: {env: PW}}\n") },
			changed: map[string]bool{"app": true},
		},
		{
			name: "manifest_comment",
			change: func(f fstest.MapFS) {
				f["app/profile.yaml"].Data = append([]byte("# a comment\n"), f["app/profile.yaml"].Data...)
			},
			changed: map[string]bool{"app": true},
		},
		{
			name: "file_renamed",
			change: func(f fstest.MapFS) {
				f["app/rc/c.json"] = f["app/rc/b.json"]
				delete(f, "app/rc/b.json")
			},
			changed: map[string]bool{"app": true},
		},
		{
			name:    "file_added",
			change:  func(f fstest.MapFS) { f["app/rc/z.json"] = &fstest.MapFile{Data: []byte(`{}`)} },
			changed: map[string]bool{"app": true},
		},
		{
			name:    "file_removed",
			change:  func(f fstest.MapFS) { delete(f, "app/rc/b.json") },
			changed: map[string]bool{"app": true},
		},
		{
			name: "contents_swapped_between_files",
			change: func(f fstest.MapFS) {
				f["app/rc/a.json"].Data, f["app/rc/b.json"].Data = f["app/rc/b.json"].Data, f["app/rc/a.json"].Data
			},
			changed: map[string]bool{"app": true},
		},
		{
			name: "required_profile_changed",
			change: func(f fstest.MapFS) {
				f["legacy/patterns/p.json"].Data = []byte(`{"id": "p", "meta": {"active": true}}`)
			},
			changed: map[string]bool{"app": true, "legacy": true},
		},
		{
			name:    "srvthreds_form_step_added",
			change:  func(f fstest.MapFS) { delete(f, "legacy/patterns/p.json") },
			changed: map[string]bool{"app": true, "legacy": true},
		},
		{
			name: "unread_files_do_not_count",
			change: func(f fstest.MapFS) {
				f["app/README.md"].Data = []byte("changed")
				f["legacy/notes.ts"] = &fstest.MapFile{Data: []byte("x")}
			},
			changed: map[string]bool{},
		},
		{
			name: "handler_changed",
			change: func(f fstest.MapFS) {
				f["legacy/Handler.ts"].Data = []byte("export default class { async run() { Logger.info('x'); } }\nimport { Logger } from './l';\n")
			},
			changed: map[string]bool{"app": true, "legacy": true},
		},
		{
			name:    "other_profile_changed",
			change:  func(f fstest.MapFS) { f["other/profile.yaml"].Data = []byte("database: x\n") },
			changed: map[string]bool{"other": true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := versionFS()
			tt.change(fsys)
			got := versions(t, fsys)
			for name, v := range base {
				if changed := got[name] != v; changed != tt.changed[name] {
					t.Errorf("%s: version changed = %v, want %v", name, changed, tt.changed[name])
				}
			}
		})
	}
}

func TestVersion_stable(t *testing.T) {
	fsys := versionFS()
	for i := range 20 {
		fsys[fmt.Sprintf("app/rc/n%02d.json", i)] = &fstest.MapFile{Data: fmt.Appendf(nil, `{"n": %d}`, i)}
	}
	first := versions(t, fsys)
	for range 10 {
		// MapFS iterates its map in random order; the version must not.
		copyFS := fstest.MapFS{}
		for k, v := range fsys {
			copyFS[k] = &fstest.MapFile{Data: v.Data}
		}
		got := versions(t, copyFS)
		for name, v := range first {
			if got[name] != v {
				t.Fatalf("%s: version %s, then %s", name, v, got[name])
			}
		}
	}
	if first["app"] == first["other"] || first["app"] == first["legacy"] {
		t.Errorf("different profiles share a version: %v", first)
	}
}

// TestVersion_encoding pins the encoding of HashAlgo 1: a change here
// changes every stored version, and needs a new HashAlgo.
func TestVersion_encoding(t *testing.T) {
	fsys := mapFS(map[string]string{
		"base/profile.yaml": "",
		"p/profile.yaml":    "requires: [base]\nsteps: [{redis: {file: r.yaml}}]\n",
		"p/r.yaml":          "- {key: k, string: v}\n",
	})
	set := mustLoad(t, fsys, "p")
	field := func(tag, data string) string { return fmt.Sprintf("%s %d\n%s\n", tag, len(data), data) }
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

	baseVersion := sum("bootstrap-profile/v1\n" + field("manifest", ""))
	if got := set.Get("base").Version; got != baseVersion {
		t.Errorf("base version = %s, want %s", got, baseVersion)
	}
	want := sum("bootstrap-profile/v1\n" +
		field("manifest", "requires: [base]\nsteps: [{redis: {file: r.yaml}}]\n") +
		field("path", "r.yaml") + field("data", "- {key: k, string: v}\n") +
		field("requires", "base@"+baseVersion))
	if got := set.Get("p").Version; got != want {
		t.Errorf("p version = %s, want %s", got, want)
	}
	if got := set.Get("p").HashAlgo; got != 1 {
		t.Errorf("HashAlgo = %d, want 1", got)
	}
}
