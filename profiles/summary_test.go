package profiles_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/srvthreds/bootstrap/profiles"
)

func TestStep_Summary(t *testing.T) {
	p := mustLoad(t, fullFS(), "full").Get("full")
	var got []string
	for _, s := range p.Steps {
		got = append(got, s.Summary())
	}
	want := []string{
		"configs: 2 documents → app.Config (run-config/)",
		"patterns: 3 documents → other.PatternModel (patterns/), 1 cached in Redis",
		"users: 3 → app.User (users.yaml)",
		"documents: 4 → app.Reference by code (data/)",
		"documents: 1 → app.Plain by _id (plain/)",
		"redis: 3 keys (redis.yaml)",
		"http: POST http://engine:3001/admin/reload expect 200,204 body body.json",
		"http: GET https://example.test/ping expect 200,201,202,204",
		"exec: /bin/migrate --x",
		"exec: /bin/true",
	}
	if !slices.Equal(got, want) {
		t.Errorf("summaries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestStep_Summary_hides_secrets(t *testing.T) {
	tests := []struct {
		name string
		step profiles.Step
		want string
	}{
		{
			name: "url_password",
			step: profiles.Step{Kind: profiles.KindHTTP, HTTP: &profiles.HTTPStep{Method: "GET", URL: "http://u:pw@h/x", Expect: []int{200}}},
			want: "http: GET http://u:***@h/x expect 200",
		},
		{
			name: "exec_quotes_arguments",
			step: profiles.Step{Kind: profiles.KindExec, Exec: &profiles.ExecStep{Command: []string{"/bin/sh", "-c", "echo $X", ""}}},
			want: `exec: /bin/sh -c "echo $X" ""`,
		},
		{
			name: "one_key",
			step: profiles.Step{Kind: profiles.KindRedis, Redis: &profiles.RedisStep{File: "r.yaml", Keys: make([]profiles.RedisKey, 1)}},
			want: "redis: 1 key (r.yaml)",
		},
		{
			name: "upsert",
			step: profiles.Step{Kind: profiles.KindUpsert, Database: "test",
				Upsert: &profiles.MatchStep{Collection: "Thing", File: "Handler.ts", Items: make([]profiles.MatchItem, 2)}},
			want: "upsert: 2 documents → test.Thing (Handler.ts)",
		},
		{
			name: "replace",
			step: profiles.Step{Kind: profiles.KindReplace, Database: "nr",
				Replace: &profiles.MatchStep{Collection: "Settings", File: "settings.json", Items: make([]profiles.MatchItem, 1)}},
			want: "replace: 1 document → nr.Settings (settings.json)",
		},
		{
			name: "configs_one",
			step: profiles.Step{Kind: profiles.KindConfigs, Database: "nr",
				Configs: &profiles.ConfigsStep{Dir: "run-config", Items: make([]profiles.ConfigItem, 1)}},
			want: "configs: 1 document → nr.Config (run-config/)",
		},
		{
			name: "invalid_step_names_its_kind",
			step: profiles.Step{Kind: profiles.KindUsers},
			want: "users",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.step.Summary(); got != tt.want {
				t.Errorf("Summary() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReset_Summary(t *testing.T) {
	p := mustLoad(t, fullFS(), "full").Get("full")
	got := p.Reset.Summary(p.Database)
	want := []string{
		"drop collection app.Config",
		"drop collection app.Reference",
		"delete Redis keys matching Pattern:*",
		"delete Redis key flag",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
	var none *profiles.Reset
	if got := none.Summary("nr"); len(got) != 0 {
		t.Errorf("nil Reset Summary() = %q, want nothing", got)
	}
}
