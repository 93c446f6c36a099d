package step

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/srvthreds/bootstrap/profiles"
)

// preflightFS is a profile shaped like srvthreds' own: users with object
// roles, a pattern with a $schema key, and an http step with secret
// headers.
var preflightFS = fstest.MapFS{
	"app/profile.yaml": {Data: []byte(`database: nr
steps:
  - patterns: {dir: patterns, omitKeys: [$schema]}
  - users: {file: users.yaml}
  - http:
      url: http://engine:3001/admin/reload
      headersFrom:
        Authorization: {env: ENGINE_TOKEN}
        X-Key: {file: /run/secrets/key}
`)},
	"app/patterns/p.json": {Data: []byte(`{"$schema": "../pattern.schema.json", "id": "p1", "meta": {"active": true}}`)},
	"app/users.yaml": {Data: []byte(`- id: admin
  passwordFrom: {env: ADMIN_PW}
  roles: [{name: admin}]
- id: ops
  passwordFrom: {file: /run/secrets/ops}
  roles: [{name: operator}]
`)},
}

func TestPreflight(t *testing.T) {
	all := map[string]string{"ADMIN_PW": "pw-admin", "ENGINE_TOKEN": "tok", "BCRYPT_SALT_ROUNDS": "4"}
	files := map[string]string{"/run/secrets/ops": "pw-ops\n", "/run/secrets/key": "k3y"}
	tests := []struct {
		name  string
		unset []string // variables and files left out
		set   map[string]string
		want  []string // the problems, in order
	}{
		{"everything_given", nil, nil, nil},
		{"password_variable_unset", []string{"ADMIN_PW"}, nil, []string{
			`app/users.yaml:2:23: users[0].passwordFrom.env: step 1:users: user "admin": password variable ADMIN_PW is unset or empty`}},
		{"password_file_missing", []string{"/run/secrets/ops"}, nil, []string{
			`app/users.yaml:5:24: users[1].passwordFrom.file: step 1:users: user "ops": password file: open /run/secrets/ops: file does not exist`}},
		{"password_file_empty", nil, map[string]string{"/run/secrets/ops": "\n"}, []string{
			`app/users.yaml:5:24: users[1].passwordFrom.file: step 1:users: user "ops": password file /run/secrets/ops is empty`}},
		{"header_variable_and_file_missing", []string{"ENGINE_TOKEN", "/run/secrets/key"}, nil, []string{
			`app/profile.yaml:8:30: steps[2].http.headersFrom.Authorization.env: step 2:http: header Authorization: environment variable ENGINE_TOKEN is empty or unset`,
			`app/profile.yaml:9:23: steps[2].http.headersFrom.X-Key.file: step 2:http: header X-Key: open /run/secrets/key: file does not exist`}},
		{"bcrypt_cost_out_of_range", nil, map[string]string{"BCRYPT_SALT_ROUNDS": "99"}, []string{
			`app/users.yaml: step 1:users: BCRYPT_SALT_ROUNDS="99": want an integer from 4 to 31`}},
	}
	set, err := profiles.Load(preflightFS, []string{"app"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := preflightEnv(t, all, files, tc.unset, tc.set)
			err := profiles.NewValidationError(Preflight(env, set), 0)
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			for _, secret := range []string{"pw-admin", "pw-ops", "tok", "k3y"} {
				if err != nil && strings.Contains(err.Error(), secret) {
					t.Errorf("a secret's value is in the problems: %v", err)
				}
			}
		})
	}
}

// preflightEnv is an Env of the variables vars and the files files, less
// unset, with set added to either (a name starting with / is a file).
func preflightEnv(t *testing.T, vars, files map[string]string, unset []string, set map[string]string) *Env {
	t.Helper()
	v, f := map[string]string{}, fstest.MapFS{}
	for k, s := range vars {
		v[k] = s
	}
	for k, s := range files {
		f[strings.TrimPrefix(k, "/")] = &fstest.MapFile{Data: []byte(s)}
	}
	for _, k := range unset {
		delete(v, k)
		delete(f, strings.TrimPrefix(k, "/"))
	}
	for k, s := range set {
		if strings.HasPrefix(k, "/") {
			f[strings.TrimPrefix(k, "/")] = &fstest.MapFile{Data: []byte(s)}
		} else {
			v[k] = s
		}
	}
	readFile := func(name string) ([]byte, error) {
		b, err := fs.ReadFile(f, strings.TrimPrefix(name, "/"))
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		return b, nil
	}
	return NewEnv(Env{Getenv: func(k string) string { return v[k] }, ReadFile: readFile})
}
