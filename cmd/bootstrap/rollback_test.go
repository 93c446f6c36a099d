package main

import (
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/runner"
)

func TestParse_rollback(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     func(string) string
		wantErr bool
		check   func(t *testing.T, c *rollbackCmd)
	}{
		{
			name: "defaults", args: []string{"rollback", "-p", "app"},
			check: func(t *testing.T, c *rollbackCmd) {
				if c.To != "" || c.LockWait != 10*time.Minute || c.LockName != "bootstrap" || c.LockTTL != 30*time.Second {
					t.Errorf("defaults = %+v, want no version, the run's lock and lock wait", c)
				}
			},
		},
		{
			name: "to_and_lock_wait", args: []string{"rollback", "-p", "app", "--to", "abc123", "--lock-wait", "5s"},
			check: func(t *testing.T, c *rollbackCmd) {
				if c.To != "abc123" || c.LockWait != 5*time.Second {
					t.Errorf("to, lock wait = %q, %s; want abc123, 5s", c.To, c.LockWait)
				}
			},
		},
		{
			name: "from_env", args: []string{"rollback"}, env: envOf("BOOTSTRAP_PROFILE", "app", "BOOTSTRAP_ROLLBACK_TO", "v1"),
			check: func(t *testing.T, c *rollbackCmd) {
				if c.To != "v1" || len(c.Profile) != 1 || c.Profile[0] != "app" {
					t.Errorf("profile, to = %v, %q; want [app], v1", c.Profile, c.To)
				}
			},
		},
		{name: "no_profile", args: []string{"rollback"}, wantErr: true},
		{name: "two_profiles", args: []string{"rollback", "-p", "a,b"}, wantErr: true},
		{name: "keep_versions_is_a_run_flag", args: []string{"rollback", "-p", "a", "--keep-versions", "3"}, wantErr: true},
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
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parse %v: no error, want one", tt.args)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse %v: %v", tt.args, err)
			}
			if got, want := kctx.Command(), "rollback"; got != want {
				t.Errorf("command = %q, want %q", got, want)
			}
			tt.check(t, &c.Rollback)
		})
	}
}

func TestParse_run_keep_versions(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    int
		wantErr bool
	}{
		{name: "default_5", args: []string{"run", "-p", "a"}, want: 5},
		{name: "set", args: []string{"run", "-p", "a", "--keep-versions", "2"}, want: 2},
		{name: "zero_takes_none", args: []string{"run", "-p", "a", "--keep-versions", "0"}, want: 0},
		{name: "negative_refused", args: []string{"run", "-p", "a", "--keep-versions", "-1"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c cli
			p, err := newParser(&c, io.Discard, io.Discard, envOf())
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Parse(tt.args)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parse %v: err = %v, want error %v", tt.args, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if c.Run.KeepVersions != tt.want {
				t.Errorf("keep versions = %d, want %d", c.Run.KeepVersions, tt.want)
			}
			// The runner takes the count as it is: 0 takes no snapshot.
			if got := c.Run.options().KeepVersions; got != tt.want {
				t.Errorf("runner KeepVersions = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestExitCode_no_snapshot_is_bad_input(t *testing.T) {
	err := fmt.Errorf("roll back app: %w: no snapshot restores version %q", runner.ErrNoSnapshot, "abc")
	if got, want := exitCode(err), exitInvalid; got != want {
		t.Errorf("exitCode(%v) = %d, want %d (bad input, not retryable)", err, got, want)
	}
	if got := exitCode(errors.New("roll back app: something else")); got == exitInvalid {
		t.Errorf("an unrelated error maps to %d too", got)
	}
}
