package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/srvthreds/bootstrap/profiles"
)

// convertCmd is `bootstrap convert`: it writes the manifest form of a
// srvthreds-form profile, Handler.ts included.
type convertCmd struct {
	ProfilesDir       string `group:"profiles" help:"Directory of profiles." default:"./profiles" env:"BOOTSTRAP_PROFILES_DIR" placeholder:"DIR" predictor:"dir"`
	Profile           string `group:"profiles" predictor:"profile" short:"p" required:"" help:"The srvthreds-form profile to convert." env:"BOOTSTRAP_PROFILE" placeholder:"NAME"`
	Out               string `help:"Directory to write, absent or empty (default ./NAME-manifest)." env:"BOOTSTRAP_CONVERT_OUT" placeholder:"DIR" predictor:"dir"`
	PasswordEnvPrefix string `help:"Write inline passwords as passwordFrom: {env: P_<ID>} instead of inline." env:"BOOTSTRAP_PASSWORD_ENV_PREFIX" placeholder:"P"`
}

// Run loads and validates the profile, writes its manifest form to the
// output directory, and loads that back to check it.
func (c *convertCmd) Run(log *slog.Logger, io *stdio) error {
	pf := profileFlags{ProfilesDir: c.ProfilesDir, Profile: []string{c.Profile}}
	set, err := pf.load(log, false)
	if err != nil {
		return err
	}
	p := set.Get(c.Profile)
	if p == nil || p.Form != profiles.FormSrvthreds {
		return usageError{fmt.Errorf("profile %s is not in srvthreds form (it has a profile.yaml)", c.Profile)}
	}
	conv, err := profiles.Convert(p, &profiles.ConvertOptions{PasswordEnvPrefix: c.PasswordEnvPrefix})
	if err != nil {
		return usageError{err}
	}
	out := c.Out
	if out == "" {
		out = c.Profile + "-manifest"
	}
	if err := writeConverted(out, conv.Files); err != nil {
		return err
	}
	for _, w := range conv.Warnings {
		fmt.Fprintln(io.Err, "warning:", w)
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	if _, err := profiles.Load(profiles.DirFS(filepath.Dir(abs)), []string{filepath.Base(abs)}); err != nil {
		return fmt.Errorf("the converted profile in %s does not load: %w", out, err)
	}
	fmt.Fprintf(io.Out, "wrote %d files to %s (%d steps)\n", len(conv.Files), out, len(p.Steps))
	return nil
}

// writeConverted writes files under dir, which must be absent or empty.
// Users files, which may hold passwords, are readable by the owner only.
func writeConverted(dir string, files map[string][]byte) error {
	entries, err := os.ReadDir(dir)
	switch {
	case err == nil && len(entries) > 0:
		return usageError{fmt.Errorf("output directory %s is not empty", dir)}
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return usageError{fmt.Errorf("output directory: %w", err)}
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(name, "users") {
			mode = 0o600
		}
		if err := os.WriteFile(path, files[name], mode); err != nil {
			return err
		}
	}
	return nil
}
