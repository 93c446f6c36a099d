package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/conn"
	"github.com/srvthreds/bootstrap/internal/panics"
	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner"
	"github.com/srvthreds/bootstrap/store"
)

func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestParse_selects_command_and_flags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      func(string) string
		command  string
		profiles []string
		check    func(t *testing.T, c *cli)
	}{
		{name: "bare_profile_means_run", args: []string{"-p", "example-patterns"}, command: "run", profiles: []string{"example-patterns"}},
		{name: "repeated_profiles", args: []string{"run", "-p", "a", "-p", "b"}, command: "run", profiles: []string{"a", "b"}},
		{name: "comma_separated_profiles", args: []string{"run", "-p", "a,b"}, command: "run", profiles: []string{"a", "b"}},
		{name: "profiles_from_env", args: []string{"run"}, env: envOf("BOOTSTRAP_PROFILE", "x,y"), command: "run", profiles: []string{"x", "y"}},
		{
			name: "run_defaults", args: []string{"run", "-p", "a"}, command: "run", profiles: []string{"a"},
			check: func(t *testing.T, c *cli) {
				r := c.Run
				if r.LockTTL != 30*time.Second || r.LockWait != 10*time.Minute || r.ConnectTimeout != 2*time.Minute ||
					r.StallTimeout != 2*time.Minute || r.Timeout != 15*time.Minute || r.ShutdownGrace != 10*time.Second ||
					r.HealthAddr != ":8081" || r.BatchSize != 50 || r.LockName != "bootstrap" || r.ProfilesDir != "./profiles" {
					t.Errorf("defaults differ from the README's: %+v", r)
				}
			},
		},
		{
			name: "run_flags_from_env", args: []string{"run", "-p", "a"}, command: "run", profiles: []string{"a"},
			env: envOf("BOOTSTRAP_LOCK_TTL", "5s", "BOOTSTRAP_FORCE", "true", "BOOTSTRAP_MONGO_URI", "mongodb://m:27017/", "BOOTSTRAP_HEALTH_ADDR", "off"),
			check: func(t *testing.T, c *cli) {
				if got, want := c.Run.LockTTL, 5*time.Second; got != want {
					t.Errorf("lock ttl = %v, want %v", got, want)
				}
				if !c.Run.Force || c.Run.MongoURI != "mongodb://m:27017/" || c.Run.HealthAddr != "off" {
					t.Errorf("env not applied: %+v", c.Run)
				}
			},
		},
		{name: "wait", args: []string{"wait", "-p", "a", "--timeout", "1m"}, command: "wait", profiles: []string{"a"},
			check: func(t *testing.T, c *cli) {
				if got, want := c.Wait.Timeout, time.Minute; got != want {
					t.Errorf("timeout = %v, want %v", got, want)
				}
			}},
		{name: "status_json", args: []string{"status", "-o", "json"}, command: "status"},
		{name: "unlock_force", args: []string{"unlock", "--force"}, command: "unlock"},
		{name: "version", args: []string{"version"}, command: "version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c cli
			env := tt.env
			if env == nil {
				env = envOf()
			}
			p, err := newParser(&c, io.Discard, io.Discard, env)
			if err != nil {
				t.Fatal(err)
			}
			kctx, err := p.Parse(tt.args)
			if err != nil {
				t.Fatalf("parse %v: %v", tt.args, err)
			}
			if got := strings.Fields(kctx.Command())[0]; got != tt.command {
				t.Errorf("command = %q, want %q", got, tt.command)
			}
			if tt.profiles != nil {
				got := c.Run.Profile
				if tt.command == "wait" {
					got = c.Wait.Profile
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.profiles) {
					t.Errorf("profiles = %v, want %v", got, tt.profiles)
				}
			}
			if tt.check != nil {
				tt.check(t, &c)
			}
		})
	}
}

func TestRun_bad_command_line_exits_2(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{name: "unknown_flag", args: []string{"run", "--no-such-flag"}},
		{name: "unknown_command", args: []string{"frobnicate"}},
		{name: "bad_duration", args: []string{"run", "-p", "a", "--lock-ttl", "soon"}},
		{name: "bad_log_format", args: []string{"--log-format", "xml", "version"}},
		{name: "batch_size_zero", args: []string{"run", "-p", "a", "--batch-size", "0"}},
		{name: "run_without_profile", args: []string{"run", "--profiles-dir", "."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errw bytes.Buffer
			if got, want := run(t.Context(), tt.args, &out, &errw, envOf()), exitUsage; got != want {
				t.Errorf("exit = %d, want %d; stderr: %s; stdout: %s", got, want, errw.String(), out.String())
			}
		})
	}
}

