package jsbson

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestJSONToBSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want any
	}{
		{"object_keeps_key_order", `{"b":1,"a":2,"c":3}`,
			bson.D{{Key: "b", Value: int32(1)}, {Key: "a", Value: int32(2)}, {Key: "c", Value: int32(3)}}},
		{"array_index_keys_first_ascending", `{"b":1,"10":2,"2":3,"a":4,"0":5}`,
			bson.D{{Key: "0", Value: int32(5)}, {Key: "2", Value: int32(3)}, {Key: "10", Value: int32(2)},
				{Key: "b", Value: int32(1)}, {Key: "a", Value: int32(4)}}},
		{"non_canonical_numeric_keys_keep_their_place", `{"b":1,"01":2,"-1":3,"1.5":4,"4294967295":5,"4294967294":6}`,
			bson.D{{Key: "4294967294", Value: int32(6)}, {Key: "b", Value: int32(1)}, {Key: "01", Value: int32(2)},
				{Key: "-1", Value: int32(3)}, {Key: "1.5", Value: int32(4)}, {Key: "4294967295", Value: int32(5)}}},
		{"nested", `{"x":{"z":[1,"s",true,false,null,{"k":[]}],"y":{}}}`,
			bson.D{{Key: "x", Value: bson.D{
				{Key: "z", Value: bson.A{int32(1), "s", true, false, nil, bson.D{{Key: "k", Value: bson.A{}}}}},
				{Key: "y", Value: bson.D{}},
			}}}},
		{"dollar_keys_verbatim", `{"$set":{"$oid":"x"},"v":"${VAR||default}"}`,
			bson.D{{Key: "$set", Value: bson.D{{Key: "$oid", Value: "x"}}}, {Key: "v", Value: "${VAR||default}"}}},
		{"string_escapes", `"a\"b\\c\n\u00e9\ud83d\ude00"`, "a\"b\\c\né😀"},
		{"top_level_array", ` [1, 2.5] `, bson.A{int32(1), 2.5}},
		{"top_level_null", `null`, nil},
		{"int", `42`, int32(42)},
		{"int_with_fraction_zero", `1.0`, int32(1)},
		{"int_with_exponent", `1e2`, int32(100)},
		{"int_with_fraction_exponent", `1.5e1`, int32(15)},
		{"zero", `0`, int32(0)},
		{"negative_zero", `-0`, math.Copysign(0, -1)},
		{"int32_max", `2147483647`, int32(math.MaxInt32)},
		{"int32_min", `-2147483648`, int32(math.MinInt32)},
		{"above_int32", `2147483648`, float64(2147483648)},
		{"below_int32", `-2147483649`, float64(-2147483649)},
		{"beyond_2_53_rounds_like_js", `9007199254740993`, float64(9007199254740992)},
		{"fraction", `-1.25`, -1.25},
		{"tiny", `1e-7`, 1e-7},
		{"overflow_is_infinity", `1e400`, math.Inf(1)},
		{"negative_overflow", `-1e400`, math.Inf(-1)},
		{"underflow_is_zero", `1e-400`, int32(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Value(json.RawMessage(tt.in))
			if err != nil {
				t.Fatalf("Value(%s): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Value(%s) = %#v, want %#v", tt.in, got, tt.want)
			}
			if f, ok := tt.want.(float64); ok && f == 0 {
				if g, _ := got.(float64); math.Signbit(g) != math.Signbit(f) {
					t.Errorf("Value(%s) = %v, sign differs from %v", tt.in, g, f)
				}
			}
		})
	}
}

