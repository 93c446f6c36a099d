package profiles

import (
	"path"

	"go.yaml.in/yaml/v3"
)

// yamlList reads the YAML file that the manifest names at r and returns its
// list: the top-level list, or the list under the single key listKey of a
// top-level mapping. Problems are reported; ok is false when there is no
// list to read.
func (l *loader) yamlList(src *source, raw, listKey string, r ref) (rel string, fc *fileCtx, list *yaml.Node, ok bool) {
	rel, data, ok := l.readNamed(src, raw, r)
	if !ok {
		return "", nil, nil, false
	}
	fc = src.fileCtx(rel)
	root, ok := fc.parseYAML(data)
	switch {
	case !ok:
		return rel, fc, nil, false
	case root == nil:
		fc.at(0, 0, "", "empty; want a list of %s", listKey)
		return rel, fc, nil, false
	case root.Kind == yaml.MappingNode:
		m, _ := fc.mapping(root, "", listKey)
		if !m.has(listKey) {
			if len(m.order) == len(root.Content)/2 {
				m.missing(listKey)
			}
			return rel, fc, nil, false
		}
		root = m.vals[listKey]
	}
	if root.Kind != yaml.SequenceNode {
		fc.at(root.Line, root.Column, listKey, "is %s; want a list", kindName(root))
		return rel, fc, nil, false
	}
	return rel, fc, root, true
}

// loadUsers reads a users file: a list of users, or {users: [...]}.
func (l *loader) loadUsers(src *source, raw string, r ref) *UsersStep {
	rel, fc, list, ok := l.yamlList(src, raw, "users", r)
	if !ok {
		return &UsersStep{File: rel}
	}
	step := &UsersStep{File: rel}
	seen := map[string]int{} // id -> line
	for i, n := range list.Content {
		u, idRef, ok := yamlUser(fc, n, index("users", i))
		if !ok {
			continue
		}
		l.checkYAMLDoc(src, fc, n, index("users", i), l.limits.MaxDepth)
		if u.ID != "" {
			if prev, dup := seen[u.ID]; dup {
				idRef.report("duplicate id %q (also at line %d)", u.ID, prev)
				continue
			}
			seen[u.ID] = u.Line
		}
		if !l.countItem(src, fc, n.Line, n.Column, index("users", i)) {
			break
		}
		step.Users = append(step.Users, u)
	}
	return step
}

// secretFrom parses {env: NAME} or {file: /absolute/path}. The file is a
// secret mount: it is not confined to the profile directory, not read at
// load time and not hashed.
func secretFrom(c *fileCtx, n *yaml.Node, field string) PasswordSource {
	m, ok := c.mapping(n, field, "env", "file")
	if !ok {
		return PasswordSource{}
	}
	var ps PasswordSource
	switch {
	case m.has("env") && m.has("file"):
		c.at(m.node.Line, m.node.Column, field, "both env and file; want exactly one")
	case m.has("env"):
		ps.Env = m.str("env", true)
		ps.Where = c.place(m, "env")
		if msg := checkEnvName(ps.Env); ps.Env != "" && msg != "" {
			line, col := m.pos("env")
			c.at(line, col, m.sub("env"), "%s", msg)
		}
	case m.has("file"):
		ps.File = m.str("file", true)
		ps.Where = c.place(m, "file")
		if ps.File != "" && !path.IsAbs(ps.File) {
			line, col := m.pos("file")
			c.at(line, col, m.sub("file"), "%q is relative; want the absolute path of a mounted secret (or env for local runs)", ps.File)
		}
	default:
		c.at(m.node.Line, m.node.Column, field, "want env: NAME or file: /path")
	}
	return ps
}

// loadRedis reads a redis file: {keys: [...]} or a list of keys, each
// {key, string | hash | set, ttl}.
func (l *loader) loadRedis(src *source, raw string, r ref) *RedisStep {
	rel, fc, list, ok := l.yamlList(src, raw, "keys", r)
	step := &RedisStep{File: rel}
	if !ok {
		return step
	}
	seen := map[string]int{} // key -> line
	for i, n := range list.Content {
		field := index("keys", i)
		m, ok := fc.mapping(n, field, "key", "string", "hash", "set", "ttl")
		if !ok {
			continue
		}
		k := RedisKey{Key: m.str("key", true), Line: m.node.Line, TTL: m.duration("ttl", 0)}
		var kinds []string
		for _, t := range []string{"string", "hash", "set"} {
			if _, has := m.vals[t]; has {
				kinds = append(kinds, t)
			}
		}
		if len(kinds) != 1 {
			fc.at(m.node.Line, m.node.Column, field, "has %d of string, hash, set; want exactly one", len(kinds))
			continue
		}
		k.Type = kinds[0]
		line, col := m.pos(k.Type)
		switch k.Type {
		case "string":
			if s, ok := fc.scalar(m.vals["string"], m.sub("string")); ok {
				k.String = s
			}
		case "hash":
			if v := m.vals["hash"]; isNull(v) || (v.Kind == yaml.MappingNode && len(v.Content) == 0) {
				fc.at(line, col, m.sub("hash"), "empty hash; want at least one field")
			}
			k.Hash = m.strMap("hash")
		case "set":
			if v := m.vals["set"]; isNull(v) || (v.Kind == yaml.SequenceNode && len(v.Content) == 0) {
				fc.at(line, col, m.sub("set"), "empty set; want at least one member")
			}
			k.Set, _ = m.strList("set")
		}
		if msg := checkReservedKey(k.Key); msg != "" {
			line, col := m.pos("key")
			fc.at(line, col, m.sub("key"), "%s", msg)
			continue
		}
		if k.Key != "" {
			if prev, dup := seen[k.Key]; dup {
				line, col := m.pos("key")
				fc.at(line, col, m.sub("key"), "duplicate key %q (also at line %d)", k.Key, prev)
				continue
			}
			seen[k.Key] = k.Line
		}
		if !l.countItem(src, fc, m.node.Line, m.node.Column, field) {
			break
		}
		step.Keys = append(step.Keys, k)
	}
	return step
}
