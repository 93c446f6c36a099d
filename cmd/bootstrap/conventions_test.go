package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
	"github.com/creack/pty"
)

// parse parses args with the real parser, as main does.
func parse(t *testing.T, args []string, env func(string) string) (*cli, *kong.Context) {
	t.Helper()
	var c cli
	if env == nil {
		env = envOf()
	}
	p, err := newParser(&c, io.Discard, io.Discard, env)
	if err != nil {
		t.Fatal(err)
	}
	kctx, err := p.Parse(args)
	if err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return &c, kctx
}

func TestParse_output_flag_on_every_report(t *testing.T) {
	reports := [][]string{
		{"plan", "-p", "a"}, {"validate"}, {"status"}, {"history"}, {"wait", "-p", "a"}, {"version"},
	}
	for _, args := range reports {
		for _, format := range []string{"json", "table", "text"} {
			t.Run(args[0]+"_"+format, func(t *testing.T) {
				_, kctx := parse(t, append(slices.Clone(args), "-o", format), nil)
				o, ok := selectedCommand(kctx).(interface{ json() bool })
				if !ok {
					t.Fatalf("%s has no -o", args[0])
				}
				if got, want := o.json(), format == "json"; got != want {
					t.Errorf("json() = %v, want %v", got, want)
				}
			})
		}
		t.Run(args[0]+"_from_env", func(t *testing.T) {
			_, kctx := parse(t, args, envOf("BOOTSTRAP_OUTPUT", "json"))
			if !selectedCommand(kctx).(interface{ json() bool }).json() {
				t.Error("BOOTSTRAP_OUTPUT=json not applied")
			}
		})
	}
	var out, errw bytes.Buffer
	if got, want := run(t.Context(), []string{"version", "-o", "xml"}, &out, &errw, envOf()), exitUsage; got != want {
		t.Errorf("-o xml: exit = %d, want %d", got, want)
	}
}

func TestParse_conventions(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   func(string) string
		check func(t *testing.T, c *cli)
	}{
		{name: "no_color_flag", args: []string{"--no-color", "version"}, check: func(t *testing.T, c *cli) {
			if !c.NoColor {
				t.Error("--no-color not set")
			}
		}},
		{name: "no_color_env", args: []string{"version"}, env: envOf("BOOTSTRAP_NO_COLOR", "true"), check: func(t *testing.T, c *cli) {
			if !c.NoColor {
				t.Error("BOOTSTRAP_NO_COLOR not applied")
			}
		}},
		{name: "termination_log_default", args: []string{"run", "-p", "a"}, check: func(t *testing.T, c *cli) {
			if got, want := c.TerminationLog, "/dev/termination-log"; got != want {
				t.Errorf("termination log = %q, want %q", got, want)
			}
		}},
		{name: "termination_log_env", args: []string{"run", "-p", "a"}, env: envOf("BOOTSTRAP_TERMINATION_LOG", "/tmp/x"),
			check: func(t *testing.T, c *cli) {
				if got, want := c.TerminationLog, "/tmp/x"; got != want {
					t.Errorf("termination log = %q, want %q", got, want)
				}
			}},
		{name: "completion_fish", args: []string{"completion", "fish"}, check: func(t *testing.T, c *cli) {
			if got, want := c.Completion.Shell, "fish"; got != want {
				t.Errorf("shell = %q, want %q", got, want)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := parse(t, tt.args, tt.env)
			tt.check(t, c)
		})
	}
	var out, errw bytes.Buffer
	if got, want := run(t.Context(), []string{"completion", "ksh"}, &out, &errw, envOf()), exitUsage; got != want {
		t.Errorf("completion ksh: exit = %d, want %d", got, want)
	}
}

// A command whose output is data logs to stderr; run, wait, reset,
// rollback and unlock log to stdout.
func TestLogOutput_data_commands_log_to_stderr(t *testing.T) {
	tests := []struct {
		args       []string
		wantStderr bool
	}{
		{args: []string{"plan", "-p", "a"}, wantStderr: true},
		{args: []string{"status"}, wantStderr: true},
		{args: []string{"history"}, wantStderr: true},
		{args: []string{"validate"}, wantStderr: true},
		{args: []string{"version"}, wantStderr: true},
		{args: []string{"convert", "-p", "a"}, wantStderr: true},
		{args: []string{"completion", "bash"}, wantStderr: true},
		{args: []string{"wait", "-p", "a", "-o", "json"}, wantStderr: true},
		{args: []string{"run", "-p", "a", "--dry-run"}, wantStderr: true},
		{args: []string{"wait", "-p", "a"}, wantStderr: false},
		{args: []string{"run", "-p", "a"}, wantStderr: false},
		{args: []string{"-p", "a"}, wantStderr: false},
		{args: []string{"rollback", "-p", "a"}, wantStderr: false},
		{args: []string{"unlock"}, wantStderr: false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, "_"), func(t *testing.T) {
			_, kctx := parse(t, tt.args, nil)
			var stdout, stderr bytes.Buffer
			got := logOutput(kctx, &stdout, &stderr)
			if want := io.Writer(&stdout); tt.wantStderr {
				want = &stderr
				if got != want {
					t.Error("logs go to stdout, want stderr")
				}
			} else if got != want {
				t.Error("logs go to stderr, want stdout")
			}
		})
	}
}

