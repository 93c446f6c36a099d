package profiles

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// ErrEscape is returned (wrapped in an *fs.PathError) by the file system of
// DirFS for a path whose symbolic links lead out of its profile directory
// or out of the profiles directory.
var ErrEscape = errors.New("symbolic link leads outside the profile directory")

// ErrNotRegular is returned (wrapped in an *fs.PathError) by the file
// system of DirFS when asked to open something that is neither a regular
// file nor a directory (a device, a FIFO, a socket).
var ErrNotRegular = errors.New("not a regular file")

// maxLinks bounds the symbolic links followed in one path, as the kernel
// does (ELOOP).
const maxLinks = 40

// DirFS returns the profiles directory dir as an fs.FS for Load and LoadAll.
//
// It is os.DirFS(dir) with two refusals: a path whose symbolic links lead
// out of dir, or, below a profile directory <name>/, out of that profile
// directory, fails with ErrEscape; and a path that is neither a regular file
// nor a directory fails with ErrNotRegular (opening a FIFO would block).
// A profile directory itself may be a symbolic link within dir, as in a
// Kubernetes ConfigMap volume (name -> ..data/name). Absolute link targets
// are accepted when they lead inside dir.
//
// The returned value implements fs.StatFS, fs.ReadFileFS, fs.ReadDirFS and
// fs.ReadLinkFS, and is safe for concurrent use.
func DirFS(dir string) fs.FS {
	return dirFS{root: dir, os: os.DirFS(dir).(fs.ReadLinkFS)}
}

type dirFS struct {
	root string
	os   fs.ReadLinkFS
}

var (
	_ fs.StatFS     = dirFS{}
	_ fs.ReadFileFS = dirFS{}
	_ fs.ReadDirFS  = dirFS{}
	_ fs.ReadLinkFS = dirFS{}
)

// Open opens name after checking its symbolic links and its type.
func (d dirFS) Open(name string) (fs.File, error) {
	resolved, err := d.checked("open", name)
	if err != nil {
		return nil, err
	}
	return d.os.Open(resolved)
}

// ReadFile reads name after checking its symbolic links and its type.
func (d dirFS) ReadFile(name string) ([]byte, error) {
	resolved, err := d.checked("readfile", name)
	if err != nil {
		return nil, err
	}
	return fs.ReadFile(d.os, resolved)
}

// ReadDir lists name after checking its symbolic links.
func (d dirFS) ReadDir(name string) ([]fs.DirEntry, error) {
	resolved, err := d.confine("readdir", name)
	if err != nil {
		return nil, err
	}
	return fs.ReadDir(d.os, resolved)
}

// Stat describes name after checking its symbolic links.
func (d dirFS) Stat(name string) (fs.FileInfo, error) {
	resolved, err := d.confine("stat", name)
	if err != nil {
		return nil, err
	}
	return fs.Stat(d.os, resolved)
}

// Lstat describes name without following a final symbolic link; the links
// of its parent directories are checked.
func (d dirFS) Lstat(name string) (fs.FileInfo, error) {
	resolved, err := d.confineParent("lstat", name)
	if err != nil {
		return nil, err
	}
	return d.os.Lstat(resolved)
}

// ReadLink returns the target of the symbolic link name, its parent
// directories checked. An absolute target inside the profiles directory is
// returned relative to the link's directory, so that it can be resolved
// within the file system.
func (d dirFS) ReadLink(name string) (string, error) {
	resolved, err := d.confineParent("readlink", name)
	if err != nil {
		return "", err
	}
	return rawFS{d}.ReadLink(resolved)
}

// rawFS reads the links of a dirFS without checking them, for resolveLinks.
type rawFS struct{ d dirFS }

