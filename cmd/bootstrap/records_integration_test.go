package main

import (
	"testing"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/runner"
	"github.com/srvthreds/bootstrap/store"
)

// status and history read records only: without a profiles directory (the
// test's working directory has no ./profiles) they show what --database
// holds, and the profiles named only select what to show. With a directory
// they compare with its versions, as before.
func TestRecords_status_and_history_need_no_profiles_dir(t *testing.T) {
	t.Parallel()
	env := harness.Start(t)
	dir := t.TempDir()
	writeDocumentsProfile(t, dir, "rec", 3)
	conn := []string{"--mongo-uri", env.Mongo.URI, "--connect-timeout", "30s", "--redis-url", "redis://" + env.Redis.Addr}
	cmd := func(name string, extra ...string) []string { return append(append([]string{name}, conn...), extra...) }

	if code, stdout, stderr := runCLI(t, nil, cmd("run", "--profiles-dir", dir, "-p", "rec", "--health-addr", "off")...); code != exitOK {
		t.Fatalf("run: exit = %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	tests := []struct {
		name   string
		args   []string
		states map[string]string // profile -> state
	}{
		{name: "every_record_of_the_database", args: cmd("status", "--database", testDB, "-o", "json"),
			states: map[string]string{"rec": stateRecorded}},
		{name: "named_profiles_only", args: cmd("status", "--database", testDB, "-p", "rec,ghost", "-o", "json"),
			states: map[string]string{"rec": stateRecorded, "ghost": runner.StateNotApplied}},
		{name: "with_a_profiles_dir", args: cmd("status", "--profiles-dir", dir, "-o", "json"),
			states: map[string]string{"rec": runner.StateCurrent}},
		{name: "dir_and_a_name_it_lacks", args: cmd("status", "--profiles-dir", dir, "--database", testDB, "-p", "rec", "-p", "ghost", "-o", "json"),
			states: map[string]string{"rec": runner.StateCurrent, "ghost": runner.StateNotApplied}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, tt.args...)
			if code != exitOK {
				t.Fatalf("exit = %d; stderr:\n%s", code, stderr)
			}
			var rep statusReport
			decodeOne(t, stdout, &rep)
			got := map[string]string{}
			for _, p := range rep.Profiles {
				got[p.Profile] = p.State
				if p.State != runner.StateNotApplied && (p.Marker == nil || p.Marker.Version == "" || p.Database != testDB) {
					t.Errorf("%s: marker = %+v, database %q", p.Profile, p.Marker, p.Database)
				}
			}
			if len(got) != len(tt.states) {
				t.Errorf("profiles = %v, want %v", got, tt.states)
			}
			for p, want := range tt.states {
				if got[p] != want {
					t.Errorf("state of %s = %q, want %q", p, got[p], want)
				}
			}
		})
	}

	code, stdout, stderr := runCLI(t, nil, "history", "--mongo-uri", env.Mongo.URI, "--connect-timeout", "30s",
		"--database", testDB, "-p", "rec", "-o", "json")
	if code != exitOK {
		t.Fatalf("history: exit = %d; stderr:\n%s", code, stderr)
	}
	var recs []store.AuditRecord
	decodeOne(t, stdout, &recs)
	if len(recs) == 0 || recs[0].Profile != "rec" || recs[0].Outcome != store.OutcomeApplied {
		t.Errorf("history = %+v, want the run's applied record", recs)
	}

	if code, _, stderr := runCLI(t, nil, cmd("status", "--profiles-dir", dir+"/absent")...); code != exitUsage {
		t.Errorf("status with a named directory that does not exist: exit = %d, want %d; stderr:\n%s", code, exitUsage, stderr)
	}
}
