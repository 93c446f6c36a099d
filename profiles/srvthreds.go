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
// each only when its directory exists, then the steps of what its
// Handler.ts run() does; its reset is the legacy one (legacyReset). Other
// TypeScript files are ignored with a warning.
func (l *loader) parseSrvthreds(src *source) {
	c, p := src.ctx, src.p
	p.Form = FormSrvthreds
	p.Database = DefaultDatabase
	entries, err := fs.ReadDir(l.fsys, src.dir)
	if err != nil {
		c.at(0, 0, "", "read the profile directory: %v", err)
		return
	}
	var hasConfigs, hasPatterns, hasHandler bool
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
		case name == handlerFile:
			hasHandler = true
		case strings.HasSuffix(name, ".ts"):
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s is ignored: of the TypeScript files only %s is read", name, handlerFile))
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
	var cleanup []string
	if hasHandler {
		var steps []Step
		steps, cleanup = l.loadHandler(src)
		for _, s := range steps {
			s.Index = len(p.Steps)
			p.Steps = append(p.Steps, s)
		}
		manifest.WriteString("  - handler: {file: " + handlerFile + "}\n")
	}
	p.Reset = legacyReset(DefaultDatabase, cleanup)
	fmt.Fprintf(&manifest, "reset: {databases: [%s], redisAll: true}\n", strings.Join(p.Reset.DropDatabases, ", "))
	src.manifest = []byte(manifest.String())
}
