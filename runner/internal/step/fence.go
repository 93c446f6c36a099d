package step

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/srvthreds/bootstrap/internal/mongox"
	"github.com/srvthreds/bootstrap/internal/redisx"
	"github.com/srvthreds/bootstrap/store"
)

// Fence ties Redis writes to the run's lock, so that a holder that lost its
// lease (frozen, partitioned) writes nothing when it wakes up: each batch
// runs as one Lua script that first checks, inside Redis, that the lock key
// still holds this run's token.
type Fence interface {
	// Lock returns the lock's key and this run's token, with ok false when
	// Redis can't check them atomically with a write (a Cluster, where the
	// lock key and the data keys live in different slots).
	Lock() (key, token string, ok bool)
}

// errRedisFenced is the reply of the fenced script when the lock is no
// longer this run's.
const errRedisFenced = "FENCED"

// fencedScript checks the lock, then runs the commands that follow in ARGV,
// each as its argument count and its arguments, and returns their replies.
// A script runs atomically: nothing else runs between the check and the
// writes.
var fencedScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('` + errRedisFenced + ` the lock is no longer held by this run')
end
local out = {}
local i = 2
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  out[#out + 1] = redis.call(unpack(ARGV, i + 1, i + n))
  i = i + n + 1
end
return out
`)

// ExecRedis runs the commands queue queues as one batch: a fenced script
// when fence can check the lock atomically, else a MULTI/EXEC transaction
// (on a Cluster, one per slot). It returns each command's reply, in order,
// as the script or the transaction gave it. A lock found lost is
// store.ErrFenced. Transient errors are retried (the batch is idempotent).
func ExecRedis(ctx context.Context, env *Env, queue func(redis.Pipeliner) error) ([]any, error) {
	probe := env.Redis.Pipeline() // collects the commands; never executed
	if err := queue(probe); err != nil {
		return nil, err
	}
	cmds := probe.Cmds()
	var out []any
	err := mongox.Retry(ctx, env.Log, func(ctx context.Context) error {
		var err error
		out, err = execCmds(ctx, env, cmds)
		return err
	})
	return out, err
}

func execCmds(ctx context.Context, env *Env, cmds []redis.Cmder) ([]any, error) {
	key, token, ok := "", "", false
	if env.Fence != nil {
		key, token, ok = env.Fence.Lock()
	}
	if !ok {
		err := redisx.TxPipelined(ctx, env.Redis, func(pipe redis.Pipeliner) error {
			for _, c := range cmds {
				_ = pipe.Process(ctx, c)
			}
			return nil
		})
		out := make([]any, len(cmds))
		for i, c := range cmds {
			if ic, isInt := c.(*redis.IntCmd); isInt {
				out[i] = ic.Val()
			}
		}
		return out, err
	}
	args := []any{token}
	for _, c := range cmds {
		args = append(args, len(c.Args()))
		args = append(args, c.Args()...)
	}
	out, err := fencedScript.Run(ctx, env.Redis, []string{key}, args...).Slice()
	if err != nil && strings.HasPrefix(err.Error(), errRedisFenced) {
		return nil, fmt.Errorf("%w: %s", store.ErrFenced, err.Error())
	}
	return out, err
}

// replyInt is a script or transaction reply as an integer (0 otherwise).
func replyInt(v any) int64 {
	n, _ := v.(int64)
	return n
}
