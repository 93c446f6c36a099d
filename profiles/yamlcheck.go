package profiles

import (
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// yamlCharErr reports, with its line and column, the first byte of data
// that YAML refuses (invalid UTF-8, or a character outside YAML's printable
// set), for the yaml.v3 reader errors that have no position. It returns
// false when it finds none.
func (c *fileCtx) yamlCharErr(data []byte, msg string) bool {
	for off := 0; off < len(data); {
		r, n := utf8.DecodeRune(data[off:])
		bad := ""
		switch {
		case r == utf8.RuneError && n <= 1:
			bad = "invalid UTF-8"
		case !yamlPrintable(r) && (off > 0 || r != '\uFEFF'):
			bad = "control character " + strings.TrimPrefix(utf8Quote(r), "'")
		}
		if bad != "" {
			line, col := lineCol(data, int64(off))
			c.at(line, col, "", "malformed YAML: %s (%s)", bad, msg)
			return true
		}
		off += n
	}
	return false
}

// utf8Quote renders a rune as U+XXXX.
func utf8Quote(r rune) string {
	const hex = "0123456789ABCDEF"
	b := []byte("U+0000")
	for i := 5; i >= 2; i-- {
		b[i] = hex[r&0xf]
		r >>= 4
	}
	return string(b)
}

// yamlPrintable is YAML 1.2's c-printable set, as the yaml.v3 reader
// checks it.
func yamlPrintable(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || (r >= 0x20 && r <= 0x7E) || r == 0x85 ||
		(r >= 0xA0 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}

// checkYAMLDoc checks a YAML mapping or list that becomes (part of) a
// MongoDB document, as jsbson does for JSON: keys with a NUL byte, nesting
// deeper than depth levels (n being level 1); and it notes the keys that
// start with "$" or contain ".". Aliases are not followed:
// their anchor is checked where it is.
func (l *loader) checkYAMLDoc(src *source, c *fileCtx, n *yaml.Node, field string, depth int) {
	if n == nil || (n.Kind != yaml.MappingNode && n.Kind != yaml.SequenceNode) {
		return
	}
	if depth < 1 {
		c.at(n.Line, n.Column, field, "nested deeper than %d levels", l.limits.MaxDepth)
		return
	}
	if n.Kind == yaml.SequenceNode {
		for i, e := range n.Content {
			l.checkYAMLDoc(src, c, e, index(field, i), depth-1)
		}
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f := joinField(field, k.Value)
		switch {
		case strings.IndexByte(k.Value, 0) >= 0:
			c.at(k.Line, k.Column, f, "key contains a NUL byte, which BSON cannot store")
			continue
		case noteworthyKey(k.Value):
			addKeyNote(src.p, KeyNote{File: c.file, Line: k.Line, Column: k.Column, Field: f, Key: k.Value}, l.limits.MaxProblems)
		}
		l.checkYAMLDoc(src, c, v, f, depth-1)
	}
}
