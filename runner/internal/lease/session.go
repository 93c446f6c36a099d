// Package lease is the one place that decides whether a write may be sent
// under the lock. A Session is built from an acquired lease; it renews the
// lease, knows until when it is still ours, and owns every write made under
// it: MongoDB attempts (through mongox, as a mongox.Window), Redis batches,
// the marker, the Redis record and snapshot chunks. docs/locking.md ("What
// is fenced, and how") names, for each kind of write, the method here that
// enforces it.
//
// Three words, three things:
//
//   - the fence is the lease's number (lock.Lease.Fence), higher than every
//     earlier acquisition's; stores keep it on each record and refuse a
//     record with a lower one (store.ErrFenced);
//   - the token check is Redis comparing the lock key with this lease's
//     token inside the script that writes a batch (one node, Sentinel; not
//     on a Cluster, where the lock key and the data keys live in different
//     hash slots);
//   - the bound is the deadline of every command sent under the lock: 5/6 of
//     the ttl after the lease's last confirmation, sent to MongoDB as
//     maxTimeMS.
//
// Time is read only from the monotonic clock (time.Now, time timers), never
// from a wall clock, so stepping the system clock changes nothing, and the
// rules are proven with testing/synctest.
package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/srvthreds/bootstrap/internal/mongox"
	"github.com/srvthreds/bootstrap/internal/panics"
	"github.com/srvthreds/bootstrap/lock"
)

// Lease is what a Session needs of an acquired lock. *lock.Lease
// implements it.
type Lease interface {
	// Refresh extends the lease by its ttl (compare-and-extend); lock.ErrLost
	// when it is no longer ours.
	Refresh(ctx context.Context) error
	// Confirmed is when the request of the last successful acquisition or
	// Refresh was sent (monotonic).
	Confirmed() time.Time
	// Fence is the lease's fencing number.
	Fence() int64
	// Token is the value the lock key holds while the lease is ours.
	Token() string
}

var _ Lease = (*lock.Lease)(nil)

// Options of a Session.
type Options struct {
	// TTL is the lease's ttl (required).
	TTL time.Duration
	// LockKey is the lock's Redis key, for the token check of Redis
	// batches; empty when Redis can't check it atomically with a write (a
	// Cluster): the bound alone then fences Redis batches.
	LockKey string
	// Log receives the renewal loop's records; nil: discard.
	Log *slog.Logger
	// OnRenew, if set, is called after every successful renewal.
	OnRenew func()
}

// Session is the work under one lease: its context, which is cancelled
// (with a cause) when the lease is lost, found expired, or the work is
// stopped; the renewal loop; and every write sent under the lease. Safe for
// concurrent use.
type Session struct {
	lease  Lease
	opts   Options
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelCauseFunc
	// validUntil is when, at the latest, the lease is known to be ours: the
	// last confirmation plus 2/3 of the ttl, a margin for the hosts' clock
	// rates and for the time a stopping write needs.
	validUntil atomic.Int64 // nanoseconds since base, monotonic
	base       time.Time    // monotonic origin of validUntil
	// expiry cancels the session at validUntil, so that a write in flight
	// then is cut off and none starts after it; every confirmation moves it.
	expiry  *time.Timer
	renewed chan struct{} // closed when the renewal loop has returned
}

// Start starts a Session for l under parent, and its renewal loop: l is
// renewed every ttl/3, counted from when the last successful confirmation
// was sent. Stop ends both.
func Start(parent context.Context, l Lease, o Options) *Session {
	s := &Session{lease: l, opts: o, log: o.Log, base: time.Now(), renewed: make(chan struct{})}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.ctx, s.cancel = context.WithCancelCause(parent)
	s.expiry = time.AfterFunc(o.TTL, s.checkExpiry)
	s.confirmed(l.Confirmed())
	context.AfterFunc(s.ctx, func() { s.expiry.Stop() })
	go func() {
		defer close(s.renewed)
		defer panics.Recover(s.log, "lock renewal", s.cancel)
		s.renew()
	}()
	return s
}

// Context is the context of the work under the lease: done when the lease
// is lost or expired, the work was stopped, or parent ended; its cause says
// which.
func (s *Session) Context() context.Context { return s.ctx }

