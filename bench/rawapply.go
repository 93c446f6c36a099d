package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// rawApplyReport is what `bench raw-apply` prints on stdout, one JSON object.
type rawApplyReport struct {
	Written int64 `json:"written"`
	WriteMs int64 `json:"write_ms"`
}

// rawApplyMain is `bench raw-apply`: the baseline of the apply throughput
// and keyed writes figures, the least a program can do to write a
// documents profile. It reads every *.json file of -dir (each an array of
// objects with the -key field, _id by default), connects to -uri, and
// replace-upserts the documents by that key into -db.-collection in
// unordered BulkWrite commands of -batch statements, as the runner's
// documents step does, with nothing around it: no lock, no markers, no
// validation, no retries. With -index it first creates an index on the key
// (timed with the writes, as the runner's is). It returns the process's
// exit code.
func rawApplyMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("raw-apply", flag.ContinueOnError)
	fs.SetOutput(stderr)
	uri := fs.String("uri", "", "MongoDB URI")
	db := fs.String("db", "", "database")
	coll := fs.String("collection", "", "collection")
	dir := fs.String("dir", "", "directory of *.json arrays")
	batch := fs.Int("batch", 100, "statements per BulkWrite")
	key := fs.String("key", "_id", "the field the upserts match on")
	index := fs.Bool("index", false, "create an index on -key first")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rep, err := rawApply(context.Background(), rawApplyArgs{URI: *uri, DB: *db, Coll: *coll, Dir: *dir,
		Batch: *batch, Key: *key, Index: *index})
	if err != nil {
		fmt.Fprintln(stderr, "raw-apply:", err)
		return 1
	}
	if err := json.NewEncoder(stdout).Encode(rep); err != nil {
		fmt.Fprintln(stderr, "raw-apply:", err)
		return 1
	}
	return 0
}

// rawApplyArgs are the flags of rawApplyMain.
type rawApplyArgs struct {
	URI, DB, Coll, Dir, Key string
	Batch                   int
	Index                   bool
}

// rawApply does the work of rawApplyMain.
func rawApply(ctx context.Context, a rawApplyArgs) (*rawApplyReport, error) {
	if a.URI == "" || a.DB == "" || a.Coll == "" || a.Dir == "" || a.Key == "" || a.Batch < 1 {
		return nil, errors.New("-uri, -db, -collection, -dir, -key and a positive -batch are required")
	}
	models, err := rawModels(a.Dir, a.Key)
	if err != nil {
		return nil, err
	}
	client, err := mongo.Connect(options.Client().ApplyURI(a.URI))
	if err != nil {
		return nil, err
	}
	defer client.Disconnect(context.WithoutCancel(ctx))
	// Connected before the clock starts, as the runner is before its steps.
	if err := client.Ping(ctx, nil); err != nil {
		return nil, err
	}
	c := client.Database(a.DB).Collection(a.Coll)
	t0 := time.Now()
	if a.Index {
		if _, err := c.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: a.Key, Value: 1}}}); err != nil {
			return nil, fmt.Errorf("create index on %s: %w", a.Key, err)
		}
	}
	var written int64
	for start := 0; start < len(models); start += a.Batch {
		part := models[start:min(start+a.Batch, len(models))]
		if _, err := c.BulkWrite(ctx, part, options.BulkWrite().SetOrdered(false)); err != nil {
			return nil, fmt.Errorf("bulk write %d-%d: %w", start+1, start+len(part), err)
		}
		written += int64(len(part))
	}
	return &rawApplyReport{Written: written, WriteMs: time.Since(t0).Milliseconds()}, nil
}

// rawModels reads the documents of dir's *.json files as replace-upserts
// matched on key.
func rawModels(dir, key string) ([]mongo.WriteModel, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var models []mongo.WriteModel
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var items []json.RawMessage
		if err := json.Unmarshal(data, &items); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for i, it := range items {
			var doc bson.D
			if err := bson.UnmarshalExtJSON(it, false, &doc); err != nil {
				return nil, fmt.Errorf("%s[%d]: %w", f, i, err)
			}
			var v any
			for _, e := range doc {
				if e.Key == key {
					v = e.Value
				}
			}
			if v == nil {
				return nil, fmt.Errorf("%s[%d]: no %s", f, i, key)
			}
			models = append(models, mongo.NewReplaceOneModel().
				SetFilter(bson.D{{Key: key, Value: v}}).SetReplacement(doc).SetUpsert(true))
		}
	}
	return models, nil
}
