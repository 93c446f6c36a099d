package step

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/srvthreds/bootstrap/internal/jsbson"
	"github.com/srvthreds/bootstrap/internal/mongox"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/store"
)

// Writes is what one step writes: documents and Redis keys. Apply executes
// it, the plan diff compares it with what is stored, and a snapshot reads
// what it will overwrite; pruning and verification use it the same way.
type Writes struct {
	Docs  []*DocSet
	Redis []RedisWrite
	// Opaque: the step acts outside both stores (http, exec); nothing of
	// what it does can be described, compared or snapshotted.
	Opaque bool
}

// DocSet is documents of one collection, each matched on Field (or by its
// own Filter) and written with an upsert.
type DocSet struct {
	DB, Coll string
	Field    string // "_id" or a dotted path into the document; "": each Doc has its Filter
	// Update: the documents' fields are $set (other stored fields stay);
	// otherwise each document replaces the one it matches.
	Update bool
	// Delete: the documents matched are deleted (Doc is empty): what a
	// profile's previous version wrote and this one no longer does.
	Delete bool
	// Ignore names the top-level fields that a comparison with the stored
	// documents leaves out ("modified", a password hash).
	Ignore []string
	Docs   []Doc
	Note   string // a remark for the plan
	// NoIndex: no index is made sure of on the key (the step's
	// `index: false`; see KeyIndexes).
	NoIndex bool
}

// Doc is one document and the value of its DocSet's Field, or, in a set
// without Field, the filter that matches it.
type Doc struct {
	Key    any
	Filter bson.D
	Doc    bson.D
	// Src, when Doc is nil, is the document as JSON, converted (Document)
	// only when it is written or compared, batch by batch: a step's
	// documents are never all held converted at once, so apply's memory
	// stays near the size of the profile's files.
	Src json.RawMessage
}

// Document returns d's document: Doc, or Src converted.
func (d Doc) Document() (bson.D, error) {
	if d.Doc != nil || d.Src == nil {
		return d.Doc, nil
	}
	return jsbson.Doc(d.Src)
}

// RedisWrite is one Redis key as a step leaves it. Type "string", "hash" or
// "set" writes the key whole (a hash or set is deleted and written again, so
// that fields or members no longer listed vanish), with TTL when positive;
// Type "" deletes it. Index, when set, is a set that lists the key as
// Member: SADD when written, SREM when deleted.
type RedisWrite struct {
	Key     string
	Type    string
	String  string
	Fields  []string // hash: field, value, field, value, ...
	Members []string
	TTL     time.Duration
	Index   string
	Member  string
}

// Redis key types of RedisWrite.Type.
const (
	TypeString = "string"
	TypeHash   = "hash"
	TypeSet    = "set"
	TypeDelete = ""
	// typeRemoveMember removes Member from Index only (no key is written or
	// deleted): pruning a membership that a key no longer carries.
	typeRemoveMember = "-member"
)

// Counts is what executing Writes did.
type Counts struct {
	Docs    int64 // documents written
	Keys    int64 // Redis keys written
	Removed int64 // Redis keys deleted that existed
}

// describe executes what kind k describes for step s (its Writes) and
// returns the record of the step with what was removed, and the counts; an
// error is prefixed with the step's kind.
func describe(ctx context.Context, env *Env, k Kind, s profiles.Step) (store.StepRecord, *Writes, Counts, error) {
	rec := store.StepRecord{Name: s.Name(), Kind: s.Kind}
	w, err := k.Writes(env, s)
	if err == nil {
		err = checkStores(k, s, w)
	}
	if err != nil {
		return rec, nil, Counts{}, err
	}
	c, err := w.execute(ctx, env)
	rec.Removed = c.Removed
	if err != nil {
		err = fmt.Errorf("%s: %w", s.Kind, err)
	}
	return rec, w, c, err
}

// Size is the number of documents and Redis keys w writes.
func (w *Writes) Size() int {
	n := len(w.Redis)
	for _, ds := range w.Docs {
		n += len(ds.Docs)
	}
	return n
}

// execute writes w: the documents of each DocSet in batches of unordered
// upserts, then the Redis keys in batches, each batch one MULTI/EXEC
// transaction sent in one round trip, so that a reader never sees a hash or
// set half-written. Every batch is reported to env.Progress.
func (w *Writes) execute(ctx context.Context, env *Env) (Counts, error) {
	var c Counts
	env.Progress.SetTotal(int64(w.Size()))
	for _, ds := range w.Docs {
		n, err := ds.write(ctx, env)
		c.Docs += n
		if err != nil {
			return c, err
		}
	}
	err := mongox.Chunks(w.Redis, env.BatchSize, func(part []RedisWrite) error {
		removed, err := writeRedisBatch(ctx, env, part)
		if err != nil {
			return fmt.Errorf("redis keys %q..%q: %w", part[0].Key, part[len(part)-1].Key, err)
		}
		c.Removed += removed
		for _, rw := range part {
			if rw.Type != TypeDelete && rw.Type != typeRemoveMember {
				c.Keys++
			}
		}
		env.Progress.Add(int64(len(part)))
		return nil
	})
	return c, err
}

