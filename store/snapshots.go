package store

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/srvthreds/bootstrap/internal/mongox"
)

// SnapshotHeader describes a snapshot to write.
type SnapshotHeader struct {
	Profile    string
	Version    string // the version whose state it holds
	ReplacedBy string // the version applied over it
	Fence      int64  // of the run that takes it
	RunID      string
	TakenAt    time.Time
	Marker     *Marker // the marker it replaces
	TotalItems int
	TotalBytes int64
	Uncovered  []string // steps whose effects it cannot hold
}

// chunk is one document of <db>.bootstrap_snapshots. A snapshot is
// the chunks 0..Chunks-1 of one profile and version written with one
// fence; chunk 0 carries the header fields. A snapshot whose chunks do not
// all carry the header's fence is incomplete (a writer stopped part-way)
// and is never restored.
type chunk struct {
	ID      string    `bson:"_id"` // "<profile>@<version>#<chunk>"
	Profile string    `bson:"profile"`
	Version string    `bson:"version"` // the version whose state it holds
	Fence   int64     `bson:"fence"`   // of the run that took it
	RunID   string    `bson:"runId"`
	TakenAt time.Time `bson:"takenAt"`
	Chunk   int       `bson:"chunk"`
	Chunks  int       `bson:"chunks"`
	Bytes   int64     `bson:"bytes"` // of this chunk's items

	// Header fields, on chunk 0 only.
	ReplacedBy string   `bson:"replacedBy,omitempty"` // the version applied over it
	Marker     *Marker  `bson:"marker,omitempty"`     // the marker it replaced
	TotalItems int      `bson:"totalItems,omitempty"`
	TotalBytes int64    `bson:"totalBytes,omitempty"`
	Uncovered  []string `bson:"uncovered,omitempty"` // steps whose effects it cannot hold

	Items []bson.Raw `bson:"items"`
}

// SnapshotInfo describes one stored snapshot: the state, before a re-apply,
// of what the re-apply overwrote or removed.
type SnapshotInfo struct {
	Profile    string    `json:"profile"`
	Version    string    `json:"version"`    // the version whose state it holds
	ReplacedBy string    `json:"replacedBy"` // the version applied over it
	Fence      int64     `json:"fence"`      // of the run that took it
	RunID      string    `json:"runId"`
	TakenAt    time.Time `json:"takenAt"`
	Chunks     int       `json:"chunks"` // documents stored
	Items      int       `json:"items"`
	Bytes      int64     `json:"bytes"`    // of the items, in BSON
	Complete   bool      `json:"complete"` // false: its writer stopped part-way; never restored
}

// StoredSnapshot is a SnapshotInfo with the header fields a rollback uses.
type StoredSnapshot struct {
	SnapshotInfo
	Marker    *Marker  // the marker it replaced
	Uncovered []string // steps whose effects it cannot hold
}

// Snapshots returns the snapshots of profile stored in db, newest first
// (by the fence that took them), without their items. Safe for concurrent
// use.
func (s *Store) Snapshots(ctx context.Context, db, profile string) ([]SnapshotInfo, error) {
	st := s.SnapshotStore(db, nil)
	list, err := st.List(ctx, profile)
	if err != nil {
		return nil, err
	}
	out := make([]SnapshotInfo, len(list))
	for i, s := range list {
		out[i] = s.SnapshotInfo
	}
	return out, nil
}

// SnapshotStore reads and writes the chunks of <db>.bootstrap_snapshots.
type SnapshotStore struct {
	coll   *mongo.Collection
	log    *slog.Logger
	window mongox.Window   // bounds every write (see Under); nil: none
	ix     *mongox.Indexes // the indexes made sure of (see CollectionIndexes)
}

// NewSnapshotStore returns the snapshot store of db, which makes sure of
// its collection's indexes once (Store.SnapshotStore shares the Store's).
func NewSnapshotStore(mc *mongo.Client, db string, log *slog.Logger) SnapshotStore {
	return newSnapshotStore(mc, db, log, mongox.NewIndexes())
}

// SnapshotStore returns the snapshot store of db, making sure of its
// indexes once for s.
func (s *Store) SnapshotStore(db string, log *slog.Logger) SnapshotStore {
	return newSnapshotStore(s.c, db, log, s.ix)
}

func newSnapshotStore(mc *mongo.Client, db string, log *slog.Logger, ix *mongox.Indexes) SnapshotStore {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return SnapshotStore{coll: mc.Database(db).Collection(SnapshotsCollection), log: log, ix: ix}
}

