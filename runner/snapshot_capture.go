package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/srvthreds/bootstrap/internal/jsbson"
	"github.com/srvthreds/bootstrap/profiles"
)

// docGroup is a collection and the field its documents are matched on.
type docGroup struct{ db, coll, field string }

// snapshotTargets is what a profile's steps will overwrite or remove, each
// thing once, in the order the steps name them.
type snapshotTargets struct {
	groups    []docGroup
	values    map[docGroup][]bson.RawValue
	keys      []string
	sets      []string
	members   map[string][]string // set -> members
	uncovered []string            // steps a snapshot cannot hold (http, exec)
	seen      map[string]bool     // idents
}

func (t *snapshotTargets) addDoc(db, coll, field string, v any) error {
	rv, err := rawValueOf(v)
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

func (t *snapshotTargets) addKey(key string) {
	if id := keyIdent(key); !t.seen[id] {
		t.seen[id] = true
		t.keys = append(t.keys, key)
	}
}

func (t *snapshotTargets) addMember(set, member string) {
	if id := memberIdent(set, member); !t.seen[id] {
		t.seen[id] = true
		if _, ok := t.members[set]; !ok {
			t.sets = append(t.sets, set)
		}
		t.members[set] = append(t.members[set], member)
	}
}

// count is the number of things to read.
func (t *snapshotTargets) count() int { return len(t.seen) }

// snapshotTargetsOf lists what p's steps will overwrite or remove when
// applied over prev (see the step_*.go appliers): configs, the Config
// documents of their names; patterns, the PatternModel documents of their
// ids and, for those ids and the ones prev's record of the step cached, the
// Pattern:<id> hashes and their membership in IDX:Pattern; users, the User
// documents; documents, the documents matched by the step's key; redis,
// the keys. http and exec steps are listed as uncovered.
func snapshotTargetsOf(p *profiles.Profile, prev *Marker) (*snapshotTargets, error) {
	t := &snapshotTargets{
		values: map[docGroup][]bson.RawValue{}, members: map[string][]string{}, seen: map[string]bool{},
	}
	for _, s := range p.Steps {
		db := stepDatabase(&stepEnv{Profile: p}, s)
		if err := t.addStep(db, s, prev); err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name(), err)
		}
	}
	return t, nil
}

func (t *snapshotTargets) addStep(db string, s profiles.Step, prev *Marker) error {
	switch {
	case s.Kind == profiles.KindConfigs && s.Configs != nil:
		for _, it := range s.Configs.Items {
			if err := t.addDoc(db, configCollection, "_id", it.Name); err != nil {
				return err
			}
		}
	case s.Kind == profiles.KindPatterns && s.Patterns != nil:
		for _, it := range s.Patterns.Items {
			doc, err := jsbson.Doc(it.JSON)
			if err != nil {
				return fmt.Errorf("%s: %w", it.File, err)
			}
			id, ok := lookupPath(doc, "id")
			if !ok {
				return fmt.Errorf(`%s: has no "id" field`, it.File)
			}
			if err := t.addDoc(db, patternCollection, "_id", id); err != nil {
				return err
			}
			t.addKey(patternKeyPrefix + it.ID)
			t.addMember(patternIndexKey, it.ID)
		}
		for _, id := range prevCachedPatterns(prev, s.Name()) {
			t.addKey(patternKeyPrefix + id)
			t.addMember(patternIndexKey, id)
		}
	case s.Kind == profiles.KindUsers && s.Users != nil:
		for _, u := range s.Users.Users {
			if err := t.addDoc(db, userCollection, "_id", u.ID); err != nil {
				return err
			}
		}
	case s.Kind == profiles.KindDocuments && s.Documents != nil:
		key := cmp.Or(s.Documents.Key, "_id")
		for _, it := range s.Documents.Items {
			doc, err := jsbson.Doc(it.JSON)
			if err != nil {
				return fmt.Errorf("%s[%d]: %w", it.File, it.Index, err)
			}
			v, ok := lookupPath(doc, key)
			if !ok {
				return fmt.Errorf("%s[%d]: no %q field", it.File, it.Index, key)
			}
			if err := t.addDoc(db, s.Documents.Collection, key, v); err != nil {
				return err
			}
		}
	case s.Kind == profiles.KindRedis && s.Redis != nil:
		for _, k := range s.Redis.Keys {
			t.addKey(k.Key)
		}
	default:
		t.uncovered = append(t.uncovered, s.Name())
	}
	return nil
}

