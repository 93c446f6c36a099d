package jsbson

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestParse_errors_carry_offset_and_field(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		opts   *Options
		off    int64
		field  string
		msg    string
		syntax bool
	}{
		{"malformed", "{\n  \"a\": ]\n}", nil, 9, "", "invalid character ']' looking for beginning of value", true},
		{"truncated", `{"a": [1,`, nil, 9, "", "unexpected end of JSON input", true},
		{"duplicate", "{\"a\": {\"x\": 1,\n \"x\": 2}}", nil, 16, "a.x", `duplicate key "x" (also at line 1); JSON.parse would keep only the last value`, false},
		{"nul_key", `{"a": [{"b\u0000": 1}]}`, nil, 8, "a[0].b\x00", "key contains a NUL byte, which BSON cannot store", false},
		{"utf8", "{\"a\": \"\xe9t\xe9\"}", nil, 7, "", "invalid UTF-8 (byte 0xe9)", false},
		{"depth", `{"a": {"b": [{}]}}`, &Options{MaxDepth: 3}, 13, "a.b[0]", "nested deeper than 3 levels", false},
		{"depth_limit_is_capped_at_100", strings.Repeat("[", 101) + strings.Repeat("]", 101), &Options{MaxDepth: 500},
			100, strings.Repeat("[0]", 100), "nested deeper than 100 levels", false},
		{"omitted_values_are_checked", `{"$schema": {"x": 1, "x": 2}}`, &Options{Omit: []string{"$schema"}},
			21, "$schema.x", `duplicate key "x" (also at line 1); JSON.parse would keep only the last value`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), tt.opts)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) error = %v, want an *Error", tt.in, err)
			}
			if e.Offset != tt.off || e.Field != tt.field || e.Msg != tt.msg || e.Syntax != tt.syntax {
				t.Errorf("Parse(%q) = {%d %q %q %v}, want {%d %q %q %v}", tt.in,
					e.Offset, e.Field, e.Msg, e.Syntax, tt.off, tt.field, tt.msg, tt.syntax)
			}
		})
	}
}

func TestParse_omit(t *testing.T) {
	omit := &Options{Omit: []string{"$schema", "x"}}
	tests := []struct {
		name, in, want string
		omitted        []string
	}{
		{"nothing", `{"a": 1}`, `{"a": 1}`, nil},
		{"first_of_several", `{"$schema": "s", "a": 1, "b": 2}`, `{"a": 1, "b": 2}`, []string{"$schema"}},
		{"middle", `{"a": 1, "$schema": "s", "b": 2}`, `{"a": 1, "b": 2}`, []string{"$schema"}},
		{"last", `{"a": 1, "$schema": "s"}`, `{"a": 1}`, []string{"$schema"}},
		{"only", `{ "$schema": {"x": 1} }`, `{  }`, []string{"$schema"}},
		{"leading_two", `{"x": 1, "$schema": 2, "a": 3}`, `{"a": 3}`, []string{"x", "$schema"}},
		{"trailing_two", `{"a": 1, "x": 1, "$schema": 2}`, `{"a": 1}`, []string{"x", "$schema"}},
		{"all_nested_depths", "{\n  \"$schema\": \"../s.json\",\n  \"v\": [{\"x\": 1, \"y\": {\"$schema\": 1}}]\n}",
			"{\n  \"v\": [{\"y\": {}}]\n}", []string{"$schema", "x"}},
		{"values_are_not_keys", `{"a": "$schema", "b": ["x"]}`, `{"a": "$schema", "b": ["x"]}`, nil},
		{"top_level_array", `[{"x": 1}, {"a": {"x": [1, {"x": 2}]}}]`, `[{}, {"a": {}}]`, []string{"x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse([]byte(tt.in), omit)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(r.JSON); got != tt.want {
				t.Errorf("JSON = %s, want %s", got, tt.want)
			}
			if !slices.Equal(r.Omitted, tt.omitted) {
				t.Errorf("Omitted = %q, want %q", r.Omitted, tt.omitted)
			}
			// The JSON left is what the value says: apply converts it again.
			back, err := Value(r.JSON)
			if err != nil {
				t.Fatalf("Value(%s): %v", r.JSON, err)
			}
			if !reflect.DeepEqual(back, r.Value) {
				t.Errorf("Value(JSON) = %#v, want %#v", back, r.Value)
			}
		})
	}
}

