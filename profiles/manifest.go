package profiles

import (
	"cmp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// stepKinds are the keys of a step: every kind.
var stepKinds = []string{KindConfigs, KindPatterns, KindUsers, KindDocuments, KindRedis, KindHTTP, KindExec, KindUpsert, KindReplace}

// Kinds returns every step kind (the Kind* constants), a new slice on each
// call.
func Kinds() []string { return slices.Clone(stepKinds) }

// parseManifest parses profile.yaml and loads what its steps read.
//
//	requires: [example-base]
//	database: nr
//	reset: {collections: [Config], redis: ["Pattern:*"]}
//	steps:
//	  - configs: {dir: run-config}
//
// An empty manifest is a profile without steps (it may still require
// others).
func (l *loader) parseManifest(src *source, data []byte) {
	c, p := src.ctx, src.p
	p.Form = FormManifest
	root, ok := c.parseYAML(data)
	if !ok || root == nil {
		return
	}
	m, ok := c.mapping(root, "", "requires", "database", "reset", "steps")
	if !ok {
		return
	}
	if m.has("database") {
		db := m.str("database", true)
		if msg := checkDatabase(db); db != "" && msg != "" {
			m.ref("database").report("%s", msg)
		} else if db != "" {
			p.Database = db
		}
	}
	names, nodes := m.strList("requires")
	for i, name := range names {
		r := ref{c: c, field: index("requires", i), line: nodes[i].Line, col: nodes[i].Column}
		switch {
		case checkName(name) != "":
			r.report("%s", checkName(name))
		case name == p.Name:
			r.report("requires cycle: %s -> %s", name, name)
		case hasReq(src.reqs, name):
			r.report("%s is required twice", name)
		default:
			p.Requires = append(p.Requires, name)
			src.reqs = append(src.reqs, reqRef{name: name, at: r})
		}
	}
	if m.has("reset") {
		p.Reset = parseReset(c, m.vals["reset"])
	}
	steps := m.vals["steps"]
	if isNull(steps) {
		return
	}
	if steps.Kind != yaml.SequenceNode {
		c.at(steps.Line, steps.Column, "steps", "is %s; want a list", kindName(steps))
		return
	}
	for i, n := range steps.Content {
		if s, ok := l.parseStep(src, deref(n), i); ok {
			p.Steps = append(p.Steps, s)
		}
	}
}

func hasReq(reqs []reqRef, name string) bool {
	for _, r := range reqs {
		if r.name == name {
			return true
		}
	}
	return false
}

// parseReset parses {collections: [...], redis: [...]}.
func parseReset(c *fileCtx, n *yaml.Node) *Reset {
	m, ok := c.mapping(n, "reset", "collections", "redis", "databases", "redisAll")
	if !ok {
		return nil
	}
	r := &Reset{}
	parseResetAll(m, r)
	colls, nodes := m.strList("collections")
	for i, coll := range colls {
		if msg := cmp.Or(checkCollection(coll), checkReservedCollection(coll)); msg != "" {
			c.at(nodes[i].Line, nodes[i].Column, index(m.sub("collections"), i), "%s", msg)
			continue
		}
		r.Collections = append(r.Collections, coll)
	}
	keys, nodes := m.strList("redis")
	for i, k := range keys {
		field := index(m.sub("redis"), i)
		switch {
		case k == "":
			c.at(nodes[i].Line, nodes[i].Column, field, "must not be empty")
		case strings.Trim(k, "*") == "":
			c.at(nodes[i].Line, nodes[i].Column, field, "%q matches every key, the lock's too; name the keys to delete", k)
		case checkReservedGlob(k) != "":
			c.at(nodes[i].Line, nodes[i].Column, field, "%s", checkReservedGlob(k))
		default:
			r.RedisKeys = append(r.RedisKeys, k)
		}
	}
	return r
}

// parseStep parses the step at position i: a mapping with exactly one key
// among the step kinds.
func (l *loader) parseStep(src *source, n *yaml.Node, i int) (Step, bool) {
	c := src.ctx
	field := index("steps", i)
	m, ok := c.mapping(n, field, stepKinds...)
	if !ok {
		return Step{}, false
	}
	switch {
	case len(m.order) == 0 && len(n.Content) == 0:
		c.at(n.Line, n.Column, field, "empty step; want one of %s", strings.Join(stepKinds, ", "))
		return Step{}, false
	case len(m.order) == 0:
		return Step{}, false // its unknown key was reported
	case len(m.order) > 1:
		c.at(n.Line, n.Column, field, "step has %d kinds (%s); want exactly one", len(m.order), strings.Join(m.order, ", "))
		return Step{}, false
	}
	kind := m.order[0]
	s := Step{Kind: kind, Index: i, Database: src.p.Database}
	l.stepOmit = nil // set by stepFields
	body, bf := m.vals[kind], m.sub(kind)
	switch kind {
	case KindConfigs:
		if sm, ok := l.stepFields(c, body, bf, &s, "dir"); ok {
			s.Configs = l.loadConfigs(src, sm.str("dir", true), sm.ref("dir"))
		}
	case KindPatterns:
		if sm, ok := l.stepFields(c, body, bf, &s, "dir"); ok {
			s.Patterns = l.loadPatterns(src, sm.str("dir", true), sm.ref("dir"))
		}
	case KindUsers:
		if sm, ok := l.stepFields(c, body, bf, &s, "file"); ok {
			s.Users = l.loadUsers(src, sm.str("file", true), sm.ref("file"))
		}
	case KindDocuments:
		s.Documents = l.documentsStep(src, body, bf, &s)
	case KindRedis:
		if sm, ok := c.mapping(body, bf, "file"); ok {
			s.Redis = l.loadRedis(src, sm.str("file", true), sm.ref("file"))
		}
	case KindHTTP:
		s.HTTP = l.httpStep(src, body, bf)
	case KindExec:
		s.Exec = execStep(c, body, bf)
	case KindUpsert:
		s.Upsert = l.matchStep(src, body, bf, &s)
	case KindReplace:
		s.Replace = l.matchStep(src, body, bf, &s)
	}
	return s, true
}

// stepFields checks the fields of a step that writes to MongoDB: the given
// ones, an optional database and an optional omitKeys list, which it sets
// on s (and on the loader, for the step's documents).
func (l *loader) stepFields(c *fileCtx, n *yaml.Node, field string, s *Step, fields ...string) (ymap, bool) {
	m, ok := c.mapping(n, field, append(fields, "database", "omitKeys")...)
	if !ok {
		return m, false
	}
	s.OmitKeys = omitKeys(m)
	l.stepOmit = s.OmitKeys
	if m.has("database") {
		db := m.str("database", true)
		if msg := checkDatabase(db); db != "" && msg != "" {
			m.ref("database").report("%s", msg)
		} else if db != "" {
			s.Database = db
		}
	}
	return m, true
}
