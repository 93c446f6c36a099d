package profiles_test

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/profiles"
)

func TestLoad_handler_steps(t *testing.T) {
	set, err := profiles.Load(os.DirFS("testdata/srvthreds"), []string{"dev"})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	p := set.Get("dev")
	var kinds []string
	for i, s := range p.Steps {
		kinds = append(kinds, s.Kind+"@"+s.Database)
		if s.Index != i {
			t.Errorf("step %d: Index %d", i, s.Index)
		}
	}
	want := []string{"configs@nr", "patterns@nr", "users@nr", "upsert@test", "replace@demo", "upsert@test"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("steps = %q, want %q", kinds, want)
	}

	users := p.Steps[2].Users
	if got, want := users.File, "Handler.ts"; got != want {
		t.Errorf("users File = %q, want %q", got, want)
	}
	wantUsers := []struct {
		id, password string
		fields       bson.D
		first, last  string
		roles        []string
	}{
		{"admin", "admin-secret-pw", bson.D{
			{Key: "firstName", Value: "Ada"}, {Key: "lastName", Value: "Admin"},
			{Key: "roles", Value: bson.A{bson.D{{Key: "name", Value: "admin"}}}},
		}, "Ada", "Admin", []string{"admin"}},
		{"participant0", "p0-secret-pw", bson.D{{Key: "firstName", Value: "Pat"}}, "Pat", "", nil},
		{"participant1", "p1-secret-pw", bson.D{
			{Key: "roles", Value: bson.A{bson.D{{Key: "name", Value: "participant"}}}},
			{Key: "age", Value: int32(31)}, {Key: "badge", Value: "0042"}, {Key: "active", Value: true},
		}, "", "", []string{"participant"}},
	}
	if got, want := len(users.Users), len(wantUsers); got != want {
		t.Fatalf("%d users, want %d", got, want)
	}
	for i, w := range wantUsers {
		u := users.Users[i]
		if u.ID != w.id || u.Password.Value != w.password || u.Password.Env != "" || u.Password.File != "" {
			t.Errorf("user %d: id %q, password source %v; want %q inline", i, u.ID, u.Password, w.id)
		}
		if !reflect.DeepEqual(u.Fields, w.fields) {
			t.Errorf("user %s: Fields = %v, want %v", u.ID, u.Fields, w.fields)
		}
		if u.FirstName != w.first || u.LastName != w.last || !slices.Equal(u.Roles, w.roles) {
			t.Errorf("user %s: FirstName %q LastName %q Roles %q; want %q %q %q", u.ID, u.FirstName, u.LastName, u.Roles, w.first, w.last, w.roles)
		}
	}
	if got, want := users.Users[0].Line, 32; got != want {
		t.Errorf("admin Line = %d, want %d (the replaceUser call)", got, want)
	}

	up := p.Steps[3].Upsert
	if up == nil || up.Collection != "Thing" || up.File != "Handler.ts" || len(up.Items) != 2 {
		t.Fatalf("step 3 = %+v, want upsert of 2 into Thing from Handler.ts", up)
	}
	checkItem(t, up.Items[0], `{"id":"alpha"}`, `{"id":"alpha","label":"Alpha","count":1}`)
	checkItem(t, up.Items[1], `{"id":"beta"}`, `{"id":"beta","label":"Beta","count":1}`)
	if got, want := up.Items[0].File, "dev/Handler.ts"; got != want {
		t.Errorf("item File = %q, want %q", got, want)
	}
	if got, want := up.Items[0].Line, 47; got != want {
		t.Errorf("item Line = %d, want %d", got, want)
	}
	rep := p.Steps[4].Replace
	if rep == nil || rep.Collection != "Settings" || len(rep.Items) != 1 {
		t.Fatalf("step 4 = %+v, want replace of 1 into Settings", rep)
	}
	checkItem(t, rep.Items[0], `{"id":"global"}`, `{"id":"global","theme":"dark"}`)
	checkItem(t, p.Steps[5].Upsert.Items[0], `{"name":"gamma","kind":"seed"}`, `{"id":"gamma","label":"Gamma"}`)

	wantReset := &profiles.Reset{DropDatabases: []string{"nr", "test", "demo"}, RedisAll: true}
	if !reflect.DeepEqual(p.Reset, wantReset) {
		t.Errorf("Reset = %+v, want %+v", p.Reset, wantReset)
	}
	if len(p.Warnings) != 0 {
		t.Errorf("Warnings = %q, want none", p.Warnings)
	}
}

