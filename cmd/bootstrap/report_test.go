package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner"
	"github.com/srvthreds/bootstrap/store"
)

// TestReport_json_of_failed_commands: with -o json, run, reset, rollback and
// unlock write one JSON document on stdout also when they fail before any
// work (a bad profile, unreachable servers), naming the exit code, the
// error (the URI's password redacted) and the requested profiles not run;
// their log lines go to stderr.
func TestReport_json_of_failed_commands(t *testing.T) {
	const secret = "s3cret-pw"
	unreachable := []string{"--mongo-uri", "mongodb://u:" + secret + "@127.0.0.1:1/?directConnection=true",
		"--redis-url", "redis://:" + secret + "@127.0.0.1:1", "--connect-timeout", "1s"}
	tests := []struct {
		name      string
		args      []string
		code      int
		errHas    string
		profiles  []string // profile:outcome
		unlockRep bool
	}{
		{
			name: "run_invalid_profile", code: exitInvalid, errHas: "items.json",
			args: []string{"run", "--profiles-dir", "testdata/invalid", "-p", "broken", "--health-addr", "off"},
		},
		{
			name: "run_unreachable", code: exitUnreachable, errHas: "unreachable", profiles: []string{"good:not-run"},
			args: append([]string{"run", "--profiles-dir", "testdata/invalid", "-p", "good", "--health-addr", "off"}, unreachable...),
		},
		{
			name: "reset_unreachable", code: exitUnreachable, errHas: "unreachable", profiles: []string{"good:not-run"},
			args: append([]string{"reset", "--profiles-dir", "testdata/invalid", "-p", "good"}, unreachable...),
		},
		{
			name: "rollback_unreachable", code: exitUnreachable, errHas: "unreachable", profiles: []string{"good:not-run"},
			args: append([]string{"rollback", "--profiles-dir", "testdata/invalid", "-p", "good"}, unreachable...),
		},
		{
			name: "unlock_unreachable", code: exitUnreachable, errHas: "unreachable", unlockRep: true,
			args: append([]string{"unlock"}, unreachable...),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCLI(t, envOf("BOOTSTRAP_TERMINATION_LOG", ""), append(tt.args, "-o", "json")...)
			if code != tt.code {
				t.Fatalf("exit = %d, want %d; stdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
			var rep report
			decodeOne(t, stdout, &rep)
			if rep.Command != tt.args[0] || rep.OK || rep.ExitCode != tt.code {
				t.Errorf("report = %+v, want command %s, not ok, exit code %d", rep, tt.args[0], tt.code)
			}
			if !strings.Contains(strings.ToLower(rep.Error), tt.errHas) {
				t.Errorf("error = %q, want it to name %q", rep.Error, tt.errHas)
			}
			var got []string
			for _, p := range rep.Profiles {
				got = append(got, p.Profile+":"+p.Outcome)
				if p.Outcome == outcomeNotRun && p.Version == "" && tt.args[0] != "rollback" {
					t.Errorf("%s: no version", p.Profile)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.profiles, ",") {
				t.Errorf("profiles = %v, want %v", got, tt.profiles)
			}
			if (rep.Unlock != nil) != tt.unlockRep || (rep.Unlock != nil && (rep.Unlock.Broken || rep.Unlock.Lock != "bootstrap")) {
				t.Errorf("unlock = %+v, want it only for unlock, not broken", rep.Unlock)
			}
			if strings.Contains(stdout+stderr, secret) {
				t.Errorf("the password reached the output:\n%s\n%s", stdout, stderr)
			}
			if !strings.Contains(stderr, `"msg":"bootstrap failed"`) {
				t.Errorf("the log lines are not on stderr:\n%s", stderr)
			}
		})
	}
}

func TestResultReport_lists_every_requested_profile(t *testing.T) {
	set := &profiles.Set{Profiles: []*profiles.Profile{{Name: "base", Version: "v-base"}, {Name: "app", Version: "v-app"}}}
	failed := &runner.Result{RunID: "r1", Fence: 7, Profiles: []runner.ProfileResult{
		{Profile: "base", Version: "v-base", Outcome: store.OutcomeApplied, Duration: 1500 * time.Millisecond},
		{Profile: "app", Version: "v-app", PrevVersion: "v-old", Outcome: store.OutcomeFailed,
			Err: errors.New("dial mongodb://admin:hunter2@db:27017/nr: refused")},
	}}
	partial := &runner.Result{RunID: "r2", Fence: 8, Profiles: failed.Profiles[:1]}
	tests := []struct {
		name  string
		res   *runner.Result
		want  []profileReport
		runID string
		fence int64
	}{
		{
			name: "a_failed_profile_with_its_error_redacted", res: failed, runID: "r1", fence: 7,
			want: []profileReport{
				{Profile: "base", Outcome: "applied", Version: "v-base", DurationMs: 1500},
				{Profile: "app", Outcome: "failed", Version: "v-app", PrevVersion: "v-old", Error: "dial mongodb://admin:***@db:27017/nr: refused"},
			},
		},
		{
			name: "a_profile_not_reached", res: partial, runID: "r2", fence: 8,
			want: []profileReport{
				{Profile: "base", Outcome: "applied", Version: "v-base", DurationMs: 1500},
				{Profile: "app", Outcome: outcomeNotRun, Version: "v-app"},
			},
		},
		{
			name: "no_result", res: nil,
			want: []profileReport{
				{Profile: "base", Outcome: outcomeNotRun, Version: "v-base"},
				{Profile: "app", Outcome: outcomeNotRun, Version: "v-app"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := resultReport(tt.res, set)
			if rep.RunID != tt.runID || rep.Fence != tt.fence {
				t.Errorf("run id, fence = %q, %d; want %q, %d", rep.RunID, rep.Fence, tt.runID, tt.fence)
			}
			if len(rep.Profiles) != len(tt.want) {
				t.Fatalf("profiles = %+v, want %+v", rep.Profiles, tt.want)
			}
			for i, w := range tt.want {
				if got := rep.Profiles[i]; got.Profile != w.Profile || got.Outcome != w.Outcome || got.Version != w.Version ||
					got.PrevVersion != w.PrevVersion || got.DurationMs != w.DurationMs || got.Error != w.Error {
					t.Errorf("profile %d = %+v, want %+v", i, got, w)
				}
			}
		})
	}
}