// TestJSONToBSONWireTypes checks the BSON element types on the wire, which
// is what the services' driver decodes.
func TestJSONToBSONWireTypes(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bson.Type
	}{
		{"small_int", `7`, bson.TypeInt32},
		{"int_as_float_text", `7.0`, bson.TypeInt32},
		{"big_int", `3000000000`, bson.TypeDouble},
		{"fraction", `0.5`, bson.TypeDouble},
		{"negative_zero", `-0`, bson.TypeDouble},
		{"string", `"7"`, bson.TypeString},
		{"bool", `true`, bson.TypeBoolean},
		{"null", `null`, bson.TypeNull},
		{"object", `{"a":1}`, bson.TypeEmbeddedDocument},
		{"array", `[1]`, bson.TypeArray},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Value(json.RawMessage(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := bson.Marshal(bson.D{{Key: "v", Value: v}})
			if err != nil {
				t.Fatal(err)
			}
			if got := bson.Raw(raw).Lookup("v").Type; got != tt.want {
				t.Errorf("type of %s = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestJSONToBSONErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", ``, "unexpected end of JSON input"},
		{"truncated", `{"a":`, "unexpected end of JSON input"},
		{"trailing_comma", `{"a":1,}`, "invalid character"},
		{"trailing_value", `{} {}`, "after top-level value"},
		{"bad_literal", `{"a":tru}`, "invalid character"},
		{"nul_in_key", `{"a\u0000b":1}`, "NUL"},
		{"too_deep", strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), "nested deeper"},
		{"mongodb_depth_101", strings.Repeat(`{"a":`, 101) + "1" + strings.Repeat("}", 101), "nested deeper than 100 levels"},
		{"duplicate_key", `{"a":1,"b":2,"a":3}`, `a: duplicate key "a"`},
		{"invalid_utf8", "{\"a\":\"\xff\"}", "invalid UTF-8"},
		{"invalid_utf8_in_key", "{\"\xc3\":1}", "invalid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Value(json.RawMessage(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Value(%.40s) error = %v, want one containing %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestJSONToBSONDepthLimitIsInclusive(t *testing.T) {
	in := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if _, err := Value(json.RawMessage(in)); err != nil {
		t.Errorf("%d levels: %v", MaxDepth, err)
	}
}

func TestJSONToBSONDocRequiresObject(t *testing.T) {
	for _, in := range []string{`[]`, `"s"`, `1`, `null`} {
		if _, err := Doc(json.RawMessage(in)); err == nil || !strings.Contains(err.Error(), "not an object") {
			t.Errorf("Doc(%s) error = %v, want not an object", in, err)
		}
	}
	d, err := Doc(json.RawMessage(`{"a":"b"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d, (bson.D{{Key: "a", Value: "b"}}); !reflect.DeepEqual(got, want) {
		t.Errorf("Doc = %v, want %v", got, want)
	}
}

func TestJSNumberString(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{1, "1"},
		{math.Copysign(0, -1), "0"},
		{1.5, "1.5"},
		{-2.5, "-2.5"},
		{0.1, "0.1"},
		{0.30000000000000004, "0.30000000000000004"},
		{123.456, "123.456"},
		{2147483648, "2147483648"},
		{1e20, "100000000000000000000"},
		{123456789012345680000, "123456789012345680000"},
		{1e21, "1e+21"},
		{1.23e21, "1.23e+21"},
		{0.000001, "0.000001"},
		{1.2345e-6, "0.0000012345"},
		{1e-7, "1e-7"},
		{1.5e-7, "1.5e-7"},
		{5e-324, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
	}
	for _, tt := range tests {
		if got := jsNumberString(tt.in); got != tt.want {
			t.Errorf("jsNumberString(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestJSStringify(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"compact_in_order", `{ "b" : [1, 1.0, 2.50, true, null, {"x": "y"}], "a": {}, "1": -0 }`,
			`{"1":0,"b":[1,1,2.5,true,null,{"x":"y"}],"a":{}}`},
		{"escapes_only_what_js_escapes", `"q\" b\\ \n\t\r\b\f \u0001 </>& \u2028 é \/"`,
			"\"q\\\" b\\\\ \\n\\t\\r\\b\\f \\u0001 </>& \u2028 é /\""},
		{"infinity_is_null", `[1e400]`, `[null]`},
		{"exponents", `[1e21, 1e-7, 100, 1E2]`, `[1e+21,1e-7,100,100]`},
		{"placeholders_verbatim", `{"url":"${HOST||localhost}:${PORT||80}"}`, `{"url":"${HOST||localhost}:${PORT||80}"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Value(json.RawMessage(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Stringify(v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Stringify(%s) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestJSStringifyRejectsOtherTypes(t *testing.T) {
	if _, err := Stringify(bson.D{{Key: "d", Value: bson.DateTime(0)}}); err == nil {
		t.Error("Stringify(DateTime) succeeded, want an error")
	}
}

// FuzzJSONToBSON checks that any JSON the converter accepts stringifies to
// valid JSON that converts back to the same value.
func FuzzJSONToBSON(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":[1.5,"x",null,true],"2":{"1":0}}`, `[]`, `"\u00e9"`, `-0`, `1e300`, `{"a":1,"a":2}`,
		`{"$x":{"y.z":-2147483649}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		v, err := Value(json.RawMessage(in))
		if err != nil {
			return
		}
		out, err := Stringify(v)
		if err != nil {
			t.Fatalf("Stringify(%s): %v", in, err)
		}
		if !json.Valid(out) {
			t.Fatalf("Stringify(%s) = %s, not valid JSON", in, out)
		}
		if hasFloat(v, func(f float64) bool { return math.IsInf(f, 0) }) {
			return // JSON.stringify writes an infinite number as null
		}
		back, err := Value(out)
		if err != nil {
			t.Fatalf("Value(%s): %v", out, err)
		}
		negZero := hasFloat(v, func(f float64) bool { return f == 0 && math.Signbit(f) })
		if !reflect.DeepEqual(back, v) && !negZero { // JSON.stringify writes -0 as 0
			t.Fatalf("round trip of %s: %#v, want %#v", in, back, v)
		}
	})
}

// hasFloat reports whether v holds a float64 for which pred is true.
func hasFloat(v any, pred func(float64) bool) bool {
	switch t := v.(type) {
	case float64:
		return pred(t)
	case bson.A:
		for _, e := range t {
			if hasFloat(e, pred) {
				return true
			}
		}
	case bson.D:
		for _, e := range t {
			if hasFloat(e.Value, pred) {
				return true
			}
		}
	}
	return false
}
