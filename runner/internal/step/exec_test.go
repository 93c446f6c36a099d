package step

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/internal/testutil"
	"github.com/srvthreds/bootstrap/profiles"
)

func execTestStep(t *testing.T, timeout time.Duration, env map[string]string, command ...string) profiles.Step {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the exec step tests run sh")
	}
	return profiles.Step{Kind: profiles.KindExec, Index: 5,
		Exec: &profiles.ExecStep{Command: command, Timeout: timeout, Env: env}}
}

// outputLines returns the "exec output" log records as stream -> lines, and
// fails the test if a stream is logged at the wrong level.
func outputLines(t *testing.T, logs *testutil.Buffer) map[string][]string {
	t.Helper()
	levels := map[string]string{"stdout": "INFO", "stderr": "WARN"}
	out := map[string][]string{}
	for _, rec := range logs.Records(t) {
		if rec["msg"] != "exec output" {
			continue
		}
		stream, _ := rec["stream"].(string)
		line, _ := rec["line"].(string)
		if got, want := rec["level"], levels[stream]; got != want {
			t.Errorf("level of %s line %q = %v, want %v", stream, line, got, want)
		}
		out[stream] = append(out[stream], line)
	}
	return out
}

func TestApplyExecLogsOutput(t *testing.T) {
	env, progress, logs := testStepEnv(t, nil, nil)
	step := execTestStep(t, time.Minute, nil,
		"sh", "-c", `echo hello; echo "to stderr" >&2; echo world; printf 'no newline'`)

	rec, err := (execCommand{}).Apply(t.Context(), env, step)
	if err != nil {
		t.Fatalf("applyExec: %v", err)
	}
	if got, want := rec.Name, "5:exec"; got != want {
		t.Errorf("Name = %q, want %q", got, want)
	}
	lines := outputLines(t, logs)
	if got, want := strings.Join(lines["stdout"], ","), "hello,world,no newline"; got != want {
		t.Errorf("stdout lines = %q, want %q", got, want)
	}
	if got, want := strings.Join(lines["stderr"], ","), "to stderr"; got != want {
		t.Errorf("stderr lines = %q, want %q", got, want)
	}
	if got, want := progress.Beats(), int64(4); got != want {
		t.Errorf("progress reports = %d, want %d (one per line)", got, want)
	}
	if got := progress.Done(); got != 0 {
		t.Errorf("progress items = %d, want 0", got)
	}
}

func TestApplyExecExitCode(t *testing.T) {
	env, _, _ := testStepEnv(t, nil, nil)
	step := execTestStep(t, time.Minute, nil, "sh", "-c", "echo first >&2; echo oops >&2; exit 3")

	_, err := (execCommand{}).Apply(t.Context(), env, step)
	if err == nil {
		t.Fatal("applyExec: error = nil, want exit code 3")
	}
	for _, want := range []string{"exec sh", "exit code 3", "first | oops"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		t.Fatalf("error %v is not an *exec.ExitError", err)
	}
	if got, want := exitErr.ExitCode(), 3; got != want {
		t.Errorf("ExitCode() = %d, want %d", got, want)
	}
}

func TestApplyExecStderrTail(t *testing.T) {
	env, _, _ := testStepEnv(t, nil, nil)
	step := execTestStep(t, time.Minute, nil, "sh", "-c", "for i in 1 2 3 4 5 6 7; do echo line$i >&2; done; exit 1")

	_, err := (execCommand{}).Apply(t.Context(), env, step)
	if err == nil {
		t.Fatal("applyExec: error = nil, want exit code 1")
	}
	if got, want := err.Error(), "stderr: line3 | line4 | line5 | line6 | line7"; !strings.HasSuffix(got, want) {
		t.Errorf("error = %q, want it to end with the last %d lines %q", got, execStderrTail, want)
	}
}

func TestApplyExecTimeout(t *testing.T) {
	env, _, _ := testStepEnv(t, nil, nil)
	step := execTestStep(t, 200*time.Millisecond, nil, "sleep", "30")

	_, err := (execCommand{}).Apply(t.Context(), env, step)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("applyExec: error = %v, want context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "step timeout 200ms") {
		t.Errorf("error %q does not name the step timeout", err)
	}
}

func TestApplyExecCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	env, _, _ := testStepEnv(t, nil, nil)
	// Cancel the run once the command has said it started.
	env.Log = slog.New(cancelOnLine{Handler: env.Log.Handler(), line: "started", cancel: cancel})
	step := execTestStep(t, time.Minute, nil, "sh", "-c", "echo started; sleep 30")

	_, err := (execCommand{}).Apply(ctx, env, step)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("applyExec: error = %v, want context.Canceled", err)
	}
}

// cancelOnLine is a log handler that calls cancel when a record carries
// line=line.
type cancelOnLine struct {
	slog.Handler
	line   string
	cancel context.CancelFunc
}

func (h cancelOnLine) Handle(ctx context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "line" && a.Value.String() == h.line {
			h.cancel()
		}
		return true
	})
	return h.Handler.Handle(ctx, r)
}

func TestApplyExecEnv(t *testing.T) {
	runner := map[string]string{
		"PATH": os.Getenv("PATH"), "HOME": "/home/bootstrap", "TZ": "UTC",
		"BOOTSTRAP_MONGO_PASSWORD": "mongo-secret", "ENGINE_TOKEN": "engine-secret",
		"DATABASE_URL": "postgres://app@db/app", "OVERRIDDEN": "from-runner",
	}
	env, _, logs := testStepEnv(t, runner, nil)
	step := execTestStep(t, time.Minute, map[string]string{"STEP_VAR": "from-step", "OVERRIDDEN": "from-step-too"},
		"sh", "-c", `env | sort | grep -v '^PWD=\|^SHLVL=\|^_='`)
	step.Exec.PassEnv = []string{"DATABASE_URL", "UNSET_VAR"}

	if _, err := (execCommand{}).Apply(t.Context(), env, step); err != nil {
		t.Fatalf("applyExec: %v", err)
	}
	got := outputLines(t, logs)["stdout"]
	want := []string{"DATABASE_URL=xxxxx", "HOME=/home/bootstrap", "OVERRIDDEN=xxxxx",
		"PATH=" + os.Getenv("PATH"), "STEP_VAR=xxxxx", "TZ=UTC"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the command's environment (as logged):\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(logs.String(), "mongo-secret") || strings.Contains(logs.String(), "engine-secret") {
		t.Errorf("a runner secret reached the command: %s", logs)
	}
}

func TestApplyExecQuietLogsOnlyCounts(t *testing.T) {
	env, _, logs := testStepEnv(t, nil, nil)
	step := execTestStep(t, time.Minute, nil, "sh", "-c", `echo one; echo two; echo three >&2`)
	step.Exec.Quiet = true
	if _, err := (execCommand{}).Apply(t.Context(), env, step); err != nil {
		t.Fatalf("applyExec: %v", err)
	}
	if lines := outputLines(t, logs); len(lines) != 0 {
		t.Errorf("quiet step logged its output: %v", lines)
	}
	var found bool
	for _, rec := range logs.Records(t) {
		if rec["msg"] == "exec output (quiet)" {
			found = true
			if rec["stdout_lines"] != float64(2) || rec["stderr_lines"] != float64(1) {
				t.Errorf("counts %v, want 2 stdout and 1 stderr lines", rec)
			}
		}
	}
	if !found {
		t.Errorf("no line counts logged: %s", logs)
	}
}

func TestApplyExecStderrTailIsBoundedAndRedacted(t *testing.T) {
	env, _, logs := testStepEnv(t, map[string]string{"API_KEY": "pass-env-secret"}, nil)
	script := `for i in 1 2 3 4 5 6 7 8; do printf '%0300d\n' $i >&2; done
echo "connecting to mongodb://admin:Zm9v/YmFy+@mongo:27017/nr?authSource=admin" >&2
echo "token=$TOKEN key=$API_KEY url=https://h.test/x?sig=abc" >&2
exit 3`
	step := execTestStep(t, time.Minute, map[string]string{"TOKEN": "step-env-secret"}, "sh", "-c", script)
	step.Exec.PassEnv = []string{"API_KEY"}
	rec, err := (execCommand{}).Apply(t.Context(), env, step)
	if err == nil {
		t.Fatal("applyExec: nil error, want exit code 3")
	}
	msg := err.Error()
	if i := strings.Index(msg, "; stderr: "); i < 0 || len(msg)-i > execStderrTailMax+20 {
		t.Errorf("error of %d bytes, want the stderr tail within %d bytes: %q", len(msg), execStderrTailMax, msg)
	}
	if !strings.Contains(msg, "mongodb://admin:***@mongo:27017/nr") || !strings.Contains(msg, "token=xxxxx key=xxxxx") ||
		!strings.Contains(msg, "url=https://h.test/x") {
		t.Errorf("error %q, want the tail redacted", msg)
	}
	output := strings.Join(outputLines(t, logs)["stderr"], "\n") // the command line itself is logged as written
	for _, secret := range []string{"Zm9v/YmFy+", "step-env-secret", "pass-env-secret", "sig=abc"} {
		if strings.Contains(msg, secret) || strings.Contains(output, secret) || strings.Contains(rec.Error, secret) {
			t.Errorf("secret %q in the error or the log", secret)
		}
	}
}

