package runner

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/profiles"
)

// SnapshotsCollection holds, in each profile's database, the snapshots
// taken before a profile is re-applied over an earlier version: what its
// steps were about to overwrite or remove. Runner.Rollback restores them.
const SnapshotsCollection = "bootstrap_snapshots"

// Snapshot bounds.
const (
	// DefaultKeepVersions is how many snapshot versions a profile keeps
	// when Options.KeepVersions is zero.
	DefaultKeepVersions = 5
	// DefaultSnapshotLimit is the size, in bytes of BSON, above which a
	// profile's snapshot is skipped when Options.SnapshotLimit is zero.
	DefaultSnapshotLimit int64 = 50 << 20

	// snapshotChunkTarget is the size a chunk document is filled to: well
	// under the 2 MB documents of Azure Cosmos DB's request-unit accounts.
	snapshotChunkTarget = 1 << 20
	// snapshotChunkMax bounds a chunk that holds one large item alone; with
	// its header fields a chunk stays under 8 MB. A larger item makes the
	// snapshot too large.
	snapshotChunkMax = 7 << 20
	// snapshotItemOverhead is what an item adds to its chunk beyond its
	// own BSON: the array element's type byte and index key.
	snapshotItemOverhead = 8

	snapshotStepName = "snapshot"
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

// errSnapshotTooLarge stops a capture past the snapshot limit.
var errSnapshotTooLarge = errors.New("snapshot too large")

// snapItem is one thing a snapshot holds: the state, before the re-apply,
// of a document key, a Redis key or a set membership.
type snapItem struct {
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
func (it *snapItem) ident() string {
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
	return "d\x00" + db + "\x00" + coll + "\x00" + field + "\x00" + valueKey(v)
}

func keyIdent(key string) string { return "k\x00" + key }

func memberIdent(set, member string) string { return "m\x00" + set + "\x00" + member }

// valueKey is a canonical string of a BSON value for matching a key value
// read back from MongoDB with the one a profile's JSON gave: numbers
// compare by value whatever their BSON type (as MongoDB's $in does),
// strings by their text, anything else by its type and bytes.
func valueKey(v bson.RawValue) string {
	switch v.Type {
	case bson.TypeString:
		return "s:" + v.StringValue()
	case bson.TypeInt32:
		return "n:" + strconv.FormatFloat(float64(v.Int32()), 'g', -1, 64)
	case bson.TypeInt64:
		return "n:" + strconv.FormatFloat(float64(v.Int64()), 'g', -1, 64)
	case bson.TypeDouble:
		f := v.Double()
		if f == 0 {
			f = 0 // -0 and 0 are equal
		}
		if math.IsNaN(f) {
			return "n:NaN"
		}
		return "n:" + strconv.FormatFloat(f, 'g', -1, 64)
	}
	return fmt.Sprintf("x:%02x:%x", byte(v.Type), v.Value)
}

// rawValueOf converts a Go value (as jsonToBSON returns) to a RawValue.
func rawValueOf(v any) (bson.RawValue, error) {
	t, b, err := bson.MarshalValue(v)
	if err != nil {
		return bson.RawValue{}, err
	}
	return bson.RawValue{Type: t, Value: b}, nil
}

// displayValue is a key value as a person reads it: a string as is,
// anything else in extended JSON.
func displayValue(v bson.RawValue) string {
	if s, ok := v.StringValueOK(); ok {
		return s
	}
	return v.String()
}

// lineage is the fence of the run whose state m describes: m's own fence,
// or, on a rollback's marker, the fence of the run whose state it restored.
// A snapshot taken by the run with fence f links to the marker of lineage f.
func lineage(m *Marker) int64 {
	if m == nil {
		return 0
	}
	if m.RestoredFence != 0 {
		return m.RestoredFence
	}
	return m.Fence
}

// chunkItems splits encoded items into chunks of at most target bytes
// (counting snapshotItemOverhead per item), in order. An item larger than
// target gets a chunk of its own; one larger than max is
// errSnapshotTooLarge. There is always at least one chunk, possibly empty,
// to carry the snapshot's header.
func chunkItems(items []bson.Raw, target, max int) ([][]bson.Raw, error) {
	out := [][]bson.Raw{nil}
	size := 0
	for i, raw := range items {
		n := len(raw) + snapshotItemOverhead
		if n > max {
			return nil, fmt.Errorf("%w: item %d is %d bytes, more than a chunk's %d", errSnapshotTooLarge, i, n, max)
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

// keepVersions is Options.KeepVersions with its default; 0 means no
// snapshot is taken.
func (r *Runner) keepVersions() int {
	switch k := r.opts.KeepVersions; {
	case k < 0:
		return 0
	case k == 0:
		return DefaultKeepVersions
	default:
		return k
	}
}

// snapshotLimit is Options.SnapshotLimit with its default; 0 means none.
func (r *Runner) snapshotLimit() int64 {
	switch l := r.opts.SnapshotLimit; {
	case l < 0:
		return 0
	case l == 0:
		return DefaultSnapshotLimit
	default:
		return l
	}
}

// snapshot stores, before p is re-applied over prev, the state of every
// document and Redis key p's steps will overwrite or remove, keyed by p's
// name and prev's version, written with the lease's fence. A snapshot
// larger than the limit is skipped with a warning and a note in pr's
// records (and any older snapshot of prev's version dropped, as it no
// longer describes what the re-apply changes); it is not an error.
//
// When a snapshot of prev's version taken over this same marker exists
// already, an earlier attempt at the re-apply failed part-way after it:
// the current state may hold that attempt's writes, so the earlier items
// are kept and only what they do not cover is read now.
func (r *Runner) snapshot(g *leaseGuard, p *profiles.Profile, prev *Marker, lease *lock.Lease, pr *ProfileResult, prog *tracker, log *slog.Logger) error {
	if prev == nil || r.keepVersions() == 0 {
		return nil
	}
	log = log.With("step", snapshotStepName)
	targets, err := snapshotTargetsOf(p, prev)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if len(targets.uncovered) > 0 {
		log.Warn("a snapshot cannot hold what these steps do; a rollback will not undo them",
			"steps", targets.uncovered)
	}
	prog.begin(p.Name + "/" + snapshotStepName)
	defer prog.end()
	store := newSnapshotStore(r.mongo, p.Database, log)
	fence := lease.Fence()

	c := &capturer{
		mongo: r.mongo, redis: r.redis, batch: r.opts.BatchSize, limit: r.snapshotLimit(),
		log: log, prog: prog,
	}
	if err := r.seedFromEarlierAttempt(g, store, p, prev, c, log); err != nil {
		return err
	}
	err = c.capture(g, targets)
	var chunks [][]bson.Raw
	if err == nil {
		chunks, err = chunkItems(c.raws, snapshotChunkTarget, snapshotChunkMax)
	}
	if errors.Is(err, errSnapshotTooLarge) {
		log.Warn("snapshot skipped: too large; a rollback to this version will not be possible",
			"version", prev.Version, "err", err)
		note := "skipped (too large): " + strings.TrimPrefix(err.Error(), errSnapshotTooLarge.Error()+": ")
		pr.Steps = append(pr.Steps, StepRecord{Name: snapshotStepName, Kind: snapshotStepName, Note: note})
		if err := g.Err(); err != nil {
			return err
		}
		return store.drop(g, p.Name, prev.Version, fence)
	}
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	hdr := snapshotChunk{
		Profile: p.Name, Version: prev.Version, ReplacedBy: p.Version, Fence: fence, RunID: r.opts.RunID,
		TakenAt: msNow(r.opts.Now), Marker: prev, TotalItems: len(c.raws), TotalBytes: c.bytes,
		Uncovered: targets.uncovered,
	}
	if err := store.write(g, hdr, chunks); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	log.Info("snapshot taken", "version", prev.Version, "items", len(c.raws), "bytes", c.bytes,
		"chunks", len(chunks), "kept_from_earlier_attempt", c.seeded)
	return nil
}

// seedFromEarlierAttempt gives c the items of a snapshot of prev's version
// taken after prev was written and over the same marker: that of an
// attempt at the re-apply that did not complete.
func (r *Runner) seedFromEarlierAttempt(g *leaseGuard, store snapshotStore, p *profiles.Profile, prev *Marker, c *capturer, log *slog.Logger) error {
	infos, err := store.list(g, p.Name)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	for _, s := range infos {
		if s.Version != prev.Version || s.marker == nil || lineage(s.marker) != lineage(prev) || s.Fence <= prev.Fence {
			continue
		}
		if !s.Complete {
			log.Warn("an earlier attempt's snapshot is incomplete; taking a new one", "version", s.Version, "fence", s.Fence)
			return nil
		}
		raws, err := store.items(g, s)
		if err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		log.Info("keeping the snapshot of an earlier attempt at this re-apply", "version", s.Version,
			"fence", s.Fence, "run_id", s.RunID, "items", len(raws))
		return c.seed(raws)
	}
	return nil
}

// pruneSnapshots keeps the newest KeepVersions snapshot versions of p (by
// the fence that took them) and deletes the chunks of the older ones. It
// runs after p's marker is written; a failure is logged, not returned.
func (r *Runner) pruneSnapshots(g *leaseGuard, p *profiles.Profile, lease *lock.Lease, log *slog.Logger) {
	keep := r.keepVersions()
	if keep == 0 || g.Err() != nil {
		return
	}
	store := newSnapshotStore(r.mongo, p.Database, log)
	infos, err := store.list(g, p.Name)
	if err != nil {
		log.Warn("snapshot retention: list snapshots", "err", err)
		return
	}
	old := snapshotsToPrune(infos, keep)
	if len(old) == 0 {
		return
	}
	n, err := store.dropVersions(g, p.Name, old, lease.Fence())
	if err != nil {
		log.Warn("snapshot retention: delete old snapshots", "versions", old, "err", err)
		return
	}
	log.Info("old snapshots deleted", "versions", old, "chunks", n, "kept", keep)
}

// snapshotsToPrune returns the versions of infos beyond the keep newest
// (infos are newest first).
func snapshotsToPrune(infos []storedSnapshot, keep int) []string {
	if len(infos) <= keep {
		return nil
	}
	var out []string
	for _, s := range infos[keep:] {
		out = append(out, s.Version)
	}
	return out
}
