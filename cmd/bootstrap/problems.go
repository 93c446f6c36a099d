package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/srvthreds/bootstrap/profiles"
)

// logFailure logs the error that ends a command. Problems of profiles or of
// a run's secrets (a *profiles.ValidationError) are shown the way a
// compiler shows them: with text or pretty logs, one problem a line on
// stderr, "file:line:col: field: message", then a one-line summary, which
// the log record repeats; with JSON logs, one record whose "problems" list
// holds those lines (nothing else is written to stderr).
func logFailure(log *slog.Logger, format string, stderr io.Writer, command string, code int, err error) {
	var verr *profiles.ValidationError
	if !errors.As(err, &verr) {
		log.Error("bootstrap failed", "command", command, "exit_code", code, "err", err)
		return
	}
	lines := problemLines(verr)
	sum := problemSummary(verr)
	if format == "json" {
		log.Error("bootstrap failed", "command", command, "exit_code", code, "err", sum, "problems", lines)
		return
	}
	for _, l := range lines {
		fmt.Fprintln(stderr, l)
	}
	fmt.Fprintln(stderr, sum)
	log.Error("bootstrap failed", "command", command, "exit_code", code, "err", sum)
}

// problemLines are the problems of e, "file:line:col: field: message" each.
func problemLines(e *profiles.ValidationError) []string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return lines
}

// problemSummary is "3 problems in 2 profiles", with the problems not
// listed (--max-problems) counted in and said.
func problemSummary(e *profiles.ValidationError) string {
	seen := map[string]bool{}
	for _, p := range e.Problems {
		if p.Profile != "" {
			seen[p.Profile] = true
		}
	}
	n := len(e.Problems) + e.More
	s := plural(n, "problem")
	if len(seen) > 0 {
		s += " in " + plural(len(seen), "profile")
	}
	if e.More > 0 {
		s += fmt.Sprintf(" (%d not listed, see --max-problems)", e.More)
	}
	return s
}

// plural is "1 problem" or "n problems".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
