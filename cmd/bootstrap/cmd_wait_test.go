package main

import (
	"context"
	"errors"
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
