package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// procResult is one finished local process.
type procResult struct {
	Wall   time.Duration // from just before start to just after exit
	CPU    time.Duration // user + system time of the process and its children
	MinFlt int64         // minor page faults of the process
	Code   int
	Stdout string
	Stderr string
}

// proc describes a local process to run.
type proc struct {
	Dir  string
	Env  []string // added to this process's environment
	Name string
	Args []string
}

// run runs p to completion and measures it. A non-zero exit is not an
// error: see procResult.Code.
func (p proc) run(ctx context.Context) (procResult, error) {
	var stdout, stderr bytes.Buffer
	c := exec.CommandContext(ctx, p.Name, p.Args...)
	c.Dir = p.Dir
	c.Env = append(os.Environ(), p.Env...)
	c.Stdout, c.Stderr = &stdout, &stderr
	t0 := time.Now()
	err := c.Run()
	wall := time.Since(t0)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return procResult{}, fmt.Errorf("run %s: %w", p.Name, err)
	}
	r := procResult{Wall: wall, Code: c.ProcessState.ExitCode(), Stdout: stdout.String(), Stderr: stderr.String()}
	r.CPU = c.ProcessState.UserTime() + c.ProcessState.SystemTime()
	if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.MinFlt = ru.Minflt
	}
	return r, nil
}

// mustSucceed returns an error quoting the process's output when it did
// not exit 0.
func (r procResult) mustSucceed(what string) error {
	if r.Code == 0 {
		return nil
	}
	return fmt.Errorf("%s exited %d:\n%s%s", what, r.Code, tail(r.Stdout, 2000), tail(r.Stderr, 2000))
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// logLine is one JSON log line of the runner.
type logLine map[string]any

// str returns the string value of key, or "".
func (l logLine) str(key string) string {
	s, _ := l[key].(string)
	return s
}

// num returns the numeric value of key, or 0.
func (l logLine) num(key string) float64 {
	n, _ := l[key].(float64)
	return n
}

// parseLogLine decodes one line of JSON output; ok is false for other lines.
func parseLogLine(line string) (logLine, bool) {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "{") {
		return nil, false
	}
	var l logLine
	if err := json.Unmarshal([]byte(line), &l); err != nil {
		return nil, false
	}
	return l, true
}

// parseLogs decodes the JSON lines of out, skipping any other line.
func parseLogs(out string) []logLine {
	var lines []logLine
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		if l, ok := parseLogLine(sc.Text()); ok {
			lines = append(lines, l)
		}
	}
	return lines
}

// summary returns the run_summary line of a run's logs.
func summary(lines []logLine) (logLine, bool) {
	for _, l := range lines {
		if l.str("event") == "run_summary" {
			return l, true
		}
	}
	return nil, false
}

// outcomes returns the profile_outcome lines of a run's logs.
func outcomes(lines []logLine) []logLine {
	var out []logLine
	for _, l := range lines {
		if l.str("event") == "profile_outcome" {
			out = append(out, l)
		}
	}
	return out
}
