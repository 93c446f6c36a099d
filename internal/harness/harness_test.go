package harness

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

func TestSanitizeName(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "kept", in: "redis", want: "redis"},
		{name: "lowercased", in: "Bootstrap-Run", want: "bootstrap-run"},
		{name: "test_name_with_slashes", in: "TestX/sub_case", want: "testx-sub-case"},
		{name: "trimmed", in: "--a--", want: "a"},
		{name: "empty", in: "", want: "c"},
		{name: "truncated", in: "abcdefghijabcdefghijabcdefghijabcdefghijXYZ", want: "abcdefghijabcdefghijabcdefghijabcdefghij"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sanitizeName(tt.in); got != tt.want {
				t.Errorf("sanitizeName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestUniqueName(t *testing.T) {
	a, b := uniqueName("redis"), uniqueName("redis")
	if a == b {
		t.Errorf("uniqueName returned %q twice", a)
	}
	if !regexp.MustCompile(`^redis-[0-9a-f]{8}$`).MatchString(a) {
		t.Errorf("uniqueName(redis) = %q, want redis-<8 hex digits>", a)
	}
}

func TestMongoFlavor(t *testing.T) {
	tests := []struct {
		name      string
		image     string
		wantReady string
		wantCmd   bool
	}{
		{name: "local_ferretdb", image: "bootstrap-test/ferretdb:v1.24.2", wantReady: "Listening on TCP", wantCmd: true},
		{name: "ferretdb_upstream", image: "ghcr.io/ferretdb/ferretdb:1.24", wantReady: "Listening on TCP", wantCmd: true},
		{name: "registry_port_not_a_tag", image: "localhost:5000/ferretdb", wantReady: "Listening on TCP", wantCmd: true},
		{name: "mongo", image: "mongo:7", wantReady: "Waiting for connections"},
		{name: "mongo_digest", image: "mongo@sha256:0123", wantReady: "Waiting for connections"},
		{name: "tag_named_ferretdb_is_mongo", image: "mongo:ferretdb", wantReady: "Waiting for connections"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, ready, tmpfs := mongoFlavor(tt.image)
			if ready != tt.wantReady {
				t.Errorf("ready line = %q, want %q", ready, tt.wantReady)
			}
			if got := cmd != nil; got != tt.wantCmd {
				t.Errorf("has command = %v (%q), want %v", got, cmd, tt.wantCmd)
			}
			if got := tmpfs != nil; got != tt.wantCmd {
				t.Errorf("has tmpfs = %v, want %v", got, tt.wantCmd)
			}
		})
	}
}

// writeTree writes files (slash paths relative to dir) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTarDir(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a/profile.yaml": "steps: []\n", "a/data/x.json": "{}"})
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "a", "link")); err != nil {
		t.Fatal(err)
	}
	archive, err := tarDir(dir)
	if err != nil {
		t.Fatal(err)
	}

	type entry struct {
		mode    int64
		content string
	}
	got := map[string]entry{}
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s owned by %d:%d, want 0:0", h.Name, h.Uid, h.Gid)
		}
		got[h.Name] = entry{h.Mode, string(b)}
	}
	want := map[string]entry{
		"a/":             {0o755, ""},
		"a/data/":        {0o755, ""},
		"a/data/x.json":  {0o644, "{}"},
		"a/profile.yaml": {0o644, "steps: []\n"},
	}
	if len(got) != len(want) {
		t.Errorf("archive holds %d entries, want %d (no symlink): %v", len(got), len(want), got)
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("entry %s = %+v (present %v), want %+v", name, g, ok, w)
		}
	}
}

func TestTreeHash(t *testing.T) {
	base := map[string]string{"bin/bootstrap": "binary", "profiles/a/profile.yaml": "steps: []\n"}
	hash := func(t *testing.T, files map[string]string) string {
		t.Helper()
		dir := t.TempDir()
		writeTree(t, dir, files)
		h, err := treeHash(dir)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for name, c := range base {
			if name != k {
				m[name] = c
			}
		}
		return m
	}
	h0 := hash(t, base)
	if got := hash(t, base); got != h0 {
		t.Errorf("the same tree hashed to %s and %s", h0, got)
	}
	tests := []struct {
		name  string
		files map[string]string
	}{
		{name: "content_changed", files: with("bin/bootstrap", "binary2")},
		{name: "file_added", files: with("profiles/b/profile.yaml", "")},
		{name: "file_renamed", files: map[string]string{"bin/bootstrap": "binary", "profiles/a/profile.yml": "steps: []\n"}},
	}
	seen := []string{h0}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hash(t, tt.files)
			if slices.Contains(seen, h) {
				t.Errorf("hash %s equals that of another tree", h)
			}
			seen = append(seen, h)
		})
	}
}
