package profiles

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path"
	"strconv"
	"strings"
	"unicode"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.yaml.in/yaml/v3"
)

// ConvertOptions tunes Convert. The zero value writes passwords inline.
type ConvertOptions struct {
	// PasswordEnvPrefix, when set, replaces every inline password by
	// passwordFrom: {env: <prefix>_<ID>}, the user's id upper-cased with
	// every character other than a letter or digit replaced by "_".
	PasswordEnvPrefix string
}

// Converted is the manifest form of a profile.
type Converted struct {
	// Files are the files of the profile directory, by slash-separated
	// path relative to it: profile.yaml, users files, data files of
	// upsert and replace steps, and the run-config/ and patterns/ files.
	Files map[string][]byte
	// Warnings are for the person converting: inline passwords, and the
	// environment variables to set. They never contain a password.
	Warnings []string

	envs map[string]string // password variable -> user id
}

// Convert returns the manifest form of a srvthreds-form profile: its
// configs and patterns, the steps its Handler.ts run() amounts to, and its
// legacy reset. Loading the result gives the same steps (and reset) as
// loading p.
func Convert(p *Profile, opts *ConvertOptions) (*Converted, error) {
	if p.Form != FormSrvthreds {
		return nil, fmt.Errorf("profile %s is already in manifest form", p.Name)
	}
	if opts == nil {
		opts = &ConvertOptions{}
	}
	if opts.PasswordEnvPrefix != "" {
		if msg := checkEnvName(opts.PasswordEnvPrefix); msg != "" {
			return nil, fmt.Errorf("password env prefix: %s", msg)
		}
	}
	c := &Converted{Files: map[string][]byte{}}
	var m strings.Builder
	fmt.Fprintf(&m, "# The manifest form of the srvthreds profile %s (bootstrap convert).\n", p.Name)
	fmt.Fprintf(&m, "database: %s\n", p.Database)
	if r := p.Reset; r != nil {
		fmt.Fprintf(&m, "reset:\n  databases: [%s]\n  redisAll: %t\n", strings.Join(r.DropDatabases, ", "), r.RedisAll)
	}
	m.WriteString("steps:\n")
	users, data := 0, 0
	for _, s := range p.Steps {
		line, err := c.step(s, p.Database, opts, &users, &data)
		if err != nil {
			return nil, err
		}
		m.WriteString("  - " + line + "\n")
	}
	c.Files[manifestFile] = []byte(m.String())
	return c, nil
}

// step writes the files of one step and returns its manifest line.
func (c *Converted) step(s Step, db string, opts *ConvertOptions, users, data *int) (string, error) {
	dbField := ""
	if s.Database != db {
		dbField = ", database: " + s.Database
	}
	switch {
	case s.Configs != nil:
		for _, it := range s.Configs.Items {
			c.Files[path.Join(s.Configs.Dir, path.Base(it.File))] = it.JSON
		}
		return fmt.Sprintf("configs: {dir: %s%s}", s.Configs.Dir, dbField), nil
	case s.Patterns != nil:
		for _, it := range s.Patterns.Items {
			c.Files[path.Join(s.Patterns.Dir, path.Base(it.File))] = it.JSON
		}
		return fmt.Sprintf("patterns: {dir: %s%s}", s.Patterns.Dir, dbField), nil
	case s.Users != nil:
		*users++
		name := "users.yaml"
		if *users > 1 {
			name = "users-" + strconv.Itoa(*users) + ".yaml"
		}
		out, err := c.usersFile(name, s.Users.Users, opts)
		if err != nil {
			return "", err
		}
		c.Files[name] = out
		return fmt.Sprintf("users: {file: %s%s}", name, dbField), nil
	case s.Upsert != nil, s.Replace != nil:
		ms := s.Upsert
		if ms == nil {
			ms = s.Replace
		}
		*data++
		name := fmt.Sprintf("data/%d-%s-%s.json", *data, s.Kind, fileSafe(ms.Collection))
		c.Files[name] = matchFile(ms.Items)
		return fmt.Sprintf("%s: {collection: %s, file: %s%s}", s.Kind, yamlString(ms.Collection), name, dbField), nil
	}
	return "", fmt.Errorf("step %s: convert handles configs, patterns, users, upsert and replace steps", s.Name())
}

