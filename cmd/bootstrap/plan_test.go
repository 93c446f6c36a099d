package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/srvthreds/bootstrap/runner"
)

func TestPrintDiff_names_documents_by_key_with_their_fields(t *testing.T) {
	long := json.RawMessage(`"` + strings.Repeat("x", 150) + `"`)
	tests := []struct {
		name string
		diff runner.StepDiff
		want string
	}{
		{
			name: "documents_keyed_on_code",
			diff: runner.StepDiff{Step: "3:documents", Collection: "nr.Reference", Insert: 1, Change: 1, Unchanged: 2,
				Changed: []string{"code=ACME"},
				Changes: []runner.DocChange{{Key: "code=ACME", Fields: []runner.FieldChange{
					{Path: "name", Old: json.RawMessage(`"Acme"`), New: json.RawMessage(`"Acme Inc"`)},
					{Path: "apiKey", Old: json.RawMessage(`"***"`), New: json.RawMessage(`"***"`), Masked: true},
					{Path: "roles.1", New: json.RawMessage(`{"name":"ops"}`)},
				}, More: 2}}},
			want: `  diff 3:documents nr.Reference: 1 to insert, 1 to change, 2 unchanged; changed: code=ACME
    ~ code=ACME
        name: "Acme" -> "Acme Inc"
        apiKey: "***" -> "***"
        roles.1: (none) -> {"name":"ops"}
        ... and 2 more fields
`,
		},
		{
			name: "long_value_cut_and_more_documents",
			diff: runner.StepDiff{Step: "0:configs", Collection: "nr.Config", Change: 12, Changed: []string{"engine"},
				Changes: []runner.DocChange{{Key: "engine", Fields: []runner.FieldChange{{Path: "config.blob", Old: long}}}}},
			want: `  diff 0:configs nr.Config: 0 to insert, 12 to change, 0 unchanged; changed: engine, ...
    ~ engine
        config.blob: "` + strings.Repeat("x", 99) + `... -> (none)
`,
		},
		{
			name: "field_order_only",
			diff: runner.StepDiff{Step: "1:patterns", Collection: "nr.PatternModel", Change: 1, Changed: []string{"p.echo"},
				Changes: []runner.DocChange{{Key: "p.echo", Note: "field order only"}}},
			want: `  diff 1:patterns nr.PatternModel: 0 to insert, 1 to change, 0 unchanged; changed: p.echo
    ~ p.echo (field order only)
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			printDiff(&b, tt.diff)
			if got := b.String(); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}
