// Package lock is a Redis lease with fencing tokens: at most one
// process holds a named lock at a time, each acquisition draws a fence from
// a counter that only grows, and a holder that dies frees the lock after at
// most one ttl.
//
// A lock is the key "<prefix>{<name>}" set to a random token with
// SET NX PX <ttl>. Acquisition, renewal (compare-and-extend), release
// (compare-and-delete) and breaking are each one Lua script, so every step
// is atomic. Beside the key live "<key>:holder", a hash describing the
// holder (run id, host, image, fence, since, renewed) that expires with the
// key, and "<key>:fence", the fence counter, which never expires. The braces
// make the three keys one Redis Cluster hash slot.
//
// The package starts no goroutine: the holder calls Lease.Refresh about
// every TTL/3 and stops its work when Refresh fails, since the lease may
// then be lost. Writes made under the lock should carry Lease.Fence and be
// refused by their store when it already holds a higher fence, so that a
// holder that lost its lease without noticing cannot overwrite the work of
// the next one.
package lock

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisClient is what the lock needs of a Redis client: scripts only.
// *redis.Client, *redis.ClusterClient, *redis.Ring and
// redis.UniversalClient satisfy it.
type RedisClient interface {
	redis.Scripter
}

var (
	//go:embed scripts/acquire.lua
	acquireLua string
	//go:embed scripts/refresh.lua
	refreshLua string
	//go:embed scripts/release.lua
	releaseLua string
	//go:embed scripts/holder.lua
	holderLua string
	//go:embed scripts/break.lua
	breakLua string
)

// scripts are a Locker's Lua scripts, run with EVALSHA and falling back to
// EVAL when Redis does not have them cached.
type scripts struct {
	acquire, refresh, release, holder, brk *redis.Script
}

// Locker acquires one named lock. It holds no state besides its
// configuration and is safe for concurrent use.
type Locker struct {
	client  RedisClient
	key     string
	keys    []string // lock, holder, fence
	opts    Options
	scripts scripts
}

// New returns a Locker for the lock name. client is required, name must be
// non-empty and must not contain '{' or '}'; opts may be nil for the
// defaults. New does not contact Redis.
func New(client RedisClient, name string, opts *Options) (*Locker, error) {
	if client == nil {
		return nil, errors.New("lock: nil redis client")
	}
	if name == "" || strings.ContainsAny(name, "{}") {
		return nil, fmt.Errorf("lock: invalid name %q: want non-empty, without '{' or '}'", name)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("lock: options: %w", err)
	}
	key := o.Prefix + "{" + name + "}"
	return &Locker{
		client: client,
		key:    key,
		keys:   []string{key, key + ":holder", key + ":fence"},
		opts:   o,
		scripts: scripts{
			acquire: redis.NewScript(acquireLua),
			refresh: redis.NewScript(refreshLua),
			release: redis.NewScript(releaseLua),
			holder:  redis.NewScript(holderLua),
			brk:     redis.NewScript(breakLua),
		},
	}, nil
}

// TTL is the lease ttl the Locker acquires and renews with.
func (l *Locker) TTL() time.Duration { return l.opts.TTL }

// Key is the Redis key of the lock. The holder hash is Key()+":holder" and
// the fence counter Key()+":fence".
func (l *Locker) Key() string { return l.key }

// TryAcquire makes one attempt to take the lock. When another holds it, the
// error is a *NotAcquiredError (errors.Is ErrNotAcquired) naming that holder;
// other errors are Redis's, wrapped.
func (l *Locker) TryAcquire(ctx context.Context) (*Lease, error) {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	token := hex.EncodeToString(b[:])
	now := l.opts.Now().UnixMilli()
	self := l.opts.Holder
	sent := time.Now() // monotonic: the lease is ours for ttl from here at most
	reply, err := l.scripts.acquire.Run(ctx, l.client, l.keys,
		token, l.opts.TTL.Milliseconds(), now, self.RunID, self.Host, self.Image).Slice()
	if err != nil {
		return nil, fmt.Errorf("lock: acquire %s: %w", l.key, err)
	}
	status, pttl, meta, err := splitReply(reply)
	if err != nil {
		return nil, fmt.Errorf("lock: acquire %s: %w", l.key, err)
	}
	if status != 1 {
		return nil, &NotAcquiredError{Holder: parseHolder(pttl, meta)}
	}
	fence := pttl // {1, fence}
	self.Fence = fence
	self.Since = fromMillis(now)
	self.Renewed = self.Since
	self.TTL = l.opts.TTL
	self.LeaseTTL = l.opts.TTL
	return &Lease{locker: l, token: token, fence: fence, holder: self, confirmed: sent}, nil
}

