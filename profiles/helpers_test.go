package profiles_test

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/srvthreds/bootstrap/profiles"
)

// mapFS returns a file system of the given files (path -> content).
func mapFS(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	return fsys
}

// mustLoad loads names from fsys and fails the test on any error.
func mustLoad(t *testing.T, fsys fstest.MapFS, names ...string) *profiles.Set {
	t.Helper()
	set, err := profiles.Load(fsys, names)
	if err != nil {
		t.Fatalf("Load(%q): %v", names, err)
	}
	return set
}

// problems loads names from fsys, which must be invalid, and returns the
// rendered problems, one per line.
func problems(t *testing.T, fsys fstest.MapFS, names ...string) []string {
	t.Helper()
	set, err := profiles.Load(fsys, names)
	if err == nil {
		t.Fatalf("Load(%q) = %d profiles, nil error; want an invalid profile", names, len(set.Profiles))
	}
	if !errors.Is(err, profiles.ErrInvalid) {
		t.Fatalf("Load(%q) error %v does not match ErrInvalid", names, err)
	}
	var ve *profiles.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Load(%q) error %T is not a *ValidationError", names, err)
	}
	if set != nil {
		t.Errorf("Load(%q) returned a set with its error", names)
	}
	return strings.Split(err.Error(), "\n")
}

// profileNames returns the names of the profiles of set, in order.
func profileNames(set *profiles.Set) []string {
	var out []string
	for _, p := range set.Profiles {
		out = append(out, p.Name)
	}
	return out
}
