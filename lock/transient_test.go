package lock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestIsTransient(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"canceled", fmt.Errorf("op: %w", context.Canceled), false},
		{"deadline", fmt.Errorf("op: %w", context.DeadlineExceeded), false},
		{"client_closed_by_its_owner", fmt.Errorf("op: %w", redis.ErrClosed), false},
		{"script_error", replyError("ERR user_script:1: wrong number of arguments"), false},
		{"wrong_reply", errors.New("lock: unexpected reply"), false},
		{"pool_timeout", redis.ErrPoolTimeout, true},
		{"eof", fmt.Errorf("read: %w", io.EOF), true},
		{"conn_refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"conn_closed", fmt.Errorf("write: %w", net.ErrClosed), true},
		{"loading", replyError("LOADING Redis is loading the dataset in memory"), true},
		{"loading_wrapped", fmt.Errorf("acquire: %w", replyError("LOADING Redis is loading the dataset in memory")), true},
		{"readonly_wrapped", fmt.Errorf("refresh: %w", replyError("READONLY You can't write against a read only replica.")), true},
		{"clusterdown_wrapped", fmt.Errorf("release: %w", replyError("CLUSTERDOWN The cluster is down")), true},
		{"tryagain_wrapped", fmt.Errorf("x: %w", replyError("TRYAGAIN Multiple keys request during rehashing of slot")), true},
		{"masterdown_wrapped", fmt.Errorf("x: %w", replyError("MASTERDOWN Link with MASTER is down")), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsTransient(tt.err); got != tt.want {
				t.Errorf("IsTransient(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