// prevCachedPatterns is what prev's record of the step named step cached
// (the last record of that name, as the step's environment finds it).
func prevCachedPatterns(prev *Marker, step string) []string {
	if prev == nil {
		return nil
	}
	var out []string
	for _, rec := range prev.Steps {
		if rec.Name == step {
			out = rec.CachedPatterns
		}
	}
	return out
}

// capturer reads the current state of snapshot targets into encoded
// items, stopping with errSnapshotTooLarge past its limit.
type capturer struct {
	mongo *mongo.Client
	redis redis.UniversalClient
	batch int
	limit int64 // <= 0: none
	log   *slog.Logger
	prog  Progress

	held   map[string]bool // idents of the seeded items
	raws   []bson.Raw
	bytes  int64
	seeded int
}

// seed keeps items read earlier; capture then skips what they hold.
func (c *capturer) seed(raws []bson.Raw) error {
	if c.held == nil {
		c.held = map[string]bool{}
	}
	for _, raw := range raws {
		var it snapItem
		if err := bson.Unmarshal(raw, &it); err != nil {
			return fmt.Errorf("snapshot: decode item: %w", err)
		}
		c.held[it.ident()] = true
		if err := c.keep(raw); err != nil {
			return err
		}
		c.seeded++
	}
	return nil
}

func (c *capturer) keep(raw bson.Raw) error {
	c.raws = append(c.raws, raw)
	c.bytes += int64(len(raw))
	if c.limit > 0 && c.bytes > c.limit {
		return fmt.Errorf("%w: more than the limit of %d bytes", errSnapshotTooLarge, c.limit)
	}
	return nil
}

