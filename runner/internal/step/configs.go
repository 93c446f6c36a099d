package step

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/internal/jsbson"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/store"
)

// ConfigCollection is where a configs step writes.
const ConfigCollection = "Config"

// configs writes each run-config file of the step as <db>.Config
// updateOne({_id: name}, {$set: {config: <JSON>, modified: now}}, upsert).
// The JSON is stored as the Node.js driver stores JSON.parse of it (see
// jsbson); ${VAR||default} placeholders are plain strings and stay verbatim.
type configs struct{}

func (configs) WritesRedis() bool { return false }

func (configs) Writes(env *Env, s profiles.Step) (*Writes, error) {
	if s.Configs == nil {
		return nil, errors.New("configs: step has no configs")
	}
	now := bson.NewDateTimeFromTime(env.Now)
	ds := &DocSet{DB: env.DB, Coll: ConfigCollection, Field: "_id", Update: true, Ignore: []string{"modified"}}
	for _, it := range s.Configs.Items {
		cfg, err := jsbson.Value(it.JSON)
		if err != nil {
			return nil, fmt.Errorf("configs: %s: %w", it.File, err)
		}
		ds.Docs = append(ds.Docs, Doc{Key: it.Name, Doc: bson.D{
			{Key: "config", Value: cfg},
			{Key: "modified", Value: now},
		}})
	}
	return &Writes{Docs: []*DocSet{ds}}, nil
}

func (k configs) Apply(ctx context.Context, env *Env, s profiles.Step) (store.StepRecord, error) {
	rec, _, c, err := describe(ctx, env, k, s)
	rec.Written = c.Docs
	return rec, err
}
