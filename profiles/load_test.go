package profiles_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/srvthreds/bootstrap/profiles"
)

// fullManifest uses every step kind and field.
const fullManifest = `requires: [base]
database: app
reset:
  collections: [Config, Reference]
  redis: ["Pattern:*", flag]
steps:
  - configs: {dir: run-config/}
  - patterns: {dir: patterns, database: other}
  - users: {file: users.yaml}
  - documents: {collection: Reference, dir: data, key: code}
  - documents: {collection: Plain, dir: plain}
  - redis: {file: redis.yaml}
  - http:
      method: post
      url: http://engine:3001/admin/reload
      expect: [200, 204]
      timeout: 10s
      retries: 2
      headers: {X-Source: bootstrap}
      headersFrom: {Authorization: {env: ENGINE_TOKEN}, X-Key: {file: /run/secrets/key}}
      bodyFile: body.json
  - http: {url: "https://example.test/ping"}
  - exec: {command: ["/bin/migrate", "--x"], timeout: 2m, env: {MODE: up}}
  - exec: {command: [/bin/true]}
`

func fullFS() fstest.MapFS {
	return mapFS(map[string]string{
		"base/profile.yaml":           "steps: []\n",
		"full/profile.yaml":           fullManifest,
		"full/run-config/engine.json": `{"host": "${MONGO_HOST||localhost:27017}"}`,
		"full/run-config/agent.json":  `{"n": 1}`,
		"full/run-config/notes.txt":   `ignored`,
		"full/run-config/sub/x.json":  `{"ignored": true}`,
		"full/patterns/b.json":        `{"id": "p-b", "meta": {"active": true}}`,
		"full/patterns/a.json":        `{"id": "p-c", "meta": {"active": "true"}}`,
		"full/patterns/c.json":        `{"id": "p-a"}`,
		"full/users.yaml": `- id: admin
  passwordFrom: {env: ADMIN_PW}
  firstName: Ada
  lastName: Admin
  roles: [admin, operator]
- id: bob
  password: "0123"
- id: carol
  passwordFrom: {file: /run/secrets/carol}
`,
		"full/data/one.json":   `{"code": "x", "label": "X"}`,
		"full/data/many.json":  `[{"code": "a"}, {"code": 2}, {"code": {"k": 1}}]`,
		"full/plain/docs.json": `[{"_id": "d1"}]`,
		"full/redis.yaml": `keys:
  - {key: s, string: hello, ttl: 1h}
  - {key: h, hash: {f1: v1, f2: 2}}
  - {key: set, set: [a, b]}
`,
		"full/body.json": `{"reload": true}`,
	})
}

