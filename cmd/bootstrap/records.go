package main

import (
	"fmt"
	"log/slog"
	"os"
	"slices"

	"github.com/srvthreds/bootstrap/profiles"
)

// defaultProfilesDir is the profiles directory of the commands that apply
// profiles, and the one that status and history read when it exists.
const defaultProfilesDir = "./profiles"

// recordFlags select what status and history show. They read records only:
// no profiles directory is needed, and profiles given to them only name
// what to show. With a directory (--profiles-dir, or ./profiles when it
// holds profiles), its profiles say the databases to read and the versions
// of this image; without one, the records stored in --database are shown.
type recordFlags struct {
	ProfilesDir string   `group:"profiles" help:"Directory of profiles whose versions are compared with the applied ones (default ./profiles when it holds profiles; without one, the records in --database are shown)." env:"BOOTSTRAP_PROFILES_DIR" placeholder:"DIR" predictor:"dir"`
	Profile     []string `group:"profiles" short:"p" help:"Profile to ${what} (repeat, or comma-separated; default: all)." env:"BOOTSTRAP_PROFILE" sep:"," placeholder:"NAME" predictor:"profile"`
	Database    string   `group:"profiles" help:"Database whose records are shown when there is no profiles directory." default:"nr" env:"BOOTSTRAP_AUDIT_DATABASE" placeholder:"DB"`
	// OmitKeys is run's, hidden here: status computes the versions of this
	// image as a run given the same environment does.
	OmitKeys []string `help:"Keys left out of every config, pattern and document (part of the version)." env:"BOOTSTRAP_OMIT_KEYS" sep:"," placeholder:"KEY" hidden:""`
}

// load returns the profiles to show, or nil when there is no profiles
// directory (then the records of --database, restricted to the profiles
// named, are shown). A directory that was named and does not exist is a
// usage error; ./profiles, the default, may be absent or hold no profile.
func (f *recordFlags) load(log *slog.Logger) (*profiles.Set, error) {
	dir := f.ProfilesDir
	if dir == "" {
		dir = defaultProfilesDir
		names, err := profileNames(dir)
		if err != nil || len(names) == 0 {
			log.Debug("no profiles directory: showing the records stored", "dir", dir, "database", f.Database)
			return nil, nil
		}
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, usageError{fmt.Errorf("profiles dir %q is not a directory", dir)}
	}
	if len(f.Profile) > 0 {
		return f.loadNamed(dir)
	}
	return loadProfiles(dir, nil, &profiles.Options{OmitKeys: f.OmitKeys})
}

// loadNamed loads the profiles named that dir holds; those it does not
// hold are shown from their records in --database.
func (f *recordFlags) loadNamed(dir string) (*profiles.Set, error) {
	available, err := profileNames(dir)
	if err != nil {
		return nil, usageError{fmt.Errorf("profiles dir %s: %w", dir, err)}
	}
	var local []string
	for _, n := range splitNames(f.Profile) {
		if slices.Contains(available, n) {
			local = append(local, n)
		}
	}
	if len(local) == 0 {
		return nil, nil
	}
	set, err := loadProfiles(dir, local, &profiles.Options{OmitKeys: f.OmitKeys})
	if err != nil {
		return nil, err
	}
	return set, nil
}

// names are the profiles named with -p.
func (f *recordFlags) names() []string { return splitNames(f.Profile) }

// missing are the names of -p that set does not hold (all of them when set
// is nil).
func (f *recordFlags) missing(set *profiles.Set) []string {
	var out []string
	for _, n := range f.names() {
		if set == nil || set.Get(n) == nil {
			out = append(out, n)
		}
	}
	return out
}