func (r rawFS) Open(name string) (fs.File, error)      { return r.d.os.Open(name) }
func (r rawFS) Lstat(name string) (fs.FileInfo, error) { return r.d.os.Lstat(name) }
func (r rawFS) ReadLink(name string) (target string, err error) {
	target, err = r.d.os.ReadLink(name)
	if err != nil || !filepath.IsAbs(target) {
		return target, err
	}
	rel, ok := r.d.inside(target)
	if !ok {
		return target, nil // resolveLinks refuses it
	}
	up := ""
	if dir := path.Dir(name); dir != "." {
		up = strings.Repeat("../", strings.Count(dir, "/")+1)
	}
	return up + rel, nil
}

// inside returns the absolute path target relative to the root, if it is
// inside it.
func (d dirFS) inside(target string) (string, bool) {
	var roots []string
	if abs, err := filepath.Abs(d.root); err == nil {
		roots = append(roots, abs)
	}
	if ev, err := filepath.EvalSymlinks(d.root); err == nil {
		if abs, err := filepath.Abs(ev); err == nil {
			roots = append(roots, abs)
		}
	}
	for _, r := range roots {
		rel, err := filepath.Rel(r, filepath.Clean(target))
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			continue
		}
		return filepath.ToSlash(rel), true
	}
	return "", false
}

// checked confines name and refuses what is neither a regular file nor a
// directory.
func (d dirFS) checked(op, name string) (string, error) {
	resolved, err := d.confine(op, name)
	if err != nil {
		return "", err
	}
	fi, err := d.os.Lstat(resolved)
	if err != nil {
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			err = pe.Err
		}
		return "", &fs.PathError{Op: op, Path: name, Err: err}
	}
	if !fi.Mode().IsRegular() && !fi.IsDir() {
		return "", &fs.PathError{Op: op, Path: name, Err: ErrNotRegular}
	}
	return resolved, nil
}

// confine resolves the symbolic links of name and checks that they stay in
// the root and, below a profile directory, in that profile directory.
func (d dirFS) confine(op, name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	resolved, err := resolveLinks(rawFS{d}, name)
	if err != nil {
		return "", &fs.PathError{Op: op, Path: name, Err: err}
	}
	first, rest, _ := strings.Cut(name, "/")
	if name == "." || rest == "" {
		return resolved, nil
	}
	prof, err := resolveLinks(rawFS{d}, first)
	if err != nil {
		return "", &fs.PathError{Op: op, Path: name, Err: err}
	}
	if !within(resolved, prof) {
		return "", &fs.PathError{Op: op, Path: name, Err: ErrEscape}
	}
	return resolved, nil
}

// confineParent confines the directory of name and returns the path of name
// in the resolved directory, its last element not followed.
func (d dirFS) confineParent(op, name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return name, nil
	}
	dir, base := path.Split(name)
	if dir == "" {
		return name, nil
	}
	resolved, err := d.confine(op, strings.TrimSuffix(dir, "/"))
	if err != nil {
		return "", err
	}
	return path.Join(resolved, base), nil
}

// resolveLinks returns name, a valid fs path, with every symbolic link in
// it replaced by its target, lexically within fsys. It fails with ErrEscape
// when a link is absolute or climbs above the root of fsys. A path that does
// not exist is returned as resolved as far as it exists.
func resolveLinks(fsys fs.ReadLinkFS, name string) (string, error) {
	done := "."
	rest := strings.Split(name, "/")
	links := 0
	for len(rest) > 0 {
		elem := rest[0]
		rest = rest[1:]
		switch elem {
		case "", ".":
			continue
		case "..":
			if done == "." {
				return "", ErrEscape
			}
			done = path.Dir(done)
			continue
		}
		next := path.Join(done, elem)
		fi, err := fsys.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) && !slices.Contains(rest, "..") {
			return path.Join(append([]string{next}, rest...)...), nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = next
			continue
		}
		if links++; links > maxLinks {
			return "", errors.New("too many levels of symbolic links")
		}
		target, err := fsys.ReadLink(next)
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) || filepath.IsAbs(target) {
			return "", ErrEscape
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return done, nil
}

// within reports whether the path p is dir or below it; "." contains
// everything.
func within(p, dir string) bool {
	return dir == "." || p == dir || strings.HasPrefix(p, dir+"/")
}