func checkItem(t *testing.T, it profiles.MatchItem, matcher, values string) {
	t.Helper()
	if got := string(it.Matcher); got != matcher {
		t.Errorf("Matcher = %s, want %s", got, matcher)
	}
	if got := string(it.Values); got != values {
		t.Errorf("Values = %s, want %s", got, values)
	}
}

func TestLoad_handler_passwords_never_shown(t *testing.T) {
	set, err := profiles.Load(os.DirFS("testdata/srvthreds"), []string{"dev"})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	p := set.Get("dev")
	var out strings.Builder
	for _, s := range p.Steps {
		fmt.Fprintln(&out, s.Summary())
		if s.Users != nil {
			fmt.Fprintf(&out, "%v %+v %#v\n", s.Users, *s.Users, s.Users.Users)
		}
	}
	fmt.Fprintln(&out, p.Reset.Summary(p.Database))
	for _, pw := range []string{"admin-secret-pw", "p0-secret-pw", "p1-secret-pw"} {
		if strings.Contains(out.String(), pw) {
			t.Errorf("password %q shown in:\n%s", pw, out.String())
		}
	}
	if !strings.Contains(out.String(), "users: 3 → nr.User (Handler.ts)") {
		t.Errorf("summaries lack the users step:\n%s", out.String())
	}

	// A handler problem after a user with a password: the error names the
	// call, never the password.
	fsys := mapFS(map[string]string{
		"h/run-config/a.json": `{}`,
		"h/Handler.ts": "import { UserController } from '../ts/u';\n" +
			"export default class { async run() {\n" +
			"  await UserController.get().replaceUser({ id: 'x', password: 'hunter2-secret', callback: () => 1 });\n} }\n",
	})
	msgs := strings.Join(problems(t, fsys, "h"), "\n")
	if strings.Contains(msgs, "hunter2-secret") || !strings.Contains(msgs, "h/Handler.ts:3:") || !strings.Contains(msgs, "user.callback is a function") {
		t.Errorf("problems = %s; want the position and the field, not the password", msgs)
	}
}

func TestLoad_handler_refused(t *testing.T) {
	const imports = "import { UserController } from '../../ts/auth/UserController';\n" // line 1
	tests := []struct {
		name string
		body string // lines 3.. of Handler.ts
		want string // a problem that starts with this
	}{
		{"unknown_call", "    UserController.get().deleteUser('admin');",
			"h/Handler.ts:3:20: UserController.get().deleteUser is not supported"},
		{"fetch", "    await fetch('http://engine:3001/reload');",
			"h/Handler.ts:3:11: ReferenceError: fetch is not defined"},
		{"endless_loop", "    let n = 0;\n    while (n >= 0) {\n      n++;\n    }",
			"h/Handler.ts:[45]:[0-9]+: still running after 1s"},
		{"another_import", "    readFileSync('/etc/passwd');",
			"h/Handler.ts:3:5: import readFileSync from 'fs' is not supported"},
		{"thrown_error", "    throw new Error('no seed data');",
			"h/Handler.ts:3:11: Error: no seed data"},
		{"non_literal", "    await UserController.get().replaceUser({ id: 'a', password: 'p', at: Date.now() });",
			"h/Handler.ts:3:"},
		{"write_in_module_body_of_cleanup", "  }\n  async cleanup() {\n    await UserController.get().replaceUser({ id: 'a', password: 'p' });",
			"h/Handler.ts:5:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := imports + "import { readFileSync } from 'fs'; export default class Handler { async run() {\n" + tt.body + "\n} }\n"
			fsys := mapFS(map[string]string{"h/run-config/a.json": `{}`, "h/Handler.ts": src})
			got := problems(t, fsys, "h")
			// The interrupt stops the endless loop wherever it is.
			want := regexp.MustCompile("^" + strings.NewReplacer("(", `\(`, ")", `\)`, ".", `\.`).Replace(tt.want))
			if tt.name == "endless_loop" {
				want = regexp.MustCompile("^" + tt.want)
			}
			if len(got) != 1 || !want.MatchString(got[0]) {
				t.Errorf("problems = %q, want one matching %q", got, want)
			}
		})
	}
}

