package main

import (
	"encoding/json"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// update rewrites the golden files: go test ./cmd/bootstrap -run Golden -update
var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// logRecord matches a line of the text log format.
var logRecord = regexp.MustCompile(`(?m)^time=.*\n`)

// TestValidate_problems_golden: with text logs, validate prints one problem
// a line, file:line:col: field: message, then a summary, on stderr: three
// problems of srvthreds-shaped profiles (a pattern's $schema key, a user's
// _id, a user without a password source) in two profiles.
func TestValidate_problems_golden(t *testing.T) {
	code, stdout, stderr := runCLI(t, nil, "validate", "--profiles-dir", "testdata/problems", "--log-format", "text")
	if code != exitInvalid {
		t.Fatalf("exit = %d, want %d; stderr:\n%s", code, exitInvalid, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
	got := logRecord.ReplaceAllString(stderr, "")
	if !strings.Contains(stderr, `msg="bootstrap failed" command=validate exit_code=3 err="3 problems in 2 profiles"`) {
		t.Errorf("the log record does not repeat the summary:\n%s", stderr)
	}
	golden := filepath.Join("testdata", "validate_problems.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("stderr (log records left out):\n%s\nwant (%s):\n%s", got, golden, want)
	}
}

// TestValidate_problems_json_logs: with JSON logs, stderr is one record
// whose problems list holds the lines, and nothing else.
func TestValidate_problems_json_logs(t *testing.T) {
	code, _, stderr := runCLI(t, nil, "validate", "--profiles-dir", "testdata/problems", "--log-format", "json")
	if code != exitInvalid {
		t.Fatalf("exit = %d, want %d", code, exitInvalid)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != 1 {
		t.Fatalf("stderr has %d lines, want one JSON record:\n%s", len(lines), stderr)
	}
	var rec struct {
		Err      string   `json:"err"`
		Problems []string `json:"problems"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("stderr is not JSON: %v\n%s", err, stderr)
	}
	if got, want := rec.Err, "3 problems in 2 profiles"; got != want {
		t.Errorf("err = %q, want %q", got, want)
	}
	if got, want := len(rec.Problems), 3; got != want || !strings.HasPrefix(rec.Problems[0], "fleet-patterns/patterns/alarm.json:2:3: $schema: ") {
		t.Errorf("problems = %q, want %d starting with the pattern's $schema", rec.Problems, want)
	}
}

// TestValidate_check_env: validate reports the secrets a run would miss
// only when asked (--check-env or BOOTSTRAP_CHECK_ENV, which the image
// sets), with the exit code run would give, and never a secret's value.
func TestValidate_check_env(t *testing.T) {
	const secret = "Fl33t-s3cret-value"
	all := []string{"FLEET_DISPATCHER_PASSWORD", secret, "FLEET_AUDITOR_PASSWORD", secret, "FLEET_ENGINE_TOKEN", secret}
	tests := []struct {
		name string
		args []string
		env  []string
		code int
		want []string // in stderr
	}{
		{"off_by_default", nil, nil, exitOK, nil},
		{"flag", []string{"--check-env"}, all[2:], exitInvalid, []string{
			`fleet/users.yaml:2:23: users[0].passwordFrom.env: step 1:users: user "dispatcher": password variable FLEET_DISPATCHER_PASSWORD is unset or empty`,
			"1 problem in 1 profile"}},
		{"env_as_in_the_image", nil, append([]string{"BOOTSTRAP_CHECK_ENV", "true"}, all[:4]...), exitInvalid, []string{
			"fleet/profile.yaml:10:30: steps[2].http.headersFrom.Authorization.env: step 2:http: header Authorization: environment variable FLEET_ENGINE_TOKEN is empty or unset"}},
		{"turned_off_in_the_image", []string{"--no-check-env"}, []string{"BOOTSTRAP_CHECK_ENV", "true"}, exitOK, nil},
		{"everything_set", []string{"--check-env"}, append(all, "BCRYPT_SALT_ROUNDS", "4"), exitOK, nil},
		{"bcrypt_cost_out_of_range", []string{"--check-env"}, append(all, "BCRYPT_SALT_ROUNDS", "40"), exitInvalid, []string{
			`fleet/users.yaml: step 1:users: BCRYPT_SALT_ROUNDS="40": want an integer from 4 to 31`}},
		{"connection_secret_file_missing", []string{"--check-env"}, append(all, "REDIS_PASSWORD_FILE", "/nonexistent/redis-password"), exitUsage, []string{
			"REDIS_PASSWORD_FILE", "/nonexistent/redis-password"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"validate", "--profiles-dir", "testdata/secrets", "--log-format", "text"}, tc.args...)
			code, stdout, stderr := runCLI(t, envOf(tc.env...), args...)
			if code != tc.code {
				t.Errorf("exit = %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stdout+stderr, secret) {
				t.Errorf("a secret's value reached the output:\n%s%s", stdout, stderr)
			}
		})
	}
}

// TestValidate_check_env_json: -o json lists the problems of the
// environment like those of the profiles.
func TestValidate_check_env_json(t *testing.T) {
	code, stdout, _ := runCLI(t, envOf("FLEET_AUDITOR_PASSWORD", "x", "FLEET_ENGINE_TOKEN", "y"),
		"validate", "--profiles-dir", "testdata/secrets", "--check-env", "-o", "json")
	if code != exitInvalid {
		t.Fatalf("exit = %d, want %d", code, exitInvalid)
	}
	var rep validateReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout)
	}
	want := validateProblem{Profile: "fleet", File: "fleet/users.yaml", Line: 2, Column: 23, Field: "users[0].passwordFrom.env",
		Message: `step 1:users: user "dispatcher": password variable FLEET_DISPATCHER_PASSWORD is unset or empty`}
	if rep.Valid || len(rep.Problems) != 1 || rep.Problems[0] != want {
		t.Errorf("report = %+v, want invalid with the one problem %+v", rep, want)
	}
}

// TestRun_refused_before_connecting: a run whose secret is missing stops
// before it connects: exit 3, the problem on stderr, no "connecting" line
// (the servers named do not exist: a connection attempt would be exit 6
// after the connect timeout).
func TestRun_refused_before_connecting(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		code int
		want string
	}{
		{"password_variable_unset", []string{"FLEET_AUDITOR_PASSWORD", "x", "FLEET_ENGINE_TOKEN", "y"}, exitInvalid,
			`user "dispatcher": password variable FLEET_DISPATCHER_PASSWORD is unset or empty`},
		{"redis_password_file_empty", []string{"REDIS_PASSWORD_FILE", "testdata/empty-secret"}, exitUsage,
			"REDIS_PASSWORD_FILE: testdata/empty-secret is empty"},
		{"tls_ca_file_missing", []string{"BOOTSTRAP_REDIS_TLS_CA_FILE", "/nonexistent/ca.pem"}, exitUsage, "/nonexistent/ca.pem"},
		{"dry_run_verify_password_variable_unset", []string{"FLEET_AUDITOR_PASSWORD", "x", "FLEET_ENGINE_TOKEN", "y", "BOOTSTRAP_DRY_RUN", "true", "BOOTSTRAP_VERIFY", "true"}, exitInvalid,
			`user "dispatcher": password variable FLEET_DISPATCHER_PASSWORD is unset or empty`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, envOf(tc.env...), "run", "-p", "fleet", "--profiles-dir", "testdata/secrets",
				"--health-addr", "off", "--log-format", "text", "--mongo-uri", "mongodb://mongo.invalid:27017/?directConnection=true",
				"--redis-url", "redis://redis.invalid:6379", "--connect-timeout", "1m")
			if code != tc.code {
				t.Errorf("exit = %d, want %d; output:\n%s%s", code, tc.code, stdout, stderr)
			}
			if !strings.Contains(stdout+stderr, tc.want) {
				t.Errorf("output does not say %q:\n%s%s", tc.want, stdout, stderr)
			}
			if strings.Contains(stdout+stderr, "connecting") {
				t.Errorf("the run connected before its preflight:\n%s%s", stdout, stderr)
			}
		})
	}
}

// TestPreflight_values_are_what_the_run_reads: after the preflight, the
// connections and the runner read the environment it checked (c.env), not
// the process's again: a variable changed afterwards is not seen.
func TestPreflight_values_are_what_the_run_reads(t *testing.T) {
	vars := map[string]string{"FLEET_DISPATCHER_PASSWORD": "one", "FLEET_AUDITOR_PASSWORD": "a", "FLEET_ENGINE_TOKEN": "t"}
	io := &stdio{Env: func(k string) string { return vars[k] }}
	pf := profileFlags{ProfilesDir: "testdata/secrets", Profile: []string{"fleet"}}
	set, err := pf.load(slog.New(slog.DiscardHandler), false)
	if err != nil {
		t.Fatal(err)
	}
	var cf connFlags
	if err := cf.preflight(set, io); err != nil {
		t.Fatal(err)
	}
	vars["FLEET_DISPATCHER_PASSWORD"] = "two"
	if got, want := cf.env(io).Getenv("FLEET_DISPATCHER_PASSWORD"), "one"; got != want {
		t.Errorf("the run reads %q, want the preflight's %q", got, want)
	}
}
