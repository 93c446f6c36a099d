package mongox

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestLookupPath(t *testing.T) {
	doc := bson.D{
		{Key: "code", Value: "c1"},
		{Key: "meta", Value: bson.D{{Key: "ref", Value: int32(7)}, {Key: "tags", Value: bson.A{"x"}}}},
	}
	tests := []struct {
		name, path string
		want       any
		ok         bool
	}{
		{"top_level", "code", "c1", true},
		{"nested", "meta.ref", int32(7), true},
		{"missing", "name", nil, false},
		{"missing_nested", "meta.nope", nil, false},
		{"through_non_document", "code.x", nil, false},
		{"through_array", "meta.tags.0", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := LookupPath(doc, tt.path)
			if ok != tt.ok || got != tt.want {
				t.Errorf("LookupPath(%q) = %v, %v; want %v, %v", tt.path, got, ok, tt.want, tt.ok)
			}
		})
	}
}