func TestApplyExecStartErrors(t *testing.T) {
	tests := []struct {
		name    string
		command []string
		wantErr string
	}{
		{name: "not_found", command: []string{"/nonexistent/migrate"}, wantErr: "/nonexistent/migrate"},
		{name: "empty_command", command: nil, wantErr: "empty command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _, _ := testStepEnv(t, nil, nil)
			_, err := (execCommand{}).Apply(t.Context(), env, execTestStep(t, time.Minute, nil, tt.command...))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("applyExec: error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestApplyExecStopsTheProcessGroup runs a shell that ignores SIGTERM and
// starts a child that ignores it too: after the grace, both are killed.
func TestApplyExecStopsTheProcessGroup(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc")
	}
	env, _, logs := testStepEnv(t, nil, nil)
	step := execTestStep(t, 300*time.Millisecond, nil, "sh", "-c", `trap "" TERM; sleep 30 & echo $!; wait`)

	_, err := execCommand{grace: 100 * time.Millisecond}.Apply(t.Context(), env, step)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("apply: error = %v, want context.DeadlineExceeded", err)
	}
	lines := outputLines(t, logs)["stdout"]
	if len(lines) != 1 {
		t.Fatalf("stdout = %q, want the child's pid", lines)
	}
	child := lines[0]
	// The killed child is reaped by whoever adopted it; allow that plenty
	// of time.
	deadline := time.Now().Add(10 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + child + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") {
			return // gone, or dead and not yet reaped
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %s still running after the step stopped: %s", child, stat)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLineLogger(t *testing.T) {
	logs := &testutil.Buffer{}
	progress := &testutil.Progress{}
	w := &lineLogger{
		log:   slog.New(slog.NewJSONHandler(logs, nil)),
		level: slog.LevelWarn, stream: "stderr", progress: progress, keep: 2,
	}
	for _, chunk := range []string{"ab", "c\nde", "f\r\n", "\n", "g\nta", "il"} {
		if n, err := w.Write([]byte(chunk)); err != nil || n != len(chunk) {
			t.Fatalf("Write(%q) = %d, %v, want %d, nil", chunk, n, err, len(chunk))
		}
	}
	w.flush()

	if got, want := strings.Join(outputLines(t, logs)["stderr"], ","), "abc,def,g,tail"; got != want {
		t.Errorf("lines = %q, want %q", got, want)
	}
	if got, want := strings.Join(w.tail, ","), "g,tail"; got != want {
		t.Errorf("tail = %q, want %q", got, want)
	}
	if got, want := progress.Beats(), int64(5); got != want {
		t.Errorf("progress reports = %d, want %d (empty lines count)", got, want)
	}
}

func TestExecEnviron(t *testing.T) {
	getenv := func(k string) string {
		return map[string]string{"PATH": "/bin", "LANG": "C.UTF-8", "A": "1", "SECRET": "s", "EMPTY": ""}[k]
	}
	e := &profiles.ExecStep{PassEnv: []string{"A", "EMPTY"}, Env: map[string]string{"C": "3", "A": "9"}}
	got := execEnviron(getenv, e)
	if want := "A=9,C=3,LANG=C.UTF-8,PATH=/bin"; strings.Join(got, ",") != want {
		t.Errorf("execEnviron = %q, want %q", got, want)
	}
}
