//go:build unix

package profiles_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/srvthreds/bootstrap/profiles"
)

// tree builds a profiles directory under a temporary directory: files
// (path -> content) and symbolic links (path -> target; "ROOT" and
// "OUTSIDE" in a target stand for the absolute paths of the profiles
// directory and of a directory beside it). It returns the profiles
// directory.
func tree(t *testing.T, files, links map[string]string) string {
	t.Helper()
	tmp := t.TempDir()
	root, outside := filepath.Join(tmp, "profiles"), filepath.Join(tmp, "outside")
	write := func(name, data string) {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(outside, "secret.json"), `{"secret": true}`)
	for name, data := range files {
		write(filepath.Join(root, name), data)
	}
	for name, target := range links {
		target = strings.NewReplacer("ROOT", root, "OUTSIDE", outside).Replace(target)
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestDirFS_load(t *testing.T) {
	root := tree(t,
		map[string]string{
			"in/run-config/x.json":                 `{"x": 1}`,
			"in/shared/s.json":                     `{"s": 1}`,
			"abs/run-config/x.json":                `{"x": 1}`,
			"..2024_01_01/cm/run-config/cm.json":   `{"cm": 1}`,
			"sibling/run-config/b.json":            `{}`,
			"leak/run-config/ok.json":              `{}`,
			"far/run-config/ok.json":               `{}`,
			"viadir/profile.yaml":                  "steps: [{configs: {dir: rc}}]\n",
			"viadir/unused.txt":                    "",
			"absout/run-config/ok.json":            `{}`,
			"loop/run-config/ok.json":              `{}`,
			"..2024_01_01/cm/patterns/ignored.txt": ``,
		},
		map[string]string{
			"in/run-config/inside.json":  "../shared/s.json",
			"abs/run-config/abs.json":    "ROOT/abs/run-config/x.json",
			"..data":                     "..2024_01_01",
			"cm":                         "..data/cm",
			"leak/run-config/leak.json":  "../../sibling/run-config/b.json",
			"far/run-config/far.json":    "../../../outside/secret.json",
			"viadir/rc":                  "../sibling/run-config",
			"absout/run-config/abs.json": "OUTSIDE/secret.json",
			"outprofile":                 "OUTSIDE",
			"loop/run-config/l1.json":    "l2.json",
			"loop/run-config/l2.json":    "l1.json",
		})
	fsys := profiles.DirFS(root)

	tests := []struct {
		name    string
		configs []string // names of the configs loaded, when valid
		want    []string // problems
	}{
		{name: "in", configs: []string{"inside", "x"}},
		{name: "abs", configs: []string{"abs", "x"}},
		{name: "cm", configs: []string{"cm"}},
		{name: "leak", want: []string{"leak/run-config/leak.json: symbolic link leads outside the profile directory"}},
		{name: "far", want: []string{"far/run-config/far.json: symbolic link leads outside the profile directory"}},
		{name: "viadir", want: []string{"viadir/profile.yaml:1:25: steps[0].configs.dir: rc: symbolic link leads outside the profile directory"}},
		{name: "absout", want: []string{"absout/run-config/abs.json: symbolic link leads outside the profile directory"}},
		{name: "outprofile", want: []string{"outprofile: symbolic link leads outside the profile directory"}},
		{name: "loop", want: []string{"loop/run-config/l1.json: too many levels of symbolic links", "loop/run-config/l2.json: too many levels of symbolic links"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := profiles.Load(fsys, []string{tt.name})
			if tt.want != nil {
				if !errors.Is(err, profiles.ErrInvalid) {
					t.Fatalf("Load = %v; want ErrInvalid", err)
				}
				if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tt.want) {
					t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			var names []string
			for _, it := range set.Get(tt.name).Steps[0].Configs.Items {
				names = append(names, it.Name)
			}
			if !slices.Equal(names, tt.configs) {
				t.Errorf("configs = %q, want %q", names, tt.configs)
			}
		})
	}
}

func TestDirFS_refuses(t *testing.T) {
	root := tree(t,
		map[string]string{"a/x.json": `{"x": 1}`, "b/y.json": `{}`},
		map[string]string{
			"a/in.json":   "x.json",
			"a/leak.json": "../b/y.json",
			"a/out.json":  "../../outside/secret.json",
			"a/abs.json":  "OUTSIDE/secret.json",
			"c":           "OUTSIDE",
		})
	if err := syscall.Mkfifo(filepath.Join(root, "a", "pipe.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	fsys := profiles.DirFS(root)

	tests := []struct {
		name string
		path string
		want error // nil: readable
	}{
		{name: "regular_file", path: "a/x.json"},
		{name: "link_inside_the_profile", path: "a/in.json"},
		{name: "link_to_another_profile", path: "a/leak.json", want: profiles.ErrEscape},
		{name: "link_out_of_the_root", path: "a/out.json", want: profiles.ErrEscape},
		{name: "absolute_link_out_of_the_root", path: "a/abs.json", want: profiles.ErrEscape},
		{name: "profile_link_out_of_the_root", path: "c/secret.json", want: profiles.ErrEscape},
		{name: "fifo", path: "a/pipe.json", want: profiles.ErrNotRegular},
		{name: "dotdot", path: "a/../b/y.json", want: fs.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := fs.ReadFile(fsys, tt.path)
			if tt.want == nil {
				if err != nil || len(data) == 0 {
					t.Fatalf("ReadFile(%s) = %q, %v", tt.path, data, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("ReadFile(%s) error = %v, want %v", tt.path, err, tt.want)
			}
			var pe *fs.PathError
			if !errors.As(err, &pe) || pe.Path != tt.path {
				t.Errorf("error %v is not a PathError naming %s", err, tt.path)
			}
			if f, err := fsys.Open(tt.path); !errors.Is(err, tt.want) {
				if f != nil {
					f.Close()
				}
				t.Errorf("Open(%s) error = %v, want %v", tt.path, err, tt.want)
			}
		})
	}

	entries, err := fs.ReadDir(fsys, "a")
	if err != nil {
		t.Fatalf("ReadDir(a): %v", err)
	}
	if got, want := len(entries), 6; got != want {
		t.Errorf("ReadDir(a) = %d entries, want %d", got, want)
	}
	if _, err := fs.Stat(fsys, "c"); !errors.Is(err, profiles.ErrEscape) {
		t.Errorf("Stat(c) error = %v, want ErrEscape", err)
	}
	fi, err := fs.Lstat(fsys, "a/leak.json")
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("Lstat(a/leak.json) = %v, %v; want the link itself", fi, err)
	}
}
