package profiles

import (
	"fmt"
	"io/fs"
	"strings"
)

// The srvthreds form is today's run-profiles/<name>/: run-config/ and/or
// patterns/ beside a Handler.ts, and no profile.yaml.
const (
	srvthredsConfigs  = "run-config"
	srvthredsPatterns = "patterns"
)

// parseSrvthreds loads a profile directory without a manifest: steps
// [configs {dir: run-config}, patterns {dir: patterns}] on database "nr",
// each only when its directory exists. TypeScript files are ignored with a
// warning.
func (l *loader) parseSrvthreds(src *source) {
	c, p := src.ctx, src.p
	p.Form = FormSrvthreds
	p.Database = DefaultDatabase
	entries, err := fs.ReadDir(l.fsys, src.dir)
	if err != nil {
		c.at(0, 0, "", "read the profile directory: %v", err)
		return
	}
	var hasConfigs, hasPatterns bool
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == srvthredsConfigs || name == srvthredsPatterns:
			fi, _, err := l.stat(src, name)
			if err != nil {
				c.at(0, 0, "", "%s: %v", name, err)
				continue
			}
			if !fi.IsDir() {
				c.at(0, 0, "", "%s: not a directory", name)
				continue
			}
			hasConfigs = hasConfigs || name == srvthredsConfigs
			hasPatterns = hasPatterns || name == srvthredsPatterns
		case strings.HasSuffix(name, ".ts"):
			p.Warnings = append(p.Warnings, fmt.Sprintf(
				"%s is ignored: TypeScript is not run; create users with a users step (profile.yaml: steps: [{users: {file: users.yaml}}])", name))
		case name == "profile.yml" || name == "profile.json":
			c.at(0, 0, "", "found %s; the manifest must be named %s", name, manifestFile)
			return
		}
	}
	if !hasConfigs && !hasPatterns {
		c.at(0, 0, "", "not a profile: no %s, %s/ or %s/", manifestFile, srvthredsConfigs, srvthredsPatterns)
		return
	}
	dirRef := ref{c: c}
	var manifest strings.Builder
	manifest.WriteString("# srvthreds form\ndatabase: " + DefaultDatabase + "\nsteps:\n")
	if hasConfigs {
		p.Steps = append(p.Steps, Step{
			Kind:     KindConfigs,
			Index:    len(p.Steps),
			Database: DefaultDatabase,
			Configs:  l.loadConfigs(src, srvthredsConfigs, dirRef),
		})
		manifest.WriteString("  - configs: {dir: " + srvthredsConfigs + "}\n")
	}
	if hasPatterns {
		p.Steps = append(p.Steps, Step{
			Kind:     KindPatterns,
			Index:    len(p.Steps),
			Database: DefaultDatabase,
			Patterns: l.loadPatterns(src, srvthredsPatterns, dirRef),
		})
		manifest.WriteString("  - patterns: {dir: " + srvthredsPatterns + "}\n")
	}
	src.manifest = []byte(manifest.String())
}
