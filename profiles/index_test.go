package profiles_test

import (
	"testing"
	"testing/fstest"

	"github.com/srvthreds/bootstrap/profiles"
)

func TestLoad_step_index_opt_out(t *testing.T) {
	tests := []struct {
		name    string
		step    string
		noIndex bool
	}{
		{"documents_default", "documents: {collection: Ref, dir: d, key: code}", false},
		{"documents_index_true", "documents: {collection: Ref, dir: d, key: code, index: true}", false},
		{"documents_index_false", "documents: {collection: Ref, dir: d, key: code, index: false}", true},
		{"upsert_index_false", "upsert: {collection: T, file: t.json, index: false}", true},
		{"replace_default", "replace: {collection: T, file: t.json}", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"a/profile.yaml": {Data: []byte("steps:\n  - " + tt.step + "\n")},
				"a/d/x.json":     {Data: []byte(`{"code": "x"}`)},
				"a/t.json":       {Data: []byte(`[{"matcher": {"code": "x"}, "values": {"n": 1}}]`)},
			}
			set, err := profiles.Load(fsys, []string{"a"})
			if err != nil {
				t.Fatal(err)
			}
			if got := set.Profiles[0].Steps[0].NoIndex; got != tt.noIndex {
				t.Errorf("NoIndex = %v, want %v", got, tt.noIndex)
			}
		})
	}
}