// Acquire takes the lock, retrying with backoff and jitter (Options.RetryMin
// to RetryMax) while another holds it and calling Options.OnWait as it
// waits, until ctx is done: ctx carries the longest wait. It then returns a
// *NotAcquiredError (errors.Is ErrNotAcquired, and the context's error)
// naming the last holder seen and, when the last attempt failed with one,
// the last Redis error. A transient Redis error (connection refused or
// reset, a timeout, LOADING, READONLY, CLUSTERDOWN, TRYAGAIN, MASTERDOWN)
// is retried with the same backoff until ctx is done; any other Redis error
// ends the wait at once and is returned wrapped.
func (l *Locker) Acquire(ctx context.Context) (*Lease, error) {
	start := l.opts.Now()
	var last *Holder
	var lastErr error
	var lastWait time.Time
	notified := false // whether the last call was OnRetry (an error)
	for n := 0; ; n++ {
		lease, err := l.TryAcquire(ctx)
		if err == nil {
			return lease, nil
		}
		var na *NotAcquiredError
		switch {
		case errors.As(err, &na):
			last, lastErr = na.Holder, nil
		case ctx.Err() != nil:
			return nil, &NotAcquiredError{Holder: last, LastErr: lastErr, Err: context.Cause(ctx)}
		case IsTransient(err):
			lastErr = err
		default:
			return nil, err
		}
		// At once when an error follows a holder or the other way round,
		// else every WaitLogEvery.
		if now := l.opts.Now(); n == 0 || notified != (lastErr != nil) || now.Sub(lastWait) >= l.opts.WaitLogEvery {
			lastWait, notified = now, lastErr != nil
			l.notify(last, lastErr, now.Sub(start))
		}
		delay := retryDelay(n, l.opts.RetryMin, l.opts.RetryMax, mathrand.Int64N)
		if lastErr == nil && last != nil && last.TTL < delay {
			// The holder's lease runs out before the backoff would: try
			// again right after it (a killed holder blocks others for one
			// ttl, not one ttl plus a backoff), with a little jitter so
			// that waiters don't all try at once.
			delay = last.TTL + time.Duration(mathrand.Int64N(int64(l.opts.RetryMin)+1))
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, &NotAcquiredError{Holder: last, LastErr: lastErr, Err: context.Cause(ctx)}
		case <-t.C:
		}
	}
}

// notify calls OnRetry with a transient Redis error, else OnWait with the
// holder seen.
func (l *Locker) notify(h *Holder, err error, waited time.Duration) {
	switch {
	case err != nil && l.opts.OnRetry != nil:
		l.opts.OnRetry(err, waited)
	case err == nil && h != nil && l.opts.OnWait != nil:
		l.opts.OnWait(h, waited)
	}
}

// Holder returns who holds the lock, or nil, nil when it is free.
func (l *Locker) Holder(ctx context.Context) (*Holder, error) {
	reply, err := l.scripts.holder.Run(ctx, l.client, l.keys[:2]).Slice()
	if err != nil {
		return nil, fmt.Errorf("lock: holder of %s: %w", l.key, err)
	}
	status, pttl, meta, err := splitReply(reply)
	if err != nil {
		return nil, fmt.Errorf("lock: holder of %s: %w", l.key, err)
	}
	if status == 0 {
		return nil, nil
	}
	return parseHolder(pttl, meta), nil
}

// Break deletes the lock and its holder metadata, so that the next Acquire
// succeeds, and returns the holder it broke (nil, nil when the lock was
// free). Unless force, it refuses while the holder is still renewing: when
// the key's remaining ttl is above a third of the holder's lease ttl, that
// is, when the holder renewed within the last 2/3 of its ttl. It then
// returns that holder and an error matching ErrHeld. The check uses the
// key's ttl in Redis, not the hosts' clocks, and is atomic with the delete.
//
// A broken holder finds out at its next Refresh (ErrLost); until then it may
// still write, which its fence lets stores refuse.
func (l *Locker) Break(ctx context.Context, force bool) (*Holder, error) {
	f := "0"
	if force {
		f = "1"
	}
	reply, err := l.scripts.brk.Run(ctx, l.client, l.keys[:2], f, l.opts.TTL.Milliseconds()).Slice()
	if err != nil {
		return nil, fmt.Errorf("lock: break %s: %w", l.key, err)
	}
	status, pttl, meta, err := splitReply(reply)
	if err != nil {
		return nil, fmt.Errorf("lock: break %s: %w", l.key, err)
	}
	switch status {
	case 0:
		return nil, nil
	case 1:
		return parseHolder(pttl, meta), nil
	default:
		h := parseHolder(pttl, meta)
		return h, fmt.Errorf("%w by %s, which still renews it", ErrHeld, h)
	}
}

// splitReply splits a script reply {status[, n, field, value, ...]}.
func splitReply(reply []any) (status, n int64, rest []any, err error) {
	if len(reply) == 0 {
		return 0, 0, nil, errors.New("empty script reply")
	}
	status, ok := reply[0].(int64)
	if !ok {
		return 0, 0, nil, fmt.Errorf("script reply status %T, want integer", reply[0])
	}
	if len(reply) == 1 {
		return status, 0, nil, nil
	}
	if n, ok = reply[1].(int64); !ok {
		return 0, 0, nil, fmt.Errorf("script reply value %T, want integer", reply[1])
	}
	return status, n, reply[2:], nil
}
