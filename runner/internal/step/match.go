package step

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/internal/jsbson"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/store"
)

// upsert and replace write what a srvthreds handler's
// getPersistence({dbname}).upsert / .replace calls write, in
// <db>.<collection>, each item matched by its matcher with a top-level "id"
// renamed "_id":
//
//   - upsert: updateOne(filter, {$set: {<values without _id, created and
//     modified>, modified: now}}, upsert); an "id" in the values stays a
//     plain field, and an inserted document gets the matcher's equality
//     fields and, without an _id in it, an ObjectId from the server;
//   - replace: replaceOne(filter, {<values with id renamed _id, without
//     created and modified>, modified: now}, upsert).
type (
	upsert  struct{}
	replace struct{}
)

func (upsert) WritesRedis() bool  { return false }
func (replace) WritesRedis() bool { return false }

func (upsert) Writes(env *Env, s profiles.Step) (*Writes, error) {
	return matchWrites(env, s, s.Upsert, true)
}
func (replace) Writes(env *Env, s profiles.Step) (*Writes, error) {
	return matchWrites(env, s, s.Replace, false)
}

func (k upsert) Apply(ctx context.Context, env *Env, s profiles.Step) (store.StepRecord, error) {
	rec, _, c, err := describe(ctx, env, k, s)
	rec.Written = c.Docs
	return rec, err
}

func (k replace) Apply(ctx context.Context, env *Env, s profiles.Step) (store.StepRecord, error) {
	rec, _, c, err := describe(ctx, env, k, s)
	rec.Written = c.Docs
	return rec, err
}

// matchWrites describes an upsert (update) or replace step.
func matchWrites(env *Env, s profiles.Step, ms *profiles.MatchStep, update bool) (*Writes, error) {
	if ms == nil {
		return nil, fmt.Errorf("%s: step has no items", s.Kind)
	}
	now := bson.NewDateTimeFromTime(env.Now)
	ds := &DocSet{DB: env.DB, Coll: ms.Collection, Update: update, Ignore: []string{"modified"}, NoIndex: s.NoIndex}
	withID := true
	for _, it := range ms.Items {
		filter, doc, err := matchDoc(it, update)
		if err != nil {
			return nil, fmt.Errorf("%s: %s:%d:%d: %w", s.Kind, it.File, it.Line, it.Column, err)
		}
		if !slices.ContainsFunc(doc, func(e bson.E) bool { return e.Key == "_id" }) {
			withID = false
		}
		ds.Docs = append(ds.Docs, Doc{Filter: filter, Doc: append(doc, bson.E{Key: "modified", Value: now})})
	}
	if !update && !withID {
		// A replacement without _id keeps the stored one (or the server's).
		ds.Ignore = append(ds.Ignore, "_id")
	}
	return &Writes{Docs: []*DocSet{ds}}, nil
}

// matchDoc converts one item: the filter (the matcher, id renamed _id) and
// the fields written (values without created, modified; for an update
// without _id, for a replace with id renamed _id).
func matchDoc(it profiles.MatchItem, update bool) (filter, doc bson.D, err error) {
	m, err := jsbson.Doc(it.Matcher)
	if err != nil {
		return nil, nil, fmt.Errorf("matcher: %w", err)
	}
	if len(m) == 0 {
		return nil, nil, errors.New("matcher is empty")
	}
	for i := range m {
		if m[i].Key == "id" {
			m[i].Key = "_id"
		}
	}
	v, err := jsbson.Doc(it.Values)
	if err != nil {
		return nil, nil, fmt.Errorf("values: %w", err)
	}
	for _, e := range v {
		switch {
		case e.Key == "created" || e.Key == "modified":
		case update && e.Key == "_id":
		case !update && e.Key == "id":
			doc = append(doc, bson.E{Key: "_id", Value: e.Value})
		default:
			doc = append(doc, e)
		}
	}
	return m, doc, nil
}
