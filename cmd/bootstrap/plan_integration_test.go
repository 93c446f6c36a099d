package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/srvthreds/bootstrap/internal/harness"
)

// planProfileFiles is profile "ref" at version 1 or 2: reference documents
// keyed on code (one holds an API key) and a user whose roles are objects.
func planProfileFiles(version int) map[string]string {
	name, key, roles := "Acme", "key-v1-Zq8", "[viewer]"
	if version >= 2 {
		name, key, roles = "Acme Inc", "key-v2-Wp3", "[viewer, admin]"
	}
	return map[string]string{
		"ref/profile.yaml": "database: " + testDB + "\nsteps:\n" +
			"  - documents: {collection: Partners, dir: data, key: code}\n  - users: {file: users.yaml}\n",
		"ref/data/partners.json": `[{"code": "ACME", "name": "` + name + `", "apiKey": "` + key + `", "$schema": "partner.json"},` +
			`{"code": "GLOBEX", "name": "Globex"}]`,
		"ref/users.yaml": "users:\n  - id: ops\n    password: ops-pw-only-in-tests\n    roles: " + roles + "\n",
	}
}

// Against real servers, through the command: plan names a changed document
// by its step's key (code=ACME, the user's id) and lists its changed
// fields, old -> new, with the values of secret-looking fields masked, in
// its JSON and its text.
func TestPlan_names_changed_documents_by_key_with_fields(t *testing.T) {
	t.Parallel()
	env := harness.Start(t)
	dir := t.TempDir()
	getenv := envOf("BCRYPT_SALT_ROUNDS", "4", "BOOTSTRAP_TERMINATION_LOG", "")
	args := func(cmd string, extra ...string) []string {
		a := []string{cmd, "-p", "ref", "--profiles-dir", dir, "--mongo-uri", env.Mongo.URI, "--connect-timeout", "30s",
			"--redis-url", "redis://" + env.Redis.Addr}
		if cmd == "run" {
			a = append(a, "--health-addr", "off", "--omit-keys", "$schema")
		}
		return append(a, extra...)
	}
	writeFiles(t, dir, planProfileFiles(1))
	if code, stdout, stderr := runCLI(t, getenv, args("run")...); code != exitOK {
		t.Fatalf("run of v1: exit %d\n%s%s", code, stdout, stderr)
	}
	writeFiles(t, dir, planProfileFiles(2))

	code, stdout, stderr := runCLI(t, getenv, args("plan", "--omit-keys", "$schema", "-o", "json")...)
	if code != exitOK {
		t.Fatalf("plan -o json: exit %d\n%s", code, stderr)
	}
	var plan []struct {
		Action string `json:"action"`
		Diff   []struct {
			Step    string   `json:"step"`
			Changed []string `json:"changed"`
			Changes []struct {
				Key    string `json:"key"`
				Fields []struct {
					Path   string          `json:"path"`
					Old    json.RawMessage `json:"old"`
					New    json.RawMessage `json:"new"`
					Masked bool            `json:"masked"`
				} `json:"fields"`
			} `json:"changes"`
		} `json:"diff"`
	}
	decodeOne(t, stdout, &plan)
	if len(plan) != 1 || plan[0].Action != "re-apply" {
		t.Fatalf("plan = %+v, want one re-apply", plan)
	}
	got := map[string]string{}
	for _, d := range plan[0].Diff {
		for _, c := range d.Changes {
			var lines []string
			for _, f := range c.Fields {
				line := f.Path + " " + compactJSON(t, f.Old) + " -> " + compactJSON(t, f.New)
				if f.Masked {
					line += " masked"
				}
				lines = append(lines, line)
			}
			got[d.Step+" "+c.Key] = strings.Join(lines, "; ")
		}
	}
	want := map[string]string{
		"0:documents code=ACME": `name "Acme" -> "Acme Inc"; apiKey "***" -> "***" masked`,
		"1:users ops":           `roles.1 <none> -> {"name":"admin"}`,
	}
	if len(got) != len(want) {
		t.Errorf("changes = %q, want %q", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q, want %q", k, got[k], w)
		}
	}

	code, text, _ := runCLI(t, getenv, args("plan", "--omit-keys", "$schema")...)
	if code != exitOK {
		t.Fatalf("plan: exit %d\n%s", code, text)
	}
	for _, line := range []string{"changed: code=ACME\n", "    ~ code=ACME\n", `        name: "Acme" -> "Acme Inc"`, `        apiKey: "***" -> "***"`,
		"    ~ ops\n", `        roles.1: (none) -> {"name":"admin"}`} {
		if !strings.Contains(text, line) {
			t.Errorf("the text plan lacks %q:\n%s", line, text)
		}
	}
	for _, secret := range []string{"key-v1-Zq8", "key-v2-Wp3", "ops-pw-only-in-tests"} {
		if strings.Contains(stdout+text, secret) {
			t.Errorf("the plan shows the secret %q", secret)
		}
	}
}

// compactJSON is v without the indentation of the plan, "<none>" when empty.
func compactJSON(t *testing.T, v json.RawMessage) string {
	t.Helper()
	if len(v) == 0 {
		return "<none>"
	}
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
