package profiles

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Set is a loaded and validated set of profiles: those requested and
// everything they require. A Set is not modified after Load returns it and
// is safe for concurrent reads.
type Set struct {
	// Profiles are in apply order: each after the profiles it requires; ties
	// broken by the order in which the profiles were requested (a required
	// profile ranks with the first profile that needs it), then by name.
	Profiles []*Profile

	requested []string
}

// Get returns the profile named name, or nil.
func (s *Set) Get(name string) *Profile {
	for _, p := range s.Profiles {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Requested returns the names that were asked for, commas split and
// duplicates dropped, in command-line order (for LoadAll, every profile by
// name). The profiles they require are not included.
func (s *Set) Requested() []string { return slices.Clone(s.requested) }

// Load loads the profiles named by names from fsys, whose root is the
// profiles directory (a profile is the directory <name>/), and everything
// they require, transitively. An entry of names may hold several names
// separated by commas ("a,b"); duplicates collapse.
//
// Every profile is validated before Load returns: on any
// problem it returns a *ValidationError listing all of them, which matches
// ErrInvalid, and no Set. With no names it returns an empty Set.
//
// When fsys implements fs.ReadLinkFS (os.DirFS, DirFS, fstest.MapFS), the
// symbolic links of every path a profile reads are resolved and a link
// leading out of the profile directory is a problem; use DirFS for a
// directory on disk so that nothing else can follow such a link either.
func Load(fsys fs.FS, names []string) (*Set, error) {
	return load(fsys, splitNames(names), nil)
}

// LoadAll loads every profile of fsys, as Load does: each directory at its
// root except those whose names start with "." or "_", and "testdata".
// Files at the root (such as Go sources or a README) are skipped. An
// unreadable profiles directory is a problem of the returned
// *ValidationError, as it is for Load.
func LoadAll(fsys fs.FS) (*Set, error) { return loadAll(fsys, nil) }

func loadAll(fsys fs.FS, opts *Options) (*Set, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		var ps problems
		ps.add(Problem{Msg: fmt.Sprintf("read the profiles directory: %v", err)})
		return nil, ps.err()
	}
	var names []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" {
			continue
		}
		if e.Type()&fs.ModeSymlink != 0 {
			if fi, err := fs.Stat(fsys, name); err != nil || !fi.IsDir() {
				continue
			}
		} else if !e.IsDir() {
			continue
		}
		names = append(names, name)
	}
	return load(fsys, names, opts)
}

