package profiles

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Defaults of the step fields.
const (
	// DefaultDocumentKey is the key field of a documents step that names
	// none.
	DefaultDocumentKey = "_id"
	// DefaultHTTPMethod is the method of an http step that names none.
	DefaultHTTPMethod = "GET"
	// DefaultHTTPTimeout is the overall timeout of an http step.
	DefaultHTTPTimeout = 30 * time.Second
	// DefaultHTTPRetries is how many times an http step is retried.
	DefaultHTTPRetries = 4
	// DefaultExecTimeout is the timeout of an exec step.
	DefaultExecTimeout = 5 * time.Minute
)

// DefaultHTTPExpect returns the statuses an http step accepts when it names
// none: 200, 201, 202 and 204.
func DefaultHTTPExpect() []int { return []int{200, 201, 202, 204} }

// maxRetries bounds the retries of an http step.
const maxRetries = 100

// documentsStep parses {collection, dir, key, index, database} and loads the
// documents.
func (l *loader) documentsStep(src *source, n *yaml.Node, field string, s *Step) *DocumentsStep {
	m, ok := l.stepFields(src.ctx, n, field, s, "collection", "dir", "key", "index")
	if !ok {
		return nil
	}
	s.NoIndex = !m.boolean("index", true)
	d := &DocumentsStep{Collection: m.str("collection", true), Key: DefaultDocumentKey}
	if d.Collection != "" {
		if msg := cmp.Or(checkCollection(d.Collection), checkReservedCollection(d.Collection)); msg != "" {
			m.ref("collection").report("%s", msg)
		}
	}
	if m.has("key") {
		d.Key = m.str("key", true)
		if msg := checkKeyField(d.Key); d.Key != "" && msg != "" {
			m.ref("key").report("%s", msg)
			return d
		}
	}
	if d.Key == "" {
		return d
	}
	d.Dir, d.Items = l.loadDocuments(src, m.str("dir", true), d.Key, m.ref("dir"))
	return d
}

// httpStep parses {method, url, expect, timeout, retries, headers,
// headersFrom, bodyFile} and reads the body file.
func (l *loader) httpStep(src *source, n *yaml.Node, field string) *HTTPStep {
	c := src.ctx
	m, ok := c.mapping(n, field, "method", "url", "expect", "timeout", "retries", "headers", "headersFrom", "bodyFile", "safeParams")
	if !ok {
		return nil
	}
	h := &HTTPStep{
		Method:  DefaultHTTPMethod,
		URL:     m.str("url", true),
		Timeout: m.duration("timeout", DefaultHTTPTimeout),
		Retries: m.integer("retries", DefaultHTTPRetries),
		Expect:  DefaultHTTPExpect(),
	}
	if m.has("method") {
		h.Method = strings.ToUpper(m.str("method", true))
		if msg := checkMethod(h.Method); h.Method != "" && msg != "" {
			m.ref("method").report("%s", msg)
		}
	}
	if msg := checkURL(h.URL); h.URL != "" && msg != "" {
		m.ref("url").report("%s", msg)
	}
	if h.Retries < 0 || h.Retries > maxRetries {
		m.ref("retries").report("%d is out of range 0..%d", h.Retries, maxRetries)
	}
	if v := m.vals["expect"]; !isNull(v) {
		h.Expect = expectList(c, v, m.sub("expect"))
	}
	h.Headers = m.strMap("headers")
	for name, value := range h.Headers {
		r := ref{c: c, field: joinField(m.sub("headers"), name)}
		r.line, r.col = m.pos("headers")
		if msg := checkHeaderName(name); msg != "" {
			r.report("%s", msg)
		} else if msg := checkHeaderValue(value); msg != "" {
			r.report("%s", msg)
		}
	}
	if v := m.vals["headersFrom"]; !isNull(v) {
		hm, ok := c.mapping(v, m.sub("headersFrom"))
		for _, name := range hm.order {
			if !ok {
				break
			}
			f := hm.sub(name)
			if msg := checkHeaderName(name); msg != "" {
				c.at(hm.keys[name].Line, hm.keys[name].Column, f, "%s", msg)
				continue
			}
			if _, dup := h.Headers[name]; dup {
				c.at(hm.keys[name].Line, hm.keys[name].Column, f, "header also in headers; want one of them")
				continue
			}
			ps := secretFrom(c, hm.vals[name], f)
			if h.HeadersFrom == nil {
				h.HeadersFrom = map[string]SecretSource{}
			}
			h.HeadersFrom[name] = SecretSource{Env: ps.Env, File: ps.File, Where: ps.Where}
		}
	}
	if m.has("bodyFile") {
		if rel, data, ok := l.readNamed(src, m.str("bodyFile", true), m.ref("bodyFile")); ok {
			h.BodyFile, h.Body = rel, data
		}
	}
	h.SafeParams = nameList(m, "safeParams", func(string) string { return "" })
	return h
}

