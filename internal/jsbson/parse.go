package jsbson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// MaxDepth bounds the nesting of a JSON value: a top-level object or array
// is level 1 and each object or array inside adds one. MongoDB refuses
// documents nested deeper than 100 levels.
const MaxDepth = 100

// MaxDocumentSize is the largest BSON document MongoDB stores: 16 MiB.
const MaxDocumentSize = 16 * 1024 * 1024

// Error is a JSON text that Parse refuses, and where.
type Error struct {
	Offset int64  // byte offset in the input of what is refused, from 0
	Field  string // path of the field, e.g. "a.b[2].c"; "" for the value itself
	Msg    string
	// Syntax is true for malformed JSON; Msg is then encoding/json's.
	Syntax bool
	err    error
}

// Error renders "json: <field>: <msg>".
func (e *Error) Error() string {
	if e.Field == "" {
		return "json: " + e.Msg
	}
	return "json: " + e.Field + ": " + e.Msg
}

// Unwrap returns the *json.SyntaxError of malformed JSON, or nil.
func (e *Error) Unwrap() error { return e.err }

// Options tune Parse. A nil *Options means the zero value: every default.
type Options struct {
	// MaxDepth is the deepest nesting accepted; 0, or more than MaxDepth,
	// means MaxDepth.
	MaxDepth int
	// Omit lists object keys left out, with their values, at any depth: they
	// are absent from the Value and from the JSON of the Result. They are
	// still checked (a malformed value is refused even when omitted).
	Omit []string
	// Key, if set, is called for every object key kept, in input order.
	Key func(k Key)
}

// Key is an object key seen by Parse.
type Key struct {
	Name   string // the key
	Parent string // path of the object holding it: "" at the top, "a.b[2]", "[3]" for ParseEach's elements
	Offset int64  // byte offset of its opening quote in the input
	Depth  int    // level of the object holding it: 1 for a top-level key
}

// Field returns the key's path, e.g. "a.b[2].$push" ("[3].code" for
// ParseEach's elements).
func (k Key) Field() string { return joinField(k.Parent, k.Name) }

// Result is a parsed JSON value.
type Result struct {
	Value any
	// JSON is the value's text without the omitted keys: a sub-slice of the
	// input when nothing was omitted, else a new slice.
	JSON []byte
	// Omitted are the keys of Options.Omit that were found, each once.
	Omitted []string
}

// Parse checks raw and converts it as Value does, with opts. A refusal is
// an *Error.
func Parse(raw []byte, opts *Options) (Result, error) {
	var r Result
	err := parse(raw, opts, false, func(_ int, _ int64, res Result) error {
		r = res
		return nil
	})
	return r, err
}

// ParseEach is Parse for a file of documents: when the top-level value is
// an array, fn is called for each element in turn with its index, the
// offset where it starts in raw and its Result (Key fields and error fields
// start with "[i]"; depths count from the element, which is level 1, as in
// the document it becomes); otherwise fn is called once, with i = -1, for
// the value. Only one element is held at a time. An error from fn stops the
// parse and is returned.
func ParseEach(raw []byte, opts *Options, fn func(i int, off int64, r Result) error) error {
	return parse(raw, opts, true, fn)
}

func parse(raw []byte, opts *Options, each bool, fn func(int, int64, Result) error) error {
	if err := check(raw); err != nil {
		return err
	}
	p := &parser{raw: raw, maxDepth: MaxDepth}
	if opts != nil {
		p.omit, p.onKey = opts.Omit, opts.Key
		if opts.MaxDepth > 0 && opts.MaxDepth < MaxDepth {
			p.maxDepth = opts.MaxDepth
		}
	}
	p.ws()
	start := int64(p.pos)
	if !each || raw[p.pos] != '[' {
		v, err := p.value(0, "", "", -1, false)
		if err != nil {
			return err
		}
		return fn(-1, start, p.result(v, start, int64(len(raw))))
	}
	p.pos++ // '['
	for i := 0; ; i++ {
		p.ws()
		if raw[p.pos] == ']' {
			return nil
		}
		off := int64(p.pos)
		v, err := p.value(0, "", "", i, false)
		if err != nil {
			return err
		}
		if err := fn(i, off, p.result(v, off, int64(p.pos))); err != nil {
			return err
		}
		p.ws()
		if raw[p.pos] == ',' {
			p.pos++
		}
	}
}

