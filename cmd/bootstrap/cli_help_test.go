package main

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// helpOf runs the command line and returns its exit code and stdout.
func helpOf(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errw bytes.Buffer
	code := run(t.Context(), args, &out, &errw, envOf())
	if code != 0 {
		t.Logf("stderr: %s", errw.String())
	}
	return code, out.String()
}

func TestHelp_command_shows_groups_and_examples(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
		not  []string
	}{
		{
			name: "help_run",
			args: []string{"help", "run"},
			want: []string{"Usage: bootstrap run", "Examples:", "bootstrap run -p example-base,example-patterns",
				"Profiles:", "Connection (MongoDB and Redis):", "Lock:", "Timing:", "Limits (of what a profile may hold):",
				"Output and logs:", "--lock-ttl", "--omit-keys", "--max-file-size", "Profile to apply"},
		},
		{
			name: "run_help_flag_is_the_same",
			args: []string{"run", "--help"},
			want: []string{"Usage: bootstrap run", "Examples:", "Profiles:", "Timing:"},
		},
		{
			name: "status_shows_only_what_it_reads",
			args: []string{"status", "--help"},
			want: []string{"Usage: bootstrap status", "Examples:", "Profile to show", "--database", "--lock-name", "Lock:"},
			not:  []string{"--lock-ttl", "--omit-keys", "--max-", "Profile to apply", "Limits", "--lock-wait"},
		},
		{
			name: "history_shows_only_what_it_reads",
			args: []string{"help", "history"},
			want: []string{"Usage: bootstrap history", "Examples:", "Profile to show the records of", "--limit"},
			not:  []string{"--lock-ttl", "--lock-name", "--omit-keys", "--max-", "Profile to apply", "Limits"},
		},
		{
			name: "validate_does_not_connect",
			args: []string{"help", "validate"},
			want: []string{"Profile to validate", "Limits (of what a profile may hold):"},
			not:  []string{"--mongo-uri", "--lock-"},
		},
		{
			name: "help_alone_lists_the_commands",
			args: []string{"help"},
			want: []string{"Usage: bootstrap <command>", "Examples:", "run", "status", "help [<command> ...]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := helpOf(t, tt.args...)
			if code != exitOK {
				t.Fatalf("exit = %d, want 0", code)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("help lacks %q:\n%s", w, out)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(out, n) {
					t.Errorf("help has %q:\n%s", n, out)
				}
			}
		})
	}
}

func TestHelp_unknown_command_exits_2(t *testing.T) {
	var out, errw bytes.Buffer
	if got, want := run(t.Context(), []string{"help", "frobnicate"}, &out, &errw, envOf()), exitUsage; got != want {
		t.Fatalf("exit = %d, want %d", got, want)
	}
	if !strings.Contains(out.String()+errw.String(), "frobnicate") {
		t.Errorf("the error does not name the command: %s %s", out.String(), errw.String())
	}
}

// Every flag belongs to a group of flagGroups (a misspelt key would make a
// group of its own, titled by the key), or to none.
func TestFlagGroups_are_the_declared_ones(t *testing.T) {
	keys := map[string]bool{}
	for _, g := range flagGroups() {
		keys[g.Key] = true
	}
	var c cli
	p, err := newParser(&c, io.Discard, io.Discard, envOf())
	if err != nil {
		t.Fatal(err)
	}
	err = kong.Visit(p.Model, func(n kong.Visitable, next kong.Next) error {
		if f, ok := n.(*kong.Flag); ok && f.Group != nil && !keys[f.Group.Key] {
			t.Errorf("flag --%s: group %q is not one of flagGroups", f.Name, f.Group.Key)
		}
		return next(nil)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestParse_unlock_force_is_apart_from_run_force(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		env       func(string) string
		wantForce bool
	}{
		{name: "run_force_does_not_force_unlock", args: []string{"unlock"}, env: envOf("BOOTSTRAP_FORCE", "true")},
		{name: "unlock_force_from_its_variable", args: []string{"unlock"}, env: envOf("BOOTSTRAP_UNLOCK_FORCE", "true"), wantForce: true},
		{name: "unlock_force_flag", args: []string{"unlock", "--force"}, env: envOf(), wantForce: true},
		{name: "unlock_force_does_not_force_run", args: []string{"run", "-p", "a"}, env: envOf("BOOTSTRAP_UNLOCK_FORCE", "true")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c cli
			p, err := newParser(&c, io.Discard, io.Discard, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if got := c.Unlock.Force || c.Run.Force; got != tt.wantForce {
				t.Errorf("force = %v, want %v (unlock %v, run %v)", got, tt.wantForce, c.Unlock.Force, c.Run.Force)
			}
		})
	}
}

func TestRun_health_port_in_use_exits_2_naming_the_flag(t *testing.T) {
	var lc net.ListenConfig
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var out, errw bytes.Buffer
	args := []string{"--log-format", "json", "run", "--profiles-dir", "testdata/warnings", "-p", "dev",
		"--health-addr", ln.Addr().String(), "--termination-log", filepath.Join(t.TempDir(), "none")}
	if got, want := run(t.Context(), args, &out, &errw, envOf()), exitUsage; got != want {
		t.Fatalf("exit = %d, want %d; stdout: %s; stderr: %s", got, want, out.String(), errw.String())
	}
	logs := out.String() + errw.String()
	for _, want := range []string{"--health-addr " + ln.Addr().String(), "address already in use"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, `"msg":"connecting"`) {
		t.Errorf("connected before the health address was checked:\n%s", logs)
	}
}

func TestRun_unknown_profile_suggests_and_lists(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"example-base", "example-users", "example-patterns", "_private", ".hidden"} {
		if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		profile string
		want    []string
		not     []string
	}{
		{name: "typo", profile: "example-bse", want: []string{"example-bse: no such profile",
			"did you mean example-base?", "available: example-base, example-patterns, example-users"}},
		{name: "prefix", profile: "example-pat", want: []string{"did you mean example-patterns?"}},
		{name: "nothing_close", profile: "zzz", want: []string{"available: example-base"}, not: []string{"did you mean", "_private", ".hidden"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errw bytes.Buffer
			args := []string{"--log-format", "text", "validate", "--profiles-dir", dir, "-p", tt.profile}
			if got, want := run(t.Context(), args, &out, &errw, envOf()), exitInvalid; got != want {
				t.Fatalf("exit = %d, want %d; stderr: %s", got, want, errw.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(errw.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errw.String())
				}
			}
			for _, n := range tt.not {
				if strings.Contains(errw.String(), n) {
					t.Errorf("stderr has %q:\n%s", n, errw.String())
				}
			}
		})
	}
}

func TestRun_profiles_dir_without_profiles_is_an_error(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"profiles.go": "package profiles\n", "testdata/x": "", "_skip/y": ""} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"validate", "--profiles-dir", dir},
		{"validate", "--profiles-dir", dir, "-o", "json"},
		{"plan", "--offline", "--profiles-dir", dir, "-p", "a"},
	} {
		t.Run(strings.Join(args[:2], "_"), func(t *testing.T) {
			var out, errw bytes.Buffer
			if got, want := run(t.Context(), append([]string{"--log-format", "text"}, args...), &out, &errw, envOf()), exitUsage; got != want {
				t.Fatalf("exit = %d, want %d; stdout: %s; stderr: %s", got, want, out.String(), errw.String())
			}
			all := out.String() + errw.String()
			for _, want := range []string{dir + " holds no profile", "profile.yaml", "--profiles-dir"} {
				if !strings.Contains(all, want) {
					t.Errorf("output lacks %q:\n%s", want, all)
				}
			}
		})
	}
}
