package step

import (
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/profiles"
)

func TestNewEnvDefaults(t *testing.T) {
	env := NewEnv(Env{})
	if got, want := env.BatchSize, 50; got != want {
		t.Errorf("default batch size = %d, want %d", got, want)
	}
	if got, want := NewEnv(Env{BatchSize: 500}).BatchSize, 500; got != want {
		t.Errorf("batch size set by the user = %d, want %d", got, want)
	}
	now := time.Date(2025, 1, 2, 3, 4, 5, 678901234, time.UTC)
	if got, want := NewEnv(Env{Now: now}).Now, time.Date(2025, 1, 2, 3, 4, 5, 678000000, time.UTC); !got.Equal(want) {
		t.Errorf("Now = %v, want %v (milliseconds)", got, want)
	}
	tests := []struct {
		name    string
		profile *profiles.Profile
		step    string
		want    string
	}{
		{"step_database", &profiles.Profile{Database: "p"}, "s", "s"},
		{"profile_database", &profiles.Profile{Database: "p"}, "", "p"},
		{"default_database", nil, "", profiles.DefaultDatabase},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Database(tt.profile, profiles.Step{Database: tt.step}); got != tt.want {
				t.Errorf("Database = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	for _, kind := range profiles.Kinds() {
		if k, err := Lookup(kind); err != nil || k == nil {
			t.Errorf("Lookup(%q) = %v, %v; want a kind", kind, k, err)
		}
	}
	if _, err := Lookup("sql"); err == nil {
		t.Error(`Lookup("sql") succeeded, want an error`)
	}
}
