package step

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/internal/jsbson"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/store"
)

// Where a patterns step writes: the collection the services
// load patterns from, and the Redis cache of active patterns, a hash per
// pattern plus a set of their ids.
const (
	PatternCollection = "PatternModel"
	PatternKeyPrefix  = "Pattern:"
	PatternIndexKey   = "IDX:Pattern"
)

// patterns replace-upserts every pattern of the step into <db>.PatternModel,
// then caches the active ones in Redis (Pattern:<id> a hash of data <json>
// and ts <modified in ms>, listed in IDX:Pattern) and removes from that
// cache the step's inactive patterns and those the previous version of the
// step cached that are no longer active or present. The record's
// CachedPatterns are the active ids, sorted; Written counts the
// PatternModel documents, Removed the cache entries deleted.
type patterns struct{}

// preparedPattern is one pattern ready to be written.
type preparedPattern struct {
	id     string // the pattern's id, as in the Redis key
	doc    bson.D // the PatternModel document
	data   []byte // the cached JSON (Redis field "data")
	active bool
}

// preparePattern converts a pattern file: the document stored in
// PatternModel has the file's id as _id, placed first, the other fields in
// their order without the file's created and modified, and modified set to
// now. The cached JSON is the file's object without created and modified,
// id kept, in JSON.stringify's compact form.
func preparePattern(it profiles.PatternItem, now bson.DateTime) (preparedPattern, error) {
	src, err := jsbson.Doc(it.JSON)
	if err != nil {
		return preparedPattern{}, err
	}
	cached := make(bson.D, 0, len(src))
	doc := make(bson.D, 1, len(src)+1)
	hasID := false
	for _, e := range src {
		switch e.Key {
		case "created", "modified":
			continue
		case "_id":
			return preparedPattern{}, errors.New(`has an "_id" field; its id field becomes _id`)
		case "id":
			doc[0] = bson.E{Key: "_id", Value: e.Value}
			hasID = true
		default:
			doc = append(doc, e)
		}
		cached = append(cached, e)
	}
	if !hasID {
		return preparedPattern{}, errors.New(`has no "id" field`)
	}
	doc = append(doc, bson.E{Key: "modified", Value: now})
	data, err := jsbson.Stringify(cached)
	if err != nil {
		return preparedPattern{}, err
	}
	return preparedPattern{id: it.ID, doc: doc, data: data, active: it.Active}, nil
}

// patternsToUncache returns, sorted, the ids to remove from the Redis
// cache: the patterns of the step that are inactive, and those the
// previous version of the step cached that are no longer active here
// (inactive or gone).
func patternsToUncache(pats []preparedPattern, prev []string) []string {
	active := make(map[string]bool, len(pats))
	var out []string
	for _, p := range pats {
		active[p.id] = p.active
		if !p.active {
			out = append(out, p.id)
		}
	}
	for _, id := range prev {
		if _, present := active[id]; !present {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// WritesRedis: a patterns step caches its active patterns in Redis.
func (patterns) WritesRedis() bool { return true }

func (patterns) Writes(env *Env, s profiles.Step) (*Writes, error) {
	if s.Patterns == nil {
		return nil, errors.New("patterns: step has no patterns")
	}
	now := bson.NewDateTimeFromTime(env.Now)
	ts := strconv.FormatInt(env.Now.UnixMilli(), 10)
	ds := &DocSet{DB: env.DB, Coll: PatternCollection, Field: "_id", Ignore: []string{"modified"}}
	w := &Writes{Docs: []*DocSet{ds}}
	pats := make([]preparedPattern, 0, len(s.Patterns.Items))
	for _, it := range s.Patterns.Items {
		p, err := preparePattern(it, now)
		if err != nil {
			return nil, fmt.Errorf("patterns: %s: %w", it.File, err)
		}
		pats = append(pats, p)
		ds.Docs = append(ds.Docs, Doc{Key: p.doc[0].Value, Doc: p.doc})
		if p.active {
			w.Redis = append(w.Redis, RedisWrite{Key: PatternKeyPrefix + p.id, Type: TypeHash,
				Fields: []string{"data", string(p.data), "ts", ts}, Index: PatternIndexKey, Member: p.id})
		}
	}
	var prev []string
	if env.Prev != nil {
		prev = env.Prev.CachedPatterns
	}
	for _, id := range patternsToUncache(pats, prev) {
		w.Redis = append(w.Redis, RedisWrite{Key: PatternKeyPrefix + id, Type: TypeDelete,
			Index: PatternIndexKey, Member: id})
	}
	return w, nil
}

func (k patterns) Apply(ctx context.Context, env *Env, s profiles.Step) (store.StepRecord, error) {
	rec, w, c, err := describe(ctx, env, k, s)
	rec.Written = c.Docs
	if err != nil || w == nil {
		return rec, err
	}
	rec.CachedPatterns = w.indexed(PatternIndexKey)
	env.Log.Debug("patterns applied", "written", rec.Written, "cached", len(rec.CachedPatterns), "uncached", rec.Removed)
	return rec, nil
}
