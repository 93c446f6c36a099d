package snapshot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/srvthreds/bootstrap/internal/mongox"
	"github.com/srvthreds/bootstrap/runner/internal/step"
)

// docGroup is a collection and the field its documents are matched on.
type docGroup struct{ db, coll, field string }

// Targets is what a profile's steps will overwrite or remove, each
// thing once, in the order the steps name them.
type Targets struct {
	groups    []docGroup
	values    map[docGroup][]bson.RawValue
	keys      []string
	sets      []string
	members   map[string][]string // set -> members
	Uncovered []string            // steps a snapshot cannot hold (http, exec)
	seen      map[string]bool     // idents
}

func (t *Targets) addDoc(db, coll, field string, v any) error {
	rv, err := mongox.RawValueOf(v)
	if err != nil {
		return fmt.Errorf("%s.%s: key %v: %w", db, coll, v, err)
	}
	id := docIdent(db, coll, field, rv)
	if t.seen[id] {
		return nil
	}
	t.seen[id] = true
	g := docGroup{db, coll, field}
	if _, ok := t.values[g]; !ok {
		t.groups = append(t.groups, g)
	}
	t.values[g] = append(t.values[g], rv)
	return nil
}

func (t *Targets) addKey(key string) {
	if id := keyIdent(key); !t.seen[id] {
		t.seen[id] = true
		t.keys = append(t.keys, key)
	}
}

func (t *Targets) addMember(set, member string) {
	if id := memberIdent(set, member); !t.seen[id] {
		t.seen[id] = true
		if _, ok := t.members[set]; !ok {
			t.sets = append(t.sets, set)
		}
		t.members[set] = append(t.members[set], member)
	}
}

// count is the number of things to read.
func (t *Targets) count() int { return len(t.seen) }

// TargetsOf lists what steps will overwrite or remove, from what each
// writes (step.Writes, in the order of names): the documents matched by
// their keys, the Redis keys, and the memberships of the keys in their
// index sets. A step whose effects are opaque (http, exec) is listed as
// uncovered.
func TargetsOf(names []string, writes []*step.Writes) (*Targets, error) {
	t := &Targets{values: map[docGroup][]bson.RawValue{}, members: map[string][]string{}, seen: map[string]bool{}}
	for i, w := range writes {
		if w.Opaque {
			t.Uncovered = append(t.Uncovered, names[i])
			continue
		}
		for _, ds := range w.Docs {
			for _, d := range ds.Docs {
				if err := t.addDoc(ds.DB, ds.Coll, ds.Field, ds.Match(d)); err != nil {
					return nil, fmt.Errorf("%s: %w", names[i], err)
				}
			}
		}
		for _, rw := range w.Redis {
			if rw.Key != "" {
				t.addKey(rw.Key)
			}
			if rw.Index != "" {
				t.addMember(rw.Index, rw.Member)
			}
		}
	}
	return t, nil
}

// Capturer reads the current state of snapshot targets into encoded
// items, stopping with ErrTooLarge past its limit.
type Capturer struct {
	Mongo *mongo.Client
	Redis redis.UniversalClient
	Batch int   // <= 0: mongox.DefaultBatchSize
	Limit int64 // <= 0: none
	Log   *slog.Logger
	Prog  step.Progress

	held   map[string]bool // idents of the seeded items
	Raws   []bson.Raw      // the encoded items captured
	Bytes  int64           // their size
	Seeded int             // how many came from Seed
}

// Seed keeps items read earlier; capture then skips what they hold.
func (c *Capturer) Seed(raws []bson.Raw) error {
	if c.held == nil {
		c.held = map[string]bool{}
	}
	for _, raw := range raws {
		var it Item
		if err := bson.Unmarshal(raw, &it); err != nil {
			return fmt.Errorf("snapshot: decode item: %w", err)
		}
		c.held[it.ident()] = true
		if err := c.keep(raw); err != nil {
			return err
		}
		c.Seeded++
	}
	return nil
}

func (c *Capturer) keep(raw bson.Raw) error {
	c.Raws = append(c.Raws, raw)
	c.Bytes += int64(len(raw))
	if c.Limit > 0 && c.Bytes > c.Limit {
		return fmt.Errorf("%w: more than the limit of %d bytes", ErrTooLarge, c.Limit)
	}
	return nil
}

// addAll returns a function that adds the items read for a batch of n names
// and reports the batch as progress.
func (c *Capturer) addAll(prog step.Progress, n int) func([]Item, error) error {
	return func(items []Item, err error) error {
		if err != nil {
			return err
		}
		for i := range items {
			if err := c.add(&items[i]); err != nil {
				return err
			}
		}
		prog.Add(int64(n))
		return nil
	}
}

func (c *Capturer) add(it *Item) error {
	raw, err := bson.Marshal(it)
	if err != nil {
		return fmt.Errorf("encode snapshot item %s: %w", it.ident(), err)
	}
	return c.keep(raw)
}

