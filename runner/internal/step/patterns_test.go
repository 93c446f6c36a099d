package step

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/profiles"
)

func TestPreparePattern(t *testing.T) {
	now := bson.NewDateTimeFromTime(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	it := profiles.PatternItem{
		ID:     "p1",
		Active: true,
		JSON: json.RawMessage(`{"name":"P","created":"2020-01-01","id":"p1","meta":{"active":true},` +
			`"modified":"2021-01-01","n":2.0}`),
	}
	p, err := preparePattern(it, now)
	if err != nil {
		t.Fatal(err)
	}
	wantDoc := bson.D{
		{Key: "_id", Value: "p1"},
		{Key: "name", Value: "P"},
		{Key: "meta", Value: bson.D{{Key: "active", Value: true}}},
		{Key: "n", Value: int32(2)},
		{Key: "modified", Value: now},
	}
	if !reflect.DeepEqual(p.doc, wantDoc) {
		t.Errorf("doc = %v, want %v", p.doc, wantDoc)
	}
	if got, want := string(p.data), `{"name":"P","id":"p1","meta":{"active":true},"n":2}`; got != want {
		t.Errorf("data = %s, want %s", got, want)
	}
	if got, want := p.id, "p1"; got != want {
		t.Errorf("id = %q, want %q", got, want)
	}
	if !p.active {
		t.Error("active = false, want true")
	}
}

func TestPreparePatternErrors(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		{"no_id", `{"name":"x"}`, `no "id"`},
		{"id_and__id", `{"id":"a","_id":"b"}`, `"_id"`},
		{"not_object", `[]`, "not an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := preparePattern(profiles.PatternItem{ID: "a", JSON: json.RawMessage(tt.json)}, 0)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %s", err, tt.want)
			}
		})
	}
}

func TestPatternsToUncache(t *testing.T) {
	pats := []preparedPattern{{id: "a", active: true}, {id: "b", active: false}, {id: "c", active: true}}
	tests := []struct {
		name string
		prev []string
		want []string
	}{
		{"first_run_removes_inactive", nil, []string{"b"}},
		{"active_ones_kept", []string{"a", "c"}, []string{"b"}},
		{"gone_ones_removed", []string{"a", "z", "d"}, []string{"b", "d", "z"}},
		{"no_duplicates", []string{"b", "b"}, []string{"b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := patternsToUncache(pats, tt.prev); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("patternsToUncache = %v, want %v", got, tt.want)
			}
		})
	}
}