// Under returns s with every write bounded by w, the run's lease: no chunk
// is written or dropped once the lease is gone.
func (s SnapshotStore) Under(w mongox.Window) SnapshotStore {
	s.window = w
	return s
}

func chunkID(profile, version string, n int) string {
	return fmt.Sprintf("%s@%s#%d", profile, version, n)
}

// List returns the snapshots of profile, newest first, without items.
func (s SnapshotStore) List(ctx context.Context, profile string) ([]StoredSnapshot, error) {
	var chunks []chunk
	err := readIndexed(ctx, s.ix, s.coll, func() error {
		return mongox.Retry(ctx, s.log, nil, func(ctx context.Context) error {
			cur, err := s.coll.Find(ctx, bson.D{{Key: "profile", Value: profile}},
				options.Find().SetProjection(bson.D{{Key: "items", Value: 0}}))
			if err != nil {
				return err
			}
			chunks = chunks[:0]
			return cur.All(ctx, &chunks)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read snapshots of %s in %s: %w", profile, s.coll.Database().Name(), err)
	}
	return groupSnapshots(chunks), nil
}

// groupSnapshots groups chunk headers (items not needed) by version,
// newest first.
func groupSnapshots(chunks []chunk) []StoredSnapshot {
	byVersion := map[string]*StoredSnapshot{}
	var order []*StoredSnapshot
	have := map[string]map[int]bool{} // version -> chunk numbers with the header's fence
	for _, c := range chunks {
		s, ok := byVersion[c.Version]
		if !ok {
			s = &StoredSnapshot{SnapshotInfo: SnapshotInfo{Profile: c.Profile, Version: c.Version}}
			byVersion[c.Version] = s
			order = append(order, s)
		}
		s.Bytes += c.Bytes
		if c.Chunk == 0 {
			s.ReplacedBy, s.Fence, s.RunID, s.TakenAt = c.ReplacedBy, c.Fence, c.RunID, c.TakenAt
			s.Chunks, s.Items = c.Chunks, c.TotalItems
			s.Marker, s.Uncovered = c.Marker, c.Uncovered
		}
	}
	for _, c := range chunks {
		s := byVersion[c.Version]
		if c.Fence == s.Fence && c.Chunk >= 0 && c.Chunk < s.Chunks {
			if have[c.Version] == nil {
				have[c.Version] = map[int]bool{}
			}
			have[c.Version][c.Chunk] = true
		}
	}
	out := make([]StoredSnapshot, len(order))
	for i, s := range order {
		s.Complete = s.Chunks > 0 && s.Marker != nil && len(have[s.Version]) == s.Chunks
		if !s.Complete {
			// Without a header, order it by its newest chunk.
			for _, c := range chunks {
				if c.Version == s.Version {
					s.Fence = max(s.Fence, c.Fence)
				}
			}
		}
		out[i] = *s
	}
	slices.SortStableFunc(out, func(a, b StoredSnapshot) int { return cmp.Compare(b.Fence, a.Fence) })
	return out
}

// Items reads the items of the complete snapshot s, in order. It fails if
// a chunk is missing or was written with another fence.
func (s SnapshotStore) Items(ctx context.Context, snap StoredSnapshot) ([]bson.Raw, error) {
	var chunks []chunk
	err := readIndexed(ctx, s.ix, s.coll, func() error {
		return mongox.Retry(ctx, s.log, nil, func(ctx context.Context) error {
			cur, err := s.coll.Find(ctx, bson.D{
				{Key: "profile", Value: snap.Profile}, {Key: "version", Value: snap.Version},
			}, options.Find().SetSort(chunkSort()))
			if err != nil {
				return err
			}
			chunks = chunks[:0]
			return cur.All(ctx, &chunks)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read snapshot %s@%.12s: %w", snap.Profile, snap.Version, err)
	}
	var out []bson.Raw
	next := 0
	for _, c := range chunks {
		if c.Fence != snap.Fence || c.Chunk >= snap.Chunks {
			continue // a stale chunk of an older snapshot of the version
		}
		if c.Chunk != next {
			break
		}
		out = append(out, c.Items...)
		next++
	}
	if next != snap.Chunks {
		return nil, fmt.Errorf("snapshot %s@%.12s is incomplete: %d of %d chunks with fence %d",
			snap.Profile, snap.Version, next, snap.Chunks, snap.Fence)
	}
	return out, nil
}

// Write stores the chunks of a snapshot described by hdr (its header
// fields set, Chunk, Chunks, Items and Bytes left to write), then deletes
// the chunks of the version with a lower fence. Every chunk is written only
// over a chunk with a fence no higher than hdr.Fence (ErrFenced otherwise);
// ctx is checked before each write. The header chunk is written last.
func (s SnapshotStore) Write(ctx context.Context, hdr SnapshotHeader, items [][]bson.Raw) error {
	if err := ensureWrite(ctx, s.ix, s.window, s.coll); err != nil {
		return fmt.Errorf("write snapshot %s@%.12s: %w", hdr.Profile, hdr.Version, err)
	}
	for n := len(items) - 1; n >= 0; n-- {
		c := chunk{
			ID: chunkID(hdr.Profile, hdr.Version, n), Profile: hdr.Profile, Version: hdr.Version,
			Fence: hdr.Fence, RunID: hdr.RunID, TakenAt: hdr.TakenAt, Chunk: n, Chunks: len(items),
			Items: items[n],
		}
		if c.Items == nil {
			c.Items = []bson.Raw{}
		}
		for _, raw := range items[n] {
			c.Bytes += int64(len(raw))
		}
		if n == 0 {
			c.ReplacedBy, c.Marker, c.TotalItems, c.TotalBytes, c.Uncovered =
				hdr.ReplacedBy, asStored(hdr.Marker), hdr.TotalItems, hdr.TotalBytes, hdr.Uncovered
		}
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		if err := s.put(ctx, &c); err != nil {
			return err
		}
	}
	return s.Drop(ctx, hdr.Profile, hdr.Version, hdr.Fence)
}

// put writes c unless a chunk with a higher fence is stored: a replace
// conditioned on {fence: {$lte: c.Fence}} (a retry of this writer's own
// write matches), and when nothing matched an insert, whose duplicate key
// error means a newer holder wrote the chunk (ErrFenced).
func (s SnapshotStore) put(ctx context.Context, c *chunk) error {
	raw, err := encode(fmt.Sprintf("snapshot chunk %s.%s", s.coll.Database().Name(), c.ID), c)
	if err != nil {
		return err
	}
	return mongox.Retry(ctx, s.log, s.window, func(ctx context.Context) error {
		res, err := s.coll.ReplaceOne(ctx,
			bson.D{{Key: "_id", Value: c.ID}, {Key: "fence", Value: bson.D{{Key: "$lte", Value: c.Fence}}}}, raw)
		if err != nil {
			return fmt.Errorf("write snapshot chunk %s: %w", c.ID, err)
		}
		if res.MatchedCount == 1 {
			return nil
		}
		if _, err := s.coll.InsertOne(ctx, raw); err != nil {
			if mongo.IsDuplicateKeyError(err) {
				return fmt.Errorf("write snapshot chunk %s with fence %d: %w", c.ID, c.Fence, ErrFenced)
			}
			return fmt.Errorf("write snapshot chunk %s: %w", c.ID, err)
		}
		return nil
	})
}

// asStored returns the marker m as a snapshot holds it: without its Owned
// when that is stored in chunks (kept for the snapshot: see
// Store.PutMarker; Store.LoadOwned reads it back).
func asStored(m *Marker) *Marker {
	if m == nil || m.OwnedChunks == 0 {
		return m
	}
	c := *m
	c.Owned = nil
	return &c
}

// Drop deletes the chunks of profile's snapshot of version written with a
// fence below the given one.
func (s SnapshotStore) Drop(ctx context.Context, profile, version string, below int64) error {
	_, err := s.DropVersions(ctx, profile, []string{version}, below)
	return err
}

// DropVersions deletes the chunks of profile's snapshots of versions
// written with a fence below the given one, and returns how many.
func (s SnapshotStore) DropVersions(ctx context.Context, profile string, versions []string, below int64) (int64, error) {
	if len(versions) == 0 {
		return 0, nil
	}
	var n int64
	err := mongox.Retry(ctx, s.log, s.window, func(ctx context.Context) error {
		res, err := s.coll.DeleteMany(ctx, bson.D{
			{Key: "profile", Value: profile},
			{Key: "version", Value: bson.D{{Key: "$in", Value: versions}}},
			{Key: "fence", Value: bson.D{{Key: "$lt", Value: below}}},
		})
		if err != nil {
			return err
		}
		n = res.DeletedCount
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("delete snapshots of %s: %w", profile, err)
	}
	return n, nil
}

// Prunable returns the versions of the snapshots (listed newest first, as
// List returns them) beyond the newest keep, an already resolved count
// (there is no default here): 0 or negative keeps none.
func Prunable(infos []StoredSnapshot, keep int) []string {
	keep = max(keep, 0)
	if len(infos) <= keep {
		return nil
	}
	var out []string
	for _, s := range infos[keep:] {
		out = append(out, s.Version)
	}
	return out
}