// splitNames splits the comma-separated entries of names and drops empty
// and repeated names, keeping the first occurrence's place.
func splitNames(names []string) []string {
	var out []string
	for _, entry := range names {
		for n := range strings.SplitSeq(entry, ",") {
			n = strings.TrimSpace(n)
			if n != "" && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// loader holds the state of one Load.
type loader struct {
	limits Limits   // with defaults
	omit   []string // Options.OmitKeys
	// stepOmit is the omitKeys: of the step being loaded.
	stepOmit []string
	fsys     fs.FS
	links    fs.ReadLinkFS // nil when fsys cannot report symbolic links
	probs    problems
	srcs     map[string]*source // profiles found, by name
	missing  map[string]bool    // names without a directory
}

// source is a profile being loaded, with what its version is computed from.
type source struct {
	p        *Profile
	dir      string            // the profile directory in fsys, its symbolic links resolved
	ctx      *fileCtx          // problems about the manifest (or the directory, in srvthreds form)
	manifest []byte            // profile.yaml, or the synthetic manifest of a srvthreds profile
	files    map[string][]byte // what the steps read, by path relative to the profile directory
	reqs     []reqRef          // where each required profile is named
	size     int64             // bytes read so far
	items    int               // items its steps write so far
	omitted  []string          // keys of the loader's omit list found in the profile
}

// reqRef is a required profile and where the manifest names it.
type reqRef struct {
	name string
	at   ref
}

// fileCtx returns the context for problems about the file rel of the
// profile.
func (s *source) fileCtx(rel string) *fileCtx {
	return &fileCtx{probs: s.ctx.probs, profile: s.p.Name, file: path.Join(s.p.Name, rel)}
}

func load(fsys fs.FS, requested []string, opts *Options) (*Set, error) {
	l := &loader{fsys: fsys, srcs: map[string]*source{}, missing: map[string]bool{}}
	if opts != nil {
		l.limits = opts.Limits
		for _, k := range opts.OmitKeys {
			if k = strings.TrimSpace(k); k != "" && !slices.Contains(l.omit, k) {
				l.omit = append(l.omit, k)
			}
		}
	}
	l.limits = l.limits.withDefaults()
	l.probs.limit = l.limits.MaxProblems
	l.links, _ = fsys.(fs.ReadLinkFS)
	if _, err := fs.Stat(fsys, "."); err != nil {
		l.probs.add(Problem{Msg: fmt.Sprintf("read the profiles directory: %v", err)})
		return nil, l.probs.err()
	}
	var queue, valid []string
	for _, name := range requested {
		if msg := checkName(name); msg != "" {
			l.probs.add(Problem{Profile: name, Msg: msg})
			continue
		}
		valid = append(valid, name)
	}
	queue = append(queue, valid...)
	for i := 0; i < len(queue); i++ {
		name := queue[i]
		if _, done := l.srcs[name]; done || l.missing[name] {
			continue
		}
		src, exists := l.loadProfile(name)
		if !exists {
			l.missing[name] = true
			continue
		}
		if src == nil {
			continue // a problem was reported
		}
		l.srcs[name] = src
		for _, r := range src.reqs {
			queue = append(queue, r.name)
		}
	}
	for _, name := range valid {
		if l.missing[name] {
			l.probs.add(Problem{Profile: name, Msg: fmt.Sprintf("no such profile: no directory %s/ in the profiles directory", name)})
		}
	}
	for _, src := range l.srcs {
		for _, r := range src.reqs {
			if l.missing[r.name] {
				r.at.report("unknown profile %q: no directory %s/ in the profiles directory", r.name, r.name)
			}
		}
	}
	ordered := l.order(valid)
	if err := l.probs.err(); err != nil {
		return nil, err
	}
	for _, src := range ordered {
		src.p.Version = l.version(src)
		src.p.HashAlgo = HashAlgo
	}
	set := &Set{requested: valid, Profiles: make([]*Profile, len(ordered))}
	for i, src := range ordered {
		set.Profiles[i] = src.p
	}
	return set, nil
}

// loadProfile loads the profile directory name. exists is false when there
// is no such directory; src is nil when there is one but it cannot be read
// at all (the problem is reported).
func (l *loader) loadProfile(name string) (src *source, exists bool) {
	c := &fileCtx{probs: &l.probs, profile: name, file: name}
	dir := name
	if l.links != nil {
		resolved, err := resolveLinks(l.links, name)
		if err != nil {
			c.at(0, 0, "", "%v", err)
			return nil, true
		}
		dir = resolved
	}
	fi, err := fs.Stat(l.fsys, dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, false
	case err != nil:
		c.at(0, 0, "", "%v", err)
		return nil, true
	case !fi.IsDir():
		c.at(0, 0, "", "not a directory")
		return nil, true
	}
	src = &source{
		p:     &Profile{Name: name, Database: DefaultDatabase},
		dir:   dir,
		ctx:   c,
		files: map[string][]byte{},
	}
	data, err := l.read(src, manifestFile)
	switch {
	case err == nil:
		src.ctx = src.fileCtx(manifestFile)
		src.manifest = data
		l.parseManifest(src, data)
	case errors.Is(err, fs.ErrNotExist):
		l.parseSrvthreds(src)
	default:
		src.fileCtx(manifestFile).at(0, 0, "", "%v", err)
	}
	return src, true
}
