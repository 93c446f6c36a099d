package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/srvthreds/bootstrap/conn"
	"github.com/srvthreds/bootstrap/runner"
	"github.com/srvthreds/bootstrap/store"
)

func TestTerminationMessage(t *testing.T) {
	stepErr := &runner.StepError{Profile: "example-configs", Step: "0:configs", Err: errors.New("E11000 duplicate key\nsecond line")}
	tests := []struct {
		name     string
		command  string
		outcomes []profileOutcome
		code     int
		err      error
		want     string
	}{
		{
			name: "success", command: "run", code: 0,
			outcomes: []profileOutcome{{Profile: "example-patterns", Outcome: "applied", Version: "0123456789abcdef0123"}, {Profile: "example-configs", Outcome: "skipped", Version: "fedcba9876543210"}},
			want:     "run: exit 0 (ok); profiles: example-patterns applied 0123456789ab, example-configs skipped fedcba987654",
		},
		{
			name: "step_failed_on_one_line", command: "run", code: exitCode(stepErr), err: stepErr,
			outcomes: []profileOutcome{{Profile: "example-patterns", Outcome: "applied", Version: "v1"}, {Profile: "example-configs", Outcome: "failed", Version: "v2"}},
			want:     "run: exit 7 (a step failed); profiles: example-patterns applied v1, example-configs failed v2; error: " + strings.Join(strings.Fields(stepErr.Error()), " "),
		},
		{
			name: "password_in_a_connection_string", command: "rollback", code: 6,
			err:  fmt.Errorf("connect: %w", &conn.UnreachableError{Service: "MongoDB", Addr: "mongodb://admin:hunter2@mongo:27017/?replicaSet=rs0", Err: errors.New("refused")}),
			want: "rollback: exit 6 (MongoDB or Redis unreachable); error: ",
		},
		{name: "interrupted", command: "run", code: 143, err: errors.New("interrupted by terminated"), want: "run: exit 143 (interrupted); error: interrupted by terminated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := terminationMessage(tt.command, tt.outcomes, tt.code, tt.err)
			if !strings.HasPrefix(got, tt.want) || strings.ContainsAny(got, "\n\r") || strings.Contains(got, "hunter2") {
				t.Errorf("message = %q, want %q...", got, tt.want)
			}
		})
	}
}

func TestTerminationMessage_at_most_4KiB(t *testing.T) {
	long := errors.New(strings.Repeat("é", 3000)) // 6,000 bytes of two-byte characters
	got := terminationMessage("run", nil, 1, long)
	if len(got) > 4096 || !utf8.ValidString(got) || !strings.HasSuffix(got, "...") {
		t.Errorf("len = %d, valid UTF-8 = %v, suffix %q", len(got), utf8.ValidString(got), got[len(got)-5:])
	}
}

func TestRedactURLs(t *testing.T) {
	tests := []struct{ in, want string }{
		{in: "dial mongodb://admin:s3cret@h:27017/db: refused", want: "dial mongodb://admin:***@h:27017/db: refused"},
		{in: "redis rediss://:s3cret@cache:6380 down", want: "redis rediss://:***@cache:6380 down"},
		{in: "no url here", want: "no url here"},
	}
	for _, tt := range tests {
		if got := redactURLs(tt.in); got != tt.want {
			t.Errorf("redactURLs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestOutcomes_of_run_and_rollback(t *testing.T) {
	c := runCmd{result: &runner.Result{Profiles: []runner.ProfileResult{
		{Profile: "a", Version: "v1", Outcome: store.OutcomeApplied},
		{Profile: "b", Version: "v2", Outcome: store.OutcomeInterrupted},
	}}}
	if got, want := fmt.Sprint(c.outcomes()), "[{a applied v1} {b interrupted v2}]"; got != want {
		t.Errorf("run outcomes = %s, want %s", got, want)
	}
	if got := (&runCmd{}).outcomes(); got != nil {
		t.Errorf("outcomes before the run = %v", got)
	}
	if got, want := fmt.Sprint(rollbackOutcome("a", &runner.RollbackResult{To: "v0"}, nil)), "[{a rolled-back v0}]"; got != want {
		t.Errorf("rollback outcome = %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(rollbackOutcome("a", nil, errors.New("x"))), "[{a failed }]"; got != want {
		t.Errorf("failed rollback outcome = %s, want %s", got, want)
	}
}
