package runner

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/srvthreds/bootstrap/profiles"
)

// probeCollection is where the run finds out whether the server stores a
// nested key that starts with "$"; the probe document is
// deleted at once.
const probeCollection = "bootstrap_probe"

// checkKeys refuses, before anything is written, profiles with keys that
// start with "$" or contain "." (profiles.Profile.KeyNotes) when the server
// does not store such keys: MongoDB 5.0+ stores them nested; FerretDB,
// Azure Cosmos DB and older MongoDB servers refuse them. It asks the server
// itself (a probe document in <db>.bootstrap_probe, deleted right after),
// only when some profile has such keys. The error is a
// *profiles.ValidationError naming each key (exit 3).
func (r *Runner) checkKeys(ctx context.Context, set *profiles.Set) error {
	var noted *profiles.Profile
	for _, p := range set.Profiles {
		if len(p.KeyNotes) > 0 {
			noted = p
			break
		}
	}
	if noted == nil {
		return nil
	}
	refusal, err := probeDollarKeys(ctx, r.mongo, noted.Database, r.opts.RunID)
	if err != nil || refusal == "" {
		return err
	}
	r.log.Error("the server refuses keys that start with $ or contain .; leave them out with --omit-keys or a step's omitKeys", "server_said", refusal)
	verr := &profiles.ValidationError{}
	for _, p := range set.Profiles {
		for _, n := range p.KeyNotes {
			verr.Problems = append(verr.Problems, profiles.Problem{Profile: p.Name, File: n.File, Line: n.Line, Column: n.Column,
				Field: n.Field, Msg: fmt.Sprintf("key %q: this server does not store it (%s); leave it out with --omit-keys or omitKeys", n.Key, refusal)})
		}
		verr.More += p.KeyNotesMore
	}
	return verr
}

// probeDollarKeys returns why the server refused to store a nested key that
// starts with "$", or "" when it stored it.
func probeDollarKeys(ctx context.Context, mc *mongo.Client, db, runID string) (string, error) {
	coll := mc.Database(db).Collection(probeCollection)
	id := "probe-" + runID
	_, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "p", Value: bson.D{{Key: "$probe", Value: 1}, {Key: "a.b", Value: 1}}}})
	var se mongo.ServerError
	switch {
	case err == nil:
		_, derr := coll.DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: id}})
		return "", derr
	case mongo.IsDuplicateKeyError(err):
		return "", nil // an earlier probe of this run id was stored
	case errors.As(err, &se):
		return err.Error(), nil
	}
	return "", fmt.Errorf("probe %s.%s: %w", db, probeCollection, err)
}