func TestLoad_manifest_form(t *testing.T) {
	set := mustLoad(t, fullFS(), "full")
	p := set.Get("full")
	if p == nil {
		t.Fatalf("Get(full) = nil; profiles %q", profileNames(set))
	}
	if got, want := p.Form, profiles.FormManifest; got != want {
		t.Errorf("Form = %q, want %q", got, want)
	}
	if got, want := p.Database, "app"; got != want {
		t.Errorf("Database = %q, want %q", got, want)
	}
	if got, want := p.Requires, []string{"base"}; !slices.Equal(got, want) {
		t.Errorf("Requires = %q, want %q", got, want)
	}
	if got, want := p.Reset.Collections, []string{"Config", "Reference"}; !slices.Equal(got, want) {
		t.Errorf("Reset.Collections = %q, want %q", got, want)
	}
	if got, want := p.Reset.RedisKeys, []string{"Pattern:*", "flag"}; !slices.Equal(got, want) {
		t.Errorf("Reset.RedisKeys = %q, want %q", got, want)
	}
	var kinds []string
	for i, s := range p.Steps {
		kinds = append(kinds, s.Kind)
		if s.Index != i {
			t.Errorf("step %d: Index = %d", i, s.Index)
		}
	}
	wantKinds := []string{"configs", "patterns", "users", "documents", "documents", "redis", "http", "http", "exec", "exec"}
	if !slices.Equal(kinds, wantKinds) {
		t.Fatalf("kinds = %q, want %q", kinds, wantKinds)
	}
	if got, want := p.Steps[1].Name(), "1:patterns"; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}

	c := p.Steps[0]
	if got, want := c.Database, "app"; got != want {
		t.Errorf("configs Database = %q, want %q", got, want)
	}
	if got, want := c.Configs.Dir, "run-config"; got != want {
		t.Errorf("configs Dir = %q, want %q", got, want)
	}
	var names []string
	for _, it := range c.Configs.Items {
		names = append(names, it.Name)
	}
	if got, want := names, []string{"agent", "engine"}; !slices.Equal(got, want) {
		t.Errorf("config names = %q, want %q", got, want)
	}
	if got, want := string(c.Configs.Items[1].JSON), `{"host": "${MONGO_HOST||localhost:27017}"}`; got != want {
		t.Errorf("config JSON = %s, want it verbatim %s", got, want)
	}
	if got, want := c.Configs.Items[1].File, "full/run-config/engine.json"; got != want {
		t.Errorf("config File = %q, want %q", got, want)
	}

	pt := p.Steps[1]
	if got, want := pt.Database, "other"; got != want {
		t.Errorf("patterns Database = %q, want %q", got, want)
	}
	var ids []string
	var active []bool
	for _, it := range pt.Patterns.Items {
		ids = append(ids, it.ID)
		active = append(active, it.Active)
	}
	if got, want := ids, []string{"p-a", "p-b", "p-c"}; !slices.Equal(got, want) {
		t.Errorf("pattern ids = %q, want %q", got, want)
	}
	if got, want := active, []bool{false, true, false}; !slices.Equal(got, want) {
		t.Errorf("pattern Active = %v, want %v (only boolean true is active)", got, want)
	}

	u := p.Steps[2].Users
	if got, want := len(u.Users), 3; got != want {
		t.Fatalf("users = %d, want %d", got, want)
	}
	admin, bob, carol := u.Users[0], u.Users[1], u.Users[2]
	if admin.ID != "admin" || admin.Password.Env != "ADMIN_PW" ||
		admin.FirstName != "Ada" || admin.LastName != "Admin" || !slices.Equal(admin.Roles, []string{"admin", "operator"}) || admin.Line != 1 {
		t.Errorf("admin = %+v", admin)
	}
	if bob.Password != (profiles.PasswordSource{Value: "0123"}) || bob.Line != 6 {
		t.Errorf("bob = %+v", bob)
	}
	if carol.Password.File != "/run/secrets/carol" {
		t.Errorf("carol = %+v", carol)
	}

	d := p.Steps[3].Documents
	if got, want := d.Collection+"/"+d.Key+"/"+d.Dir, "Reference/code/data"; got != want {
		t.Errorf("documents = %q, want %q", got, want)
	}
	var keys []string
	for _, it := range d.Items {
		k, _ := json.Marshal(it.Key)
		keys = append(keys, it.File+"#"+string(rune('0'+it.Index))+"="+string(k))
	}
	wantKeys := []string{`full/data/many.json#0="a"`, `full/data/many.json#1=2`, `full/data/many.json#2={"k":1}`, `full/data/one.json#0="x"`}
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("document keys = %q, want %q", keys, wantKeys)
	}
	if got, want := string(d.Items[1].JSON), `{"code": 2}`; got != want {
		t.Errorf("document JSON = %s, want %s", got, want)
	}
	if got, want := p.Steps[4].Documents.Key, "_id"; got != want {
		t.Errorf("default key = %q, want %q", got, want)
	}

	r := p.Steps[5].Redis
	if got, want := len(r.Keys), 3; got != want {
		t.Fatalf("redis keys = %d, want %d", got, want)
	}
	if k := r.Keys[0]; k.Key != "s" || k.Type != "string" || k.String != "hello" || k.TTL != time.Hour || k.Line != 2 {
		t.Errorf("redis key 0 = %+v", k)
	}
	if k := r.Keys[1]; k.Type != "hash" || k.Hash["f2"] != "2" || len(k.Hash) != 2 || k.TTL != 0 {
		t.Errorf("redis key 1 = %+v", k)
	}
	if k := r.Keys[2]; k.Type != "set" || !slices.Equal(k.Set, []string{"a", "b"}) {
		t.Errorf("redis key 2 = %+v", k)
	}

	h := p.Steps[6].HTTP
	if h.Method != "POST" || h.URL != "http://engine:3001/admin/reload" || !slices.Equal(h.Expect, []int{200, 204}) ||
		h.Timeout != 10*time.Second || h.Retries != 2 || h.Headers["X-Source"] != "bootstrap" ||
		h.HeadersFrom["Authorization"].Env != "ENGINE_TOKEN" || h.HeadersFrom["X-Key"].File != "/run/secrets/key" ||
		string(h.Body) != `{"reload": true}` || h.BodyFile != "body.json" {
		t.Errorf("http = %+v", h)
	}
	if got, want := h.HeadersFrom["Authorization"].Where.String(), "full/profile.yaml:20:42: steps[6].http.headersFrom.Authorization.env"; got != want {
		t.Errorf("Authorization's place = %q, want %q", got, want)
	}
	if got, want := carol.Password.Where.Field, "users[2].passwordFrom.file"; got != want {
		t.Errorf("carol's password field = %q, want %q", got, want)
	}
	h = p.Steps[7].HTTP
	if h.Method != "GET" || !slices.Equal(h.Expect, []int{200, 201, 202, 204}) || h.Timeout != 30*time.Second || h.Retries != 4 {
		t.Errorf("http defaults = %+v", h)
	}

	e := p.Steps[8].Exec
	if !slices.Equal(e.Command, []string{"/bin/migrate", "--x"}) || e.Timeout != 2*time.Minute || e.Env["MODE"] != "up" {
		t.Errorf("exec = %+v", e)
	}
	if got, want := p.Steps[9].Exec.Timeout, 5*time.Minute; got != want {
		t.Errorf("exec default timeout = %v, want %v", got, want)
	}
	if got, want := p.HashAlgo, profiles.HashAlgo; got != want {
		t.Errorf("HashAlgo = %d, want %d", got, want)
	}
	if len(p.Version) != 64 {
		t.Errorf("Version = %q, want 64 hex digits", p.Version)
	}
}

