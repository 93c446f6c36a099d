package lock

import (
	"context"
	"errors"
	"sync"

	"github.com/redis/go-redis/v9"
)

// fakeRedis is a RedisClient for unit tests of the Go side: it answers EVAL
// through a function of the script's source and arguments, and EVALSHA with
// NOSCRIPT, as a Redis that has never seen the script does. The Lua scripts
// themselves are tested against a real Redis (locktest).
type fakeRedis struct {
	answer func(c fakeCall) (any, error)

	mu    sync.Mutex
	calls []fakeCall
}

type fakeCall struct {
	Src  string
	Keys []string
	Args []any
}

var _ RedisClient = (*fakeRedis)(nil)

// calls returns the EVALs made so far, for script.
func (f *fakeRedis) evals(src string) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var cs []fakeCall
	for _, c := range f.calls {
		if c.Src == src {
			cs = append(cs, c)
		}
	}
	return cs
}

func (f *fakeRedis) Eval(ctx context.Context, src string, keys []string, args ...any) *redis.Cmd {
	c := fakeCall{Src: src, Keys: keys, Args: args}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	cmd := redis.NewCmd(ctx)
	if err := ctx.Err(); err != nil {
		cmd.SetErr(err)
		return cmd
	}
	v, err := f.answer(c)
	if err != nil {
		cmd.SetErr(err)
	} else {
		cmd.SetVal(v)
	}
	return cmd
}

func (f *fakeRedis) EvalSha(ctx context.Context, _ string, _ []string, _ ...any) *redis.Cmd {
	cmd := redis.NewCmd(ctx)
	cmd.SetErr(redis.ErrNoScript)
	return cmd
}

func (f *fakeRedis) EvalRO(ctx context.Context, _ string, _ []string, _ ...any) *redis.Cmd {
	cmd := redis.NewCmd(ctx)
	cmd.SetErr(errors.New("fake: EVAL_RO not supported"))
	return cmd
}

func (f *fakeRedis) EvalShaRO(ctx context.Context, _ string, _ []string, _ ...any) *redis.Cmd {
	return f.EvalRO(ctx, "", nil)
}

func (f *fakeRedis) ScriptExists(ctx context.Context, hashes ...string) *redis.BoolSliceCmd {
	cmd := redis.NewBoolSliceCmd(ctx)
	cmd.SetVal(make([]bool, len(hashes)))
	return cmd
}

func (f *fakeRedis) ScriptLoad(ctx context.Context, _ string) *redis.StringCmd {
	cmd := redis.NewStringCmd(ctx)
	cmd.SetErr(errors.New("fake: SCRIPT LOAD not supported"))
	return cmd
}

// heldReply is acquire.lua's answer when run-other on pod-other holds the
// lock with fence 41.
func heldReply() []any {
	return []any{int64(0), int64(25000),
		"runId", "run-other", "host", "pod-other", "image", "img:2", "fence", "41",
		"since", "946684800000", "renewed", "946684805000", "ttl", "30000"}
}
