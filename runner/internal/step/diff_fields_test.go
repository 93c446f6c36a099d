package step

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// rawDoc is the BSON of the extended JSON s.
func rawDoc(t *testing.T, s string) bson.Raw {
	t.Helper()
	var d bson.D
	if err := bson.UnmarshalExtJSON([]byte(s), false, &d); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	raw, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// fieldLines renders the changed fields as "path: old -> new" ("-" for an
// absent value, "(masked)" appended for a masked field).
func fieldLines(c DocChange) []string {
	out := make([]string, len(c.Fields))
	for i, f := range c.Fields {
		old, new := "-", "-"
		if f.Old != nil {
			old = string(f.Old)
		}
		if f.New != nil {
			new = string(f.New)
		}
		out[i] = f.Path + ": " + old + " -> " + new
		if f.Masked {
			out[i] += " (masked)"
		}
	}
	return out
}

func TestDocChange_fields(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     []string
		note     string
		secrets  []string // must not appear in the change's JSON
	}{
		{
			name: "config_with_schema_key_and_nested_password",
			old:  `{"config": {"$schema": "../schemas/agent.json", "nodeId": "session1", "redis": {"host": "redis", "password": "old-pw"}}}`,
			new:  `{"config": {"$schema": "../schemas/agent.json", "nodeId": "session2", "redis": {"host": "redis", "password": "new-pw"}}}`,
			want: []string{
				`config.nodeId: "session1" -> "session2"`,
				`config.redis.password: "***" -> "***" (masked)`,
			},
			secrets: []string{"old-pw", "new-pw"},
		},
		{
			name: "user_gains_an_object_role",
			old:  `{"_id": "ops", "email": "ops@example.com", "roles": [{"name": "admin"}]}`,
			new:  `{"_id": "ops", "email": "ops@example.com", "roles": [{"name": "admin"}, {"name": "ops"}]}`,
			want: []string{`roles.1: - -> {"name":"ops"}`},
		},
		{
			name: "user_role_renamed",
			old:  `{"_id": "ops", "roles": [{"name": "admin"}]}`,
			new:  `{"_id": "ops", "roles": [{"name": "viewer"}]}`,
			want: []string{`roles.0.name: "admin" -> "viewer"`},
		},
		{
			name: "pattern_reaction_changed_deep_in_an_array",
			old:  `{"_id": "p.echo", "meta": {"active": true}, "reactions": [{"name": "r1", "transform": {"$push": {"x": 1}}}]}`,
			new:  `{"_id": "p.echo", "meta": {"active": false}, "reactions": [{"name": "r1", "transform": {"$push": {"x": 2}}}]}`,
			want: []string{
				`meta.active: true -> false`,
				`reactions.0.transform.$push.x: 1 -> 2`,
			},
		},
		{
			name:    "secret_field_removed_and_type_changed",
			old:     `{"code": "ACME", "apiKey": "k-123", "tier": "1"}`,
			new:     `{"code": "ACME", "tier": 2}`,
			want:    []string{`tier: "1" -> 2`, `apiKey: "***" -> - (masked)`},
			secrets: []string{"k-123"},
		},
		{
			name:    "secrets_inside_a_value_shown",
			old:     `{"code": "ACME"}`,
			new:     `{"code": "ACME", "auth": {"clientId": "c1", "clientSecret": "s-456", "scopes": [{"token": "t-789"}]}}`,
			want:    []string{`auth: - -> {"clientId":"c1","clientSecret":"***","scopes":[{"token":"***"}]}`},
			secrets: []string{"s-456", "t-789"},
		},
		{
			name:    "whole_credentials_object_masked",
			old:     `{"credentials": {"user": "u1", "pass": "p1"}}`,
			new:     `{"credentials": {"user": "u2", "pass": "p2"}}`,
			want:    []string{`credentials.user: "***" -> "***" (masked)`, `credentials.pass: "***" -> "***" (masked)`},
			secrets: []string{"u1", "u2", "p1", "p2"},
		},
		{
			name: "field_order_only",
			old:  `{"a": 1, "b": 2}`,
			new:  `{"b": 2, "a": 1}`,
			note: "field order only",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := docChange("x", rawDoc(t, tt.old), rawDoc(t, tt.new))
			if got, want := strings.Join(fieldLines(c), "\n"), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("fields:\n%s\nwant:\n%s", got, want)
			}
			if c.Note != tt.note {
				t.Errorf("note = %q, want %q", c.Note, tt.note)
			}
			b, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.secrets {
				if strings.Contains(string(b), s) {
					t.Errorf("the change shows the secret %q: %s", s, b)
				}
			}
		})
	}
}

func TestDocChange_lists_at_most_20_fields(t *testing.T) {
	var old, new []string
	for i := range 25 {
		old = append(old, fmt.Sprintf(`"f%d": %d`, i, i))
		new = append(new, fmt.Sprintf(`"f%d": %d`, i, i+1))
	}
	c := docChange("x", rawDoc(t, "{"+strings.Join(old, ",")+"}"), rawDoc(t, "{"+strings.Join(new, ",")+"}"))
	if got, want := len(c.Fields), fieldsListed; got != want {
		t.Errorf("fields listed = %d, want %d", got, want)
	}
	if got, want := c.More, 5; got != want {
		t.Errorf("more = %d, want %d", got, want)
	}
}

func TestDocSet_keyName(t *testing.T) {
	oid := bson.NewObjectID()
	tests := []struct {
		name  string
		field string
		key   any
		want  string
	}{
		{"config_by_name", "_id", "session_agent", "session_agent"},
		{"user_by_id", "_id", "admin", "admin"},
		{"documents_keyed_on_code", "code", "ACME", "code=ACME"},
		{"documents_keyed_on_a_number", "meta.n", int32(7), "meta.n=7"},
		{"documents_keyed_on_object_id", "_id", oid, `{"$oid":"` + oid.Hex() + `"}`},
		{"handler_matcher", "", bson.D{{Key: "_id", Value: "t1"}, {Key: "kind", Value: "ref"}}, "_id=t1,kind=ref"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := &DocSet{Field: tt.field}
			typ, b, err := bson.MarshalValue(tt.key)
			if err != nil {
				t.Fatal(err)
			}
			if got := ds.keyName(bson.RawValue{Type: typ, Value: b}); got != tt.want {
				t.Errorf("keyName = %q, want %q", got, tt.want)
			}
		})
	}
}