// nameList returns key's list of names, each checked by check (a message,
// or "" when fine), reporting duplicates.
func nameList(m ymap, key string, check func(string) string) []string {
	names, nodes := m.strList(key)
	var out []string
	for i, name := range names {
		field := index(m.sub(key), i)
		switch msg := check(name); {
		case name == "":
			m.c.at(nodes[i].Line, nodes[i].Column, field, "must not be empty")
		case msg != "":
			m.c.at(nodes[i].Line, nodes[i].Column, field, "%s", msg)
		case slices.Contains(out, name):
			m.c.at(nodes[i].Line, nodes[i].Column, field, "%q is named twice", name)
		default:
			out = append(out, name)
		}
	}
	return out
}

// expectList parses a non-empty list of HTTP status codes.
func expectList(c *fileCtx, n *yaml.Node, field string) []int {
	switch {
	case n.Kind != yaml.SequenceNode:
		c.at(n.Line, n.Column, field, "is %s; want a list of status codes", kindName(n))
		return nil
	case len(n.Content) == 0:
		c.at(n.Line, n.Column, field, "empty; want a list of status codes")
		return nil
	}
	var out []int
	for i, e := range n.Content {
		e = deref(e)
		code, ok := c.integer(e, index(field, i))
		switch {
		case !ok:
		case code < 100 || code > 599:
			c.at(e.Line, e.Column, index(field, i), "%d is not an HTTP status code", code)
		default:
			out = append(out, code)
		}
	}
	return out
}

// execStep parses {command, timeout, env, passEnv, quiet}.
func execStep(c *fileCtx, n *yaml.Node, field string) *ExecStep {
	m, ok := c.mapping(n, field, "command", "timeout", "env", "passEnv", "quiet")
	if !ok {
		return nil
	}
	e := &ExecStep{Timeout: m.duration("timeout", DefaultExecTimeout)}
	e.Command, _ = m.strList("command")
	switch v := m.vals["command"]; {
	case isNull(v):
		m.missing("command")
	case v.Kind == yaml.SequenceNode && len(v.Content) == 0:
		m.ref("command").report("empty command; want [program, args...]")
	case len(e.Command) > 0 && e.Command[0] == "":
		m.ref("command").report("empty program name")
	}
	e.Env = m.strMap("env")
	for name := range e.Env {
		if msg := checkEnvName(name); msg != "" {
			line, col := m.pos("env")
			c.at(line, col, joinField(m.sub("env"), name), "%s", msg)
		}
	}
	e.PassEnv = nameList(m, "passEnv", checkEnvName)
	if v := m.vals["quiet"]; !isNull(v) {
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" {
			c.at(v.Line, v.Column, m.sub("quiet"), "is %q; want true or false", v.Value)
		} else {
			e.Quiet = v.Value == "true" || v.Value == "True" || v.Value == "TRUE"
		}
	}
	return e
}
