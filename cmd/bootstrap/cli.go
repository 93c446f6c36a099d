package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"github.com/lmittmann/tint"
	"github.com/srvthreds/bootstrap/internal/panics"
)

// cli is the command line. `bootstrap -p A` without a command
// means `bootstrap run -p A`.
type cli struct {
	LogFormat string `help:"Log format: auto (pretty on a terminal, else json), json, pretty or text." enum:"auto,json,pretty,text" default:"auto" env:"BOOTSTRAP_LOG_FORMAT"`
	LogLevel  string `help:"Log level: debug, info, warn or error." enum:"debug,info,warn,error" default:"info" env:"BOOTSTRAP_LOG_LEVEL"`

	// The commands are given to kong by commands (kong.DynamicCommand), in
	// this order, so that a process builds the model of the one it runs
	// only (see commandInArgs).
	Run      runCmd      `kong:"-"`
	Plan     planCmd     `kong:"-"`
	Validate validateCmd `kong:"-"`
	Status   statusCmd   `kong:"-"`
	History  historyCmd  `kong:"-"`
	Wait     waitCmd     `kong:"-"`
	Unlock   unlockCmd   `kong:"-"`
	Rollback rollbackCmd `kong:"-"`
	Reset    resetCmd    `kong:"-"`
	Convert  convertCmd  `kong:"-"`
	Version  versionCmd  `kong:"-"`
	HelpCmd  helpCmd     `kong:"-"`

	conventions
}

// buildInfo is set by the Makefile and bound for the commands.
type buildInfo struct {
	Version, Commit, Date string
}

// stdio is where commands print their reports (logs go to the logger).
type stdio struct {
	Out    io.Writer
	Err    io.Writer
	Env    func(string) string
	Pretty bool // the logs are for a person at a terminal
	// Shutdown is the process's handling of signals (nil in tests that
	// run a command in-process): the cleanup deadline after a signal, the
	// lease to release on a forced exit.
	Shutdown *shutdown
	// RedisLog, when set (by main: go-redis's logger is one for the whole
	// process), routes go-redis's own lines into the command's logger.
	RedisLog func(*slog.Logger)
}

type exitPanic int

// command is one command of the command line.
type command struct {
	name, help string
	target     any // pointer to the command's field of the cli
	tags       []string
}

// commands are the commands of c, in the order of the help.
func (c *cli) commands() []command {
	return []command{
		{"run", "Apply profiles under the lock (the default command).", &c.Run, []string{`default:"withargs"`}},
		{"plan", "Show what a run would do, without writing.", &c.Plan, nil},
		{"validate", "Validate profiles (no network).", &c.Validate, nil},
		{"status", "Show applied versions and the lock holder.", &c.Status, nil},
		{"history", "Show audit records, newest first.", &c.History, nil},
		{"wait", "Block until the named profiles are applied at this image's versions.", &c.Wait, nil},
		{"unlock", "Break a stale lock.", &c.Unlock, nil},
		{"rollback", "Restore a profile to an earlier version from its snapshots.", &c.Rollback, nil},
		{"reset", "Run the profiles' resets only, under the lock (the legacy -c); their next run applies them again.", &c.Reset, nil},
		{"convert", "Write the manifest form of a srvthreds-form profile (Handler.ts included).", &c.Convert, nil},
		{"version", "Print version, commit and build date.", &c.Version, nil},
		{"completion", "Print a shell completion script: bash, zsh or fish.", &c.Completion, nil},
		{"help", "Show the help of a command, with its examples: bootstrap help run.", &c.HelpCmd, nil},
	}
}

// newParser returns the kong parser of the whole command line, writing help
// and usage errors to out and errw.
func newParser(c *cli, out, errw io.Writer, getenv func(string) string) (*kong.Kong, error) {
	return newParserFor(c, out, errw, getenv, "")
}

// newParserFor is newParser with the model of the command only when only
// is not empty. Building kong's model of every command and flag costs more
// than the rest of a process's start (milliseconds of reflection and tag
// parsing), so run builds only the one that a command line names.
func newParserFor(c *cli, out, errw io.Writer, getenv func(string) string, only string) (*kong.Kong, error) {
	opts := []kong.Option{
		kong.Name("bootstrap"),
		kong.Description("Apply configuration profiles to MongoDB and Redis, once per version, under a distributed lock."),
		kong.UsageOnError(),
		kong.Writers(out, errw),
		kong.Exit(func(code int) { panic(exitPanic(code)) }),
		kong.Resolvers(envResolver(getenv)),
		kong.ExplicitGroups(flagGroups()),
	}
	for _, cmd := range c.commands() {
		if only == "" || cmd.name == only {
			opts = append(opts, kong.DynamicCommand(cmd.name, cmd.help, "", cmd.target, cmd.tags...))
		}
	}
	return kong.New(c, opts...)
}

// globalValueFlags are the flags before a command that take a value in the
// next argument.
var globalValueFlags = []string{"--log-format", "--log-level", "--termination-log"}

