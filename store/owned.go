package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// OwnedCollection holds the ownership of markers too large to carry it
// inline, in chunks: <db>.bootstrap_owned.
const OwnedCollection = "bootstrap_owned"

// Ownership chunking: a marker carries its Owned inline when it is
// estimated at most ownedInlineBytes (the format every version reads);
// above, it is stored in chunks of about ownedChunkBytes, far enough under
// MaxRecordBytes that an estimate off by half still fits.
const (
	ownedInlineBytes = 256 << 10
	ownedChunkBytes  = 1 << 20
)

// ownedChunk is one document of <db>.bootstrap_owned: part of the
// ownership of the marker of Profile written with Fence. The chunks
// 0..Chunks-1 concatenated are the marker's Owned.
type ownedChunk struct {
	ID      string `bson:"_id"` // "<profile>#<fence>#<chunk>"
	Profile string `bson:"profile"`
	Fence   int64  `bson:"fence"`
	Chunk   int    `bson:"chunk"`
	Chunks  int    `bson:"chunks"`
	// Continues: the first of Owned.Docs continues the last of the
	// previous chunk's (the values of one collection split in two).
	Continues bool  `bson:"continues,omitempty"`
	Owned     Owned `bson:"owned"`
}

func ownedChunkID(profile string, fence int64, n int) string {
	return fmt.Sprintf("%s#%d#%d", profile, fence, n)
}

// Per-entry overhead of a BSON array element (type, index key, NUL) and
// of an OwnedMember document, for the size estimate.
const (
	elemOverhead   = 8
	memberOverhead = 32
)

// ownedSize estimates the BSON size of o.
func ownedSize(o *Owned) int {
	n := 0
	for _, d := range o.Docs {
		n += len(d.DB) + len(d.Coll) + len(d.Field) + memberOverhead
		for _, v := range d.Values {
			n += len(v.Value) + elemOverhead
		}
	}
	for _, k := range o.Keys {
		n += len(k) + elemOverhead + 4
	}
	for _, m := range o.Members {
		n += len(m.Set) + len(m.Member) + memberOverhead
	}
	return n
}

// splitOwned splits o into parts of an estimated target bytes at most
// (one entry larger than target gets a part of its own), in order.
func splitOwned(o *Owned, target int) []ownedChunk {
	parts := []ownedChunk{{}}
	size := 0
	// room makes room for n bytes and reports whether a new part started.
	room := func(n int) bool {
		fresh := size > 0 && size+n > target
		if fresh {
			parts = append(parts, ownedChunk{})
			size = 0
		}
		size += n
		return fresh
	}
	last := func() *ownedChunk { return &parts[len(parts)-1] }
	for _, d := range o.Docs {
		room(len(d.DB) + len(d.Coll) + len(d.Field) + memberOverhead)
		last().Owned.Docs = append(last().Owned.Docs, OwnedDocs{DB: d.DB, Coll: d.Coll, Field: d.Field})
		for _, v := range d.Values {
			if room(len(v.Value) + elemOverhead) {
				last().Continues = true
				last().Owned.Docs = append(last().Owned.Docs, OwnedDocs{DB: d.DB, Coll: d.Coll, Field: d.Field})
			}
			docs := last().Owned.Docs
			docs[len(docs)-1].Values = append(docs[len(docs)-1].Values, v)
		}
	}
	for _, k := range o.Keys {
		room(len(k) + elemOverhead + 4)
		last().Owned.Keys = append(last().Owned.Keys, k)
	}
	for _, m := range o.Members {
		room(len(m.Set) + len(m.Member) + memberOverhead)
		last().Owned.Members = append(last().Owned.Members, m)
	}
	return parts
}

// joinOwned concatenates the parts of an Owned, in chunk order.
func joinOwned(parts []ownedChunk) *Owned {
	o := &Owned{}
	for _, p := range parts {
		docs := p.Owned.Docs
		if p.Continues && len(docs) > 0 && len(o.Docs) > 0 {
			last := &o.Docs[len(o.Docs)-1]
			last.Values = append(last.Values, docs[0].Values...)
			docs = docs[1:]
		}
		o.Docs = append(o.Docs, docs...)
		o.Keys = append(o.Keys, p.Owned.Keys...)
		o.Members = append(o.Members, p.Owned.Members...)
	}
	return o
}

