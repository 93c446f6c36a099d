package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/srvthreds/bootstrap/internal/mongox"
)

// Store keeps markers, audit records and snapshots in MongoDB.
// Markers live in <db>.bootstrap_markers of each profile's own database, so
// dropping that database also forgets that it was bootstrapped. It uses no
// transactions and no TTL indexes (Azure Cosmos DB, FerretDB).
//
// The indexes its queries need (CollectionIndexes) are created before the
// first write to a collection and before the first read of an existing
// one, once per Store.
type Store struct {
	c  *mongo.Client
	ix *mongox.Indexes
}

// New returns a store on c. Safe for concurrent use.
func New(c *mongo.Client) *Store { return &Store{c: c, ix: mongox.NewIndexes()} }

// Marker returns the marker of profile in db, or nil when there is none.
func (s *Store) Marker(ctx context.Context, db, profile string) (*Marker, error) {
	var m Marker
	err := s.c.Database(db).Collection(MarkersCollection).FindOne(ctx, bson.D{{Key: "_id", Value: profile}}).Decode(&m)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read marker %s.%s: %w", db, profile, err)
	}
	if err := s.LoadOwned(ctx, db, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// PutMarker writes m only if the stored marker's fence is lower: a replace
// conditioned on {fence: {$lt: m.Fence}}, and when nothing matched an insert,
// which fails with a duplicate key when a marker with a fence >= m.Fence is
// stored. No transaction is needed.
//
// An Owned too large to carry inline is written first, in chunks of
// <db>.bootstrap_owned keyed by the profile and m.Fence (a marker that is
// refused leaves them to be deleted later); once the marker is stored, the
// chunks of older fences that no snapshot refers to are deleted. Every
// document is checked against MaxRecordBytes before it is written
// (ErrTooLarge, naming it).
func (s *Store) PutMarker(ctx context.Context, db string, m *Marker) error {
	stored, err := s.storedMarker(ctx, db, m)
	if err != nil {
		return err
	}
	raw, err := encode(fmt.Sprintf("marker %s.%s", db, m.Profile), stored)
	if err != nil {
		return err
	}
	if err := s.putMarker(ctx, db, m, raw); err != nil {
		return err
	}
	s.dropOwned(ctx, db, m.Profile, m.Fence)
	return nil
}

// putMarker is the fenced write of the encoded marker raw of m.
func (s *Store) putMarker(ctx context.Context, db string, m *Marker, raw bson.Raw) error {
	coll := s.c.Database(db).Collection(MarkersCollection)
	// A replace, not a $set: the optional fields of the marker it replaces
	// (say, a rollback's) must not survive.
	res, err := coll.ReplaceOne(ctx,
		bson.D{{Key: "_id", Value: m.Profile}, {Key: "fence", Value: bson.D{{Key: "$lt", Value: m.Fence}}}}, raw)
	if err != nil {
		return fmt.Errorf("write marker %s.%s: %w", db, m.Profile, err)
	}
	if res.MatchedCount == 1 {
		return nil
	}
	if _, err := coll.InsertOne(ctx, raw); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("write marker %s.%s with fence %d: %w", db, m.Profile, m.Fence, ErrFenced)
		}
		return fmt.Errorf("write marker %s.%s: %w", db, m.Profile, err)
	}
	return nil
}

// DeleteMarker deletes the marker of profile in db unless one with a fence
// >= fence is stored (ErrFenced). It reports whether a marker was deleted.
func (s *Store) DeleteMarker(ctx context.Context, db, profile string, fence int64) (bool, error) {
	coll := s.c.Database(db).Collection(MarkersCollection)
	res, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: profile}, {Key: "fence", Value: bson.D{{Key: "$lt", Value: fence}}}})
	if err != nil {
		return false, fmt.Errorf("delete marker %s.%s: %w", db, profile, err)
	}
	if res.DeletedCount == 1 {
		s.dropOwned(ctx, db, profile, fence)
		return true, nil
	}
	n, err := coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: profile}})
	if err != nil {
		return false, fmt.Errorf("delete marker %s.%s: %w", db, profile, err)
	}
	if n > 0 {
		return false, fmt.Errorf("delete marker %s.%s with fence %d: %w", db, profile, fence, ErrFenced)
	}
	return false, nil
}

// Audit inserts r into <db>.bootstrap_audit, checked against
// MaxRecordBytes first (ErrTooLarge).
func (s *Store) Audit(ctx context.Context, db string, r *AuditRecord) error {
	raw, err := encode(fmt.Sprintf("audit record %s.%s (run %s)", db, r.Profile, r.RunID), r)
	if err != nil {
		return err
	}
	coll := s.c.Database(db).Collection(AuditCollection)
	if err := ensureWrite(ctx, s.ix, nil, coll); err != nil {
		return fmt.Errorf("write audit record %s.%s: %w", db, r.Profile, err)
	}
	if _, err := coll.InsertOne(ctx, raw); err != nil {
		return fmt.Errorf("write audit record %s.%s: %w", db, r.Profile, err)
	}
	return nil
}

// History returns the audit records of db, newest first, for the given
// profiles (all when empty), at most limit (all when <= 0).
func (s *Store) History(ctx context.Context, db string, profiles []string, limit int) ([]AuditRecord, error) {
	filter := bson.D{}
	if len(profiles) > 0 {
		filter = bson.D{{Key: "profile", Value: bson.D{{Key: "$in", Value: profiles}}}}
	}
	o := options.Find().SetSort(historySort())
	if limit > 0 {
		o.SetLimit(int64(limit))
	}
	coll := s.c.Database(db).Collection(AuditCollection)
	var out []AuditRecord
	err := readIndexed(ctx, s.ix, coll, func() error {
		cur, err := coll.Find(ctx, filter, o)
		if err != nil {
			return err
		}
		return cur.All(ctx, &out)
	})
	if err != nil {
		return nil, fmt.Errorf("read audit %s: %w", db, err)
	}
	return out, nil
}

// Markers returns every marker stored in db.
func (s *Store) Markers(ctx context.Context, db string) ([]Marker, error) {
	cur, err := s.c.Database(db).Collection(MarkersCollection).Find(ctx, bson.D{}, options.Find().SetSort(markersSort()))
	if err != nil {
		return nil, fmt.Errorf("read markers %s: %w", db, err)
	}
	var out []Marker
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("read markers %s: %w", db, err)
	}
	for i := range out {
		if err := s.LoadOwned(ctx, db, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Millis returns t in UTC truncated to milliseconds, as BSON dates store it.
func Millis(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }
