package profiles_test

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/srvthreds/bootstrap/internal/jsbson"
	"github.com/srvthreds/bootstrap/profiles"
)

// FuzzLoad loads a profile made of a fuzzed manifest, pattern, documents
// file and users file. Loading must never panic; it either refuses the
// profile with a *ValidationError or returns one whose every document
// converts as apply converts it (what validates also applies), without the
// omitted keys and with its reserved names checked. Its seed corpus is in
// testdata/fuzz/FuzzLoad and runs with go test.
func FuzzLoad(f *testing.F) {
	f.Add(notesManifest+"  - users: {file: users.yaml}\nreset: {redis: [\"Pattern:*\"], collections: [Ref]}\n",
		reactionPattern, `[{"_id": 1, "$schema": "x", "v": {"a.b": [1, 2.5, null]}}]`,
		"- id: admin\n  password: x\n  roles: [admin]\n")
	f.Add("steps:\n  - patterns: {dir: patterns, omitKeys: [meta]}\n", `{"id": "p", "meta": {"active": true}}`, `{}`, "")
	f.Add("steps: [{documents: {collection: R, dir: data, key: code}}]\n", `{}`, `[{"code": "a"}, {"code": "a"}]`, "")
	f.Fuzz(func(t *testing.T, manifest, pattern, docs, users string) {
		fsys := fstest.MapFS{
			"a/profile.yaml":      {Data: []byte(manifest)},
			"a/run-config/c.json": {Data: []byte(pattern)},
			"a/patterns/p.json":   {Data: []byte(pattern)},
			"a/data/d.json":       {Data: []byte(docs)},
			"a/users.yaml":        {Data: []byte(users)},
		}
		opts := &profiles.Options{OmitKeys: []string{"$schema"}, Limits: profiles.Limits{MaxFileSize: 1 << 16, MaxDocuments: 1000}}
		set, err := profiles.LoadWith(fsys, []string{"a"}, opts)
		if err != nil {
			var ve *profiles.ValidationError
			if !errors.Is(err, profiles.ErrInvalid) || !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("error %v is not a *ValidationError with problems", err)
			}
			return
		}
		for _, p := range set.Profiles {
			checkApplies(t, p)
		}
	})
}

// checkApplies converts every document of p as apply does.
func checkApplies(t *testing.T, p *profiles.Profile) {
	t.Helper()
	noOmitted := func(what string, raw []byte) {
		if _, err := jsbson.Parse(raw, &jsbson.Options{Key: func(k jsbson.Key) {
			if k.Name == "$schema" {
				t.Fatalf("%s: omitted key %s still in %s", what, k.Field(), raw)
			}
		}}); err != nil {
			t.Fatalf("%s: validated but does not convert: %v", what, err)
		}
	}
	for _, s := range p.Steps {
		switch {
		case s.Configs != nil:
			for _, it := range s.Configs.Items {
				noOmitted(it.File, it.JSON)
			}
		case s.Patterns != nil:
			for _, it := range s.Patterns.Items {
				noOmitted(it.File, it.JSON)
				d, _ := jsbson.Doc(it.JSON)
				for _, e := range d {
					if e.Key == "_id" || (strings.HasPrefix(e.Key, "$")) {
						t.Fatalf("%s: pattern with top-level %q validated", it.File, e.Key)
					}
				}
			}
		case s.Documents != nil:
			if strings.HasPrefix(s.Documents.Collection, profiles.ReservedCollectionPrefix) {
				t.Fatalf("reserved collection %q validated", s.Documents.Collection)
			}
			for _, it := range s.Documents.Items {
				noOmitted(it.File, it.JSON)
				if _, err := jsbson.Doc(it.JSON); err != nil {
					t.Fatalf("%s[%d]: %v", it.File, it.Index, err)
				}
			}
		}
	}
	if p.Reset != nil {
		for _, c := range p.Reset.Collections {
			if strings.HasPrefix(c, profiles.ReservedCollectionPrefix) {
				t.Fatalf("reserved collection %q validated in reset", c)
			}
		}
		for _, k := range p.Reset.RedisKeys {
			if strings.HasPrefix(k, profiles.ReservedRedisPrefix) || k == "*" {
				t.Fatalf("reset glob %q validated", k)
			}
		}
	}
}
