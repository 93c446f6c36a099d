package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/conn"
)

func TestWait_connect_failure_exit_code(t *testing.T) {
	unreachable := &conn.UnreachableError{Service: "MongoDB", Addr: "mongo:27017", Err: context.DeadlineExceeded}
	tests := []struct {
		name             string
		connect, timeout time.Duration
		cause            error
		want             int
	}{
		{"unreachable_for_the_connect_timeout", time.Minute, 5 * time.Minute, nil, exitUnreachable},
		{"wait_timeout_shorter", 2 * time.Minute, time.Minute, nil, exitNotAcquired},
		{"equal_timeouts_are_the_wait", time.Minute, time.Minute, nil, exitNotAcquired},
		{"interrupted", time.Minute, 5 * time.Minute, &signalError{sig: syscall.SIGTERM}, 143},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(t.Context())
			defer cancel(nil)
			if tt.cause != nil {
				cancel(tt.cause)
			}
			c := waitCmd{Timeout: tt.timeout}
			c.ConnectTimeout = tt.connect
			err := c.connectFailed(ctx, unreachable)
			if got := exitCode(err); got != tt.want {
				t.Errorf("exit %d (%v), want %d", got, err, tt.want)
			}
			if !errors.Is(err, unreachable) {
				t.Errorf("%v does not say MongoDB was not reached", err)
			}
		})
	}
}

// MongoDB refusing connections (nothing listens on loopback port 1): exit 6
// when the connect timeout ends first, 4 when the wait's does.
func TestWait_mongo_down_exit_code(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "cfg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cfg", "profile.yaml"), []byte("steps: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name             string
		connect, timeout string
		want             int
	}{
		{"unreachable_for_the_connect_timeout", "300ms", "1m", exitUnreachable},
		{"the_wait_ends_first", "1m", "300ms", exitNotAcquired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errw bytes.Buffer
			args := []string{"wait", "--profiles-dir", dir, "-p", "cfg", "--mongo-uri", "mongodb://127.0.0.1:1/?directConnection=true",
				"--connect-timeout", tt.connect, "--timeout", tt.timeout}
			if got := run(t.Context(), args, &out, &errw, envOf()); got != tt.want {
				t.Errorf("exit %d, want %d; stdout:\n%s\nstderr:\n%s", got, tt.want, out.String(), errw.String())
			}
		})
	}
}
