package runner

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner/internal/step"
	"github.com/srvthreds/bootstrap/store"
)

// records reads the completion records of profiles in both stores: the
// marker in MongoDB and, for a profile that writes to Redis, the record in
// Redis. A profile is current only when every store it writes to says so.
// Safe for concurrent use.
type records struct {
	mongo *store.Store
	redis *store.RedisRecords
}

// newRecords returns the records kept in st's MongoDB and in rc.
func newRecords(st *store.Store, rc redis.UniversalClient) *records {
	return &records{mongo: st, redis: store.NewRedisRecords(rc)}
}

// WritesRedis reports whether p has a step of a kind that writes to Redis:
// only then is its completion recorded in Redis too, and only then does
// waiting for it read Redis. It builds no step's writes: cheap enough for
// every poll.
func WritesRedis(p *profiles.Profile) bool { return step.WritesRedis(p) }

// recordReader reads what both stores say of profiles (*records).
type recordReader interface {
	Get(ctx context.Context, p *profiles.Profile) (Completion, error)
	All(ctx context.Context, profs []*profiles.Profile) (map[string]Completion, error)
}

var _ recordReader = (*records)(nil)

// Completion is what the stores say of one profile.
type Completion struct {
	Marker *store.Marker      // nil: not applied (or its database was dropped)
	Redis  *store.RedisRecord // nil: none in Redis (never read for a profile that writes nothing there)
	// RedisNeeded: the profile writes to Redis, so Redis must say it too.
	RedisNeeded bool
}

// Current reports whether p is applied at its present content in every
// store it writes to.
func (c Completion) Current(p *profiles.Profile) bool {
	return c.Marker.Current(p) && (!c.RedisNeeded || c.Redis.Current(p))
}

// RedisLost reports whether MongoDB says p is current but Redis does not:
// Redis lost its data (a restart without persistence) or the record.
func (c Completion) RedisLost(p *profiles.Profile) bool {
	return c.Marker.Current(p) && c.RedisNeeded && !c.Redis.Current(p)
}

// Pending describes, for `wait` and logs, why p is not current, or "".
func (c Completion) Pending(p *profiles.Profile) string {
	switch {
	case c.Marker == nil:
		return fmt.Sprintf("%s (not applied, want %.12s)", p.Name, p.Version)
	case !c.Marker.Current(p):
		return fmt.Sprintf("%s (have %.12s, want %.12s)", p.Name, c.Marker.Version, p.Version)
	case c.RedisLost(p):
		return fmt.Sprintf("%s (applied at %.12s, but Redis has no record of it)", p.Name, p.Version)
	}
	return ""
}

// Get reads what both stores say of p.
func (r *records) Get(ctx context.Context, p *profiles.Profile) (Completion, error) {
	m, err := r.mongo.Marker(ctx, p.Database, p.Name)
	if err != nil {
		return Completion{}, err
	}
	c := Completion{Marker: m, RedisNeeded: step.WritesRedis(p)}
	if c.RedisNeeded && m != nil {
		if c.Redis, err = r.redis.Get(ctx, p.Database, p.Name); err != nil {
			return c, err
		}
	}
	return c, nil
}

// All reads what both stores say of every profile of profs.
func (r *records) All(ctx context.Context, profs []*profiles.Profile) (map[string]Completion, error) {
	out := make(map[string]Completion, len(profs))
	for _, p := range profs {
		c, err := r.Get(ctx, p)
		if err != nil {
			return nil, err
		}
		out[p.Name] = c
	}
	return out, nil
}

// allCurrent reports whether every profile of profs is current in cs.
func allCurrent(profs []*profiles.Profile, cs map[string]Completion) bool {
	for _, p := range profs {
		if !cs[p.Name].Current(p) {
			return false
		}
	}
	return true
}
