package step

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/srvthreds/bootstrap/profiles"
)

// sampleSteps holds, for every kind, a step whose Writes describes what
// the kind writes (for patterns, an active pattern, which is cached).
var sampleSteps = map[string]profiles.Step{
	profiles.KindConfigs: {Configs: &profiles.ConfigsStep{Dir: "run-config",
		Items: []profiles.ConfigItem{{Name: "a", File: "run-config/a.json", JSON: json.RawMessage(`{"x":1}`)}}}},
	profiles.KindPatterns: {Patterns: &profiles.PatternsStep{Dir: "patterns",
		Items: []profiles.PatternItem{{ID: "p1", File: "patterns/p1.json", Active: true, JSON: json.RawMessage(`{"id":"p1","name":"x"}`)}}}},
	profiles.KindUsers: {Users: &profiles.UsersStep{File: "users.yaml", Users: []profiles.User{{ID: "u1"}}}},
	profiles.KindDocuments: {Documents: &profiles.DocumentsStep{Collection: "Thing", Dir: "data", Key: "_id",
		Items: []profiles.DocumentItem{{File: "data/a.json", Key: "a", JSON: json.RawMessage(`{"_id":"a"}`)}}}},
	profiles.KindRedis: {Redis: &profiles.RedisStep{File: "redis.yaml",
		Keys: []profiles.RedisKey{{Key: "k", Type: TypeString, String: "v"}}}},
	profiles.KindHTTP: {HTTP: &profiles.HTTPStep{Method: "GET", URL: "http://engine/ping"}},
	profiles.KindExec: {Exec: &profiles.ExecStep{Command: []string{"/bin/true"}}},
	profiles.KindUpsert: {Upsert: &profiles.MatchStep{Collection: "Thing", File: "things.json",
		Items: []profiles.MatchItem{{Matcher: json.RawMessage(`{"id":"a"}`), Values: json.RawMessage(`{"x":1}`)}}}},
	profiles.KindReplace: {Replace: &profiles.MatchStep{Collection: "Thing", File: "things.json",
		Items: []profiles.MatchItem{{Matcher: json.RawMessage(`{"id":"a"}`), Values: json.RawMessage(`{"x":1}`)}}}},
}

// TestWritesRedisAgreesWithWrites: for every kind, WritesRedis says what
// Writes of a sample step does.
func TestWritesRedisAgreesWithWrites(t *testing.T) {
	for _, kind := range profiles.Kinds() {
		t.Run(kind, func(t *testing.T) {
			k, err := Lookup(kind)
			if err != nil {
				t.Fatal(err)
			}
			s, ok := sampleSteps[kind]
			if !ok {
				t.Fatalf("no sample step of kind %q", kind)
			}
			s.Kind = kind
			w, err := k.Writes(NewEnv(Env{}), s)
			if err != nil {
				t.Fatalf("Writes: %v", err)
			}
			if got, want := k.WritesRedis(), len(w.Redis) > 0; got != want {
				t.Errorf("WritesRedis() = %v, but Writes describes %d Redis keys", got, len(w.Redis))
			}
			p := &profiles.Profile{Steps: []profiles.Step{s}}
			if got, want := WritesRedis(p), k.WritesRedis(); got != want {
				t.Errorf("WritesRedis(profile of one %s step) = %v, want %v", kind, got, want)
			}
		})
	}
}

func TestWritesRedisProfile(t *testing.T) {
	tests := []struct {
		name  string
		kinds []string
		want  bool
	}{
		{name: "none", want: false},
		{name: "mongo_only", kinds: []string{profiles.KindConfigs, profiles.KindUsers, profiles.KindUpsert}, want: false},
		{name: "opaque_only", kinds: []string{profiles.KindHTTP, profiles.KindExec}, want: false},
		{name: "patterns_last", kinds: []string{profiles.KindConfigs, profiles.KindPatterns}, want: true},
		{name: "redis", kinds: []string{profiles.KindRedis}, want: true},
		{name: "unknown_kind", kinds: []string{"sql"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &profiles.Profile{}
			for _, k := range tt.kinds {
				p.Steps = append(p.Steps, profiles.Step{Kind: k})
			}
			if got := WritesRedis(p); got != tt.want {
				t.Errorf("WritesRedis = %v, want %v", got, tt.want)
			}
		})
	}
}

// undeclaredRedis is a kind whose Writes describes Redis keys while it
// says it writes none.
type undeclaredRedis struct{ redisKeys }

func (undeclaredRedis) WritesRedis() bool { return false }

func TestApplyRefusesUndeclaredRedisWrites(t *testing.T) {
	s := sampleSteps[profiles.KindRedis]
	s.Kind = profiles.KindRedis
	_, _, _, err := describe(t.Context(), NewEnv(Env{}), undeclaredRedis{}, s)
	if err == nil || !strings.Contains(err.Error(), "writes Redis keys") {
		t.Fatalf("describe = %v, want an error naming the undeclared Redis writes", err)
	}
}