// storedMarker returns m as stored: with its Owned inline when small, else
// with Owned written first in chunks of <db>.bootstrap_owned (keyed by the
// profile and m's fence) and OwnedChunks set. m is not changed.
func (s *Store) storedMarker(ctx context.Context, db string, m *Marker) (*Marker, error) {
	out := *m
	out.OwnedChunks = 0
	if m.Owned == nil {
		if m.OwnedChunks > 0 {
			return nil, fmt.Errorf("write marker %s.%s: its ownership (%d chunks) was not read", db, m.Profile, m.OwnedChunks)
		}
		return &out, nil
	}
	if ownedSize(m.Owned) <= ownedInlineBytes {
		return &out, nil
	}
	parts := splitOwned(m.Owned, ownedChunkBytes)
	coll := s.c.Database(db).Collection(OwnedCollection)
	if err := ensureWrite(ctx, s.ix, nil, coll); err != nil {
		return nil, fmt.Errorf("write ownership of marker %s.%s: %w", db, m.Profile, err)
	}
	for n := range parts {
		c := &parts[n]
		c.ID, c.Profile, c.Fence, c.Chunk, c.Chunks = ownedChunkID(m.Profile, m.Fence, n), m.Profile, m.Fence, n, len(parts)
		name := fmt.Sprintf("ownership chunk %s.%s", db, c.ID)
		raw, err := encode(name, c)
		if err != nil {
			return nil, err
		}
		_, err = coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: c.ID}}, raw, options.Replace().SetUpsert(true))
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
	}
	out.Owned, out.OwnedChunks = nil, len(parts)
	return &out, nil
}

// LoadOwned reads the ownership of m (a marker read from db, or the
// marker a snapshot holds) from its chunks into m.Owned, when it is stored
// in chunks and not yet read. It fails when a chunk is missing.
func (s *Store) LoadOwned(ctx context.Context, db string, m *Marker) error {
	if m == nil || m.OwnedChunks == 0 || m.Owned != nil {
		return nil
	}
	coll := s.c.Database(db).Collection(OwnedCollection)
	var parts []ownedChunk
	err := readIndexed(ctx, s.ix, coll, func() error {
		cur, err := coll.Find(ctx, bson.D{{Key: "profile", Value: m.Profile}, {Key: "fence", Value: m.Fence}})
		if err != nil {
			return err
		}
		return cur.All(ctx, &parts)
	})
	if err != nil {
		return fmt.Errorf("read ownership of marker %s.%s: %w", db, m.Profile, err)
	}
	// Sorted here, not by the server: the query needs no index beyond
	// its filter's.
	slices.SortFunc(parts, func(a, b ownedChunk) int { return cmp.Compare(a.Chunk, b.Chunk) })
	parts = slices.CompactFunc(parts, func(a, b ownedChunk) bool { return a.Chunk == b.Chunk })
	if len(parts) != m.OwnedChunks || (len(parts) > 0 && parts[len(parts)-1].Chunk != m.OwnedChunks-1) {
		return fmt.Errorf("ownership of marker %s.%s (fence %d) is incomplete: %d of %d chunks stored",
			db, m.Profile, m.Fence, len(parts), m.OwnedChunks)
	}
	m.Owned = joinOwned(parts)
	return nil
}

// dropOwned deletes the ownership chunks of profile written with a fence
// below the given one, except those of the markers its stored snapshots
// hold (a rollback restores them). It is best effort: chunks left behind
// are deleted by the profile's next marker write or deletion.
func (s *Store) dropOwned(ctx context.Context, db, profile string, below int64) {
	snaps, err := s.SnapshotStore(db, nil).List(ctx, profile)
	if err != nil {
		return
	}
	keep := []int64{}
	for _, sn := range snaps {
		if sn.Marker != nil && sn.Marker.OwnedChunks > 0 {
			keep = append(keep, sn.Marker.Fence)
		}
	}
	_, _ = s.c.Database(db).Collection(OwnedCollection).DeleteMany(ctx, bson.D{
		{Key: "profile", Value: profile},
		{Key: "fence", Value: bson.D{{Key: "$lt", Value: below}, {Key: "$nin", Value: keep}}},
	})
}
