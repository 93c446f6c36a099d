package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/internal/jsbson"
	"github.com/srvthreds/bootstrap/profiles"
)

// lookupPath returns the value at a dotted path ("code", "meta.code") of d.
func lookupPath(d bson.D, path string) (any, bool) {
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
		return lookupPath(sub, rest)
	}
	return nil, false
}

// applyDocuments replace-upserts every document of the step into
// <db>.<collection>, matched on its key field (default _id; a dotted path
// reaches into sub-documents). A document keeps its own _id when it has
// one; otherwise an inserted document gets one from the server and a
// replaced one keeps the stored one.
func applyDocuments(ctx context.Context, env *stepEnv, s profiles.Step) (StepRecord, error) {
	rec := StepRecord{Name: s.Name(), Kind: s.Kind}
	st := s.Documents
	if st == nil {
		return rec, errors.New("documents: step has no documents")
	}
	if st.Collection == "" {
		return rec, errors.New("documents: no collection")
	}
	key := st.Key
	if key == "" {
		key = "_id"
	}
	filters, docs := make([]any, len(st.Items)), make([]any, len(st.Items))
	for i, it := range st.Items {
		doc, err := jsbson.Doc(it.JSON)
		if err != nil {
			return rec, fmt.Errorf("documents: %s[%d]: %w", it.File, it.Index, err)
		}
		v, ok := lookupPath(doc, key)
		if !ok {
			return rec, fmt.Errorf("documents: %s[%d]: no %q field", it.File, it.Index, key)
		}
		filters[i] = bson.D{{Key: key, Value: v}}
		docs[i] = doc
	}
	if len(docs) == 0 {
		return rec, nil
	}
	progress := envProgress(env)
	progress.SetTotal(int64(len(docs)))
	coll := env.Mongo.Database(stepDatabase(env, s)).Collection(st.Collection)
	n, err := bulkReplaceUpsert(ctx, envLog(env), coll, filters, docs, envBatchSize(env), progress)
	rec.Written = n
	if err != nil {
		return rec, fmt.Errorf("documents: %w", err)
	}
	return rec, nil
}
