package main

import (
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/agnivade/levenshtein"

	"github.com/srvthreds/bootstrap/profiles"
)

// profileShape says what the profiles directory must hold, for errors about
// a directory that holds none.
const profileShape = "a profile is a sub-directory NAME/ holding a profile.yaml, or srvthreds' run-config/, " +
	"patterns/ and Handler.ts, as in examples/profiles"

// profileNames lists the profiles of the directory dir as profiles.LoadAll
// finds them: its sub-directories (or links to one) whose names start with
// neither "." nor "_", except testdata. They are sorted.
func profileNames(dir string) ([]string, error) {
	fsys := os.DirFS(dir)
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") || n == "testdata" {
			continue
		}
		if fi, err := fs.Stat(fsys, n); err == nil && fi.IsDir() {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names, nil
}

// errNoProfiles is a profiles directory that holds no profile: a usage
// error (the wrong directory, such as a Go package named profiles).
func errNoProfiles(dir string) error {
	return usageError{fmt.Errorf("profiles dir %s holds no profile: %s; name the directory with --profiles-dir or BOOTSTRAP_PROFILES_DIR",
		dir, profileShape)}
}

// checkNamed returns, when a name of want is not a profile of available, an
// error that matches profiles.ErrInvalid (as the loader's own does), naming
// each unknown profile, the closest available names and every available one.
func checkNamed(want, available []string) error {
	var ps []profiles.Problem
	for _, n := range want {
		if n == "" || slices.Contains(available, n) {
			continue
		}
		msg := "no such profile"
		if near := closest(n, available); len(near) > 0 {
			msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(near, " or "))
		}
		if len(available) == 0 {
			msg += " (it holds no profile: " + profileShape + ")"
		} else {
			msg += "; available: " + strings.Join(available, ", ")
		}
		ps = append(ps, profiles.Problem{Profile: n, Msg: msg})
	}
	if len(ps) == 0 {
		return nil
	}
	return &profiles.ValidationError{Problems: ps}
}

// closest returns the names of candidates at the smallest edit distance
// from name, when that distance is small for the name's length (at most a
// third of it, and 3); a candidate that starts with name counts as one
// edit away.
func closest(name string, candidates []string) []string {
	limit := min(3, max(1, len(name)/3))
	best, out := limit+1, []string(nil)
	for _, c := range candidates {
		d := levenshtein.ComputeDistance(name, c)
		if strings.HasPrefix(c, name) {
			d = min(d, 1)
		}
		switch {
		case d < best:
			best, out = d, []string{c}
		case d == best:
			out = append(out, c)
		}
	}
	return out
}

// loadProfiles loads the profiles named (every profile of dir when none
// is): an unknown name is refused with the closest names and the list of
// profiles, and a directory without any profile is a usage error.
func loadProfiles(dir string, names []string, opts *profiles.Options) (*profiles.Set, error) {
	available, err := profileNames(dir)
	if err != nil {
		return nil, usageError{fmt.Errorf("profiles dir %s: %w", dir, err)}
	}
	if len(available) == 0 {
		return nil, errNoProfiles(dir)
	}
	if err := checkNamed(splitNames(names), available); err != nil {
		return nil, fmt.Errorf("profiles in %s: %w", dir, err)
	}
	fsys := profiles.DirFS(dir)
	var set *profiles.Set
	if len(names) == 0 {
		set, err = profiles.LoadAllWith(fsys, opts)
	} else {
		set, err = profiles.LoadWith(fsys, names, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("profiles in %s: %w", dir, err)
	}
	return set, nil
}

// splitNames splits the entries of names at commas (-p a,b from a variable
// that kong did not split), dropping empty ones.
func splitNames(names []string) []string {
	var out []string
	for _, n := range names {
		for part := range strings.SplitSeq(n, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}