func TestLoad_handler_grouping(t *testing.T) {
	src := "import { PersistenceFactory as PF, UserController as UC } from '../ts/x';\n" +
		"export default class { async run() {\n" +
		"  const p = PF.getPersistence({ dbname: 'test' });\n" +
		"  await p.upsert({ type: 'A', values: { v: 1 }, matcher: { id: 1 } });\n" +
		"  await p.upsert({ type: 'A', values: { v: 2 }, matcher: { id: 2 } });\n" +
		"  await p.upsert({ type: 'A', values: { v: 3 }, matcher: { id: 1 } });\n" +
		"  await p.upsert({ type: 'B', values: {}, matcher: { id: 1 } });\n" +
		"  await UC.get().replaceUser({ id: 'u', password: 'p' });\n" +
		"  await p.upsert({ type: 'B', values: {}, matcher: { id: 2 } });\n" +
		"} }\n"
	p := mustLoad(t, mapFS(map[string]string{"h/patterns/p.json": `{"id": "p"}`, "h/Handler.ts": src}), "h").Get("h")
	var got []string
	for _, s := range p.Steps[1:] {
		line := s.Kind
		if s.Upsert != nil {
			line += " " + s.Upsert.Collection + fmt.Sprint(len(s.Upsert.Items))
		}
		got = append(got, line)
	}
	want := []string{"upsert A2", "upsert A1", "upsert B1", "users", "upsert B1"}
	if !slices.Equal(got, want) {
		t.Errorf("steps = %q, want %q (a repeated matcher or another kind starts a new step)", got, want)
	}
}

