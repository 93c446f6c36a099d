package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/srvthreds/bootstrap/internal/mongox"
	"github.com/srvthreds/bootstrap/lock"
)

// errLeaseExpired is what a leaseGuard's Err returns once the lease is past
// its last confirmed validity. It is also a context.Canceled, so code that
// checks for cancellation stops.
var errLeaseExpired = fmt.Errorf("%w: lease not confirmed within its ttl (%w)", ErrLockLost, context.Canceled)

// leaseGuard is the context of the work under the lock. It is cancelled
// (with a cause) by the renewal loop, the watchdog and the run's end, and its
// Err also reports expiry by the clock: after a process was frozen (SIGSTOP,
// docker pause) its first check fails before any timer has fired.
//
// Validity is counted on the monotonic clock from when the request of the
// last successful acquisition or renewal was sent (lock.Lease.Confirmed),
// so a wall clock stepped back or forth changes nothing.
type leaseGuard struct {
	context.Context
	cancel context.CancelCauseFunc
	ttl    time.Duration
	// validUntil is when, at the latest, the lease is known to be ours:
	// the last confirmation plus 2/3 of the ttl, a margin for clock rate
	// and the time a stopping step needs.
	validUntil atomic.Pointer[time.Time]
	// expiry cancels the guard at validUntil, so that a write in flight
	// then is cut off and none starts after it; every confirmation moves it.
	expiry *time.Timer
}

func newLeaseGuard(parent context.Context, lease *lock.Lease, ttl time.Duration) *leaseGuard {
	g := &leaseGuard{ttl: ttl}
	// Every MongoDB and Redis command retried under the guard carries
	// writeBound as its deadline (maxTimeMS for MongoDB).
	g.Context, g.cancel = context.WithCancelCause(mongox.WithAttemptBound(parent, g.writeBound))
	g.expiry = time.AfterFunc(ttl, g.checkExpiry)
	g.confirmed(lease.Confirmed())
	context.AfterFunc(g.Context, func() { g.expiry.Stop() })
	return g
}

// confirmed records that the lease was ours at sent (monotonic).
func (g *leaseGuard) confirmed(sent time.Time) {
	until := sent.Add(g.ttl * 2 / 3)
	g.validUntil.Store(&until)
	g.expiry.Reset(max(time.Until(until), 0))
}

// checkExpiry cancels the guard when the lease is past its validity (the
// timer may fire just before a confirmation moved it).
func (g *leaseGuard) checkExpiry() {
	if d := g.remaining(); d > 0 {
		g.expiry.Reset(d)
		return
	}
	g.cancel(errLeaseExpired)
}

// until is the end of the lease's confirmed validity (monotonic).
func (g *leaseGuard) until() time.Time { return *g.validUntil.Load() }

// writeBound is when a command sent under the guard must be done (its
// deadline, maxTimeMS for MongoDB): 5/6 of the ttl after the last
// confirmation. No command starts after the validity (2/3 of the ttl), and
// another runner can take the lock only a full ttl after the confirmation:
// the last sixth is a margin for a command's transit to the server.
func (g *leaseGuard) writeBound() time.Time { return g.until().Add(g.ttl / 6) }

// remaining is how long the lease is still known to be ours.
func (g *leaseGuard) remaining() time.Duration { return time.Until(g.until()) }

func (g *leaseGuard) expired() bool { return g.remaining() < 0 }

// Err reports the context's error, or errLeaseExpired once the lease is past
// its confirmed validity.
func (g *leaseGuard) Err() error {
	if err := g.Context.Err(); err != nil {
		return err
	}
	if g.expired() {
		g.cancel(errLeaseExpired)
		return g.Context.Err()
	}
	return nil
}

// cause is the reason the work stopped, or nil.
func (g *leaseGuard) cause() error {
	if g.Err() == nil {
		return nil
	}
	return context.Cause(g.Context)
}

// renew extends the lease every ttl/3, counted from when the last
// successful renewal (or the acquisition) was sent, until g is done: a slow
// reply does not push the next renewal later. A lost lease, or renewals
// failing until the lease can no longer be confirmed, cancels g with
// ErrLockLost.
func (r *Runner) renew(g *leaseGuard, lease *lock.Lease, log *slog.Logger) {
	every := r.locker.TTL() / 3
	wait := max(time.Until(lease.Confirmed().Add(every)), 0)
	for {
		select {
		case <-g.Done():
			return
		case <-time.After(wait):
		}
		if g.Context.Err() != nil {
			return
		}
		if g.expired() {
			log.Error("lock lease expired before it could be renewed", "lock", r.locker.Name())
			g.cancel(errLeaseExpired)
			return
		}
		rctx, cancel := context.WithTimeout(g.Context, every)
		err := lease.Refresh(rctx)
		cancel()
		switch {
		case err == nil:
			g.confirmed(lease.Confirmed())
			h := lease.Holder()
			r.rep.SetLock(true, lease.Fence(), h.RunID+"@"+h.Host)
			wait = max(time.Until(lease.Confirmed().Add(every)), 0)
		case errors.Is(err, lock.ErrLost):
			log.Error("lock lost", "lock", r.locker.Name(), "err", err)
			g.cancel(fmt.Errorf("%w: %w", ErrLockLost, err))
			return
		default:
			if g.Context.Err() != nil {
				return
			}
			log.Warn("lock renewal failed, retrying", "lock", r.locker.Name(), "err", err)
			wait = max(every/4, 50*time.Millisecond)
		}
	}
}

// watchdog cancels the work when the run has reported no progress for the
// stall timeout. It reads the Reporter's clock, the one /livez reads, every
// second (a quarter of the stall timeout when that is shorter), and acts one
// check after the stall timeout has passed, so /livez reports 503 (at the
// stall timeout) before the run aborts. where names what is running.
func (r *Runner) watchdog(g *leaseGuard, where func() string) {
	every := max(min(time.Second, r.opts.StallTimeout/4), time.Millisecond)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-g.Done():
			return
		case <-tick.C:
		}
		if !r.rep.Stalled() {
			continue
		}
		if g.expired() {
			// Frozen (SIGSTOP, docker pause) rather than stalled: the
			// renewals stopped too, and the lost lease is the cause.
			g.cancel(errLeaseExpired)
			return
		}
		if since := r.rep.SinceProgress(); since > r.opts.StallTimeout+every {
			g.cancel(fmt.Errorf("%w: %s reported no progress for %s (stall timeout %s)",
				ErrStalled, where(), since.Round(time.Millisecond), r.opts.StallTimeout))
			return
		}
	}
}
