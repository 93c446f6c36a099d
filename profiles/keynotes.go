package profiles

import (
	"strconv"
	"strings"
)

// KeyNote is a key that starts with "$" or contains "." in a document a
// profile writes. MongoDB 5.0+ stores such keys when nested;
// FerretDB, Azure Cosmos DB and older MongoDB servers refuse them. They are
// notes, not problems: validation has no server to ask.
type KeyNote struct {
	File   string // path relative to the profiles dir
	Line   int    // 1-based
	Column int    // 1-based
	Field  string // path of the key in the file, e.g. "reactions[0].update.$push"
	Key    string // the key itself
}

// String renders the note as "file:line:col: field".
func (n KeyNote) String() string {
	return n.File + ":" + strconv.Itoa(n.Line) + ":" + strconv.Itoa(n.Column) + ": " + n.Field
}

// noteworthyKey reports whether key is one that KeyNote lists.
func noteworthyKey(key string) bool {
	return strings.HasPrefix(key, "$") || strings.Contains(key, ".")
}

// addKeyNote adds a note to the profile, keeping at most limit of them and
// counting the others.
func addKeyNote(p *Profile, n KeyNote, limit int) {
	if len(p.KeyNotes) >= limit {
		p.KeyNotesMore++
		return
	}
	p.KeyNotes = append(p.KeyNotes, n)
}

// omitKeys returns the omitKeys: list of a step, reporting empty names.
func omitKeys(m ymap) []string {
	keys, nodes := m.strList("omitKeys")
	var out []string
	for i, k := range keys {
		if k == "" {
			m.c.at(nodes[i].Line, nodes[i].Column, index(m.sub("omitKeys"), i), "must not be empty")
			continue
		}
		out = append(out, k)
	}
	return out
}
