package step

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/srvthreds/bootstrap/internal/panics"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/store"
)

// execGrace is how long a cancelled exec step's command has between SIGTERM
// and SIGKILL, and how long its output may stay open once it has exited
// (a background child that keeps stdout open does not hold the step).
const execGrace = 3 * time.Second

// execStderrTail is how many of the last stderr lines an exec step's error
// quotes.
const execStderrTail = 5

// execMaxLine bounds one logged line of output; longer lines are split.
const execMaxLine = 64 << 10

// execMaxQuoted bounds each stderr line quoted in an error.
const execMaxQuoted = 256

// execCommand runs the command of an exec step, an argument list without a
// shell:
//
//   - its environment is explicit (execEnviron): the variables of
//     execAllowEnv and those step.PassEnv names, from the runner's
//     environment, then step.Env over them; no other variable of the
//     runner (its database passwords, tokens) reaches the command;
//   - stdout and stderr are logged line by line, at info and warn, with
//     the field stream=stdout|stderr (with step.Quiet, only how many lines
//     each stream had, at the end); every line is a heartbeat to
//     env.Progress, and silence is not, so a command that hangs without a
//     word is caught by the stall watchdog; URLs and the values of the
//     step's variables (step.Env, step.PassEnv) are redacted from the
//     lines;
//   - it is bounded by step.Timeout (default 5m); on timeout or
//     cancellation the command's process group gets SIGTERM, then SIGKILL
//     after a grace of a few seconds;
//   - a non-zero exit fails the step with an error naming the command, the
//     exit code and the last stderr lines (redacted, at most
//     execStderrTailMax bytes: the error goes into the audit record).
//
// The command line is logged; secrets belong in the inherited environment
// or in files, never in the arguments. The step writes no documents its
// record could count (Written is 0).
type execCommand struct {
	grace time.Duration // a cancelled command's time to stop; zero: execGrace
}

// Apply applies the step.
func (a execCommand) Apply(ctx context.Context, env *Env, s profiles.Step) (store.StepRecord, error) {
	start := time.Now()
	rec := store.StepRecord{Name: s.Name(), Kind: s.Kind}
	result := func(err error) (store.StepRecord, error) {
		rec.DurationMs = time.Since(start).Milliseconds()
		return rec, err
	}
	e := s.Exec
	if e == nil {
		return result(errors.New("exec: step has no exec"))
	}
	if len(e.Command) == 0 || e.Command[0] == "" {
		return result(errors.New("exec: empty command"))
	}
	name := e.Command[0]
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = profiles.DefaultExecTimeout
	}
	log := env.Log

	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, e.Command[1:]...)
	stdout, stderr := execOutputs(cmd, env, e)
	setProcessGroup(cmd)
	cmd.Cancel = func() error { return terminateGroup(cmd) }
	cmd.WaitDelay = durationOr(a.grace, execGrace)

	attrs := []any{"command", e.Command, "timeout", timeout.String()}
	if len(e.Env) > 0 {
		attrs = append(attrs, "env", slices.Sorted(maps.Keys(e.Env))) // names only
	}
	if len(e.PassEnv) > 0 {
		attrs = append(attrs, "pass_env", e.PassEnv) // names only
	}
	log.Info("exec started", attrs...)
	err := cmd.Run()
	stdout.flush() // Run has returned: the copying goroutines are done
	stderr.flush()
	if e.Quiet {
		log.Info("exec output (quiet)", "stdout_lines", stdout.lines, "stderr_lines", stderr.lines)
	}
	if err == nil {
		return result(nil)
	}

	switch {
	case ctx.Err() != nil:
		if cmd.Process != nil {
			killGroup(cmd) // children that ignored SIGTERM
		}
		status := " (" + err.Error() + ")"
		if errors.Is(err, ctx.Err()) {
			status = ""
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && parent.Err() == nil {
			return result(fmt.Errorf("exec %s: stopped after the step timeout %s%s: %w", name, timeout, status, ctx.Err()))
		}
		return result(fmt.Errorf("exec %s: stopped%s: %w", name, status, ctx.Err()))
	case errors.Is(err, exec.ErrWaitDelay):
		// It exited 0, but something it started still holds its output.
		log.Warn("exec: command exited but left a process holding its output open", "command", e.Command)
		return result(nil)
	default:
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return result(fmt.Errorf("exec %s: %w", name, err))
		}
		msg := fmt.Sprintf("exec %s: exit code %d", name, exitErr.ExitCode())
		if exitErr.ExitCode() < 0 {
			msg = fmt.Sprintf("exec %s: %s", name, exitErr)
		}
		if tail := stderr.tailText(execStderrTailMax); tail != "" {
			msg += "; stderr: " + tail
		}
		return result(&execError{msg: msg, err: exitErr})
	}
}

// execError is a command's non-zero exit; it unwraps to the *exec.ExitError.
type execError struct {
	msg string
	err *exec.ExitError
}

func (e *execError) Error() string { return e.msg }
func (e *execError) Unwrap() error { return e.err }

// lineLogger logs what a command writes to one stream, a line at a time,
// and reports each line to progress. It is written by one goroutine of
// os/exec; flush and tail are used after the command is done.
type lineLogger struct {
	log      *slog.Logger
	level    slog.Level
	stream   string
	progress Progress
	keep     int  // how many of the last lines to keep in tail
	quiet    bool // count the lines, log none
	scrub    func(string) string

	buf   []byte
	tail  []string
	lines int
}

func (w *lineLogger) Write(p []byte) (n int, err error) {
	// os/exec calls Write on a goroutine of its own: a panic here would
	// end the program without a word.
	defer panics.Recover(w.log, "exec output", func(p error) { n, err = 0, p })
	n = len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			for len(w.buf) >= execMaxLine {
				w.emit(w.buf[:execMaxLine])
				w.buf = append(w.buf[:0], w.buf[execMaxLine:]...)
			}
			break
		}
		w.buf = append(w.buf, p[:i]...)
		w.emit(w.buf)
		w.buf = w.buf[:0]
		p = p[i+1:]
	}
	return n, nil
}

// flush logs a last line that had no newline.
func (w *lineLogger) flush() {
	if len(w.buf) > 0 {
		w.emit(w.buf)
		w.buf = w.buf[:0]
	}
}

func (w *lineLogger) emit(b []byte) {
	w.progress.Add(0)
	line := strings.TrimRight(string(b), "\r")
	if strings.TrimSpace(line) == "" {
		return
	}
	w.lines++
	if w.scrub != nil {
		line = w.scrub(line)
	}
	if !w.quiet {
		// The step's context is not kept in the writer; handlers get none.
		w.log.Log(context.Background(), w.level, "exec output", "stream", w.stream, "line", line)
	}
	if w.keep > 0 {
		if len(line) > execMaxQuoted {
			line = strings.ToValidUTF8(line[:execMaxQuoted], "") + "…"
		}
		if len(w.tail) == w.keep {
			w.tail = append(w.tail[:0], w.tail[1:]...)
		}
		w.tail = append(w.tail, line)
	}
}

// Writes: the step acts outside both stores.
// WritesRedis: what the command does is opaque, outside both stores.
func (execCommand) WritesRedis() bool { return false }

func (execCommand) Writes(*Env, profiles.Step) (*Writes, error) { return &Writes{Opaque: true}, nil }