func TestRun_version_prints_build_info(t *testing.T) {
	var out bytes.Buffer
	if got := run(t.Context(), []string{"version"}, &out, io.Discard, envOf()); got != 0 {
		t.Fatalf("exit = %d", got)
	}
	if !strings.HasPrefix(out.String(), "bootstrap "+version+" (commit "+commit) {
		t.Errorf("version output = %q", out.String())
	}
}

func TestRun_help_exits_0(t *testing.T) {
	var out bytes.Buffer
	if got := run(t.Context(), []string{"--help"}, &out, io.Discard, envOf()); got != 0 {
		t.Fatalf("exit = %d", got)
	}
	for _, cmd := range []string{"run", "plan", "validate", "status", "history", "wait", "unlock", "version"} {
		if !strings.Contains(out.String(), cmd) {
			t.Errorf("help does not list %q:\n%s", cmd, out.String())
		}
	}
}

func TestExitCode_maps_every_cause(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{name: "ok", err: nil, want: 0},
		{name: "internal", err: errors.New("boom"), want: 1},
		{name: "usage", err: usageError{errors.New("bad")}, want: 2},
		{name: "bad_connection_setting", err: fmt.Errorf("connect: %w", conn.ErrConfig), want: 2},
		{name: "fenced_by_the_store", err: fmt.Errorf("write: %w", store.ErrFenced), want: 5},
		{name: "invalid_profile", err: fmt.Errorf("load: %w", &profiles.ValidationError{Problems: []profiles.Problem{{Msg: "x"}}}), want: 3},
		{name: "lock_not_acquired", err: fmt.Errorf("wait: %w", lock.ErrNotAcquired), want: 4},
		{name: "unlock_refused_holder_renews", err: fmt.Errorf("unlock: %w", lock.ErrHeld), want: 4},
		{name: "wait_timeout", err: runner.ErrWaitTimeout, want: 4},
		{name: "lock_lost", err: runner.ErrLockLost, want: 5},
		{name: "fenced", err: runner.ErrFenced, want: 5},
		{name: "lease_lost", err: lock.ErrLost, want: 5},
		{name: "unreachable", err: &conn.UnreachableError{Service: "Redis", Addr: "x", Err: context.DeadlineExceeded}, want: 6},
		{name: "step_failed", err: &runner.StepError{Profile: "p", Step: "0:configs", Err: errors.New("x")}, want: 7},
		{name: "stalled", err: fmt.Errorf("%w: x", runner.ErrStalled), want: 8},
		{name: "timeout", err: runner.ErrTimeout, want: 8},
		{name: "sigint", err: &signalError{sig: syscall.SIGINT}, want: 130},
		{name: "sigterm", err: fmt.Errorf("run: %w", &signalError{sig: syscall.SIGTERM}), want: 143},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitCode(tt.err); got != tt.want {
				t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestLogger_redacts_secret_attributes(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, "json", "info", false)
	log.Info("x", "password", "hunter2", "redis_password", "hunter3", "user", "bob")
	if s := buf.String(); strings.Contains(s, "hunter") || !strings.Contains(s, "bob") {
		t.Errorf("log line = %s", s)
	}
}

func TestRun_panic_exits_1_with_its_stack(t *testing.T) {
	var errw bytes.Buffer
	code := func() (code int) {
		defer func() {
			if r := recover(); r != nil {
				code = recovered(r, nil, &errw)
			}
		}()
		var steps []string
		return len(steps[len(steps)+1]) // the runtime panics: index out of range
	}()
	if got, want := code, exitInternal; got != want {
		t.Errorf("exit = %d, want %d (retryable)", got, want)
	}
	for _, want := range []string{`"msg":"panic"`, "index out of range", "goroutine ", "cli_test.go"} {
		if !strings.Contains(errw.String(), want) {
			t.Errorf("stderr %s: want %q", errw.String(), want)
		}
	}
}

func TestExitCode_panic_is_1_even_as_a_step_error(t *testing.T) {
	p := &panics.Error{Where: "watchdog", Value: "boom"}
	err := &runner.StepError{Profile: "p", Step: "0:configs", Err: p}
	if got, want := exitCode(err), exitInternal; got != want {
		t.Errorf("exitCode(%v) = %d, want %d", err, got, want)
	}
}