func TestLoad_srvthreds_form(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		kinds    []string
		warnings int
	}{
		{
			name: "configs_and_patterns_with_handler",
			files: map[string]string{
				"legacy/run-config/engine.json": `{"a": "${X||1}"}`,
				"legacy/patterns/p.json":        `{"id": "p1", "meta": {"active": true}}`,
				"legacy/Handler.ts":             `export default class Handler {}`,
				"legacy/helpers.ts":             `export const x = 1;`,
			},
			kinds:    []string{"configs", "patterns"},
			warnings: 1,
		},
		{
			name:  "configs_only",
			files: map[string]string{"legacy/run-config/engine.json": `{}`},
			kinds: []string{"configs"},
		},
		{
			name:  "patterns_only",
			files: map[string]string{"legacy/patterns/p.json": `{"id": "p1"}`},
			kinds: []string{"patterns"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustLoad(t, mapFS(tt.files), "legacy").Get("legacy")
			if got, want := p.Form, profiles.FormSrvthreds; got != want {
				t.Errorf("Form = %q, want %q", got, want)
			}
			var kinds []string
			for i, s := range p.Steps {
				kinds = append(kinds, s.Kind)
				if s.Database != "nr" || s.Index != i {
					t.Errorf("step %d: Database %q Index %d, want nr %d", i, s.Database, s.Index, i)
				}
			}
			if !slices.Equal(kinds, tt.kinds) {
				t.Errorf("kinds = %q, want %q", kinds, tt.kinds)
			}
			if got, want := len(p.Warnings), tt.warnings; got != want {
				t.Fatalf("Warnings = %q, want %d", p.Warnings, want)
			}
			if tt.warnings > 0 && (!strings.Contains(p.Warnings[0], "helpers.ts") || !strings.Contains(p.Warnings[0], "Handler.ts")) {
				t.Errorf("warning %q does not name helpers.ts and Handler.ts", p.Warnings[0])
			}
		})
	}
}

// orderFS: d requires c and a; c requires a; b and e stand alone.
func orderFS() fstest.MapFS {
	return mapFS(map[string]string{
		"a/profile.yaml": "",
		"b/profile.yaml": "",
		"c/profile.yaml": "requires: [a]\n",
		"d/profile.yaml": "requires: [c, a]\n",
		"e/profile.yaml": "",
		"f/profile.yaml": "requires: [e]\n",
	})
}

func TestLoad_order(t *testing.T) {
	tests := []struct {
		name      string
		names     []string
		want      []string
		requested []string
	}{
		{name: "single", names: []string{"b"}, want: []string{"b"}, requested: []string{"b"}},
		{name: "requires_first", names: []string{"d"}, want: []string{"a", "c", "d"}, requested: []string{"d"}},
		{name: "command_line_order", names: []string{"e", "b"}, want: []string{"e", "b"}, requested: []string{"e", "b"}},
		{name: "command_line_order_reversed", names: []string{"b", "e"}, want: []string{"b", "e"}, requested: []string{"b", "e"}},
		{name: "requirements_rank_with_dependant", names: []string{"f", "d"}, want: []string{"e", "f", "a", "c", "d"}, requested: []string{"f", "d"}},
		{name: "requirements_rank_with_first_dependant", names: []string{"d", "f"}, want: []string{"a", "c", "d", "e", "f"}, requested: []string{"d", "f"}},
		{name: "required_one_named_later", names: []string{"d", "a"}, want: []string{"a", "c", "d"}, requested: []string{"d", "a"}},
		{name: "commas_and_duplicates", names: []string{"b,e", " b ", "e,,d"}, want: []string{"b", "e", "a", "c", "d"}, requested: []string{"b", "e", "d"}},
		{name: "none", names: nil, want: nil, requested: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := mustLoad(t, orderFS(), tt.names...)
			if got := profileNames(set); !slices.Equal(got, tt.want) {
				t.Errorf("order = %q, want %q", got, tt.want)
			}
			if got := set.Requested(); !slices.Equal(got, tt.requested) {
				t.Errorf("Requested() = %q, want %q", got, tt.requested)
			}
		})
	}
}

