package profiles_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/srvthreds/bootstrap/profiles"
)

// A pattern shaped like srvthreds' own: a reaction's update carries a "$push"
// operator that means something and cannot be omitted.
const reactionPattern = `{
  "id": "incident.escalate",
  "name": "Escalate an incident",
  "meta": {"active": true},
  "reactions": [
    {
      "name": "escalate",
      "condition": {"type": "or", "operands": [{"xpr": "$event.data.level > 2"}]},
      "transform": {
        "update": {
          "$push": {"escalations": {"at": "$now", "by": "engine"}},
          "$set": {"status": "escalated"}
        }
      }
    }
  ]
}
`

// A run-config file as srvthreds has them: it names its JSON schema.
const rascalConfig = `{
  "$schema": "../../../node_modules/rascal/lib/config/schema.json",
  "vhosts": {
    "/": {"connection": {"url": "amqp://${RABBITMQ_HOST||localhost}:5672"}, "queues": {"a.b": {}}}
  }
}
`

func notesFS(manifest string) map[string]string {
	return map[string]string{
		"a/profile.yaml":      manifest,
		"a/run-config/r.json": rascalConfig,
		"a/patterns/p.json":   reactionPattern,
		"a/data/d.json":       "[\n  {\"_id\": 1, \"labels\": {\"x.y\": 1, \"$schema\": \"s\"}}\n]",
	}
}

const notesManifest = `steps:
  - configs: {dir: run-config}
  - patterns: {dir: patterns}
  - documents: {collection: Ref, dir: data}
`

func noteStrings(p *profiles.Profile) []string {
	var out []string
	for _, n := range p.KeyNotes {
		out = append(out, n.String())
	}
	return out
}

func TestLoad_key_notes(t *testing.T) {
	p := mustLoad(t, mapFS(notesFS(notesManifest)), "a").Get("a")
	want := []string{
		"a/run-config/r.json:2:3: $schema",
		"a/run-config/r.json:4:88: vhosts./.queues.a.b",
		"a/patterns/p.json:11:11: reactions[0].transform.update.$push",
		"a/patterns/p.json:12:11: reactions[0].transform.update.$set",
		"a/data/d.json:2:25: [0].labels.x.y",
		"a/data/d.json:2:35: [0].labels.$schema",
	}
	if got := noteStrings(p); !slices.Equal(got, want) {
		t.Errorf("notes:\n%q\nwant:\n%q", got, want)
	}
	if p.KeyNotes[2].Key != "$push" || p.KeyNotes[1].Key != "a.b" {
		t.Errorf("keys = %q, %q", p.KeyNotes[2].Key, p.KeyNotes[1].Key)
	}
}

func TestLoad_omit_keys(t *testing.T) {
	plain := mustLoad(t, mapFS(notesFS(notesManifest)), "a").Get("a")
	set, err := profiles.LoadWith(mapFS(notesFS(notesManifest)), []string{"a"}, &profiles.Options{OmitKeys: []string{"$schema"}})
	if err != nil {
		t.Fatal(err)
	}
	p := set.Get("a")
	want := []string{
		"a/run-config/r.json:4:88: vhosts./.queues.a.b",
		"a/patterns/p.json:11:11: reactions[0].transform.update.$push",
		"a/patterns/p.json:12:11: reactions[0].transform.update.$set",
		"a/data/d.json:2:25: [0].labels.x.y",
	}
	if got := noteStrings(p); !slices.Equal(got, want) {
		t.Errorf("notes:\n%q\nwant:\n%q", got, want)
	}
	cfg := string(p.Steps[0].Configs.Items[0].JSON)
	if strings.Contains(cfg, "$schema") || !json.Valid([]byte(cfg)) || !strings.HasPrefix(cfg, "{\n  \"vhosts\"") {
		t.Errorf("config JSON = %s, want it without $schema, the rest as written", cfg)
	}
	if got, want := string(p.Steps[2].Documents.Items[0].JSON), `{"_id": 1, "labels": {"x.y": 1}}`; got != want {
		t.Errorf("document JSON = %s, want %s", got, want)
	}
	if p.Version == plain.Version {
		t.Error("omitting keys the profile has left its version unchanged")
	}

	// A step's omitKeys: does the same for its step, and is in the manifest.
	step := strings.Replace(notesManifest, "{dir: run-config}", "{dir: run-config, omitKeys: [$schema]}", 1)
	p = mustLoad(t, mapFS(notesFS(step)), "a").Get("a")
	if cfg := string(p.Steps[0].Configs.Items[0].JSON); strings.Contains(cfg, "$schema") {
		t.Errorf("config JSON = %s, want it without $schema", cfg)
	}
	if got := p.Steps[0].OmitKeys; !slices.Equal(got, []string{"$schema"}) {
		t.Errorf("OmitKeys = %q", got)
	}
	if got := p.Steps[2].Documents.Items[0].JSON; !strings.Contains(string(got), "$schema") {
		t.Errorf("the documents step lost $schema: %s", got)
	}

	// Omitting keys that a profile does not have leaves its version alone.
	other := map[string]string{"b/run-config/x.json": `{"k": 1}`}
	v0 := mustLoad(t, mapFS(other), "b").Get("b").Version
	set, err = profiles.LoadWith(mapFS(other), []string{"b"}, &profiles.Options{OmitKeys: []string{"$schema"}})
	if err != nil {
		t.Fatal(err)
	}
	if v1 := set.Get("b").Version; v1 != v0 {
		t.Errorf("version %s with --omit-keys, %s without; want them equal", v1, v0)
	}
}

func TestLoad_key_notes_in_users(t *testing.T) {
	// Users are documents too; their keys are checked like JSON ones.
	fsys := mapFS(map[string]string{
		"a/profile.yaml": "steps:\n  - users: {file: u.yaml}\n",
		"a/u.yaml":       "- id: a\n  password: x\n  \"$x\": 1\n",
	})
	got := problems(t, fsys, "a")
	want := []string{"a/u.yaml:3:3: users[0].$x: a top-level key starting with $ can't be stored (MongoDB refuses it in a replaced document)"}
	if !slices.Equal(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
}
