package profiles

import (
	"slices"

	"go.yaml.in/yaml/v3"
)

// RedisOwnPrefix starts the Redis keys of bootstrap itself (lock, fence,
// holder, records), which a reset never deletes.
const RedisOwnPrefix = "bootstrap:"

// parseResetAll parses the databases and redisAll fields of a reset:
// section.
//
//	reset: {databases: [nr, test], redisAll: true}
func parseResetAll(m ymap, r *Reset) {
	dbs, nodes := m.strList("databases")
	for i, db := range dbs {
		field := index(m.sub("databases"), i)
		switch {
		case checkDatabase(db) != "":
			m.c.at(nodes[i].Line, nodes[i].Column, field, "%s", checkDatabase(db))
		case slices.Contains(r.DropDatabases, db):
			m.c.at(nodes[i].Line, nodes[i].Column, field, "database %q is named twice", db)
		default:
			r.DropDatabases = append(r.DropDatabases, db)
		}
	}
	if v := m.vals["redisAll"]; !isNull(v) {
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" {
			m.c.at(v.Line, v.Column, m.sub("redisAll"), "is %q; want true or false", v.Value)
			return
		}
		r.RedisAll = v.Value == "true" || v.Value == "True" || v.Value == "TRUE"
	}
}

// legacyReset is the reset of a srvthreds-form profile: drop its database
// and the databases its Handler.ts cleanup() drops, and delete every Redis
// key except bootstrap's own.
func legacyReset(db string, cleanup []string) *Reset {
	r := &Reset{DropDatabases: []string{db}, RedisAll: true}
	for _, d := range cleanup {
		if !slices.Contains(r.DropDatabases, d) {
			r.DropDatabases = append(r.DropDatabases, d)
		}
	}
	return r
}
