package profiles

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrInvalid is matched by every *ValidationError:
// errors.Is(err, ErrInvalid) tells an invalid profile (exit code 3) from an
// unexpected error.
var ErrInvalid = errors.New("profiles: invalid profile")

// Problem is one validation problem. Zero fields are unknown or do not
// apply.
type Problem struct {
	Profile string // the profile's name
	File    string // path relative to the profiles dir, e.g. "a/profile.yaml"
	Line    int    // 1-based
	Column  int    // 1-based
	Field   string // e.g. "steps[1].http.url", "meta.active", "users[0].password"
	Msg     string
}

// String renders the problem as "file:line:col: field: msg", omitting the
// parts that are zero. Without a file, the profile name stands in its place.
func (p Problem) String() string {
	var b strings.Builder
	loc := p.File
	if loc == "" {
		loc = p.Profile
	}
	b.WriteString(loc)
	if p.Line > 0 {
		b.WriteString(":" + strconv.Itoa(p.Line))
		if p.Column > 0 {
			b.WriteString(":" + strconv.Itoa(p.Column))
		}
	}
	for _, s := range []string{p.Field, p.Msg} {
		if s == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(s)
	}
	return b.String()
}

// ValidationError is every problem found while loading a profile set,
// sorted by profile, file, line and column: the first
// Limits.MaxProblems of them, More counting the others.
type ValidationError struct {
	Problems []Problem
	More     int // problems found beyond those listed
}

// Error renders one problem per line, then "and N more problems" when some
// are not listed.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems), len(e.Problems)+1)
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	if e.More > 0 {
		lines = append(lines, fmt.Sprintf("and %d more problems (--max-problems)", e.More))
	}
	return strings.Join(lines, "\n")
}

// Is reports whether target is ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// problems collects the problems of a load, keeping the first limit of
// them in sorted order (all when limit is 0) and counting the others, so
// that a file with millions of problems takes no more memory than one
// with a few.
type problems struct {
	list  []Problem
	limit int
	more  int
}

func (ps *problems) add(p Problem) {
	ps.list = append(ps.list, p)
	if ps.limit > 0 && len(ps.list) >= 4*ps.limit+64 {
		ps.list, ps.more = trimProblems(ps.list, ps.limit, ps.more)
	}
}

// trimProblems sorts and deduplicates list and keeps its first limit
// problems (all when limit is 0), adding the others to more.
func trimProblems(list []Problem, limit, more int) ([]Problem, int) {
	slices.SortFunc(list, func(a, b Problem) int {
		return cmp.Or(
			cmp.Compare(a.Profile, b.Profile),
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Field, b.Field),
			cmp.Compare(a.Msg, b.Msg),
		)
	})
	list = slices.Compact(list)
	if limit > 0 && len(list) > limit {
		more += len(list) - limit
		list = slices.Clip(list[:limit])
	}
	return list, more
}

// err returns nil or a *ValidationError of the sorted, deduplicated
// problems.
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	list, more := trimProblems(slices.Clone(ps.list), ps.limit, ps.more)
	return &ValidationError{Problems: list, More: more}
}

// fileCtx reports problems about one file of one profile.
type fileCtx struct {
	probs   *problems
	profile string
	file    string // relative to the profiles dir
}

// at reports a problem at a position of the file.
func (c *fileCtx) at(line, col int, field, format string, args ...any) {
	c.probs.add(Problem{
		Profile: c.profile,
		File:    c.file,
		Line:    line,
		Column:  col,
		Field:   field,
		Msg:     fmt.Sprintf(format, args...),
	})
}

// jsonErr reports a JSON decoding error of data with the line and column
// computed from the error's offset.
func (c *fileCtx) jsonErr(data []byte, field string, err error) {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		off := syn.Offset
		if !strings.HasPrefix(syn.Error(), "unexpected end") && off > 0 {
			off-- // the offending byte, not the one after it
		}
		line, col := lineCol(data, off)
		c.at(line, col, field, "malformed JSON: %s", syn.Error())
	case errors.As(err, &typ):
		off := typ.Offset
		if off > 0 {
			off--
		}
		line, col := lineCol(data, off)
		f := field
		if typ.Field != "" {
			f = joinField(field, typ.Field)
		}
		c.at(line, col, f, "JSON %s where %s was expected", typ.Value, jsonKind(typ.Type.String()))
	default:
		c.at(0, 0, field, "malformed JSON: %v", err)
	}
}

// jsonKind names a Go type the way a profile author knows it.
func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "map["), strings.HasPrefix(goType, "struct"):
		return "an object"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "a boolean"
	}
	return goType
}

// yamlLine matches the line of a yaml.v3 syntax error.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlParserProblems are the problems of the yaml.v3 parser (as opposed to
// its scanner), whose errors carry a 0-based line: that of the construct
// being parsed, such as the "[" of an unclosed flow sequence.
var yamlParserProblems = []string{
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"did not find expected '-' indicator",
	"did not find expected <document start>",
	"did not find expected key",
	"did not find expected node content",
	"found duplicate %TAG directive",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found undefined tag handle",
}

// yamlErr reports a YAML syntax error.
func (c *fileCtx) yamlErr(err error) {
	msg := err.Error()
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
		if slices.Contains(yamlParserProblems, msg) {
			line++
		}
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	c.at(line, 0, "", "malformed YAML: %s", msg)
}

// lineCol returns the 1-based line and column of byte offset off of data.
func lineCol(data []byte, off int64) (line, col int) {
	off = max(0, min(off, int64(len(data))))
	before := data[:off]
	line = 1 + bytes.Count(before, []byte{'\n'})
	col = 1 + utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:])
	return line, col
}

// joinField joins field paths with a dot, skipping empty ones.
func joinField(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		if p == "" {
			continue
		}
		if b.Len() > 0 && !strings.HasPrefix(p, "[") {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// index renders a list index as a field suffix.
func index(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }

// NewValidationError returns nil when list is empty, else a
// *ValidationError of list sorted and deduplicated, keeping the first
// limit problems (all when limit is 0): how another package (the secrets
// preflight of a run) reports problems in the form of a load's.
func NewValidationError(list []Problem, limit int) error {
	ps := problems{list: list, limit: max(limit, 0)}
	return ps.err()
}