// Fence is the lease's fencing number, which every record written under it
// carries.
func (s *Session) Fence() int64 { return s.lease.Fence() }

// Cancel stops the work with cause (nil: context.Canceled).
func (s *Session) Cancel(cause error) { s.cancel(cause) }

// Stop stops the work and the renewal loop, and returns once the loop has.
func (s *Session) Stop() {
	s.cancel(nil)
	<-s.renewed
}

// confirmed records that the lease was ours at sent (monotonic).
func (s *Session) confirmed(sent time.Time) {
	until := sent.Add(s.opts.TTL * 2 / 3)
	s.validUntil.Store(int64(until.Sub(s.base)))
	s.expiry.Reset(max(time.Until(until), 0))
}

// Until is the end of the lease's confirmed validity (monotonic).
func (s *Session) Until() time.Time { return s.base.Add(time.Duration(s.validUntil.Load())) }

// Remaining is how long the lease is still known to be ours.
func (s *Session) Remaining() time.Duration { return time.Until(s.Until()) }

// Expired reports whether the lease is past its confirmed validity.
func (s *Session) Expired() bool { return s.Remaining() <= 0 }

// checkExpiry cancels the session when the lease is past its validity (the
// timer may fire just before a confirmation moved it).
func (s *Session) checkExpiry() {
	if d := s.Remaining(); d > 0 {
		s.expiry.Reset(d)
		return
	}
	s.cancel(errExpired)
}

// Err is nil while the work may go on, else why it stopped. It reads the
// clock as well as the context: a process that was frozen (SIGSTOP, docker
// pause) past its validity fails its first check after waking, before any
// timer has fired.
//
// No step starts once it fails (an http call, a command): proven by
// TestFrozen_past_the_ttl_writes_nothing_on_waking (here) and
// TestFaultLockLostMidRun (runner).
func (s *Session) Err() error {
	if s.ctx.Err() == nil && s.Expired() {
		s.cancel(errExpired)
	}
	if s.ctx.Err() == nil {
		return nil
	}
	return context.Cause(s.ctx)
}

// Open implements mongox.Window: the deadline of a command that starts now,
// 5/6 of the ttl after the last confirmation, or Err when no command may
// start. No command starts after the validity (2/3 of the ttl), and another
// runner can take the lock only a full ttl after the confirmation: the last
// sixth is the margin for a command's transit to the server.
//
// Proven by TestOpen_bounds_each_attempt_from_the_last_confirmation,
// TestExpiry_timer_stops_the_work_at_the_end_of_the_validity and
// TestErr_reads_the_clock_before_any_timer (here), and against FerretDB by
// TestRun_writes_under_the_lock_carry_the_lease_bound and
// TestFaultLockLostMidRun (runner).
func (s *Session) Open() (time.Time, error) {
	if err := s.Err(); err != nil {
		return time.Time{}, err
	}
	return s.Until().Add(s.opts.TTL / 6), nil
}

var _ mongox.Window = (*Session)(nil)

// renew extends the lease every ttl/3, counted from when the last
// successful renewal (or the acquisition) was sent, until the session ends:
// a slow reply does not push the next renewal later. A lost lease, or
// renewals failing until the lease can no longer be confirmed, cancels the
// session with ErrLost.
func (s *Session) renew() {
	every := s.opts.TTL / 3
	wait := max(time.Until(s.lease.Confirmed().Add(every)), 0)
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(wait):
		}
		if s.Err() != nil {
			if s.Expired() {
				s.log.Error("lock lease expired before it could be renewed")
			}
			return
		}
		rctx, cancel := context.WithTimeout(s.ctx, every)
		err := s.lease.Refresh(rctx)
		cancel()
		switch {
		case err == nil:
			s.confirmed(s.lease.Confirmed())
			if s.opts.OnRenew != nil {
				s.opts.OnRenew()
			}
			wait = max(time.Until(s.lease.Confirmed().Add(every)), 0)
		case errors.Is(err, lock.ErrLost):
			s.log.Error("lock lost", "err", err)
			s.cancel(fmt.Errorf("%w: %w", ErrLost, err))
			return
		case s.ctx.Err() != nil:
			return
		default:
			s.log.Warn("lock renewal failed, retrying", "err", err)
			wait = max(every/4, 50*time.Millisecond)
		}
	}
}
