package profiles

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// manifestFile is the name of the manifest of a profile.
const manifestFile = "profile.yaml"

// ref is where a manifest names something (a file, a directory, a required
// profile), for problems about it.
type ref struct {
	c         *fileCtx
	field     string
	line, col int
}

// report reports a problem at the reference.
func (r ref) report(format string, args ...any) {
	r.c.at(r.line, r.col, r.field, format, args...)
}

// ref returns the reference to key's value.
func (m ymap) ref(key string) ref {
	line, col := m.pos(key)
	return ref{c: m.c, field: m.sub(key), line: line, col: col}
}

// resolve returns the path in fsys of rel, a clean path relative to the
// profile directory, after checking that its symbolic links stay inside the
// profile directory.
func (l *loader) resolve(src *source, rel string) (string, error) {
	full := path.Join(src.dir, rel)
	if l.links == nil {
		return full, nil
	}
	resolved, err := resolveLinks(l.links, full)
	if err == nil && !within(resolved, src.dir) {
		err = ErrEscape
	}
	if err != nil {
		return "", err
	}
	return resolved, nil
}

// errMissing is a path that does not exist; it matches fs.ErrNotExist.
var errMissing error = missingError{}

type missingError struct{}

func (missingError) Error() string        { return "does not exist" }
func (missingError) Is(target error) bool { return target == fs.ErrNotExist }

// stat describes rel, following its (checked) symbolic links. The errors of
// resolve, stat and read do not name rel: the caller does, or reports them
// about rel itself.
func (l *loader) stat(src *source, rel string) (fs.FileInfo, string, error) {
	resolved, err := l.resolve(src, rel)
	if err != nil {
		return nil, "", err
	}
	fi, err := fs.Stat(l.fsys, resolved)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", errMissing
	}
	if err != nil {
		return nil, "", err
	}
	return fi, resolved, nil
}

// read reads the regular file rel of the profile directory. Its error
// matches fs.ErrNotExist when the file does not exist.
func (l *loader) read(src *source, rel string) ([]byte, error) {
	fi, resolved, err := l.stat(src, rel)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return nil, errors.New("is a directory; want a file")
		}
		return nil, ErrNotRegular
	}
	return l.readLimited(src, rel, resolved, fi.Size())
}

// readStep reads the file rel for a step and records it for the version.
func (l *loader) readStep(src *source, rel string) ([]byte, error) {
	data, err := l.read(src, rel)
	if err != nil {
		return nil, err
	}
	src.files[rel] = data
	return data, nil
}

// readNamed reads a file that the manifest names at r, reporting problems
// at r.
func (l *loader) readNamed(src *source, raw string, r ref) (rel string, data []byte, ok bool) {
	if raw == "" {
		return "", nil, false // reported as required
	}
	rel, err := cleanRel(raw)
	if err != nil {
		r.report("%v", err)
		return "", nil, false
	}
	data, err = l.readStep(src, rel)
	if err != nil {
		r.report("%s: %v", rel, err)
		return "", nil, false
	}
	return rel, data, true
}

// jsonFiles returns the paths (relative to the profile directory) of the
// *.json entries of the directory that the manifest names at r, sorted by
// name. Subdirectories and names starting with "." are skipped.
func (l *loader) jsonFiles(src *source, raw string, r ref) (dir string, files []string, ok bool) {
	if raw == "" {
		return "", nil, false // reported as required
	}
	dir, err := cleanRel(raw)
	if err != nil {
		r.report("%v", err)
		return "", nil, false
	}
	fi, resolved, err := l.stat(src, dir)
	if err != nil {
		r.report("%s: %v", dir, err)
		return "", nil, false
	}
	if !fi.IsDir() {
		r.report("%s: not a directory", dir)
		return "", nil, false
	}
	entries, err := fs.ReadDir(l.fsys, resolved)
	if err != nil {
		r.report("read %s: %v", dir, err)
		return "", nil, false
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".json") {
			continue
		}
		files = append(files, path.Join(dir, name))
	}
	if len(files) == 0 {
		src.p.Warnings = append(src.p.Warnings, fmt.Sprintf("%s/ has no .json files", dir))
	}
	return dir, files, true
}

// utf8BOM is stripped from the start of JSON files.
var utf8BOM = []byte("\xef\xbb\xbf")

// stripBOM returns data without a leading UTF-8 byte order mark.
func stripBOM(data []byte) []byte { return bytes.TrimPrefix(data, utf8BOM) }
