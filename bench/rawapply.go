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
// figure, the least a program can do to write a documents profile. It reads
// every *.json file of -dir (each an array of objects with an _id), connects
// to -uri, and replace-upserts the documents by _id into -db.-collection in
// unordered BulkWrite commands of -batch statements, as the runner's
// documents step does, with nothing around it: no lock, no markers, no
// validation, no retries. It returns the process's exit code.
func rawApplyMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("raw-apply", flag.ContinueOnError)
	fs.SetOutput(stderr)
	uri := fs.String("uri", "", "MongoDB URI")
	db := fs.String("db", "", "database")
	coll := fs.String("collection", "", "collection")
	dir := fs.String("dir", "", "directory of *.json arrays")
	batch := fs.Int("batch", 100, "statements per BulkWrite")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rep, err := rawApply(context.Background(), *uri, *db, *coll, *dir, *batch)
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

// rawApply does the work of rawApplyMain.
func rawApply(ctx context.Context, uri, db, coll, dir string, batch int) (*rawApplyReport, error) {
	if uri == "" || db == "" || coll == "" || dir == "" || batch < 1 {
		return nil, errors.New("-uri, -db, -collection, -dir and a positive -batch are required")
	}
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
			var id any
			for _, e := range doc {
				if e.Key == "_id" {
					id = e.Value
				}
			}
			if id == nil {
				return nil, fmt.Errorf("%s[%d]: no _id", f, i)
			}
			models = append(models, mongo.NewReplaceOneModel().
				SetFilter(bson.D{{Key: "_id", Value: id}}).SetReplacement(doc).SetUpsert(true))
		}
	}
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return nil, err
	}
	defer client.Disconnect(context.WithoutCancel(ctx))
	// Connected before the clock starts, as the runner is before its steps.
	if err := client.Ping(ctx, nil); err != nil {
		return nil, err
	}
	c := client.Database(db).Collection(coll)
	t0 := time.Now()
	var written int64
	for start := 0; start < len(models); start += batch {
		part := models[start:min(start+batch, len(models))]
		if _, err := c.BulkWrite(ctx, part, options.BulkWrite().SetOrdered(false)); err != nil {
			return nil, fmt.Errorf("bulk write %d-%d: %w", start+1, start+len(part), err)
		}
		written += int64(len(part))
	}
	return &rawApplyReport{Written: written, WriteMs: time.Since(t0).Milliseconds()}, nil
}