// usersFile renders users as a users file.
func (c *Converted) usersFile(name string, users []User, opts *ConvertOptions) ([]byte, error) {
	list := &yaml.Node{Kind: yaml.SequenceNode}
	for _, u := range users {
		n := &yaml.Node{Kind: yaml.MappingNode}
		addPair(n, "id", str(u.ID))
		switch {
		case u.Password.Value != "" && opts.PasswordEnvPrefix != "":
			env := opts.PasswordEnvPrefix + "_" + envSuffix(u.ID)
			if prev, dup := c.envs[env]; dup {
				return nil, fmt.Errorf("users %q and %q would both read $%s; give them ids that differ in letters or digits", prev, u.ID, env)
			}
			if c.envs == nil {
				c.envs = map[string]string{}
			}
			c.envs[env] = u.ID
			from := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
			addPair(from, "env", str(env))
			addPair(n, "passwordFrom", from)
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: user %q reads its password from $%s: set it when you run the profile", name, u.ID, env))
		case u.Password.Value != "":
			addPair(n, "password", str(u.Password.Value))
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: user %q has its password inline, as in the Handler.ts (use --password-env-prefix to read it from the environment)", name, u.ID))
		case u.Password.Env != "" || u.Password.File != "":
			from := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
			if u.Password.Env != "" {
				addPair(from, "env", str(u.Password.Env))
			} else {
				addPair(from, "file", str(u.Password.File))
			}
			addPair(n, "passwordFrom", from)
		}
		for _, f := range u.Fields {
			v, err := bsonNode(f.Value)
			if err != nil {
				return nil, fmt.Errorf("user %q: %s: %w", u.ID, f.Key, err)
			}
			addPair(n, f.Key, v)
		}
		list.Content = append(list.Content, n)
	}
	var b bytes.Buffer
	b.WriteString("# Users of the srvthreds Handler.ts (bootstrap convert).\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(list); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// matchFile renders the items of an upsert or replace step as its data
// file, matcher and values verbatim.
func matchFile(items []MatchItem) []byte {
	var b bytes.Buffer
	b.WriteString("[\n")
	for i, it := range items {
		fmt.Fprintf(&b, "  {\"matcher\": %s, \"values\": %s}", it.Matcher, it.Values)
		if i < len(items)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]\n")
	return b.Bytes()
}

// bsonNode renders a value of a user's Fields (as jsbson makes them) as
// YAML that loads back to the same value.
func bsonNode(v any) (*yaml.Node, error) {
	switch t := v.(type) {
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	case string:
		return str(t), nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(t)}, nil
	case int32:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(int(t))}, nil
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) || (t == 0 && math.Signbit(t)) {
			return nil, fmt.Errorf("%v has no YAML form that loads back alike", t)
		}
		if t == math.Trunc(t) && math.Abs(t) < 1e15 {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatFloat(t, 'f', -1, 64)}, nil
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(t, 'g', -1, 64)}, nil
	case bson.A:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for _, e := range t {
			c, err := bsonNode(e)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, c)
		}
		return n, nil
	case bson.D:
		n := &yaml.Node{Kind: yaml.MappingNode}
		for _, e := range t {
			c, err := bsonNode(e.Value)
			if err != nil {
				return nil, err
			}
			addPair(n, e.Key, c)
		}
		return n, nil
	}
	return nil, errors.New("unexpected value type " + fmt.Sprintf("%T", v))
}

// str is a string scalar node.
func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// addPair appends key: v to a mapping node.
func addPair(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, str(key), v)
}

// yamlString renders s as a quoted YAML (JSON) string.
func yamlString(s string) string {
	out, _ := json.Marshal(s) // a string always encodes
	return string(out)
}

// fileSafe keeps letters, digits, '-' and '_' of s for a file name.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// envSuffix turns a user id into the end of an environment variable name.
func envSuffix(id string) string {
	return strings.Map(func(r rune) rune {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return unicode.ToUpper(r)
		}
		return '_'
	}, id)
}
