package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/alecthomas/kong"
	"github.com/lmittmann/tint"
	"github.com/srvthreds/bootstrap/internal/panics"
)

// cli is the command line (SPEC §3). `bootstrap -p A` without a command
// means `bootstrap run -p A`.
type cli struct {
	LogFormat string `help:"Log format: auto (pretty on a terminal, else json), json, pretty or text." enum:"auto,json,pretty,text" default:"auto" env:"BOOTSTRAP_LOG_FORMAT"`
	LogLevel  string `help:"Log level: debug, info, warn or error." enum:"debug,info,warn,error" default:"info" env:"BOOTSTRAP_LOG_LEVEL"`

	Run      runCmd      `cmd:"" default:"withargs" help:"Apply profiles under the lock (the default command)."`
	Plan     planCmd     `cmd:"" help:"Show what a run would do, without writing."`
	Validate validateCmd `cmd:"" help:"Validate profiles (no network)."`
	Status   statusCmd   `cmd:"" help:"Show applied versions and the lock holder."`
	History  historyCmd  `cmd:"" help:"Show audit records, newest first."`
	Wait     waitCmd     `cmd:"" help:"Block until the named profiles are applied at this image's versions."`
	Unlock   unlockCmd   `cmd:"" help:"Break a stale lock."`
	Rollback rollbackCmd `cmd:"" help:"Restore a profile to an earlier version from its snapshots."`
	Reset    resetCmd    `cmd:"" help:"Run the profiles' resets only, under the lock (the legacy -c); their next run applies them again."`
	Convert  convertCmd  `cmd:"" help:"Write the manifest form of a srvthreds-form profile (Handler.ts included)."`
	Version  versionCmd  `cmd:"" help:"Print version, commit and build date."`

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
}

type exitPanic int

// newParser returns the kong parser of the command line, writing help and
// usage errors to out and errw.
func newParser(c *cli, out, errw io.Writer, getenv func(string) string) (*kong.Kong, error) {
	return kong.New(c,
		kong.Name("bootstrap"),
		kong.Description("Apply configuration profiles to MongoDB and Redis, once per version, under a distributed lock."),
		kong.UsageOnError(),
		kong.Writers(out, errw),
		kong.Exit(func(code int) { panic(exitPanic(code)) }),
		kong.Resolvers(envResolver(getenv)),
	)
}

// run parses args, runs the command and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) (code int) {
	var c cli
	parser, err := newParser(&c, stdout, stderr, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "bootstrap:", err)
		return exitInternal
	}
	var log *slog.Logger
	defer func() {
		if r := recover(); r != nil {
			code = recovered(r, log, stderr)
			if _, kong := r.(exitPanic); !kong {
				shutdownFrom(ctx).releaseHeld() // a panic under the lock: don't block the others for a ttl
			}
		}
	}()
	completeIfAsked(parser)
	kctx, err := parser.Parse(args)
	if err == nil {
		err = checkDurations(kctx)
	}
	if err != nil {
		parser.Errorf("%s", err)
		return exitUsage
	}
	logs := c.newLogSetup(kctx, stdout, stderr, getenv)
	log = logs.logger()
	kctx.BindTo(ctx, (*context.Context)(nil))
	kctx.Bind(log)
	kctx.Bind(&buildInfo{Version: version, Commit: commit, Date: date})
	kctx.Bind(&stdio{Out: stdout, Err: stderr, Env: getenv, Pretty: logs.format == "pretty"})
	err = kctx.Run()
	code = exitCode(err)
	if err != nil {
		log.Error("bootstrap failed", "command", kctx.Command(), "exit_code", code, "err", err)
	}
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

// newLogger returns the logger of SPEC §7: JSON (the default), pretty (tint,
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