// decodeOne checks that s is exactly one JSON document and decodes it.
func decodeOne(t *testing.T, s string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, s)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("stdout holds more than one JSON document (next: %v)\n%s", err, s)
	}
	if jq, err := exec.LookPath("jq"); err == nil {
		// jq alone accepts a stream of documents (a log line, then the data):
		// slurp them and count.
		cmd := exec.Command(jq, "-e", "-s", "length == 1")
		cmd.Stdin = strings.NewReader(s)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("jq: %v\n%s", err, out)
		}
	}
}

// runCLI runs a command line in-process and returns its exit code, stdout
// and stderr.
func runCLI(t *testing.T, env func(string) string, args ...string) (int, string, string) {
	t.Helper()
	if env == nil {
		env = envOf()
	}
	var out, errw bytes.Buffer
	code := run(t.Context(), args, &out, &errw, env)
	return code, out.String(), errw.String()
}

// The profile in testdata/warnings is shaped like a srvthreds run-profile
// with a TypeScript helper beside its Handler.ts: loading it logs a warning.
const warnWhat = "seeds.ts is ignored"

func TestRun_plan_json_is_valid_with_a_warning(t *testing.T) {
	code, stdout, stderr := runCLI(t, nil, "plan", "--profiles-dir", "testdata/warnings", "-p", "dev", "--offline", "-o", "json")
	if code != 0 {
		t.Fatalf("exit = %d; stderr: %s", code, stderr)
	}
	var plan []struct {
		Profile  string   `json:"profile"`
		Warnings []string `json:"warnings"`
	}
	decodeOne(t, stdout, &plan)
	if len(plan) != 1 || plan[0].Profile != "dev" || len(plan[0].Warnings) == 0 {
		t.Errorf("plan = %+v", plan)
	}
	if !strings.Contains(stderr, warnWhat) || !strings.Contains(stderr, `"level":"WARN"`) {
		t.Errorf("the warning is not logged on stderr: %q", stderr)
	}
}

func TestRun_data_commands_write_only_data_to_stdout(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{name: "plan_text", args: []string{"plan", "--profiles-dir", "testdata/warnings", "-p", "dev", "--offline"}},
		{name: "validate_text", args: []string{"validate", "--profiles-dir", "testdata/warnings"}},
		{name: "validate_json", args: []string{"validate", "--profiles-dir", "testdata/warnings", "-o", "json"}},
		{name: "run_dry_run_offline_unset", args: []string{"run", "--dry-run", "--profiles-dir", "testdata/warnings", "-p", "dev",
			"--mongo-uri", "mongodb://127.0.0.1:1/", "--connect-timeout", "200ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stdout, stderr := runCLI(t, nil, tt.args...)
			if strings.Contains(stdout, `"level"`) || strings.Contains(stdout, `"msg"`) {
				t.Errorf("a log line is on stdout:\n%s", stdout)
			}
			if !strings.Contains(stderr, warnWhat) {
				t.Errorf("the warning is not on stderr: %q", stderr)
			}
		})
	}
}

func TestRun_validate_json(t *testing.T) {
	t.Run("valid", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, nil, "validate", "--profiles-dir", "testdata/warnings", "-o", "json")
		if code != 0 {
			t.Fatalf("exit = %d; stderr: %s", code, stderr)
		}
		var rep validateReport
		decodeOne(t, stdout, &rep)
		if !rep.Valid || len(rep.Profiles) != 1 || rep.Profiles[0].Form != "srvthreds" || rep.Profiles[0].Steps == 0 ||
			len(rep.Profiles[0].Warnings) != 1 || len(rep.Problems) != 0 {
			t.Errorf("report = %+v", rep)
		}
	})
	t.Run("invalid_exits_3_with_the_problems", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, nil, "validate", "--profiles-dir", "testdata/invalid", "-o", "json")
		if got, want := code, exitInvalid; got != want {
			t.Fatalf("exit = %d, want %d; stderr: %s", got, want, stderr)
		}
		var rep validateReport
		decodeOne(t, stdout, &rep)
		if rep.Valid || len(rep.Problems) == 0 {
			t.Fatalf("report = %+v", rep)
		}
		p := rep.Problems[0]
		if p.File != "broken/data/items.json" || p.Line != 3 || p.Column == 0 || p.Message == "" {
			t.Errorf("problem = %+v, want file, line 3 and column", p)
		}
		if !strings.Contains(stderr, "bootstrap failed") {
			t.Errorf("the error is not logged on stderr: %q", stderr)
		}
	})
}

