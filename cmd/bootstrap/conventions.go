package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"reflect"

	"github.com/alecthomas/kong"
	"golang.org/x/term"
)

// conventions are the global flags and commands that users of command line
// tools expect: --version, --no-color and NO_COLOR, the
// termination message's path, and shell completion.
type conventions struct {
	ShowVersion    versionFlag `name:"version" help:"Print version, commit and build date, and exit (same as the version command)."`
	NoColor        bool        `help:"No colour in the pretty log format (NO_COLOR, with any value, does the same)." env:"BOOTSTRAP_NO_COLOR"`
	TerminationLog string      `help:"File that run, reset and rollback write a one-line summary to at exit, when it exists (Kubernetes' terminationMessagePath)." default:"/dev/termination-log" env:"BOOTSTRAP_TERMINATION_LOG" placeholder:"PATH"`

	Completion completionCmd `kong:"-"` // a command of cli.commands
}

// versionFlag is --version: it prints what `bootstrap version` prints and
// exits 0 before any command runs.
type versionFlag bool

// BeforeReset prints the version and exits.
func (versionFlag) BeforeReset(app *kong.Kong) error {
	if err := writeVersion(app.Stdout, currentBuild(), false); err != nil {
		return err
	}
	app.Exit(exitOK)
	return nil
}

// currentBuild is what the Makefile set.
func currentBuild() *buildInfo {
	return &buildInfo{Version: version, Commit: commit, Date: date}
}

// dataCommand is implemented by the commands whose stdout is data:
// plan, status, history, validate, version, convert, completion, and any
// command given -o json (wait, run, reset, rollback, unlock). Their log
// lines go to stderr so that stdout stays parseable; otherwise run, wait,
// reset, rollback and unlock log to stdout.
type dataCommand interface {
	dataOnStdout() bool
}

func (*planCmd) dataOnStdout() bool       { return true }
func (*statusCmd) dataOnStdout() bool     { return true }
func (*historyCmd) dataOnStdout() bool    { return true }
func (*validateCmd) dataOnStdout() bool   { return true }
func (*versionCmd) dataOnStdout() bool    { return true }
func (*convertCmd) dataOnStdout() bool    { return true }
func (*completionCmd) dataOnStdout() bool { return true }
func (c *waitCmd) dataOnStdout() bool     { return c.json() }
func (c *runCmd) dataOnStdout() bool      { return c.DryRun || c.json() } // the plan, or the report
func (c *resetCmd) dataOnStdout() bool    { return c.json() }
func (c *rollbackCmd) dataOnStdout() bool { return c.json() }
func (c *unlockCmd) dataOnStdout() bool   { return c.json() }

// selectedCommand returns the struct of the command kong selected (a
// pointer), or nil.
func selectedCommand(kctx *kong.Context) any {
	n := kctx.Selected()
	if n == nil || !n.Target.IsValid() {
		return nil
	}
	t := n.Target
	if t.Kind() != reflect.Pointer && t.CanAddr() {
		t = t.Addr()
	}
	return t.Interface()
}

// logOutput is where the selected command's log lines go.
func logOutput(kctx *kong.Context, stdout, stderr io.Writer) io.Writer {
	if d, ok := selectedCommand(kctx).(dataCommand); ok && d.dataOnStdout() {
		return stderr
	}
	return stdout
}

// logSetup is how the logger is made for one command line.
type logSetup struct {
	w      io.Writer
	format string // json, pretty or text ("auto" resolved)
	level  string
	color  bool // pretty format only
}

// newLogSetup resolves the log writer, the format and colour: pretty is
// chosen automatically only when the log writer is a terminal, and colour is
// used only on a terminal, unless --no-color or NO_COLOR (any non-empty
// value) turns it off (https://no-color.org).
func (c *cli) newLogSetup(kctx *kong.Context, stdout, stderr io.Writer, getenv func(string) string) logSetup {
	w := logOutput(kctx, stdout, stderr)
	tty := isTerminal(w)
	s := logSetup{w: w, format: c.LogFormat, level: c.LogLevel}
	if s.format == "auto" {
		s.format = "json"
		if tty {
			s.format = "pretty"
		}
	}
	s.color = tty && !c.NoColor && (getenv == nil || getenv("NO_COLOR") == "")
	return s
}

// logger returns the logger of the setup.
func (s logSetup) logger() *slog.Logger {
	return newLogger(s.w, s.format, s.level, s.color)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// outputFlag is -o of the commands that print a report: a table (or plain
// text) for people, or one JSON document.
type outputFlag struct {
	Output string `short:"o" help:"Output format: table or json (text is the same as table)." enum:"table,text,json" default:"table" env:"BOOTSTRAP_OUTPUT"`
}

// json reports whether -o json was given.
func (o *outputFlag) json() bool { return o.Output == "json" }

// writeJSON writes v as one indented JSON document.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
