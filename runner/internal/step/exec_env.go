package step

import (
	"log/slog"
	"maps"
	"os/exec"
	"regexp"
	"slices"
	"strings"

	"github.com/srvthreds/bootstrap/internal/redact"
	"github.com/srvthreds/bootstrap/profiles"
)

// execAllowEnv are the variables of the runner's environment that every
// exec step's command gets (when set): what a program needs to find its
// tools, its home, its locale, its time zone, its CA certificates and a
// temporary directory. A step adds others by name (passEnv) or by value
// (env).
var execAllowEnv = []string{"PATH", "HOME", "TZ", "LANG", "LC_ALL", "SSL_CERT_FILE", "SSL_CERT_DIR", "TMPDIR"}

// execStderrTailMax bounds, in bytes, the stderr lines an exec step's
// error quotes (the error goes into the audit record).
const execStderrTailMax = 2 << 10

// execEnviron returns the environment of e's command as KEY=value, sorted
// by key: the variables of execAllowEnv and e.PassEnv that getenv has (a
// variable set to "" counts as unset), then e.Env, which wins over both.
func execEnviron(getenv func(string) string, e *profiles.ExecStep) []string {
	vars := map[string]string{}
	for _, k := range slices.Concat(execAllowEnv, e.PassEnv) {
		if v := getenv(k); v != "" {
			vars[k] = v
		}
	}
	maps.Copy(vars, e.Env)
	out := make([]string, 0, len(vars))
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		out = append(out, k+"="+vars[k])
	}
	return out
}

// execURL finds URLs and connection strings in a line of output.
var execURL = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>]+`)

// execScrubber returns what redacts a line of e's output: every URL or
// connection string reduced by redact.URI (no password, no query), and the
// values of the step's own variables (e.Env, and e.PassEnv's as found in
// environ) replaced by "xxxxx" (values of at least 4 bytes: shorter ones
// would mangle the text more than they would hide).
func execScrubber(environ []string, e *profiles.ExecStep) func(string) string {
	var secrets []string
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if _, named := e.Env[k]; (named || slices.Contains(e.PassEnv, k)) && len(v) >= 4 {
			secrets = append(secrets, v)
		}
	}
	// Longest first, so that a value is not partly replaced by a shorter one.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(secrets))
	for _, s := range slices.Compact(secrets) {
		pairs = append(pairs, s, httpRedacted)
	}
	values := strings.NewReplacer(pairs...)
	return func(line string) string {
		return values.Replace(execURL.ReplaceAllStringFunc(line, redact.URI))
	}
}

// tailText is the kept lines joined by " | ", the oldest dropped until the
// whole is at most max bytes.
func (w *lineLogger) tailText(max int) string {
	lines := w.tail
	for len(lines) > 0 && len(strings.Join(lines, " | ")) > max {
		lines = lines[1:]
	}
	return strings.Join(lines, " | ")
}

// execOutputs sets cmd's environment (execEnviron) and its stdout and
// stderr: loggers of their lines, redacted (execScrubber), stderr keeping
// its last lines for the error.
func execOutputs(cmd *exec.Cmd, env *Env, e *profiles.ExecStep) (stdout, stderr *lineLogger) {
	vars := execEnviron(env.Getenv, e)
	cmd.Env = vars
	scrub := execScrubber(vars, e)
	stdout = &lineLogger{log: env.Log, level: slog.LevelInfo, stream: "stdout", progress: env.Progress,
		quiet: e.Quiet, scrub: scrub}
	stderr = &lineLogger{log: env.Log, level: slog.LevelWarn, stream: "stderr", progress: env.Progress,
		keep: execStderrTail, quiet: e.Quiet, scrub: scrub}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return stdout, stderr
}
