package main

import (
	"strings"
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/internal/harness"
)

// TestRun_missing_secret_writes_nothing: a run one of whose secrets is
// missing is refused before it connects (exit 3, the message naming the user
// and the variable), and MongoDB and Redis read back empty, although the
// profiles applied before the one that reads the secret are valid. The same
// run with the secret given writes (so the emptiness is the preflight's
// doing).
func TestRun_missing_secret_writes_nothing(t *testing.T) {
	t.Parallel()
	env := harness.Start(t)
	mc, rc := env.Mongo.Client(t), env.Redis.Client(t)
	conn := []string{"--health-addr", "off", "--mongo-uri", env.Mongo.URI, "--redis-url", "redis://" + env.Redis.Addr,
		"--connect-timeout", "30s", "--log-format", "text"}
	tests := []struct {
		name string
		args []string
		env  []string
		want []string
	}{
		// The reproduction of the first-contact report: example-base and
		// example-patterns come first in the order of the run.
		{"example_admin_password_unset", []string{"run", "-p", "example-patterns,example-users", "--profiles-dir", "../../examples/profiles"},
			[]string{"BCRYPT_SALT_ROUNDS", "4"},
			[]string{`example-users/users.yaml:3:25: users[0].passwordFrom.env: step 0:users: user "admin": password variable DEMO_ADMIN_PASSWORD is unset or empty`}},
		{"srvthreds_shaped_dispatcher_password_unset", []string{"run", "-p", "fleet", "--profiles-dir", "testdata/secrets"},
			[]string{"FLEET_AUDITOR_PASSWORD", "x", "FLEET_ENGINE_TOKEN", "y", "BCRYPT_SALT_ROUNDS", "4"},
			[]string{`user "dispatcher": password variable FLEET_DISPATCHER_PASSWORD is unset or empty`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, envOf(tc.env...), append(tc.args, conn...)...)
			if code != exitInvalid {
				t.Errorf("exit = %d, want %d; output:\n%s%s", code, exitInvalid, stdout, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w+"\n") {
					t.Errorf("stderr does not have the line %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stdout+stderr, "connecting") {
				t.Errorf("the run connected before its preflight:\n%s%s", stdout, stderr)
			}
		})
	}
	if dbs := userDatabases(t, mc); len(dbs) != 0 {
		t.Errorf("databases after the refused runs: %v, want none", dbs)
	}
	if n, err := rc.DBSize(t.Context()).Result(); err != nil || n != 0 {
		t.Errorf("redis keys after the refused runs: %d (%v), want none", n, err)
	}

	given := append([]string{"DEMO_ADMIN_PASSWORD", adminPassword}, tests[0].env...)
	code, stdout, stderr := runCLI(t, envOf(given...), append(tests[0].args, conn...)...)
	if code != exitOK {
		t.Fatalf("with the secret given: exit = %d, want 0; output:\n%s%s", code, stdout, stderr)
	}
	if got, want := countDocs(t, mc, exampleDB, "User"), int64(2); got != want {
		t.Errorf("users written with the secret given = %d, want %d", got, want)
	}
	if n, err := rc.DBSize(t.Context()).Result(); err != nil || n == 0 {
		t.Errorf("redis keys with the secret given: %d (%v), want some", n, err)
	}
	if strings.Contains(stdout+stderr, adminPassword) {
		t.Errorf("the password reached the output")
	}
}

// TestImage_validate_checks_env_by_default: in the image (whose Dockerfile
// sets BOOTSTRAP_CHECK_ENV=true), validate checks the secrets the example
// profiles read; --no-check-env turns that off.
func TestImage_validate_checks_env_by_default(t *testing.T) {
	t.Parallel()
	env := harness.Start(t)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string
	}{
		{"secret_missing", nil, nil, exitInvalid, "password variable DEMO_ADMIN_PASSWORD is unset or empty"},
		{"secret_given", nil, map[string]string{"DEMO_ADMIN_PASSWORD": adminPassword}, exitOK, "ok  example-users"},
		{"turned_off", []string{"--no-check-env"}, nil, exitOK, "ok  example-users"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rc := env.StartRunner(t, harness.RunOptions{Args: append([]string{"validate"}, tc.args...), Env: tc.env, Name: "validate-" + tc.name})
			code, logs := rc.Wait(t, 2*time.Minute)
			if code != tc.code {
				t.Errorf("exit = %d, want %d; output:\n%s", code, tc.code, logs)
			}
			if !strings.Contains(logs, tc.want) {
				t.Errorf("output does not say %q:\n%s", tc.want, logs)
			}
			if strings.Contains(logs, adminPassword) {
				t.Errorf("the password reached the output")
			}
		})
	}
}
