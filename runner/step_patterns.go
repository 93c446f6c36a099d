package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/internal/jsbson"
	"github.com/srvthreds/bootstrap/profiles"
)

// Where a patterns step writes (SPEC §2.1): the collection the services
// load patterns from, and the Redis cache of active patterns, a hash per
// pattern plus a set of their ids.
const (
	patternCollection = "PatternModel"
	patternKeyPrefix  = "Pattern:"
	patternIndexKey   = "IDX:Pattern"
)

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

// applyPatterns replace-upserts every pattern of the step into
// <db>.PatternModel, then caches the active ones in Redis (HSET
// Pattern:<id> data <json> ts <modified in ms>, SADD IDX:Pattern <id>) and
// removes from that cache the step's inactive patterns and those the
// previous marker recorded as cached that are no longer active or present.
// The record's CachedPatterns are the active ids, sorted; Written counts
// the PatternModel documents, Removed the cache entries deleted.
func applyPatterns(ctx context.Context, env *stepEnv, s profiles.Step) (StepRecord, error) {
	rec := StepRecord{Name: s.Name(), Kind: s.Kind}
	if s.Patterns == nil {
		return rec, errors.New("patterns: step has no patterns")
	}
	now := envNow(env)
	nowDate := bson.NewDateTimeFromTime(now)
	pats := make([]preparedPattern, 0, len(s.Patterns.Items))
	var cached []string
	for _, it := range s.Patterns.Items {
		p, err := preparePattern(it, nowDate)
		if err != nil {
			return rec, fmt.Errorf("patterns: %s: %w", it.File, err)
		}
		pats = append(pats, p)
		if p.active {
			cached = append(cached, p.id)
		}
	}
	slices.Sort(cached)
	var prev []string
	if env.Prev != nil {
		prev = env.Prev.CachedPatterns
	}
	uncache := patternsToUncache(pats, prev)

	log, progress, batch := envLog(env), envProgress(env), envBatchSize(env)
	progress.SetTotal(int64(len(pats) + len(cached) + len(uncache)))

	if len(pats) > 0 {
		filters, docs := make([]any, len(pats)), make([]any, len(pats))
		for i, p := range pats {
			filters[i] = bson.D{p.doc[0]}
			docs[i] = p.doc
		}
		coll := env.Mongo.Database(stepDatabase(env, s)).Collection(patternCollection)
		n, err := bulkReplaceUpsert(ctx, log, coll, filters, docs, batch, progress)
		rec.Written = n
		if err != nil {
			return rec, fmt.Errorf("patterns: %w", err)
		}
	}

	active := make([]preparedPattern, 0, len(cached))
	for _, p := range pats {
		if p.active {
			active = append(active, p)
		}
	}
	err := chunks(active, batch, func(part []preparedPattern) error {
		err := retryTransient(ctx, log, func(ctx context.Context) error {
			_, err := env.Redis.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
				ids := make([]any, len(part))
				for i, p := range part {
					pipe.HSet(ctx, patternKeyPrefix+p.id, "data", string(p.data), "ts", now.UnixMilli())
					ids[i] = p.id
				}
				pipe.SAdd(ctx, patternIndexKey, ids...)
				return nil
			})
			return err
		})
		if err != nil {
			return fmt.Errorf("patterns: cache in redis: %w", err)
		}
		progress.Add(int64(len(part)))
		return nil
	})
	if err != nil {
		return rec, err
	}

	err = chunks(uncache, batch, func(part []string) error {
		var dels []*redis.IntCmd
		err := retryTransient(ctx, log, func(ctx context.Context) error {
			dels = dels[:0]
			_, err := env.Redis.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
				ids := make([]any, len(part))
				for i, id := range part {
					dels = append(dels, pipe.Del(ctx, patternKeyPrefix+id))
					ids[i] = id
				}
				pipe.SRem(ctx, patternIndexKey, ids...)
				return nil
			})
			return err
		})
		if err != nil {
			return fmt.Errorf("patterns: remove from redis cache: %w", err)
		}
		for _, c := range dels {
			rec.Removed += c.Val()
		}
		progress.Add(int64(len(part)))
		return nil
	})
	if err != nil {
		return rec, err
	}
	rec.CachedPatterns = cached
	log.Debug("patterns applied", "written", rec.Written, "cached", len(cached), "uncached", rec.Removed)
	return rec, nil
}
