package mongox

import (
	"math"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func mustRaw(t *testing.T, v any) bson.RawValue {
	t.Helper()
	rv, err := RawValueOf(v)
	if err != nil {
		t.Fatal(err)
	}
	return rv
}

func TestSnapshotValueKey(t *testing.T) {
	tests := []struct {
		name  string
		a, b  any
		equal bool
	}{
		{name: "int32_and_double", a: int32(7), b: 7.0, equal: true},
		{name: "int64_and_int32", a: int64(7), b: int32(7), equal: true},
		{name: "zero_and_negative_zero", a: 0.0, b: math.Copysign(0, -1), equal: true},
		{name: "number_and_string", a: int32(7), b: "7", equal: false},
		{name: "strings", a: "low", b: "low", equal: true},
		{name: "different_strings", a: "low", b: "high", equal: false},
		{name: "documents", a: bson.D{{Key: "a", Value: int32(1)}}, b: bson.D{{Key: "a", Value: int32(1)}}, equal: true},
		{name: "bool_and_number", a: true, b: int32(1), equal: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValueKey(mustRaw(t, tt.a)) == ValueKey(mustRaw(t, tt.b)); got != tt.equal {
				t.Errorf("ValueKey(%v) == ValueKey(%v): %v, want %v", tt.a, tt.b, got, tt.equal)
			}
		})
	}
}