// check refuses invalid UTF-8 and malformed JSON, so that the decoder meets
// neither (it would replace invalid bytes with U+FFFD).
func check(raw []byte) error {
	if !utf8.Valid(raw) {
		off := 0
		for off < len(raw) {
			r, n := utf8.DecodeRune(raw[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return &Error{Offset: int64(off), Msg: fmt.Sprintf("invalid UTF-8 (byte 0x%02x)", raw[off])}
	}
	if json.Valid(raw) {
		return nil
	}
	var v json.RawMessage
	err := json.Unmarshal(raw, &v)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return &Error{Msg: fmt.Sprint(err), Syntax: true, err: err}
	}
	off := se.Offset
	if !strings.HasPrefix(se.Error(), "unexpected end") && off > 0 {
		off-- // the offending byte, not the one after it
	}
	return &Error{Offset: off, Msg: se.Error(), Syntax: true, err: se}
}

// parser is the state of one Parse. Its input was checked by check, so
// it reads it without looking for syntax errors.
type parser struct {
	raw      []byte
	pos      int
	maxDepth int
	omit     []string
	onKey    func(Key)
	dels     [][2]int64 // ranges of raw to leave out of the JSON
	omitted  []string
}

// result returns the Result of the value at raw[start:end], and resets the
// ranges to leave out.
func (p *parser) result(v any, start, end int64) Result {
	r := Result{Value: v, JSON: p.raw[start:end], Omitted: p.omitted}
	if len(p.dels) > 0 {
		r.JSON = cut(p.raw[start:end], start, p.dels)
	}
	p.dels, p.omitted = nil, nil
	return r
}

// cut returns data (which starts at offset base of the input) without the
// ranges dels, which may overlap.
func cut(data []byte, base int64, dels [][2]int64) []byte {
	slices.SortFunc(dels, func(a, b [2]int64) int { return int(a[0] - b[0]) })
	out := make([]byte, 0, len(data))
	at := base
	for _, d := range dels {
		if d[0] > at {
			out = append(out, data[at-base:d[0]-base]...)
		}
		at = max(at, d[1])
	}
	return append(out, data[at-base:]...)
}

// ws skips white space.
func (p *parser) ws() {
	for p.pos < len(p.raw) {
		switch p.raw[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// fieldOf returns the path of a value: member key of the object at parent,
// or element idx (when idx >= 0) of the array at parent.
func fieldOf(parent, key string, idx int) string {
	if idx >= 0 {
		return parent + "[" + strconv.Itoa(idx) + "]"
	}
	return joinField(parent, key)
}

// value decodes the value at the current position, at nesting level depth
// (0 for the top level), found under key or at index idx (see fieldOf) of
// parent. discard is true inside an omitted value.
func (p *parser) value(depth int, parent, key string, idx int, discard bool) (any, error) {
	p.ws()
	off := p.pos
	switch c := p.raw[off]; c {
	case '{', '[':
		field := fieldOf(parent, key, idx)
		if depth+1 > p.maxDepth {
			return nil, &Error{Offset: int64(off), Field: field, Msg: fmt.Sprintf("nested deeper than %d levels", p.maxDepth)}
		}
		p.pos++
		if c == '{' {
			return p.object(depth+1, field, discard)
		}
		return p.array(depth+1, field, discard)
	case '"':
		return p.str(), nil
	case 't':
		p.pos += 4
		return true, nil
	case 'f':
		p.pos += 5
		return false, nil
	case 'n':
		p.pos += 4
		return nil, nil
	}
	for p.pos < len(p.raw) && strings.IndexByte("+-.0123456789eE", p.raw[p.pos]) >= 0 {
		p.pos++
	}
	return jsNumber(string(p.raw[off:p.pos]))
}

// members is the bookkeeping of an object's members for omissions.
type members struct {
	kept    bool  // a member was kept
	pending int64 // start of the leading omitted members, or -1
	prevEnd int64 // end of the previous member's value
}

// seenKey is a key of an object and where it is.
type seenKey struct {
	key string
	off int64
}

// object decodes the members of an object whose "{" was read.
func (p *parser) object(depth int, field string, discard bool) (bson.D, error) {
	d := bson.D{}
	var buf [16]seenKey
	seen := buf[:0]
	ms := members{pending: -1}
	hasIndexKey := false
	for {
		p.ws()
		if p.raw[p.pos] == '}' {
			p.pos++
			break
		}
		koff := int64(p.pos)
		key := p.str()
		if err := p.checkKey(seen, key, koff, field); err != nil {
			return nil, err
		}
		seen = append(seen, seenKey{key, koff})
		p.ws()
		p.pos++ // ':'
		omit := slices.Contains(p.omit, key)
		if !omit && !discard {
			if !ms.kept && ms.pending >= 0 {
				p.dels = append(p.dels, [2]int64{ms.pending, koff})
			}
			ms.kept = true
			if p.onKey != nil {
				p.onKey(Key{Name: key, Parent: field, Offset: koff, Depth: depth})
			}
		}
		v, err := p.value(depth, field, key, -1, discard || omit)
		if err != nil {
			return nil, err
		}
		end := int64(p.pos)
		if omit && !discard {
			p.omitKey(&ms, key, koff, end)
		}
		ms.prevEnd = end
		p.ws()
		if p.raw[p.pos] == ',' {
			p.pos++
		}
		if omit {
			continue
		}
		d = append(d, bson.E{Key: key, Value: v})
		if _, ok := jsArrayIndex(key); ok {
			hasIndexKey = true
		}
	}
	if !ms.kept && ms.pending >= 0 {
		p.dels = append(p.dels, [2]int64{ms.pending, ms.prevEnd})
	}
	if hasIndexKey {
		jsOrderKeys(d)
	}
	return d, nil
}

// checkKey refuses a key with a NUL byte, and a key already in seen.
func (p *parser) checkKey(seen []seenKey, key string, koff int64, field string) error {
	if strings.IndexByte(key, 0) >= 0 {
		return &Error{Offset: koff, Field: joinField(field, key), Msg: "key contains a NUL byte, which BSON cannot store"}
	}
	for _, s := range seen {
		if s.key == key {
			return &Error{Offset: koff, Field: joinField(field, key), Msg: fmt.Sprintf(
				"duplicate key %q (also at line %d); JSON.parse would keep only the last value", key, lineOf(p.raw, s.off))}
		}
	}
	return nil
}

// omitKey records the omission of the member whose key starts at koff and
// whose value ends at end: with the comma before it when a member before it
// is kept; else from its key up to the next kept key (or the end of the
// last member).
func (p *parser) omitKey(ms *members, key string, koff, end int64) {
	if !slices.Contains(p.omitted, key) {
		p.omitted = append(p.omitted, key)
	}
	switch {
	case ms.kept:
		p.dels = append(p.dels, [2]int64{ms.prevEnd, end})
	case ms.pending < 0:
		ms.pending = koff
	}
}

// array decodes the elements of an array whose "[" was read.
func (p *parser) array(depth int, field string, discard bool) (bson.A, error) {
	a := bson.A{}
	for i := 0; ; i++ {
		p.ws()
		if p.raw[p.pos] == ']' {
			p.pos++
			return a, nil
		}
		v, err := p.value(depth, field, "", i, discard)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		p.ws()
		if p.raw[p.pos] == ',' {
			p.pos++
		}
	}
}

// str decodes the string at the current position, as encoding/json does.
func (p *parser) str() string {
	p.pos++ // '"'
	rest := p.raw[p.pos:]
	end := bytes.IndexByte(rest, '"')
	if bytes.IndexByte(rest[:end], '\\') < 0 {
		p.pos += end + 1
		return string(rest[:end])
	}
	var b []byte
	for {
		switch c := p.raw[p.pos]; c {
		case '"':
			p.pos++
			return string(b)
		case '\\':
			b = p.escape(b)
		default:
			b = append(b, c)
			p.pos++
		}
	}
}

// escape appends what the escape sequence at the current position stands
// for: a lone or mismatched UTF-16 surrogate becomes U+FFFD, as in
// encoding/json.
func (p *parser) escape(b []byte) []byte {
	e := p.raw[p.pos+1]
	p.pos += 2
	switch e {
	case 'b':
		return append(b, '\b')
	case 'f':
		return append(b, '\f')
	case 'n':
		return append(b, '\n')
	case 'r':
		return append(b, '\r')
	case 't':
		return append(b, '\t')
	case 'u':
	default: // '"', '\\', '/'
		return append(b, e)
	}
	r := hex4(p.raw[p.pos:])
	p.pos += 4
	if utf16.IsSurrogate(r) {
		next := rune(-1)
		if len(p.raw)-p.pos >= 6 && p.raw[p.pos] == '\\' && p.raw[p.pos+1] == 'u' {
			next = hex4(p.raw[p.pos+2:])
		}
		if dec := utf16.DecodeRune(r, next); dec != unicode.ReplacementChar {
			p.pos += 6
			return utf8.AppendRune(b, dec)
		}
		r = unicode.ReplacementChar
	}
	return utf8.AppendRune(b, r)
}

// hex4 reads four hex digits, or returns -1.
func hex4(s []byte) rune {
	if len(s) < 4 {
		return -1
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// joinField joins a field path and a key.
func joinField(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// lineOf returns the 1-based line of offset off of data.
func lineOf(data []byte, off int64) int {
	return 1 + bytes.Count(data[:min(off, int64(len(data)))], []byte{'\n'})
}

// Size returns the number of bytes v, as returned by Value, takes in BSON:
// the whole embedded document for an object or array, the value's bytes for
// a scalar (the element's type byte and name are the caller's).
func Size(v any) int {
	switch t := v.(type) {
	case bson.D:
		n := 5
		for _, e := range t {
			n += 2 + len(e.Key) + Size(e.Value)
		}
		return n
	case bson.A:
		n := 5
		for i, e := range t {
			n += 2 + len(strconv.Itoa(i)) + Size(e)
		}
		return n
	case string:
		return 5 + len(t)
	case int32:
		return 4
	case float64:
		return 8
	case bool:
		return 1
	}
	return 0 // null
}