func TestParse_keys(t *testing.T) {
	in := `{"a": {"$push": [{"b.c": 1}]}, "$schema": "s", "d": 2}`
	var got []string
	_, err := Parse([]byte(in), &Options{Omit: []string{"$schema"}, Key: func(k Key) {
		got = append(got, k.Field()+"@"+string(rune('0'+k.Depth))+":"+in[k.Offset:k.Offset+int64(len(k.Name))+2])
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`a@1:"a"`, `a.$push@2:"$push"`, `a.$push[0].b.c@4:"b.c"`, `d@1:"d"`}
	if !slices.Equal(got, want) {
		t.Errorf("keys = %q, want %q", got, want)
	}
}

func TestParseEach(t *testing.T) {
	in := "[\n  {\"_id\": 1, \"x\": 0},\n  \"s\",\n  {\"_id\": {\"k\": 2}}\n]"
	type elem struct {
		i    int
		off  int64
		json string
	}
	var got []elem
	var keys []string
	err := ParseEach([]byte(in), &Options{Omit: []string{"x"}, Key: func(k Key) { keys = append(keys, k.Field()) }},
		func(i int, off int64, r Result) error {
			got = append(got, elem{i, off, string(r.JSON)})
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	want := []elem{{0, 4, `{"_id": 1}`}, {1, 26, `"s"`}, {2, 33, `{"_id": {"k": 2}}`}}
	if !slices.Equal(got, want) {
		t.Errorf("elements = %v, want %v", got, want)
	}
	if want := []string{"[0]._id", "[2]._id", "[2]._id.k"}; !slices.Equal(keys, want) {
		t.Errorf("keys = %q, want %q", keys, want)
	}

	// Not an array: one call, i = -1.
	var calls []int
	if err := ParseEach([]byte(` {"a": 1}`), nil, func(i int, off int64, r Result) error {
		calls = append(calls, i, int(off))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []int{-1, 1}; !slices.Equal(calls, want) {
		t.Errorf("calls = %v, want %v", calls, want)
	}

	// An error in an element names it.
	err = ParseEach([]byte(`[{}, {"a": 1, "a": 2}]`), nil, func(int, int64, Result) error { return nil })
	var e *Error
	if !errors.As(err, &e) || e.Field != "[1].a" || e.Offset != 14 {
		t.Errorf("error = %#v, want field [1].a at 14", err)
	}
}

func TestSize_matches_bson_marshal(t *testing.T) {
	for _, in := range []string{
		`{}`, `{"a": 1, "b": "xyz", "c": [1.5, true, null, {"d": []}], "e": -0}`,
		`{"` + strings.Repeat("k", 300) + `": [` + strings.Repeat("1,", 200) + `1]}`,
	} {
		d, err := Doc([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := bson.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := Size(d), len(raw); got != want {
			t.Errorf("Size(%.40s) = %d, want %d", in, got, want)
		}
	}
}

func TestParseEach_depth_counts_from_the_element(t *testing.T) {
	elem := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if err := ParseEach([]byte("["+elem+"]"), nil, func(int, int64, Result) error { return nil }); err != nil {
		t.Errorf("an element of %d levels: %v", MaxDepth, err)
	}
	var depths []int
	_ = ParseEach([]byte(`[{"a": {"b": 1}}]`), &Options{Key: func(k Key) { depths = append(depths, k.Depth) }},
		func(int, int64, Result) error { return nil })
	if want := []int{1, 2}; !slices.Equal(depths, want) {
		t.Errorf("depths = %v, want %v", depths, want)
	}
}

// refValue is the conversion as it was built on encoding/json's Decoder
// (without the refusals), the reference for FuzzParse_matches_decoder.
func refValue(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var val func() (any, error)
	val = func() (any, error) {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '[' {
				a := bson.A{}
				for dec.More() {
					v, err := val()
					if err != nil {
						return nil, err
					}
					a = append(a, v)
				}
				_, err := dec.Token()
				return a, err
			}
			d := bson.D{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := val()
				if err != nil {
					return nil, err
				}
				d = append(d, bson.E{Key: k.(string), Value: v})
			}
			jsOrderKeys(d)
			_, err := dec.Token()
			return d, err
		case json.Number:
			return jsNumber(string(t))
		}
		return tok, nil
	}
	return val()
}

// FuzzParse_matches_decoder checks the hand-written reader against
// encoding/json's decoder: same values for every input Parse accepts,
// strings with escapes and surrogates included.
func FuzzParse_matches_decoder(f *testing.F) {
	for _, s := range []string{
		`{"a":"\ud83d\ude00 \ud800 \udc00x \ud800\u0041 \u00e9\/\"\\\b\f\n\r\t","b":[1,-0,1.5e3,1e400,true,false,null]}`,
		` [ {"2":1,"1":{"x":[]}} , "é\u2028" ] `, `"\uD834\uDD1E"`, `-12.5E-3`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := Value([]byte(in))
		if err != nil {
			var e *Error
			if errors.As(err, &e) && utf8.ValidString(in) && e.Syntax == json.Valid([]byte(in)) {
				t.Fatalf("Value(%q): %v, but json.Valid = %v", in, err, json.Valid([]byte(in)))
			}
			return
		}
		want, err := refValue([]byte(in))
		if err != nil {
			t.Fatalf("reference on %q: %v", in, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Value(%q) = %#v, decoder %#v", in, got, want)
		}
	})
}