func TestLoadAll(t *testing.T) {
	fsys := orderFS()
	fsys["_shared/profile.yaml"] = &fstest.MapFile{Data: []byte("stepz: bad\n")}
	fsys[".git/profile.yaml"] = &fstest.MapFile{Data: []byte("stepz: bad\n")}
	fsys["testdata/profile.yaml"] = &fstest.MapFile{Data: []byte("stepz: bad\n")}
	fsys["README.md"] = &fstest.MapFile{Data: []byte("# profiles\n")}
	set, err := profiles.LoadAll(fsys)
	if err != nil {
		t.Fatalf("LoadAll: %v", err)
	}
	if got, want := profileNames(set), []string{"a", "b", "c", "d", "e", "f"}; !slices.Equal(got, want) {
		t.Errorf("order = %q, want %q", got, want)
	}
	if got, want := set.Requested(), []string{"a", "b", "c", "d", "e", "f"}; !slices.Equal(got, want) {
		t.Errorf("Requested() = %q, want %q", got, want)
	}
	if set.Get("_shared") != nil || set.Get("nope") != nil {
		t.Errorf("Get returned a profile that was not loaded")
	}
}

func TestLoadAll_reports_every_invalid_profile(t *testing.T) {
	fsys := mapFS(map[string]string{
		"good/profile.yaml": "",
		"bad1/profile.yaml": "stepz: []\n",
		"bad2/profile.yaml": "steps: [{exec: {command: []}}]\n",
	})
	_, err := profiles.LoadAll(fsys)
	if err == nil {
		t.Fatal("LoadAll of two invalid profiles = nil error")
	}
	got := strings.Split(err.Error(), "\n")
	want := []string{
		"bad1/profile.yaml:1:1: stepz: unknown field (known: requires, database, reset, steps)",
		"bad2/profile.yaml:1:26: steps[0].exec.command: empty command; want [program, args...]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// examplesDir holds the example profiles that the image carries by default.
const examplesDir = "../examples/profiles"

func TestExampleProfiles(t *testing.T) {
	set, err := profiles.LoadAll(profiles.DirFS(examplesDir))
	if err != nil {
		t.Fatalf("LoadAll(%s): %v", examplesDir, err)
	}
	if got, want := profileNames(set), []string{"example-base", "example-patterns", "example-users"}; !slices.Equal(got, want) {
		t.Fatalf("profiles = %q, want %q", got, want)
	}
	var summaries []string
	for _, p := range set.Profiles {
		if len(p.Warnings) > 0 {
			t.Errorf("%s: warnings %q", p.Name, p.Warnings)
		}
		for _, s := range p.Steps {
			summaries = append(summaries, p.Name+": "+s.Summary())
		}
	}
	want := []string{
		"example-base: documents: 5 → nr.Reference by code (data/)",
		"example-base: redis: 4 keys (redis.yaml)",
		"example-patterns: configs: 2 documents → nr.Config (run-config/)",
		"example-patterns: patterns: 3 documents → nr.PatternModel (patterns/), 2 cached in Redis",
		"example-users: users: 2 → nr.User (users.yaml)",
	}
	if !slices.Equal(summaries, want) {
		t.Errorf("summaries:\n%s\nwant:\n%s", strings.Join(summaries, "\n"), strings.Join(want, "\n"))
	}
	users := set.Get("example-users").Steps[0].Users.Users
	if got, want := users[0].Password.Env, "DEMO_ADMIN_PASSWORD"; got != want {
		t.Errorf("demo admin password env = %q, want %q", got, want)
	}
	if users[1].Password.Value == "" {
		t.Errorf("demo second user has no inline password")
	}
	if got, want := set.Get("example-users").Requires, []string{"example-base"}; !slices.Equal(got, want) {
		t.Errorf("example-users requires %q, want %q", got, want)
	}
	again, err := profiles.Load(profiles.DirFS(examplesDir), []string{"example-users"})
	if err != nil {
		t.Fatalf("Load(example-users): %v", err)
	}
	if got, want := profileNames(again), []string{"example-base", "example-users"}; !slices.Equal(got, want) {
		t.Errorf("Load(example-users) = %q, want %q", got, want)
	}
	if got, want := again.Get("example-users").Version, set.Get("example-users").Version; got != want {
		t.Errorf("version differs across loads: %s vs %s", got, want)
	}
}
