package profiles

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	units "github.com/docker/go-units"

	"github.com/srvthreds/bootstrap/internal/jsbson"
)

// Defaults of Limits. They keep the validation of a profile at the limits
// well under the 128Mi memory limit of the Job (see docs/limits.md).
const (
	// DefaultMaxFileSize bounds each JSON file (and a body file) a profile
	// reads: 8 MiB.
	DefaultMaxFileSize = 8 << 20
	// DefaultMaxYAMLSize bounds each YAML file (profile.yaml, users and redis
	// files): 256 KiB. A YAML file takes up to 100 times its size in memory
	// while it is decoded.
	DefaultMaxYAMLSize = 256 << 10
	// DefaultMaxProfileSize bounds the sum of the files one profile reads:
	// 16 MiB.
	DefaultMaxProfileSize = 16 << 20
	// DefaultMaxDocuments bounds the items one profile writes (configs,
	// patterns, documents, users and Redis keys): 100,000.
	DefaultMaxDocuments = 100_000
	// DefaultMaxProblems is how many problems a ValidationError lists; the
	// others are counted ("and N more").
	DefaultMaxProblems = 50
	// MaxDepth is the deepest nesting of a document, MongoDB's own limit:
	// a stored document is level 1 and each object or array in it adds one.
	MaxDepth = jsbson.MaxDepth
)

// Limits bound what loading reads and reports. A zero (or
// negative) field means its default; a profile over a limit is invalid
// (ErrInvalid), with the limit named in the problem.
type Limits struct {
	MaxFileSize    int64 // bytes of one JSON or body file; default DefaultMaxFileSize
	MaxYAMLSize    int64 // bytes of one YAML file; default DefaultMaxYAMLSize
	MaxProfileSize int64 // bytes of all the files of one profile; default DefaultMaxProfileSize
	MaxDocuments   int   // items one profile writes; default DefaultMaxDocuments
	MaxDepth       int   // nesting of a document; default and at most MaxDepth (100)
	MaxProblems    int   // problems listed; default DefaultMaxProblems
}

// withDefaults returns l with its zero fields set to the defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = DefaultMaxFileSize
	}
	if l.MaxYAMLSize <= 0 {
		l.MaxYAMLSize = DefaultMaxYAMLSize
	}
	if l.MaxProfileSize <= 0 {
		l.MaxProfileSize = DefaultMaxProfileSize
	}
	if l.MaxDocuments <= 0 {
		l.MaxDocuments = DefaultMaxDocuments
	}
	if l.MaxDepth <= 0 || l.MaxDepth > MaxDepth {
		l.MaxDepth = MaxDepth
	}
	if l.MaxProblems <= 0 {
		l.MaxProblems = DefaultMaxProblems
	}
	return l
}

// Options tune LoadWith and LoadAllWith. A nil *Options, like the zero
// value, means the default limits and no omitted keys.
type Options struct {
	Limits Limits
	// OmitKeys are object keys left out, with their values and at any depth,
	// of the configs, patterns and documents of every profile (the
	// --omit-keys flag; blanks around a key are trimmed, empty ones
	// dropped). Those that a profile contains are part of its version. A
	// step's omitKeys: adds to them for that step.
	OmitKeys []string
}

// LoadWith is Load with options.
func LoadWith(fsys fs.FS, names []string, opts *Options) (*Set, error) {
	return load(fsys, splitNames(names), opts)
}

// LoadAllWith is LoadAll with options.
func LoadAllWith(fsys fs.FS, opts *Options) (*Set, error) {
	return loadAll(fsys, opts)
}

// sizeName names a number of bytes for messages: "8 MiB", "1.5 KiB", "12 bytes".
func sizeName(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// isYAML reports whether rel is read as YAML.
func isYAML(rel string) bool {
	ext := strings.ToLower(path.Ext(rel))
	return ext == ".yaml" || ext == ".yml"
}

// sizeLimit returns the limit of one file and the flag that sets it.
func (l *loader) sizeLimit(rel string) (int64, string) {
	if isYAML(rel) {
		return l.limits.MaxYAMLSize, "--max-yaml-size"
	}
	return l.limits.MaxFileSize, "--max-file-size"
}

// readLimited reads the regular file resolved (rel in messages) of size
// size, as stat reported it, without reading more than the limits allow:
// the file's own and what is left of its profile's.
func (l *loader) readLimited(src *source, rel, resolved string, size int64) ([]byte, error) {
	limit, flag := l.sizeLimit(rel)
	if size > limit {
		return nil, fmt.Errorf("%s is over the file size limit of %s (%s)", sizeName(size), sizeName(limit), flag)
	}
	left := l.limits.MaxProfileSize - src.size
	if size > left {
		return nil, fmt.Errorf("the profile's files are over its size limit of %s (--max-profile-size)",
			sizeName(l.limits.MaxProfileSize))
	}
	f, err := l.fsys.Open(resolved)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := readAtMost(f, size, min(limit, left))
	if err != nil {
		return nil, err
	}
	src.size += int64(len(data))
	return data, nil
}

// readAtMost reads r, of the given size as stat reported it, into a slice
// of that capacity (io.ReadAll would leave up to twice as much behind), and
// refuses more than max bytes.
func readAtMost(r io.Reader, size, most int64) ([]byte, error) {
	buf := make([]byte, size+1)
	n, err := io.ReadFull(r, buf)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return buf[:n:n], nil
	case err != nil:
		return nil, err
	}
	// It grew since stat.
	rest, err := io.ReadAll(io.LimitReader(r, most-int64(n)+1))
	if err != nil {
		return nil, err
	}
	if data := append(buf, rest...); int64(len(data)) <= most {
		return data, nil
	}
	return nil, fmt.Errorf("grew over the size limit of %s while read", sizeName(most))
}

// countItem counts one more item that profile src writes, and reports the
// first one over the limit, at line:col of file fc. It returns false when
// the item is over the limit.
func (l *loader) countItem(src *source, fc *fileCtx, line, col int, field string) bool {
	src.items++
	if src.items <= l.limits.MaxDocuments {
		return true
	}
	if src.items == l.limits.MaxDocuments+1 {
		fc.at(line, col, field, "the profile has more than %d documents, its limit (--max-documents)", l.limits.MaxDocuments)
	}
	return false
}

// ByteSize is a number of bytes written as "8MiB", "256KiB", "16m" or
// "1048576" (binary units, as docker/go-units' RAMInBytes reads them), for
// the size flags: it implements encoding.TextUnmarshaler.
type ByteSize int64

// UnmarshalText parses a size; it must be positive.
func (b *ByteSize) UnmarshalText(text []byte) error {
	n, err := units.RAMInBytes(string(text))
	switch {
	case err != nil:
		return fmt.Errorf("invalid size %q: want e.g. 8MiB, 256KiB or a number of bytes", text)
	case n <= 0:
		return fmt.Errorf("invalid size %q: must be positive", text)
	}
	*b = ByteSize(n)
	return nil
}

// String renders the size as "8 MiB", which UnmarshalText reads back.
func (b ByteSize) String() string { return sizeName(int64(b)) }
