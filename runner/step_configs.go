package runner

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/srvthreds/bootstrap/internal/jsbson"
	"github.com/srvthreds/bootstrap/profiles"
)

// configCollection is where a configs step writes (SPEC §2.1).
const configCollection = "Config"

// applyConfigs writes each run-config file of the step as
// <db>.Config updateOne({_id: name}, {$set: {config: <JSON>, modified: now}},
// upsert), in batches. The JSON is stored as the Node.js driver stores
// JSON.parse of it (see jsonToBSON); ${VAR||default} placeholders are plain
// strings and stay verbatim.
func applyConfigs(ctx context.Context, env *stepEnv, s profiles.Step) (StepRecord, error) {
	rec := StepRecord{Name: s.Name(), Kind: s.Kind}
	if s.Configs == nil {
		return rec, errors.New("configs: step has no configs")
	}
	now := bson.NewDateTimeFromTime(envNow(env))
	models := make([]mongo.WriteModel, 0, len(s.Configs.Items))
	for _, it := range s.Configs.Items {
		cfg, err := jsbson.Value(it.JSON)
		if err != nil {
			return rec, fmt.Errorf("configs: %s: %w", it.File, err)
		}
		models = append(models, mongo.NewUpdateOneModel().
			SetFilter(bson.D{{Key: "_id", Value: it.Name}}).
			SetUpdate(bson.D{{Key: "$set", Value: bson.D{
				{Key: "config", Value: cfg},
				{Key: "modified", Value: now},
			}}}).
			SetUpsert(true))
	}
	if len(models) == 0 {
		return rec, nil
	}
	progress := envProgress(env)
	progress.SetTotal(int64(len(models)))
	coll := env.Mongo.Database(stepDatabase(env, s)).Collection(configCollection)
	n, err := bulkWriteBatched(ctx, envLog(env), coll, models, envBatchSize(env), progress)
	rec.Written = n
	if err != nil {
		return rec, fmt.Errorf("configs: %w", err)
	}
	return rec, nil
}
