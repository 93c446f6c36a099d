package step

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/srvthreds/bootstrap/internal/jsbson"
	"github.com/srvthreds/bootstrap/internal/mongox"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/store"
)

// documents replace-upserts every document of the step into
// <db>.<collection>, matched on its key field (default _id; a dotted path
// reaches into sub-documents). A document keeps its own _id when it has
// one; otherwise an inserted document gets one from the server and a
// replaced one keeps the stored one.
type documents struct{}

func (documents) WritesRedis() bool { return false }

func (documents) Writes(env *Env, s profiles.Step) (*Writes, error) {
	st := s.Documents
	if st == nil {
		return nil, errors.New("documents: step has no documents")
	}
	if st.Collection == "" {
		return nil, errors.New("documents: no collection")
	}
	ds := &DocSet{DB: env.DB, Coll: st.Collection, Field: cmp.Or(st.Key, "_id"), Ignore: []string{"modified"},
		NoIndex: s.NoIndex}
	withID := true
	for _, it := range st.Items {
		doc, err := jsbson.Doc(it.JSON)
		if err != nil {
			return nil, fmt.Errorf("documents: %s[%d]: %w", it.File, it.Index, err)
		}
		v, ok := mongox.LookupPath(doc, ds.Field)
		if !ok {
			return nil, fmt.Errorf("documents: %s[%d]: no %q field", it.File, it.Index, ds.Field)
		}
		if _, ok := mongox.LookupPath(doc, "_id"); !ok {
			withID = false
		}
		// The converted document is dropped: it is converted again when
		// its batch is written (see Doc.Src).
		ds.Docs = append(ds.Docs, Doc{Key: v, Src: it.JSON})
	}
	if !withID {
		// A document without _id keeps the stored one: compare without it.
		ds.Ignore = append(ds.Ignore, "_id")
	}
	return &Writes{Docs: []*DocSet{ds}}, nil
}

func (k documents) Apply(ctx context.Context, env *Env, s profiles.Step) (store.StepRecord, error) {
	rec, _, c, err := describe(ctx, env, k, s)
	rec.Written = c.Docs
	return rec, err
}