func TestLoad_match_steps_manifest(t *testing.T) {
	files := map[string]string{
		"m/profile.yaml": "database: nr\nsteps:\n  - upsert: {database: test, collection: Thing, file: things.json}\n  - replace: {collection: Settings, file: settings.json}\n",
		"m/things.json":  `[{"matcher": {"id": "alpha"}, "values": {"id": "alpha", "n": 1}}]`,
		"m/settings.json": `[
  {"matcher": {"id": "global"}, "values": {"theme": "dark"}}
]`,
	}
	p := mustLoad(t, mapFS(files), "m").Get("m")
	if got := []string{p.Steps[0].Summary(), p.Steps[1].Summary()}; !slices.Equal(got, []string{
		"upsert: 1 document → test.Thing (things.json)",
		"replace: 1 document → nr.Settings (settings.json)",
	}) {
		t.Errorf("summaries = %q", got)
	}
	it := p.Steps[1].Replace.Items[0]
	if it.File != "m/settings.json" || it.Line != 2 || it.Column != 3 {
		t.Errorf("item at %s:%d:%d, want m/settings.json:2:3", it.File, it.Line, it.Column)
	}

	files["m/things.json"] = `[{"matcher": {}, "values": {"a": 1}}, {"matcher": {"id": 1}, "values": [1]}, {"matcher": {"id": 1}}, {"matcher": {"id": 1}, "values": {}, "extra": 1}, 3,
 {"matcher": {"id": 2, "_id": 2}, "values": {}}, {"matcher": {"k": 1, "id": "a"}, "values": {}}, {"matcher": {"id": "a", "k": 1}, "values": {}}]`
	files["m/settings.json"] = `{"matcher": {"id": 1}, "values": {}}`
	got := problems(t, mapFS(files), "m")
	want := []string{
		"m/settings.json:1:1: is an object; want an array of {\"matcher\": {...}, \"values\": {...}}",
		"m/things.json:1:2: [0].matcher: empty; want the fields that find the document",
		"m/things.json:1:39: [1].values: is an array; want an object",
		"m/things.json:1:78: [2].values: required",
		"m/things.json:1:102: [3].extra: unknown field (known: matcher, values)",
		"m/things.json:1:152: [4]: is not an object; want {\"matcher\": {...}, \"values\": {...}}",
		"m/things.json:2:2: [5].matcher: has both id and _id; id is renamed _id, so want one of them",
		"m/things.json:2:98: [7].matcher: duplicate matcher (also [6]); one write per document",
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoad_users_shape(t *testing.T) {
	files := map[string]string{
		"u/profile.yaml": "steps:\n  - users: {file: users.yaml}\n",
		"u/users.yaml": "- id: admin\n  passwordFrom: {env: ADMIN_PW}\n  roles: [{name: admin}, ops]\n  email: a@x.io\n  prefs: {theme: dark, size: 12}\n" +
			"- id: bob\n  password: pw\n  firstName: Bob\n",
	}
	u := mustLoad(t, mapFS(files), "u").Get("u").Steps[0].Users.Users
	want := bson.D{
		{Key: "roles", Value: bson.A{bson.D{{Key: "name", Value: "admin"}}, bson.D{{Key: "name", Value: "ops"}}}},
		{Key: "email", Value: "a@x.io"},
		{Key: "prefs", Value: bson.D{{Key: "theme", Value: "dark"}, {Key: "size", Value: int32(12)}}},
	}
	if !reflect.DeepEqual(u[0].Fields, want) || !slices.Equal(u[0].Roles, []string{"admin", "ops"}) || u[0].Password.Env != "ADMIN_PW" {
		t.Errorf("admin = %+v", u[0])
	}
	if !reflect.DeepEqual(u[1].Fields, bson.D{{Key: "firstName", Value: "Bob"}}) || u[1].LastName != "" {
		t.Errorf("bob = %+v, want only firstName (lastName absent)", u[1])
	}
	files["u/users.yaml"] = "- id: a\n  password: p\n  roles: [{title: x}]\n  modified: 2020-01-01\n"
	got := problems(t, mapFS(files), "u")
	wantP := []string{
		"u/users.yaml:3:10: users[0].roles: [0] is neither a role name nor {name: ...}",
		"u/users.yaml:4:13: users[0].modified: is set by bootstrap (_id is the id, modified the time of the run); leave it out",
	}
	if !slices.Equal(got, wantP) {
		t.Errorf("problems = %q, want %q", got, wantP)
	}
}

func TestVersion_match_data_file(t *testing.T) {
	files := map[string]string{
		"m/profile.yaml": "steps:\n  - upsert: {collection: Thing, file: things.json}\n",
		"m/things.json":  `[{"matcher": {"id": "a"}, "values": {"n": 1}}]`,
	}
	before := mustLoad(t, mapFS(files), "m").Get("m").Version
	files["m/things.json"] = `[{"matcher": {"id": "a"}, "values": {"n": 2}}]`
	if after := mustLoad(t, mapFS(files), "m").Get("m").Version; after == before {
		t.Error("version unchanged after the data file changed")
	}
}

func TestReset_summary(t *testing.T) {
	r := &profiles.Reset{DropDatabases: []string{"nr", "test"}, Collections: []string{"Config"}, RedisAll: true}
	got := r.Summary("nr")
	want := []string{
		"drop database nr", "drop database test", "drop collection nr.Config",
		"delete every Redis key except bootstrap's own (bootstrap:*), key by key",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Summary = %q, want %q", got, want)
	}
	p := mustLoad(t, mapFS(map[string]string{"m/profile.yaml": "reset: {databases: [nr, demo], redisAll: true}\n"}), "m").Get("m")
	if !reflect.DeepEqual(p.Reset, &profiles.Reset{DropDatabases: []string{"nr", "demo"}, RedisAll: true}) {
		t.Errorf("Reset = %+v", p.Reset)
	}
}