// Filter is the filter that matches d in its set.
func (ds *DocSet) Filter(d Doc) bson.D {
	if ds.Field == "" {
		return d.Filter
	}
	return bson.D{{Key: ds.Field, Value: d.Key}}
}

// Match is what identifies d's document in its set: the value of the set's
// Field, or d's Filter as a document when the set has no Field.
func (ds *DocSet) Match(d Doc) any {
	if ds.Field == "" {
		return d.Filter
	}
	return d.Key
}

func (ds *DocSet) write(ctx context.Context, env *Env) (int64, error) {
	if len(ds.Docs) == 0 {
		return 0, nil
	}
	if err := ensureIndexes(ctx, env, ds); err != nil {
		return 0, err
	}
	coll := env.Mongo.Database(ds.DB).Collection(ds.Coll)
	// The models of one batch at a time: each document is converted when
	// its batch is sent.
	return mongox.BulkWriteEach(ctx, env.batcher(), coll, ds.Docs, ds.model)
}

// model is the write of d: a delete, a $set upsert or a replace upsert.
func (ds *DocSet) model(d Doc) (mongo.WriteModel, error) {
	if ds.Delete {
		return mongo.NewDeleteManyModel().SetFilter(ds.Filter(d)), nil
	}
	doc, err := d.Document()
	if err != nil {
		return nil, err
	}
	if ds.Update {
		return mongo.NewUpdateOneModel().SetFilter(ds.Filter(d)).
			SetUpdate(bson.D{{Key: "$set", Value: doc}}).SetUpsert(true), nil
	}
	return mongo.NewReplaceOneModel().SetFilter(ds.Filter(d)).SetReplacement(doc).SetUpsert(true), nil
}

// writeRedisBatch writes part in one batch (a fenced script, or a
// MULTI/EXEC transaction: see ExecRedis) and returns how many of its
// deleted keys existed.
func writeRedisBatch(ctx context.Context, env *Env, part []RedisWrite) (int64, error) {
	var dels []int // indices of the DEL replies that count deleted keys
	replies, err := ExecRedis(ctx, env, func(pipe redis.Pipeliner) error {
		dels = dels[:0]
		added, removed := map[string][]any{}, map[string][]any{}
		var order []string
		for _, rw := range part {
			switch rw.Type {
			case typeRemoveMember:
			case TypeDelete:
				dels = append(dels, len(pipe.Cmds()))
				pipe.Del(ctx, rw.Key)
			default:
				if err := queueKey(ctx, pipe, rw); err != nil {
					return err
				}
			}
			if rw.Index == "" {
				continue
			}
			if _, seen := added[rw.Index]; !seen {
				if _, seen := removed[rw.Index]; !seen {
					order = append(order, rw.Index)
				}
			}
			if rw.Type == TypeDelete || rw.Type == typeRemoveMember {
				removed[rw.Index] = append(removed[rw.Index], rw.Member)
			} else {
				added[rw.Index] = append(added[rw.Index], rw.Member)
			}
		}
		for _, set := range order {
			if len(added[set]) > 0 {
				pipe.SAdd(ctx, set, added[set]...)
			}
			if len(removed[set]) > 0 {
				pipe.SRem(ctx, set, removed[set]...)
			}
		}
		return nil
	})
	var n int64
	for _, i := range dels {
		if i < len(replies) {
			n += replyInt(replies[i])
		}
	}
	return n, err
}

// queueKey queues the commands that write rw: a string is SET (with PX when
// it has a TTL, so an earlier TTL is cleared otherwise); a hash or a set is
// deleted and written again, then given its TTL.
func queueKey(ctx context.Context, pipe redis.Pipeliner, rw RedisWrite) error {
	ttl := RedisTTL(rw.TTL)
	switch rw.Type {
	case TypeString:
		pipe.Set(ctx, rw.Key, rw.String, ttl)
		return nil
	case TypeHash:
		pipe.Del(ctx, rw.Key)
		if len(rw.Fields) > 0 {
			pipe.HSet(ctx, rw.Key, toAny(rw.Fields)...)
		}
	case TypeSet:
		pipe.Del(ctx, rw.Key)
		if len(rw.Members) > 0 {
			pipe.SAdd(ctx, rw.Key, toAny(rw.Members)...)
		}
	default:
		return fmt.Errorf("key %q: unknown type %q", rw.Key, rw.Type)
	}
	if ttl > 0 {
		pipe.PExpire(ctx, rw.Key, ttl)
	}
	return nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// RedisTTL rounds a positive TTL up to whole milliseconds, the precision
// of PX and PEXPIRE.
func RedisTTL(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return 0
	}
	return (ttl + time.Millisecond - 1).Truncate(time.Millisecond)
}

// sortedIDs returns the members of the writes of w listed in index, sorted.
func (w *Writes) indexed(index string) []string {
	var out []string
	for _, rw := range w.Redis {
		if rw.Index == index && rw.Type != TypeDelete && rw.Type != typeRemoveMember {
			out = append(out, rw.Member)
		}
	}
	slices.Sort(out)
	return out
}