// Capture reads every target not already held, in batches, reporting each
// batch to the progress.
func (c *Capturer) Capture(ctx context.Context, t *Targets) error {
	batch := c.Batch
	if batch <= 0 {
		batch = mongox.DefaultBatchSize
	}
	prog := c.Prog
	if prog == nil {
		prog = nopProgress{}
	}
	prog.SetTotal(int64(t.count()))
	for _, g := range t.groups {
		values := slices.DeleteFunc(slices.Clone(t.values[g]), func(v bson.RawValue) bool {
			return c.held[docIdent(g.db, g.coll, g.field, v)]
		})
		coll := c.Mongo.Database(g.db).Collection(g.coll)
		find := mongox.Batcher{Log: c.Log, Size: batch}.FindByKey
		if g.field == "" {
			find = func(ctx context.Context, coll *mongo.Collection, _ string, values []bson.RawValue, fn func([]bson.RawValue, map[string][]bson.Raw) error) error {
				return step.FindByFilter(ctx, coll, values, fn)
			}
		}
		err := find(ctx, coll, g.field, values, func(part []bson.RawValue, found map[string][]bson.Raw) error {
			for _, v := range part {
				it := Item{Kind: itemDoc, DB: g.db, Coll: g.coll, Field: g.field, Value: &v}
				for _, raw := range found[mongox.ValueKey(v)] {
					it.Docs = append(it.Docs, []byte(raw))
				}
				if err := c.add(&it); err != nil {
					return err
				}
			}
			prog.Add(int64(len(part)))
			return nil
		})
		if err != nil {
			return err
		}
	}
	keys := slices.DeleteFunc(slices.Clone(t.keys), func(k string) bool { return c.held[keyIdent(k)] })
	err := mongox.Chunks(keys, batch, func(part []string) error {
		return c.addAll(prog, len(part))(readKeys(ctx, c.Redis, c.Log, part))
	})
	if err != nil {
		return err
	}
	for _, set := range t.sets {
		members := slices.DeleteFunc(slices.Clone(t.members[set]), func(m string) bool { return c.held[memberIdent(set, m)] })
		err := mongox.Chunks(members, batch, func(part []string) error {
			return c.addAll(prog, len(part))(readMembers(ctx, c.Redis, c.Log, set, part))
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// readKeys reads the type, value and remaining TTL of Redis keys: strings,
// hashes and sets as such, any other type as DUMP serializes it.
func readKeys(ctx context.Context, rc redis.UniversalClient, log *slog.Logger, keys []string) ([]Item, error) {
	types := make([]*redis.StatusCmd, len(keys))
	ttls := make([]*redis.DurationCmd, len(keys))
	err := mongox.Retry(ctx, log, nil, func(ctx context.Context) error { // reads
		_, err := rc.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for i, k := range keys {
				types[i] = pipe.Type(ctx, k)
				ttls[i] = pipe.PTTL(ctx, k)
			}
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read redis keys %q..%q: %w", keys[0], keys[len(keys)-1], err)
	}
	vals := make([]redis.Cmder, len(keys))
	err = mongox.Retry(ctx, log, nil, func(ctx context.Context) error {
		_, err := rc.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for i, k := range keys {
				switch types[i].Val() {
				case keyNone:
					vals[i] = nil
				case keyString:
					vals[i] = pipe.Get(ctx, k)
				case keyHash:
					vals[i] = pipe.HGetAll(ctx, k)
				case keySet:
					vals[i] = pipe.SMembers(ctx, k)
				default:
					vals[i] = pipe.Dump(ctx, k)
				}
			}
			return nil
		})
		if errors.Is(err, redis.Nil) {
			err = nil // a key that expired in between: see below
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read redis keys %q..%q: %w", keys[0], keys[len(keys)-1], err)
	}
	items := make([]Item, len(keys))
	for i, k := range keys {
		it, err := keyItem(k, types[i].Val(), ttls[i].Val(), vals[i])
		if err != nil {
			return nil, err
		}
		items[i] = it
	}
	return items, nil
}

// keyItem is the item of key k read as type typ with the remaining ttl and
// the reply of the read of its value (nil when it did not exist).
func keyItem(k, typ string, ttl time.Duration, val redis.Cmder) (Item, error) {
	it := Item{Kind: itemKey, Key: k, Type: keyNone}
	if ttl > 0 {
		it.PTTL = max(1, ttl.Milliseconds())
	}
	switch cmd := val.(type) {
	case nil:
	case *redis.StringCmd:
		if cmd.Err() != nil {
			if !errors.Is(cmd.Err(), redis.Nil) {
				return it, fmt.Errorf("read redis key %q: %w", k, cmd.Err())
			}
			break
		}
		if typ == keyString {
			it.Type, it.String = keyString, cmd.Val()
		} else {
			it.Type, it.Dump = keyDump, []byte(cmd.Val())
		}
	case *redis.MapStringStringCmd:
		m := cmd.Val()
		if len(m) == 0 {
			break // gone in between
		}
		it.Type = keyHash
		for _, f := range slices.Sorted(maps.Keys(m)) {
			it.Fields = append(it.Fields, f, m[f])
		}
	case *redis.StringSliceCmd:
		if len(cmd.Val()) == 0 {
			break
		}
		it.Type, it.Members = keySet, slices.Sorted(slices.Values(cmd.Val()))
	}
	if it.Type == keyNone {
		it.PTTL = 0
	}
	return it, nil
}

// readMembers reads whether each member belongs to the Redis set.
func readMembers(ctx context.Context, rc redis.UniversalClient, log *slog.Logger, set string, members []string) ([]Item, error) {
	cmds := make([]*redis.BoolCmd, len(members))
	err := mongox.Retry(ctx, log, nil, func(ctx context.Context) error {
		_, err := rc.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for i, m := range members {
				cmds[i] = pipe.SIsMember(ctx, set, m)
			}
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read members of redis set %q: %w", set, err)
	}
	items := make([]Item, len(members))
	for i, m := range members {
		items[i] = Item{Kind: itemMember, Key: set, Member: m, Present: cmds[i].Val()}
	}
	return items, nil
}

type nopProgress struct{}

func (nopProgress) SetTotal(int64) {}
func (nopProgress) Add(int64)      {}
