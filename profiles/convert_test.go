package profiles_test

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/srvthreds/bootstrap/profiles"
)

// convertFS converts dev of the srvthreds test set and returns a file
// system with both: dev and its manifest form conv.
func convertFS(t *testing.T, opts *profiles.ConvertOptions) (fstest.MapFS, *profiles.Converted) {
	t.Helper()
	src := os.DirFS("testdata/srvthreds")
	set, err := profiles.Load(src, []string{"dev"})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	conv, err := profiles.Convert(set.Get("dev"), opts)
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	fsys := fstest.MapFS{}
	for name, data := range conv.Files {
		fsys["conv/"+name] = &fstest.MapFile{Data: data}
	}
	for _, name := range []string{"Handler.ts", "run-config/session_agent.json", "patterns/echo.json"} {
		data, err := os.ReadFile("testdata/srvthreds/dev/" + name)
		if err != nil {
			t.Fatal(err)
		}
		fsys["dev/"+name] = &fstest.MapFile{Data: data}
	}
	return fsys, conv
}

func TestConvert_round_trip(t *testing.T) {
	fsys, conv := convertFS(t, nil)
	set := mustLoad(t, fsys, "dev", "conv")
	dev, got := set.Get("dev"), set.Get("conv")
	if got.Form != profiles.FormManifest {
		t.Errorf("converted Form = %q", got.Form)
	}
	if len(got.Steps) != len(dev.Steps) {
		t.Fatalf("converted has %d steps, want %d:\n%s", len(got.Steps), len(dev.Steps), conv.Files["profile.yaml"])
	}
	for i := range dev.Steps {
		if a, b := stepContent(t, dev.Steps[i]), stepContent(t, got.Steps[i]); a != b {
			t.Errorf("step %d differs:\n  original  %s\n  converted %s", i, a, b)
		}
	}
	for i, u := range dev.Steps[2].Users.Users {
		if w := got.Steps[2].Users.Users[i]; !reflect.DeepEqual(u.Fields, w.Fields) {
			t.Errorf("user %s: converted Fields %#v, want %#v (BSON types included)", u.ID, w.Fields, u.Fields)
		}
	}
	if !reflect.DeepEqual(dev.Reset, got.Reset) {
		t.Errorf("Reset = %+v, want %+v", got.Reset, dev.Reset)
	}
	if got.Version == dev.Version {
		t.Errorf("versions are equal; the forms differ in their files")
	}
	if len(conv.Warnings) != 3 || !strings.Contains(conv.Warnings[0], "inline") {
		t.Errorf("Warnings = %q, want one per inline password", conv.Warnings)
	}
	for _, w := range conv.Warnings {
		if strings.Contains(w, "secret-pw") {
			t.Errorf("warning shows a password: %s", w)
		}
	}
}

func TestConvert_password_env(t *testing.T) {
	fsys, conv := convertFS(t, &profiles.ConvertOptions{PasswordEnvPrefix: "DEV_PW"})
	if bytes.Contains(conv.Files["users.yaml"], []byte("secret-pw")) {
		t.Errorf("users.yaml holds a password:\n%s", conv.Files["users.yaml"])
	}
	u := mustLoad(t, fsys, "conv").Get("conv").Steps[2].Users.Users
	if got, want := u[0].Password.Env, "DEV_PW_ADMIN"; got != want {
		t.Errorf("admin password env = %q, want %q", got, want)
	}
	if got, want := u[1].Password.Env, "DEV_PW_PARTICIPANT0"; got != want {
		t.Errorf("participant0 password env = %q, want %q", got, want)
	}
	if !strings.Contains(strings.Join(conv.Warnings, "\n"), "$DEV_PW_ADMIN") {
		t.Errorf("warnings do not name the variables: %q", conv.Warnings)
	}
}

func TestConvert_password_env_clash(t *testing.T) {
	src := "import { UserController as UC } from '../ts/u';\nexport default class { async run() {\n" +
		"  await UC.get().replaceUser({ id: 'a-b', password: 'p1' });\n" +
		"  await UC.get().replaceUser({ id: 'a.b', password: 'p2' });\n} }\n"
	p := mustLoad(t, mapFS(map[string]string{"h/patterns/p.json": `{"id": "p"}`, "h/Handler.ts": src}), "h").Get("h")
	_, err := profiles.Convert(p, &profiles.ConvertOptions{PasswordEnvPrefix: "PW"})
	if err == nil || !strings.Contains(err.Error(), "$PW_A_B") {
		t.Errorf("Convert = %v, want a clash of $PW_A_B", err)
	}
}

func TestConvert_refuses_manifest_form(t *testing.T) {
	p := mustLoad(t, mapFS(map[string]string{"m/profile.yaml": ""}), "m").Get("m")
	if _, err := profiles.Convert(p, nil); err == nil {
		t.Error("Convert of a manifest profile: nil error")
	}
}

// stepContent renders what a step writes, without where it was read from.
func stepContent(t *testing.T, s profiles.Step) string {
	t.Helper()
	type item struct{ A, B any }
	var c any
	switch {
	case s.Configs != nil:
		var items []item
		for _, it := range s.Configs.Items {
			items = append(items, item{it.Name, compact(t, it.JSON)})
		}
		c = items
	case s.Patterns != nil:
		var items []item
		for _, it := range s.Patterns.Items {
			items = append(items, item{it.ID, compact(t, it.JSON)})
		}
		c = items
	case s.Users != nil:
		var items []item
		for _, u := range s.Users.Users {
			items = append(items, item{u.ID + " " + u.Password.Value + u.Password.Env, u.Fields})
		}
		c = items
	case s.Upsert != nil, s.Replace != nil:
		ms := s.Upsert
		if ms == nil {
			ms = s.Replace
		}
		items := []item{{ms.Collection, nil}}
		for _, it := range ms.Items {
			items = append(items, item{compact(t, it.Matcher), compact(t, it.Values)})
		}
		c = items
	}
	out, err := json.Marshal(struct {
		Kind, Database string
		Content        any
	}{s.Kind, s.Database, c})
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func compact(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestConvert_files(t *testing.T) {
	_, conv := convertFS(t, nil)
	for _, name := range []string{"profile.yaml", "users.yaml", "data/1-upsert-Thing.json"} {
		t.Logf("%s:\n%s", name, conv.Files[name])
	}
	wantManifest := `# The manifest form of the srvthreds profile dev (bootstrap convert).
database: nr
reset:
  databases: [nr, test, demo]
  redisAll: true
steps:
  - configs: {dir: run-config}
  - patterns: {dir: patterns}
  - users: {file: users.yaml}
  - upsert: {collection: "Thing", file: data/1-upsert-Thing.json, database: test}
  - replace: {collection: "Settings", file: data/2-replace-Settings.json, database: demo}
  - upsert: {collection: "Thing", file: data/3-upsert-Thing.json, database: test}
`
	if got := string(conv.Files["profile.yaml"]); got != wantManifest {
		t.Errorf("profile.yaml:\n%s\nwant:\n%s", got, wantManifest)
	}
}