// commandInArgs returns the command that args name before any flag of a
// command, or "" when the whole model is needed: no command named (run is
// the default, and its flags may come first), help, --version, completion
// (COMP_LINE) or anything unexpected.
func commandInArgs(c *cli, args []string, getenv func(string) string) string {
	if getenv("COMP_LINE") != "" {
		return ""
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-h" || a == "--help" || a == "--version" || a == "--":
			return ""
		case slices.Contains(globalValueFlags, a):
			i++ // its value
		case strings.HasPrefix(a, "--log-format=") || strings.HasPrefix(a, "--log-level=") ||
			strings.HasPrefix(a, "--termination-log=") || a == "--no-color" || strings.HasPrefix(a, "--no-color="):
		case strings.HasPrefix(a, "-"):
			return "" // a command's flag before any command: run's, or a usage error
		default:
			for _, cmd := range c.commands() {
				if cmd.name == a && a != "help" && !slices.ContainsFunc(args[i+1:], isHelpFlag) {
					return a
				}
			}
			return ""
		}
	}
	return ""
}

func isHelpFlag(a string) bool { return a == "-h" || a == "--help" }

// execute parses args, runs the command with the process's io and returns
// the exit code.
func execute(ctx context.Context, args []string, pio stdio) (code int) {
	stdout, stderr, getenv := pio.Out, pio.Err, pio.Env
	var c cli
	only := commandInArgs(&c, args, getenv)
	parser, err := newParserFor(&c, stdout, stderr, getenv, only)
	if err != nil {
		fmt.Fprintln(stderr, "bootstrap:", err)
		return exitInternal
	}
	var log *slog.Logger
	var kctx *kong.Context
	var t0 time.Time
	defer func() {
		if r := recover(); r != nil {
			code = recovered(r, log, stderr)
			if _, kong := r.(exitPanic); !kong {
				pio.Shutdown.releaseHeld() // a panic under the lock: don't block the others for a ttl
				if !t0.IsZero() {
					writeReport(kctx, stdout, code, fmt.Errorf("panic: %v", r), time.Since(t0), log)
				}
			}
		}
	}()
	completeIfAsked(parser, getenv)
	kctx, err = parser.Parse(args)
	if err != nil && only != "" {
		// Report the error against the whole command line, as always.
		c = cli{}
		if parser, err = newParser(&c, stdout, stderr, getenv); err == nil {
			kctx, err = parser.Parse(args)
		}
	}
	if err == nil {
		err = checkDurations(kctx)
	}
	if err != nil {
		parser.Errorf("%s", err)
		return exitUsage
	}
	logs := c.newLogSetup(kctx, stdout, stderr, getenv)
	log = logs.logger()
	if pio.RedisLog != nil {
		pio.RedisLog(log)
	}
	kctx.BindTo(ctx, (*context.Context)(nil))
	kctx.Bind(log)
	kctx.Bind(&buildInfo{Version: version, Commit: commit, Date: date})
	pio.Pretty = logs.format == "pretty"
	kctx.Bind(&pio)
	t0 = time.Now()
	err = kctx.Run()
	code = exitCode(err)
	if err != nil {
		logFailure(log, logs.format, stderr, kctx.Command(), code, err)
	}
	writeReport(kctx, stdout, code, err, time.Since(t0), log)
	c.writeTermination(kctx, code, err, log)
	return code
}

// recovered is the exit code of a panic that reached run: kong's exit
// request, or a bug, logged with its stack (to a JSON logger on stderr when
// the command's logger was not set up yet) and exit 1, retryable, like any
// internal error.
func recovered(r any, log *slog.Logger, stderr io.Writer) int {
	if ec, ok := r.(exitPanic); ok {
		return int(ec)
	}
	if log == nil {
		log = newLogger(stderr, "json", "error", false)
	}
	err := &panics.Error{Where: "main", Value: r, Stack: debug.Stack()}
	panics.Log(log, err)
	log.Error("bootstrap failed", "exit_code", exitInternal, "err", err)
	return exitInternal
}

// envResolver makes kong read env through getenv (so tests need not touch
// the process environment). kong's own env tag lookup reads os.Getenv; this
// resolver is consulted for flags whose env tag names a variable set in
// getenv.
func envResolver(getenv func(string) string) kong.Resolver {
	return kong.ResolverFunc(func(_ *kong.Context, _ *kong.Path, flag *kong.Flag) (any, error) {
		if getenv == nil {
			return nil, nil
		}
		for _, name := range flag.Envs {
			if v := getenv(name); v != "" {
				return v, nil
			}
		}
		return nil, nil
	})
}

// newLogger returns the logger: JSON (the default), pretty (tint,
// coloured when color is true) or text.
func newLogger(w io.Writer, format, level string, color bool) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(level))
	var h slog.Handler
	switch format {
	case "pretty":
		h = tint.NewTextHandler(w, &tint.Options{Level: lvl, ReplaceAttr: redactAttr, TimeFormat: "15:04:05.000", NoColor: !color})
	case "text":
		h = slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl, ReplaceAttr: redactAttr})
	default:
		h = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl, ReplaceAttr: redactAttr})
	}
	return slog.New(h)
}

// redactAttr is a last line of defence: no attribute whose key names a
// secret reaches a log line.
func redactAttr(_ []string, a slog.Attr) slog.Attr {
	k := strings.ToLower(a.Key)
	if strings.Contains(k, "password") || strings.Contains(k, "secret") || k == "token" {
		return slog.String(a.Key, "[redacted]")
	}
	return a
}
