package profiles

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The YAML files of a profile are decoded through yaml.Node rather than
// into structs, so that every problem gets the line and column of the field
// it is about and all of them are reported, not only the first. Unknown
// fields are errors, as with yaml.Decoder.KnownFields(true).

// parseYAML parses data as one YAML document and returns its root node:
// nil with ok for an empty document, nil without ok (the problem reported)
// for malformed YAML.
func (c *fileCtx) parseYAML(data []byte) (root *yaml.Node, ok bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, true
		}
		if yamlLine.MatchString(err.Error()) || !c.yamlCharErr(data, strings.TrimPrefix(err.Error(), "yaml: ")) {
			c.yamlErr(err)
		}
		return nil, false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			c.yamlErr(err)
		} else {
			c.at(extra.Line, extra.Column, "", "more than one YAML document; want exactly one")
		}
		return nil, false
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return deref(doc.Content[0]), true
	}
	return deref(&doc), true
}

// deref follows YAML aliases.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is absent or an explicit null ("key:" or "~").
func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// kindName names a node's kind for messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		return "a scalar"
	}
	return "an alias"
}

// ymap is a YAML mapping whose keys were checked against the known fields.
type ymap struct {
	c     *fileCtx
	field string
	node  *yaml.Node
	keys  map[string]*yaml.Node
	vals  map[string]*yaml.Node
	order []string // keys in file order
}

// mapping checks that n is a mapping whose keys are all among known (any
// key when known is empty), reporting non-mappings, unknown and duplicate
// keys. ok is false only when n is not a mapping.
func (c *fileCtx) mapping(n *yaml.Node, field string, known ...string) (m ymap, ok bool) {
	m = ymap{c: c, field: field, node: n, keys: map[string]*yaml.Node{}, vals: map[string]*yaml.Node{}}
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		if n != nil {
			c.at(n.Line, n.Column, field, "is %s; want a mapping", kindName(n))
		}
		return m, false
	}
	m.node = n
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			c.at(k.Line, k.Column, field, "key is %s; want a name", kindName(k))
			continue
		}
		name := k.Value
		if len(known) > 0 && !slices.Contains(known, name) {
			c.at(k.Line, k.Column, joinField(field, name), "unknown field (known: %s)", strings.Join(known, ", "))
			continue
		}
		if prev, dup := m.keys[name]; dup {
			c.at(k.Line, k.Column, joinField(field, name), "duplicate field (also at line %d)", prev.Line)
			continue
		}
		m.keys[name], m.vals[name] = k, v
		m.order = append(m.order, name)
	}
	return m, true
}

// has reports whether key is present and not null.
func (m ymap) has(key string) bool { return !isNull(m.vals[key]) }

// sub returns the field path of key.
func (m ymap) sub(key string) string { return joinField(m.field, key) }

// pos returns the line and column of key's value, or of the mapping when
// key is absent.
func (m ymap) pos(key string) (line, col int) {
	if v := m.vals[key]; v != nil {
		return v.Line, v.Column
	}
	if m.node == nil {
		return 0, 0
	}
	return m.node.Line, m.node.Column
}

// missing reports that a required key is absent.
func (m ymap) missing(key string) {
	line, col := m.pos(key)
	m.c.at(line, col, m.sub(key), "required")
}

// str returns key's scalar value. A required key that is absent, null or
// empty is reported.
func (m ymap) str(key string, required bool) string {
	v := m.vals[key]
	if isNull(v) {
		if required {
			m.missing(key)
		}
		return ""
	}
	s, ok := m.c.scalar(v, m.sub(key))
	if ok && s == "" && required {
		m.c.at(v.Line, v.Column, m.sub(key), "must not be empty")
	}
	return s
}

// scalar returns the value of a scalar node, reporting other kinds.
func (c *fileCtx) scalar(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		c.at(n.Line, n.Column, field, "is %s; want a string", kindName(n))
		return "", false
	}
	return n.Value, true
}

// strList returns key's list of scalars, reporting anything else. Each
// element's node is returned too, for later messages.
func (m ymap) strList(key string) ([]string, []*yaml.Node) {
	v := m.vals[key]
	if isNull(v) {
		return nil, nil
	}
	return m.c.strList(v, m.sub(key))
}

// strList returns the scalars of a list node.
func (c *fileCtx) strList(n *yaml.Node, field string) ([]string, []*yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		c.at(n.Line, n.Column, field, "is %s; want a list", kindName(n))
		return nil, nil
	}
	var (
		out   []string
		nodes []*yaml.Node
	)
	for i, e := range n.Content {
		e = deref(e)
		if s, ok := c.scalar(e, index(field, i)); ok {
			out = append(out, s)
			nodes = append(nodes, e)
		}
	}
	return out, nodes
}

// strMap returns key's mapping of names to scalars.
func (m ymap) strMap(key string) map[string]string {
	v := m.vals[key]
	if isNull(v) {
		return nil
	}
	sm, ok := m.c.mapping(v, m.sub(key))
	if !ok {
		return nil
	}
	out := make(map[string]string, len(sm.order))
	for _, k := range sm.order {
		if s, ok := m.c.scalar(sm.vals[k], sm.sub(k)); ok {
			out[k] = s
		}
	}
	return out
}

// duration returns key's Go duration ("10s", "2m"), def when absent.
// Zero and negative durations are reported.
func (m ymap) duration(key string, def time.Duration) time.Duration {
	v := m.vals[key]
	if isNull(v) {
		return def
	}
	s, ok := m.c.scalar(v, m.sub(key))
	if !ok {
		return def
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		m.c.at(v.Line, v.Column, m.sub(key), "invalid duration %q; want e.g. 10s, 2m, 1h30m", s)
		return def
	case d <= 0:
		m.c.at(v.Line, v.Column, m.sub(key), "duration %q must be positive", s)
		return def
	}
	return d
}

// integer returns key's integer value, def when absent or invalid.
func (m ymap) integer(key string, def int) int {
	v := m.vals[key]
	if isNull(v) {
		return def
	}
	if i, ok := m.c.integer(v, m.sub(key)); ok {
		return i
	}
	return def
}

// integer returns the value of an integer scalar node.
func (c *fileCtx) integer(n *yaml.Node, field string) (int, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		if i, err := strconv.Atoi(n.Value); err == nil {
			return i, true
		}
	}
	c.at(n.Line, n.Column, field, "%q is not an integer", n.Value)
	return 0, false
}

// place is where key's value of m is written in c's file, as a Problem
// without a message.
func (c *fileCtx) place(m ymap, key string) Problem {
	line, col := m.pos(key)
	return Problem{Profile: c.profile, File: c.file, Line: line, Column: col, Field: m.sub(key)}
}

// boolean returns key's value, true or false, def when absent or invalid
// (reported).
func (m ymap) boolean(key string, def bool) bool {
	v := m.vals[key]
	if isNull(v) {
		return def
	}
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!bool" {
		if b, err := strconv.ParseBool(v.Value); err == nil {
			return b
		}
	}
	m.c.at(v.Line, v.Column, m.sub(key), "%q is not true or false", v.Value)
	return def
}
