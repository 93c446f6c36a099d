package mongox

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// FindByKey reads the documents of coll whose field (a dotted path) equals
// one of values, batch values per query ($in), and calls fn with each
// batch and its documents grouped by ValueKey of the value they matched.
// A document the query returned whose field can't be told apart locally
// (say, through an array of sub-documents) makes the batch be read again
// one value per query, so that the server's matching decides.
func (b Batcher) FindByKey(ctx context.Context, coll *mongo.Collection, field string, values []bson.RawValue, fn func(part []bson.RawValue, found map[string][]bson.Raw) error) error {
	log, batch := b.log(), b.size()
	path := strings.Split(field, ".")
	find := func(ctx context.Context, filter bson.D, visit func(bson.Raw)) error {
		return Retry(ctx, log, nil, func(ctx context.Context) error { // a read: unbounded
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
	return Chunks(values, batch, func(part []bson.RawValue) error {
		wanted := make(map[string]bool, len(part))
		in := make(bson.A, len(part))
		for i, v := range part {
			wanted[ValueKey(v)] = true
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
				k := ValueKey(v)
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

// matchKeys are the ValueKeys under which raw's value at path matches: the
// value's own, and each element's when it is an array.
func matchKeys(raw bson.Raw, path []string) []string {
	v, err := raw.LookupErr(path...)
	if err != nil {
		return nil
	}
	keys := []string{ValueKey(v)}
	if arr, ok := v.ArrayOK(); ok {
		if vals, err := arr.Values(); err == nil {
			for _, e := range vals {
				keys = append(keys, ValueKey(e))
			}
		}
	}
	return keys
}

// ValueKey is a canonical string of a BSON value for matching a key value
// read back from MongoDB with the one a profile's JSON gave: numbers
// compare by value whatever their BSON type (as MongoDB's $in does),
// strings by their text, anything else by its type and bytes.
func ValueKey(v bson.RawValue) string {
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

// RawValueOf converts a Go value (as jsonToBSON returns) to a RawValue.
func RawValueOf(v any) (bson.RawValue, error) {
	t, b, err := bson.MarshalValue(v)
	if err != nil {
		return bson.RawValue{}, err
	}
	return bson.RawValue{Type: t, Value: b}, nil
}

// DisplayValue is a key value as a person reads it: a string as is,
// anything else in extended JSON.
func DisplayValue(v bson.RawValue) string {
	if s, ok := v.StringValueOK(); ok {
		return s
	}
	return v.String()
}

// LookupPath returns the value at a dotted path ("code", "meta.code") of d.
func LookupPath(d bson.D, path string) (any, bool) {
	head, rest, nested := strings.Cut(path, ".")
	for _, e := range d {
		if e.Key != head {
			continue
		}
		if !nested {
			return e.Value, true
		}
		sub, ok := e.Value.(bson.D)
		if !ok {
			return nil, false
		}
		return LookupPath(sub, rest)
	}
	return nil, false
}

// Project encodes doc with only the top-level fields keep accepts, in the
// document's order.
func Project(doc bson.Raw, keep func(string) bool) ([]byte, error) {
	elems, err := doc.Elements()
	if err != nil {
		return nil, err
	}
	d := make(bson.D, 0, len(elems))
	for _, e := range elems {
		if keep(e.Key()) {
			d = append(d, bson.E{Key: e.Key(), Value: e.Value()})
		}
	}
	return bson.Marshal(d)
}
