package step

import (
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestKeyIndexes(t *testing.T) {
	filter := func(keys ...string) Doc {
		var f bson.D
		for _, k := range keys {
			f = append(f, bson.E{Key: k, Value: "v"})
		}
		return Doc{Filter: f}
	}
	tests := []struct {
		name string
		ds   DocSet
		want []string // index names
	}{
		{"keyed_on_id", DocSet{Field: "_id"}, nil},
		{"keyed_on_code", DocSet{Field: "code"}, []string{"bootstrap_code"}},
		{"keyed_on_code_opted_out", DocSet{Field: "code", NoIndex: true}, nil},
		{"matchers_distinct_field_lists", DocSet{Docs: []Doc{filter("name"), filter("name"), filter("org", "name")}},
			[]string{"bootstrap_name", "bootstrap_org_name"}},
		{"matcher_with_id", DocSet{Docs: []Doc{filter("_id"), filter("_id", "name")}}, nil},
		{"matchers_opted_out", DocSet{Docs: []Doc{filter("name")}, NoIndex: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, ix := range tt.ds.KeyIndexes() {
				got = append(got, ix.Name)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("KeyIndexes() = %v, want %v", got, tt.want)
			}
		})
	}
}
