package snapshot

import (
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/internal/mongox"
	"github.com/srvthreds/bootstrap/store"
)

// Snapshot bounds. How many snapshots a profile keeps and how large one
// may be are the caller's, already resolved (Capturer.Limit): this package
// has no defaults of its own.
const (
	// ChunkTarget is the size a chunk document is filled to: well
	// under the 2 MB documents of Azure Cosmos DB's request-unit accounts.
	ChunkTarget = 1 << 20
	// ChunkMax bounds a chunk that holds one large item alone: with its
	// header fields (chunk 0 carries the marker it replaced, whose
	// ownership is inline up to 256 KiB) a chunk stays under
	// store.MaxRecordBytes. A larger item makes the snapshot too large:
	// it is skipped with a note, the run goes on.
	ChunkMax = store.MaxRecordBytes - 512<<10
	// itemOverhead is what an item adds to its chunk beyond its
	// own BSON: the array element's type byte and index key.
	itemOverhead = 8
)

// Kinds of snapshot items.
const (
	itemDoc    = "doc"    // documents of a collection matched by one key value
	itemKey    = "key"    // a Redis key
	itemMember = "member" // membership of a member in a Redis set
)

// Types of a saved Redis key.
const (
	keyNone   = "none" // the key did not exist
	keyString = "string"
	keyHash   = "hash"
	keySet    = "set"
	keyDump   = "dump" // any other type, as DUMP serialized it
)

// ErrTooLarge stops a capture past the snapshot limit.
var ErrTooLarge = errors.New("snapshot too large")

// Item is one thing a snapshot holds: the state, before the re-apply,
// of a document key, a Redis key or a set membership.
type Item struct {
	Kind string `bson:"kind"`

	// itemDoc: the documents of DB.Coll whose Field equals Value; none
	// means there were none (a rollback deletes what matches then).
	DB    string         `bson:"db,omitempty"`
	Coll  string         `bson:"coll,omitempty"`
	Field string         `bson:"field,omitempty"`
	Value *bson.RawValue `bson:"value,omitempty"`
	// Docs are stored as BSON bytes (binary), so that no field name or
	// nesting of an application document can make a chunk invalid.
	Docs [][]byte `bson:"docs,omitempty"`

	// itemKey: Key's type and value; itemMember: Key is the set.
	Key     string   `bson:"key,omitempty"`
	Type    string   `bson:"type,omitempty"`
	String  string   `bson:"string,omitempty"`
	Fields  []string `bson:"fields,omitempty"` // hash: field, value, field, value, ...
	Members []string `bson:"members,omitempty"`
	Dump    []byte   `bson:"dump,omitempty"`
	PTTL    int64    `bson:"pttl,omitempty"` // ms; 0: no expiry

	Member  string `bson:"member,omitempty"`
	Present bool   `bson:"present,omitempty"`
}

// ident identifies what an item restores: two items with the same ident
// hold the state of the same thing (at different times).
func (it *Item) ident() string {
	switch it.Kind {
	case itemDoc:
		var v bson.RawValue
		if it.Value != nil {
			v = *it.Value
		}
		return docIdent(it.DB, it.Coll, it.Field, v)
	case itemMember:
		return memberIdent(it.Key, it.Member)
	}
	return keyIdent(it.Key)
}

func docIdent(db, coll, field string, v bson.RawValue) string {
	return "d\x00" + db + "\x00" + coll + "\x00" + field + "\x00" + mongox.ValueKey(v)
}

func keyIdent(key string) string { return "k\x00" + key }

func memberIdent(set, member string) string { return "m\x00" + set + "\x00" + member }

// Lineage is the fence of the run whose state m describes: m's own fence,
// or, on a rollback's marker, the fence of the run whose state it restored.
// A snapshot taken by the run with fence f links to the marker of lineage f.
func Lineage(m *store.Marker) int64 {
	if m == nil {
		return 0
	}
	if m.RestoredFence != 0 {
		return m.RestoredFence
	}
	return m.Fence
}

// ChunkItems splits encoded items into chunks of at most target bytes
// (counting itemOverhead per item), in order. An item larger than
// target gets a chunk of its own; one larger than max is
// ErrTooLarge. There is always at least one chunk, possibly empty,
// to carry the snapshot's header.
func ChunkItems(items []bson.Raw, target, max int) ([][]bson.Raw, error) {
	out := [][]bson.Raw{nil}
	size := 0
	for i, raw := range items {
		n := len(raw) + itemOverhead
		if n > max {
			return nil, fmt.Errorf("%w: item %d is %d bytes, more than a chunk's %d", ErrTooLarge, i, n, max)
		}
		last := len(out) - 1
		if size+n > target && len(out[last]) > 0 {
			out = append(out, nil)
			last++
			size = 0
		}
		out[last] = append(out[last], raw)
		size += n
	}
	return out, nil
}