// addAll returns a function that adds the items read for a batch of n names
// and reports the batch as progress.
func (c *capturer) addAll(prog Progress, n int) func([]snapItem, error) error {
	return func(items []snapItem, err error) error {
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

func (c *capturer) add(it *snapItem) error {
	raw, err := bson.Marshal(it)
	if err != nil {
		return fmt.Errorf("encode snapshot item %s: %w", it.ident(), err)
	}
	return c.keep(raw)
}

// capture reads every target not already held, in batches, reporting each
// batch to the progress.
func (c *capturer) capture(ctx context.Context, t *snapshotTargets) error {
	batch := c.batch
	if batch <= 0 {
		batch = defaultBatchSize
	}
	prog := c.prog
	if prog == nil {
		prog = nopProgress{}
	}
	prog.SetTotal(int64(t.count()))
	for _, g := range t.groups {
		values := slices.DeleteFunc(slices.Clone(t.values[g]), func(v bson.RawValue) bool {
			return c.held[docIdent(g.db, g.coll, g.field, v)]
		})
		coll := c.mongo.Database(g.db).Collection(g.coll)
		err := findByKey(ctx, c.log, coll, g.field, values, batch, func(part []bson.RawValue, found map[string][]bson.Raw) error {
			for _, v := range part {
				it := snapItem{Kind: itemDoc, DB: g.db, Coll: g.coll, Field: g.field, Value: &v}
				for _, raw := range found[valueKey(v)] {
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
	err := chunks(keys, batch, func(part []string) error {
		return c.addAll(prog, len(part))(readKeys(ctx, c.redis, c.log, part))
	})
	if err != nil {
		return err
	}
	for _, set := range t.sets {
		members := slices.DeleteFunc(slices.Clone(t.members[set]), func(m string) bool { return c.held[memberIdent(set, m)] })
		err := chunks(members, batch, func(part []string) error {
			return c.addAll(prog, len(part))(readMembers(ctx, c.redis, c.log, set, part))
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// findByKey reads the documents of coll whose field (a dotted path) equals
// one of values, batch values per query ($in), and calls fn with each
// batch and its documents grouped by valueKey of the value they matched.
// A document the query returned whose field can't be told apart locally
// (say, through an array of sub-documents) makes the batch be read again
// one value per query, so that the server's matching decides.
func findByKey(ctx context.Context, log *slog.Logger, coll *mongo.Collection, field string, values []bson.RawValue, batch int, fn func(part []bson.RawValue, found map[string][]bson.Raw) error) error {
	path := strings.Split(field, ".")
	find := func(ctx context.Context, filter bson.D, visit func(bson.Raw)) error {
		return retryTransient(ctx, log, func(ctx context.Context) error {
			cur, err := coll.Find(ctx, filter)
			if err != nil {
				return err
			}
			defer cur.Close(context.WithoutCancel(ctx))
			for cur.Next(ctx) {
				visit(slices.Clone(cur.Current))
			}
			return cur.Err()
		})
	}
	return chunks(values, batch, func(part []bson.RawValue) error {
		wanted := make(map[string]bool, len(part))
		in := make(bson.A, len(part))
		for i, v := range part {
			wanted[valueKey(v)] = true
			in[i] = v
		}
		var found map[string][]bson.Raw
		unmatched := false
		err := find(ctx, bson.D{{Key: field, Value: bson.D{{Key: "$in", Value: in}}}}, func(raw bson.Raw) {
			if found == nil {
				found = map[string][]bson.Raw{}
			}
			ok := false
			for _, k := range matchKeys(raw, path) {
				if wanted[k] {
					found[k] = append(found[k], raw)
					ok = true
				}
			}
			unmatched = unmatched || !ok
		})
		if err == nil && unmatched {
			found = map[string][]bson.Raw{}
			for _, v := range part {
				k := valueKey(v)
				err = find(ctx, bson.D{{Key: field, Value: v}}, func(raw bson.Raw) { found[k] = append(found[k], raw) })
				if err != nil {
					break
				}
			}
		}
		if err != nil {
			return fmt.Errorf("read %s.%s: %w", coll.Database().Name(), coll.Name(), err)
		}
		return fn(part, found)
	})
}

// matchKeys are the valueKeys under which raw's value at path matches: the
// value's own, and each element's when it is an array.
func matchKeys(raw bson.Raw, path []string) []string {
	v, err := raw.LookupErr(path...)
	if err != nil {
		return nil
	}
	keys := []string{valueKey(v)}
	if arr, ok := v.ArrayOK(); ok {
		if vals, err := arr.Values(); err == nil {
			for _, e := range vals {
				keys = append(keys, valueKey(e))
			}
		}
	}
	return keys
}

// readKeys reads the type, value and remaining TTL of Redis keys: strings,
// hashes and sets as such, any other type as DUMP serializes it.
func readKeys(ctx context.Context, rc redis.UniversalClient, log *slog.Logger, keys []string) ([]snapItem, error) {
	types := make([]*redis.StatusCmd, len(keys))
	ttls := make([]*redis.DurationCmd, len(keys))
	err := retryTransient(ctx, log, func(ctx context.Context) error {
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
	err = retryTransient(ctx, log, func(ctx context.Context) error {
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
	items := make([]snapItem, len(keys))
	for i, k := range keys {
		it := snapItem{Kind: itemKey, Key: k, Type: keyNone}
		if d := ttls[i].Val(); d > 0 {
			it.PTTL = max(1, d.Milliseconds())
		}
		switch cmd := vals[i].(type) {
		case nil:
		case *redis.StringCmd:
			if cmd.Err() != nil {
				if !errors.Is(cmd.Err(), redis.Nil) {
					return nil, fmt.Errorf("read redis key %q: %w", k, cmd.Err())
				}
				break
			}
			if types[i].Val() == keyString {
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
		items[i] = it
	}
	return items, nil
}

// readMembers reads whether each member belongs to the Redis set.
func readMembers(ctx context.Context, rc redis.UniversalClient, log *slog.Logger, set string, members []string) ([]snapItem, error) {
	cmds := make([]*redis.BoolCmd, len(members))
	err := retryTransient(ctx, log, func(ctx context.Context) error {
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
	items := make([]snapItem, len(members))
	for i, m := range members {
		items[i] = snapItem{Kind: itemMember, Key: set, Member: m, Present: cmds[i].Val()}
	}
	return items, nil
}