func TestRun_version_json_and_flag(t *testing.T) {
	code, flagOut, stderr := runCLI(t, nil, "--version")
	if code != 0 || stderr != "" {
		t.Fatalf("--version: exit = %d, stderr = %q", code, stderr)
	}
	_, cmdOut, _ := runCLI(t, nil, "version")
	if flagOut != cmdOut {
		t.Errorf("--version printed %q, version printed %q", flagOut, cmdOut)
	}
	code, stdout, _ := runCLI(t, nil, "version", "-o", "json")
	if code != 0 {
		t.Fatalf("version -o json: exit = %d", code)
	}
	var v versionReport
	decodeOne(t, stdout, &v)
	if v.Version != version || v.Commit != commit || v.Date != date || !strings.HasPrefix(v.Go, "go") {
		t.Errorf("version = %+v", v)
	}
}

// The run command logs to stdout, its errors included.
func TestRun_run_logs_to_stdout(t *testing.T) {
	code, stdout, stderr := runCLI(t, nil, "run", "--profiles-dir", "testdata/invalid", "-p", "broken", "--health-addr", "off")
	if got, want := code, exitInvalid; got != want {
		t.Fatalf("exit = %d, want %d", got, want)
	}
	if !strings.Contains(stdout, `"msg":"bootstrap failed"`) || stderr != "" {
		t.Errorf("stdout = %q, stderr = %q", stdout, stderr)
	}
}

// On a terminal the logs are pretty and coloured; --no-color and NO_COLOR
// keep them pretty without colour; elsewhere pretty has no colour.
func TestRun_colour_only_on_a_terminal(t *testing.T) {
	tests := []struct {
		name      string
		tty       bool
		args      []string
		env       func(string) string
		wantColor bool
	}{
		{name: "terminal", tty: true, wantColor: true},
		{name: "terminal_no_color_env", tty: true, env: envOf("NO_COLOR", "yes"), wantColor: false},
		{name: "terminal_no_color_flag", tty: true, args: []string{"--no-color"}, wantColor: false},
		{name: "terminal_bootstrap_no_color", tty: true, env: envOf("BOOTSTRAP_NO_COLOR", "1"), wantColor: false},
		{name: "pipe_pretty", args: []string{"--log-format", "pretty"}, wantColor: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env
			if env == nil {
				env = envOf()
			}
			args := append(slices.Clone(tt.args), "run", "--profiles-dir", "testdata/invalid", "-p", "broken", "--health-addr", "off")
			out := capture(t, tt.tty, func(w *os.File) {
				if got, want := run(t.Context(), args, w, io.Discard, env), exitInvalid; got != want {
					t.Errorf("exit = %d, want %d", got, want)
				}
			})
			if strings.HasPrefix(out, "{") || !strings.Contains(out, "bootstrap failed") {
				t.Fatalf("not the pretty format: %q", out)
			}
			if got := strings.Contains(out, "\x1b["); got != tt.wantColor {
				t.Errorf("colour = %v, want %v: %q", got, tt.wantColor, out)
			}
		})
	}
}

// capture runs f with a terminal (a pseudo-terminal) or a pipe and returns
// what f wrote to it.
func capture(t *testing.T, tty bool, f func(w *os.File)) string {
	t.Helper()
	var r, w *os.File
	var err error
	if tty {
		r, w, err = pty.Open()
	} else {
		r, w, err = os.Pipe()
	}
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	done := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r) // a pty's reader ends with EIO once w is closed
		done <- b
	}()
	f(w)
	w.Close()
	return string(<-done)
}

func TestCompletion_script_sources_in_bash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash is needed: ", err)
	}
	code, script, stderr := runCLI(t, nil, "completion", "bash")
	if code != 0 || stderr != "" {
		t.Fatalf("exit = %d, stderr = %q", code, stderr)
	}
	cmd := exec.Command(bash, "-c", `source <(cat) && complete -p bootstrap`)
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s\nscript:\n%s", err, out, script)
	}
	// The binary is found on PATH when the shell completes: no path of the
	// process that printed the script.
	if got, want := strings.TrimSpace(string(out)), "complete -C 'bootstrap' bootstrap"; got != want {
		t.Errorf("complete -p bootstrap = %q, want %q", got, want)
	}
}

