package profiles

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestProblem_String(t *testing.T) {
	tests := []struct {
		name string
		p    Problem
		want string
	}{
		{name: "everything", p: Problem{Profile: "a", File: "a/x.json", Line: 3, Column: 7, Field: "id", Msg: "bad"}, want: "a/x.json:3:7: id: bad"},
		{name: "no_column", p: Problem{File: "a/x.yaml", Line: 3, Msg: "bad"}, want: "a/x.yaml:3: bad"},
		{name: "column_without_line", p: Problem{File: "a/x.yaml", Column: 3, Msg: "bad"}, want: "a/x.yaml: bad"},
		{name: "profile_only", p: Problem{Profile: "a", Msg: "bad"}, want: "a: bad"},
		{name: "message_only", p: Problem{Msg: "bad"}, want: "bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValidationError(t *testing.T) {
	var ps problems
	ps.add(Problem{Profile: "b", File: "b/p.yaml", Line: 1, Msg: "second"})
	ps.add(Problem{Profile: "a", File: "a/p.yaml", Line: 9, Msg: "first"})
	ps.add(Problem{Profile: "a", File: "a/p.yaml", Line: 9, Msg: "first"})
	err := fmt.Errorf("validate: %w", ps.err())
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
	}
	if got, want := err.Error(), "validate: a/p.yaml:9: first\nb/p.yaml:1: second"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var none problems
	if err := none.err(); err != nil {
		t.Errorf("err() without problems = %v", err)
	}
}

func TestFileCtx_jsonErr(t *testing.T) {
	tests := []struct {
		name string
		data string
		into func([]byte) error
		want string
	}{
		{
			name: "syntax_error",
			data: "{\n  \"a\": tru\n}",
			into: func(b []byte) error { var v any; return json.Unmarshal(b, &v) },
			want: "f.json:2:11: docs: malformed JSON: invalid character '\\n' in literal true (expecting 'e')",
		},
		{
			name: "type_error",
			data: "[\n  {\"a\": 1},\n  7\n]",
			into: func(b []byte) error { var v []map[string]any; return json.Unmarshal(b, &v) },
			want: "f.json:3:3: docs: JSON number where an object was expected",
		},
		{
			name: "type_error_with_field",
			data: `{"id": 5}`,
			into: func(b []byte) error {
				var v struct {
					ID string `json:"id"`
				}
				return json.Unmarshal(b, &v)
			},
			want: "f.json:1:8: docs.id: JSON number where a string was expected",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ps problems
			c := &fileCtx{probs: &ps, profile: "p", file: "f.json"}
			err := tt.into([]byte(tt.data))
			if err == nil {
				t.Fatal("no decoding error")
			}
			c.jsonErr([]byte(tt.data), "docs", err)
			if got := ps.err().Error(); got != tt.want {
				t.Errorf("problem = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLineCol(t *testing.T) {
	data := []byte("ab\nçd\n\nx")
	tests := []struct {
		off       int64
		line, col int
	}{
		{0, 1, 1}, {2, 1, 3}, {3, 2, 1}, {6, 2, 3}, {7, 3, 1}, {8, 4, 1}, {99, 4, 2},
	}
	var got []string
	for _, tt := range tests {
		l, c := lineCol(data, tt.off)
		if l != tt.line || c != tt.col {
			got = append(got, fmt.Sprintf("lineCol(%d) = %d:%d, want %d:%d", tt.off, l, c, tt.line, tt.col))
		}
	}
	if len(got) > 0 {
		t.Error(strings.Join(got, "\n"))
	}
}

func TestSplitNames(t *testing.T) {
	got := splitNames([]string{"a,b", "", " c , a ", "b"})
	if want := []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Errorf("splitNames = %q, want %q", got, want)
	}
}
