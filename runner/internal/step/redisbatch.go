package step

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/srvthreds/bootstrap/internal/mongox"
	"github.com/srvthreds/bootstrap/internal/redisx"
)

// ExecRedis runs the commands queue queues as one batch through env.Guard
// (fenced by the lock: see lease.Session.ExecRedis), or, unfenced, as a
// MULTI/EXEC transaction (on a Cluster, one per slot). It returns each
// command's reply, in order. A lock found lost is store.ErrFenced.
// Transient errors are retried (the batch is idempotent).
func ExecRedis(ctx context.Context, env *Env, queue func(redis.Pipeliner) error) ([]any, error) {
	probe := env.Redis.Pipeline() // collects the commands; never executed
	if err := queue(probe); err != nil {
		return nil, err
	}
	cmds := probe.Cmds()
	if env.Guard != nil {
		return env.Guard.ExecRedis(ctx, env.Redis, env.Log, cmds)
	}
	var out []any
	err := mongox.Retry(ctx, env.Log, nil, func(ctx context.Context) error {
		var err error
		out, err = redisx.Exec(ctx, env.Redis, cmds)
		return err
	})
	return out, err
}

// replyInt is a script or transaction reply as an integer (0 otherwise).
func replyInt(v any) int64 {
	n, _ := v.(int64)
	return n
}
