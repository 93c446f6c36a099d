package profiles

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.yaml.in/yaml/v3"

	"github.com/srvthreds/bootstrap/internal/jsbson"
)

// userDropped are fields of a user that the stored document sets itself:
// the legacy tool drops created and modified, and _id is the user's id.
var userDropped = []string{"_id", "created", "modified"}

// String describes the source without the password: "inline", "env NAME"
// or "file PATH", so that printing a User never shows a password.
func (p PasswordSource) String() string {
	switch {
	case p.Env != "":
		return "env " + p.Env
	case p.File != "":
		return "file " + p.File
	case p.Value != "":
		return "inline"
	}
	return "none"
}

// GoString is String, for %#v.
func (p PasswordSource) GoString() string { return p.String() }

// LogValue is String, for log/slog.
func (p PasswordSource) LogValue() slog.Value { return slog.StringValue(p.String()) }

// yamlUser parses one user of a users file: id, password or passwordFrom,
// and any other fields, kept in order (roles as objects {name}).
func yamlUser(fc *fileCtx, n *yaml.Node, field string) (User, ref, bool) {
	m, ok := fc.mapping(n, field)
	if !ok {
		return User{}, ref{}, false
	}
	u := User{ID: m.str("id", true), Line: m.node.Line}
	switch {
	case m.has("password") && m.has("passwordFrom"):
		line, col := m.pos("passwordFrom")
		fc.at(line, col, field, "both password and passwordFrom; want exactly one")
	case m.has("password"):
		u.Password.Value = m.str("password", true)
	case m.has("passwordFrom"):
		u.Password = secretFrom(fc, m.vals["passwordFrom"], m.sub("passwordFrom"))
	default:
		fc.at(m.node.Line, m.node.Column, field, "no password source; want password, passwordFrom: {env: NAME} or passwordFrom: {file: /path}")
	}
	for _, k := range m.order {
		v := m.vals[k]
		switch k {
		case "id", "password", "passwordFrom":
			continue
		case "_id", "created", "modified":
			fc.at(v.Line, v.Column, m.sub(k), "is set by bootstrap (_id is the id, modified the time of the run); leave it out")
			continue
		}
		if strings.HasPrefix(k, "$") {
			line, col := m.keys[k].Line, m.keys[k].Column
			fc.at(line, col, m.sub(k), "a top-level key starting with $ can't be stored (MongoDB refuses it in a replaced document)")
			continue
		}
		if strings.Contains(strings.ToLower(k), "pass") {
			line, col := m.keys[k].Line, m.keys[k].Column
			fc.at(line, col, m.sub(k), "looks like a password field; want password or passwordFrom (a plain-text password is never stored)")
			continue
		}
		raw, ok := yamlJSON(fc, v, m.sub(k), 0)
		if !ok {
			continue
		}
		val, err := jsbson.Value(raw)
		if err != nil {
			fc.at(v.Line, v.Column, m.sub(k), "%v", err)
			continue
		}
		if msg := u.addField(k, val); msg != "" {
			fc.at(v.Line, v.Column, m.sub(k), "%s", msg)
		}
	}
	return u, m.ref("id"), true
}

// addField appends the field k of a user, roles normalized to objects, and
// fills FirstName, LastName and Roles.
func (u *User) addField(k string, v any) string {
	switch k {
	case "roles":
		roles, names, msg := normalizeRoles(v)
		if msg != "" {
			return msg
		}
		v, u.Roles = roles, names
	case "firstName":
		u.FirstName, _ = v.(string)
	case "lastName":
		u.LastName, _ = v.(string)
	}
	u.Fields = append(u.Fields, bson.E{Key: k, Value: v})
	return ""
}

// normalizeRoles turns a list of role names and {name: ...} objects into a
// list of objects, as the services read them (role.name === 'admin').
func normalizeRoles(v any) (bson.A, []string, string) {
	list, ok := v.(bson.A)
	if !ok {
		return nil, nil, "is not a list; want roles: [admin] or [{name: admin}]"
	}
	out := make(bson.A, 0, len(list))
	names := make([]string, 0, len(list))
	for i, r := range list {
		switch r := r.(type) {
		case string:
			if r == "" {
				return nil, nil, fmt.Sprintf("[%d] is empty; want a role name", i)
			}
			out = append(out, bson.D{{Key: "name", Value: r}})
			names = append(names, r)
			continue
		case bson.D:
			for _, e := range r {
				if name, ok := e.Value.(string); e.Key == "name" && ok && name != "" {
					out = append(out, r)
					names = append(names, name)
					break
				}
			}
			if len(out) == i+1 {
				continue
			}
		}
		return nil, nil, fmt.Sprintf("[%d] is neither a role name nor {name: ...}", i)
	}
	return out, names, ""
}

// yamlJSON converts a YAML value to JSON text, keeping the order of
// mappings. Scalars keep their YAML types (1 is a number, "1" and
// unquoted words strings).
func yamlJSON(fc *fileCtx, n *yaml.Node, field string, depth int) (json.RawMessage, bool) {
	n = deref(n)
	if depth > jsbson.MaxDepth {
		fc.at(n.Line, n.Column, field, "nested deeper than %d levels", jsbson.MaxDepth)
		return nil, false
	}
	var b bytes.Buffer
	switch n.Kind {
	case yaml.MappingNode:
		m, _ := fc.mapping(n, field)
		b.WriteByte('{')
		for i, k := range m.order {
			v, ok := yamlJSON(fc, m.vals[k], m.sub(k), depth+1)
			if !ok {
				return nil, false
			}
			if i > 0 {
				b.WriteByte(',')
			}
			key, _ := json.Marshal(k)
			b.Write(key)
			b.WriteByte(':')
			b.Write(v)
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, e := range n.Content {
			v, ok := yamlJSON(fc, e, index(field, i), depth+1)
			if !ok {
				return nil, false
			}
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(v)
		}
		b.WriteByte(']')
	default:
		return yamlScalarJSON(fc, n, field)
	}
	return b.Bytes(), true
}

// yamlScalarJSON converts a YAML scalar to JSON text.
func yamlScalarJSON(fc *fileCtx, n *yaml.Node, field string) (json.RawMessage, bool) {
	var v any
	if err := n.Decode(&v); err != nil {
		fc.at(n.Line, n.Column, field, "%v", err)
		return nil, false
	}
	switch t := v.(type) {
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			fc.at(n.Line, n.Column, field, "%s is not a number JSON can hold", n.Value)
			return nil, false
		}
	case int:
		return json.RawMessage(strconv.Itoa(t)), true
	case nil, bool, string, int64, uint64:
	default:
		fc.at(n.Line, n.Column, field, "is a %T; want a string, number, boolean, null, list or mapping", v)
		return nil, false
	}
	data, err := json.Marshal(v)
	if err != nil {
		fc.at(n.Line, n.Column, field, "%v", err)
		return nil, false
	}
	return data, true
}