func TestCompletion_scripts_for_zsh_and_fish(t *testing.T) {
	for shell, want := range map[string]string{"zsh": "bashcompinit", "fish": "complete -f -c bootstrap"} {
		t.Run(shell, func(t *testing.T) {
			code, script, _ := runCLI(t, nil, "completion", shell)
			if code != 0 || !strings.Contains(script, want) {
				t.Fatalf("exit = %d, script:\n%s", code, script)
			}
			if shell == "fish" && !strings.Contains(script, `set COMP_LINE "$COMP_LINE "`) {
				t.Errorf("the fish script lost its own variables:\n%s", script)
			}
			sh, err := exec.LookPath(shell)
			if err != nil {
				t.Skipf("%s is not installed; the script's shape is checked", shell)
			}
			cmd := exec.Command(sh, "-c", "source /dev/stdin")
			cmd.Stdin = strings.NewReader(script)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s: %v\n%s", shell, err, out)
			}
		})
	}
}

// The shell runs the binary with COMP_LINE set; it answers from kong's model.
func TestCompletion_answers_the_shell(t *testing.T) {
	tests := []struct {
		line string
		env  func(string) string
		want []string
	}{
		{line: "bootstrap run --profiles-dir testdata/invalid -p ", want: []string{"broken", "good"}},
		{line: "bootstrap status --profiles-dir=testdata/invalid -p go", want: []string{"good"}},
		{line: "bootstrap plan -p ", env: envOf("BOOTSTRAP_PROFILES_DIR", "testdata/warnings"), want: []string{"dev"}},
		{line: "bootstrap convert --profiles-dir testdata/warnings --profile ", want: []string{"dev"}},
		{line: "bootstrap help ru", want: []string{"run"}},
		{line: "bootstrap sta", want: []string{"status"}},
		{line: "bootstrap co", want: []string{"completion", "convert"}},
		{line: "bootstrap status -o ", want: []string{"json", "table", "text"}},
		{line: "bootstrap run --lock-", want: []string{"--lock-name", "--lock-ttl", "--lock-wait"}},
		{line: "bootstrap completion ", want: []string{"bash", "fish", "zsh"}},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.line, " ", "_"), func(t *testing.T) {
			t.Setenv("COMP_LINE", tt.line)
			t.Setenv("COMP_POINT", fmt.Sprint(len(tt.line)))
			code, stdout, stderr := runCLI(t, tt.env, "bootstrap")
			if code != 0 {
				t.Fatalf("exit = %d; stderr: %s", code, stderr)
			}
			got := strings.Fields(stdout)
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("completions = %v, want %v", got, tt.want)
			}
		})
	}
}

// writeTerminationLog creates an empty termination log, as the kubelet does.
func writeTerminationLog(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "termination-log")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRun_writes_the_termination_message(t *testing.T) {
	t.Run("invalid_profile", func(t *testing.T) {
		path := writeTerminationLog(t)
		code, _, _ := runCLI(t, nil, "run", "--profiles-dir", "testdata/invalid", "-p", "broken", "--health-addr", "off",
			"--termination-log", path)
		if got, want := code, exitInvalid; got != want {
			t.Fatalf("exit = %d, want %d", got, want)
		}
		msg := readFile(t, path)
		if !strings.HasPrefix(msg, "run: exit 3 (invalid profile); error: ") || !strings.Contains(msg, "items.json:3") ||
			strings.Contains(msg, "\n") {
			t.Errorf("termination message = %q", msg)
		}
	})
	t.Run("unreachable_without_the_password", func(t *testing.T) {
		path := writeTerminationLog(t)
		code, stdout, _ := runCLI(t, envOf("BOOTSTRAP_TERMINATION_LOG", path), "run", "--profiles-dir", "testdata/warnings",
			"-p", "dev", "--health-addr", "off", "--mongo-uri", "mongodb://admin:hunter2@127.0.0.1:1/?connectTimeoutMS=100",
			"--connect-timeout", "300ms")
		if got, want := code, exitUnreachable; got != want {
			t.Fatalf("exit = %d, want %d\n%s", got, want, stdout)
		}
		msg := readFile(t, path)
		if !strings.HasPrefix(msg, "run: exit 6 (MongoDB or Redis unreachable); error: ") || strings.Contains(msg, "hunter2") {
			t.Errorf("termination message = %q", msg)
		}
	})
	t.Run("absent_file_is_not_created", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "termination-log")
		runCLI(t, nil, "run", "--profiles-dir", "testdata/invalid", "-p", "broken", "--health-addr", "off", "--termination-log", path)
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stat %s: %v, want not exist", path, err)
		}
	})
	t.Run("data_commands_write_none", func(t *testing.T) {
		path := writeTerminationLog(t)
		runCLI(t, nil, "validate", "--profiles-dir", "testdata/invalid", "--termination-log", path)
		if msg := readFile(t, path); msg != "" {
			t.Errorf("validate wrote a termination message: %q", msg)
		}
	})
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
