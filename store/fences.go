package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// FencesCollection holds, in each profile's database, the highest fence
// each lock has claimed there: one document per lock name. It keeps the
// fences durable where Redis may lose its counter (eviction under
// allkeys-lru, a failover to a replica that missed the last INCR, a restore
// of an older backup).
const FencesCollection = "bootstrap_fences"

// FenceClaim is the highest fence a lock has claimed in a database, and the
// run that claimed it.
type FenceClaim struct {
	Lock  string    `bson:"_id"`
	Fence int64     `bson:"fence"`
	RunID string    `bson:"runId"`
	At    time.Time `bson:"at"`
}

// ClaimFence stores c as the highest fence of c.Lock in db, unless a claim
// with a fence at or above c.Fence is stored: then it returns that fence
// and an error matching ErrFenced. The write is the markers' (a replace
// conditioned on {fence: {$lt: c.Fence}}, then an insert whose duplicate
// key means a claim at least as high is stored), so of two runs claiming
// the same fence at once at most one succeeds on a server whose single
// document updates are atomic (MongoDB, Cosmos DB). It returns c.Fence on
// success.
func (s *Store) ClaimFence(ctx context.Context, db string, c FenceClaim) (int64, error) {
	coll := s.c.Database(db).Collection(FencesCollection)
	c.At = Millis(c.At)
	res, err := coll.ReplaceOne(ctx,
		bson.D{{Key: "_id", Value: c.Lock}, {Key: "fence", Value: bson.D{{Key: "$lt", Value: c.Fence}}}}, c)
	if err != nil {
		return 0, fmt.Errorf("claim fence %d of lock %s in %s: %w", c.Fence, c.Lock, db, err)
	}
	if res.MatchedCount == 1 {
		return c.Fence, nil
	}
	_, err = coll.InsertOne(ctx, c)
	if err == nil {
		return c.Fence, nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return 0, fmt.Errorf("claim fence %d of lock %s in %s: %w", c.Fence, c.Lock, db, err)
	}
	stored, err := s.Fence(ctx, db, c.Lock)
	if err != nil {
		return 0, err
	}
	return stored, fmt.Errorf("claim fence %d of lock %s in %s: fence %d is claimed: %w", c.Fence, c.Lock, db, stored, ErrFenced)
}

// Fence returns the highest fence lock has claimed in db, 0 when none.
func (s *Store) Fence(ctx context.Context, db, lock string) (int64, error) {
	var c FenceClaim
	err := s.c.Database(db).Collection(FencesCollection).FindOne(ctx, bson.D{{Key: "_id", Value: lock}}).Decode(&c)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read fence of lock %s in %s: %w", lock, db, err)
	}
	return c.Fence, nil
}
