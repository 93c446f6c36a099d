package lease

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/srvthreds/bootstrap/internal/mongox"
	"github.com/srvthreds/bootstrap/internal/redisx"
	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/store"
)

// Every write under the lock goes through one of the methods below. Each
// checks the lease (Err, or Open before every attempt), bounds what it
// sends (Open's deadline), and turns a store's refusal of a stale fence
// into ErrFenced, which also stops the work.

// Retry sends fn, an idempotent MongoDB or Redis write, as mongox.Retry
// does, with every attempt bounded by the session (see Open): none starts
// once the lease is gone. A refusal as fenced stops the work.
func (s *Session) Retry(ctx context.Context, log *slog.Logger, fn func(context.Context) error) error {
	return s.stopIfFenced(mongox.Retry(ctx, log, s, fn))
}

//go:embed scripts/fenced_batch.lua
var fencedBatchLua string

// fencedBatch is the token-checked batch (scripts/fenced_batch.lua).
var fencedBatch = redis.NewScript(fencedBatchLua)

// errRedisFenced starts the error reply of fencedBatch when the lock is no
// longer this run's.
const errRedisFenced = "FENCED"

// ExecRedis sends cmds to rc as one batch and returns each command's reply,
// in order. With a lock key (one node, Sentinel) the batch is one script
// that first checks, inside Redis, that the lock key still holds this
// lease's token: a holder that lost its lease writes nothing, however late
// it wakes. On a Cluster it is a MULTI/EXEC per hash slot, fenced by the
// bound alone. Transient errors are retried (the batch is idempotent). A
// lock found lost is ErrFenced, and stops the work.
//
// Proven by TestLease_lost_mid_step_sends_no_further_write and
// TestFrozen_past_the_ttl_writes_nothing_on_waking (here), and against
// Redis by TestFault_lock_lost_mid_redis_step_writes_nothing (runner),
// TestLock_paused_holder_mid_redis_writes_nothing and TestCluster
// (cmd/bootstrap).
func (s *Session) ExecRedis(ctx context.Context, rc redis.UniversalClient, log *slog.Logger, cmds []redis.Cmder) ([]any, error) {
	var out []any
	err := s.Retry(ctx, log, func(ctx context.Context) error {
		var err error
		if s.opts.LockKey == "" {
			out, err = redisx.Exec(ctx, rc, cmds)
			return err
		}
		out, err = s.execFenced(ctx, rc, cmds)
		return err
	})
	return out, err
}

func (s *Session) execFenced(ctx context.Context, rc redis.UniversalClient, cmds []redis.Cmder) ([]any, error) {
	args := []any{s.lease.Token()}
	for _, c := range cmds {
		args = append(args, len(c.Args()))
		args = append(args, c.Args()...)
	}
	out, err := fencedBatch.Run(ctx, rc, []string{s.opts.LockKey}, args...).Slice()
	if err != nil && strings.HasPrefix(err.Error(), errRedisFenced) {
		return nil, fmt.Errorf("%w: %s", store.ErrFenced, err.Error())
	}
	return out, err
}

// Put sends one record write (the Redis completion record, a snapshot
// operation): once, only while the lease is ours, bounded by it. The store
// refuses it when it holds a higher fence (ErrFenced, which stops the work).
//
// Proven by TestA_fenced_write_stops_the_work (here) and
// TestFault_frozen_right_after_acquiring_writes_nothing (runner).
func (s *Session) Put(ctx context.Context, write func(context.Context) error) error {
	until, err := s.Open()
	if err != nil {
		return err
	}
	bctx, cancel := context.WithDeadline(ctx, until)
	defer cancel()
	return s.stopIfFenced(write(bctx))
}

// PutMarker sends the marker write: it confirms the lease right before
// (Confirm: a holder that lost it writes none), then writes once, bounded
// by the confirmation just made. The store keeps a marker only over one
// with a lower fence (the final guard); a newer one stops the work.
//
// Proven by TestPutMarker_confirms_the_lease_before_the_write and TestConfirm
// (here), TestStorePutMarkerIsFenced (store) and
// TestLock_paused_holder_exits_5_without_marker (cmd/bootstrap).
func (s *Session) PutMarker(ctx context.Context, write func(context.Context) error) error {
	if err := s.Confirm(ctx); err != nil {
		return err
	}
	return s.Put(ctx, write)
}

// stopIfFenced cancels the work when err says the lease is another's, and
// returns err as ErrFenced then.
func (s *Session) stopIfFenced(err error) error {
	err = Fenced(err)
	if errors.Is(err, ErrLost) {
		s.cancel(err)
	}
	return err
}

// Pauses between the attempts of Confirm: from confirmMin, doubling up to
// confirmMax.
const (
	confirmMin = 50 * time.Millisecond
	confirmMax = time.Second
)

// Confirm renews the lease now. A transient Redis error (a dropped
// connection, a timeout, LOADING, READONLY during a failover) is retried
// with backoff for as long as the lease is still known to be ours;
// lock.ErrLost, any other error, or the end of that validity ends it, and
// a lost lease stops the work (ErrLost).
func (s *Session) Confirm(ctx context.Context) error {
	if err := s.Err(); err != nil {
		return err
	}
	pause := confirmMin
	for {
		err := s.refreshOnce(ctx)
		switch {
		case err == nil:
			s.confirmed(s.lease.Confirmed())
			return nil
		case s.Err() != nil:
			return s.Err()
		case errors.Is(err, lock.ErrLost):
			err = fmt.Errorf("%w: %w", ErrLost, err)
			s.cancel(err)
			return err
		case !lock.IsTransient(err):
			return err
		}
		s.log.Warn("lock refresh before the marker write failed; retrying within the lease",
			"err", err, "lease_left_ms", s.Remaining().Milliseconds())
		t := time.NewTimer(min(pause, max(s.Remaining(), 0)))
		select {
		case <-s.ctx.Done():
			t.Stop()
			return s.Err()
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		case <-t.C:
		}
		pause = min(pause*2, confirmMax)
	}
}

// refreshOnce is one renewal request, bounded like every command under the
// lease.
func (s *Session) refreshOnce(ctx context.Context) error {
	until, err := s.Open()
	if err != nil {
		return err
	}
	rctx, cancel := context.WithDeadline(ctx, until)
	defer cancel()
	return s.lease.Refresh(rctx)
}
