package conn

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// RedisLog is go-redis's logger (redis.SetLogger) writing to a slog.Logger,
// so that a process's logs stay in one format: each line go-redis prints
// (a pool that cannot dial, a Cluster or Sentinel that changes) becomes a
// warning of source "go-redis". go-redis's logger is one for the whole
// process: only the command's main sets it.
type RedisLog struct{ Log *slog.Logger }

// Printf logs one go-redis line.
func (l RedisLog) Printf(ctx context.Context, format string, v ...any) {
	if l.Log == nil {
		return
	}
	l.Log.WarnContext(ctx, strings.TrimSpace(fmt.Sprintf(format, v...)), "source", "go-redis")
}
