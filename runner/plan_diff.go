package runner

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/srvthreds/bootstrap/internal/jsbson"
	"github.com/srvthreds/bootstrap/profiles"
)

// planDiffListed is how many changed _ids a StepDiff lists.
const planDiffListed = 10

// StepDiff tells, for one step that writes documents, how the documents a
// re-apply would write compare with those stored, ignoring "modified".
type StepDiff struct {
	Step       string   `json:"step"`       // "<index>:<kind>"
	Collection string   `json:"collection"` // "<db>.<collection>"
	Insert     int      `json:"insert"`     // no stored document
	Change     int      `json:"change"`     // a stored document that differs
	Unchanged  int      `json:"unchanged"`
	Changed    []string `json:"changed,omitempty"` // the _ids of the first changed documents (at most 10)
	Note       string   `json:"note,omitempty"`
}

// diffSpec is what planDiff compares for one step: documents of db.coll
// matched on field, and a projection applied to the new and the stored
// documents alike before comparing their bytes.
type diffSpec struct {
	step, db, coll, field string
	keys                  []bson.RawValue
	want                  map[string][]byte // valueKey -> projected new document
	project               func(bson.Raw) ([]byte, error)
	note                  string
}

// planDiff compares, step by step, what p's configs, patterns, users and
// documents steps would write with what db holds. It writes nothing.
func planDiff(ctx context.Context, mc *mongo.Client, p *profiles.Profile) ([]StepDiff, error) {
	var out []StepDiff
	for _, s := range p.Steps {
		spec, err := diffSpecOf(p, s)
		if err != nil {
			return out, fmt.Errorf("plan %s/%s: %w", p.Name, s.Name(), err)
		}
		if spec == nil {
			continue
		}
		d := StepDiff{Step: spec.step, Collection: spec.db + "." + spec.coll, Note: spec.note}
		coll := mc.Database(spec.db).Collection(spec.coll)
		err = findByKey(ctx, slog.New(slog.DiscardHandler), coll, spec.field, spec.keys, defaultBatchSize,
			func(part []bson.RawValue, found map[string][]bson.Raw) error {
				for _, k := range part {
					docs := found[valueKey(k)]
					if len(docs) == 0 {
						d.Insert++
						continue
					}
					got, err := spec.project(docs[0])
					if err != nil {
						return err
					}
					if string(got) == string(spec.want[valueKey(k)]) {
						d.Unchanged++
						continue
					}
					d.Change++
					if len(d.Changed) < planDiffListed {
						id := k
						if v, err := docs[0].LookupErr("_id"); err == nil {
							id = v
						}
						d.Changed = append(d.Changed, displayValue(id))
					}
				}
				return nil
			})
		if err != nil {
			return out, fmt.Errorf("plan %s/%s: %w", p.Name, s.Name(), err)
		}
		out = append(out, d)
	}
	return out, nil
}

// diffSpecOf builds the comparison of one step, or nil for a step that
// writes no documents.
func diffSpecOf(p *profiles.Profile, s profiles.Step) (*diffSpec, error) {
	spec := &diffSpec{step: s.Name(), db: stepDatabase(&stepEnv{Profile: p}, s), field: "_id", want: map[string][]byte{}}
	add := func(key any, doc bson.D) error {
		k, err := rawValueOf(key)
		if err != nil {
			return err
		}
		raw, err := bson.Marshal(doc)
		if err != nil {
			return err
		}
		w, err := spec.project(raw)
		if err != nil {
			return err
		}
		spec.keys = append(spec.keys, k)
		spec.want[valueKey(k)] = w
		return nil
	}
	switch {
	case s.Kind == profiles.KindConfigs && s.Configs != nil:
		// configs $set config (and modified): other fields stay.
		spec.coll, spec.project = configCollection, keepFields("config")
		for _, it := range s.Configs.Items {
			cfg, err := jsbson.Value(it.JSON)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", it.File, err)
			}
			if err := add(it.Name, bson.D{{Key: "_id", Value: it.Name}, {Key: "config", Value: cfg}}); err != nil {
				return nil, err
			}
		}
	case s.Kind == profiles.KindPatterns && s.Patterns != nil:
		spec.coll, spec.project = patternCollection, dropFields("modified")
		for _, it := range s.Patterns.Items {
			pp, err := preparePattern(it, 0)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", it.File, err)
			}
			if err := add(pp.doc[0].Value, pp.doc); err != nil {
				return nil, err
			}
		}
	case s.Kind == profiles.KindUsers && s.Users != nil:
		spec.coll, spec.project = userCollection, dropFields("password", "modified")
		spec.note = "passwords not compared (every apply hashes them anew)"
		for _, u := range s.Users.Users {
			roles := bson.A{}
			for _, r := range u.Roles {
				roles = append(roles, r)
			}
			doc := bson.D{{Key: "_id", Value: u.ID}, {Key: "firstName", Value: u.FirstName},
				{Key: "lastName", Value: u.LastName}, {Key: "roles", Value: roles}}
			if err := add(u.ID, doc); err != nil {
				return nil, err
			}
		}
	case s.Kind == profiles.KindDocuments && s.Documents != nil:
		spec.coll, spec.field = s.Documents.Collection, cmp.Or(s.Documents.Key, "_id")
		docs := make([]bson.D, len(s.Documents.Items))
		keys := make([]any, len(docs))
		withID := true
		for i, it := range s.Documents.Items {
			doc, err := jsbson.Doc(it.JSON)
			if err != nil {
				return nil, fmt.Errorf("%s[%d]: %w", it.File, it.Index, err)
			}
			v, ok := lookupPath(doc, spec.field)
			if !ok {
				return nil, fmt.Errorf("%s[%d]: no %q field", it.File, it.Index, spec.field)
			}
			if _, ok := lookupPath(doc, "_id"); !ok {
				withID = false
			}
			docs[i], keys[i] = doc, v
		}
		// A document without _id keeps the stored one: compare without it.
		spec.project = dropFields("modified")
		if !withID {
			spec.project = dropFields("modified", "_id")
		}
		for i := range docs {
			if err := add(keys[i], docs[i]); err != nil {
				return nil, err
			}
		}
	default:
		return nil, nil
	}
	return spec, nil
}

// keepFields projects a document on the named top-level fields, in the
// document's order.
func keepFields(names ...string) func(bson.Raw) ([]byte, error) {
	return projectFields(func(k string) bool { return slices.Contains(names, k) })
}

// dropFields projects a document without the named top-level fields.
func dropFields(names ...string) func(bson.Raw) ([]byte, error) {
	return projectFields(func(k string) bool { return !slices.Contains(names, k) })
}

func projectFields(keep func(string) bool) func(bson.Raw) ([]byte, error) {
	return func(doc bson.Raw) ([]byte, error) {
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
}
