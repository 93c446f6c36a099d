package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

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
type leaseGuard struct {
	context.Context
	cancel context.CancelCauseFunc
	now    func() time.Time
	// validUntil is the unix-nano time until which the lease is known to be
	// ours: the last confirmation plus 2/3 of the ttl, a margin for clock
	// rate and the time a stopping step needs.
	validUntil atomic.Int64
	ttl        time.Duration
}

func newLeaseGuard(parent context.Context, now func() time.Time, ttl time.Duration) *leaseGuard {
	ctx, cancel := context.WithCancelCause(parent)
	g := &leaseGuard{Context: ctx, cancel: cancel, now: now, ttl: ttl}
	g.confirmed(now())
	return g
}

func (g *leaseGuard) confirmed(at time.Time) {
	g.validUntil.Store(at.Add(g.ttl * 2 / 3).UnixNano())
}

func (g *leaseGuard) expired() bool { return g.now().UnixNano() > g.validUntil.Load() }

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

// renew extends the lease every ttl/3 until g is done. A lost lease, or
// renewals failing until the lease can no longer be confirmed, cancels g
// with ErrLockLost.
func (r *Runner) renew(g *leaseGuard, lease *lock.Lease, log *slog.Logger) {
	every := r.locker.TTL() / 3
	wait := every
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
			g.confirmed(r.opts.Now())
			h := lease.Holder()
			r.rep.SetLock(true, lease.Fence(), h.RunID+"@"+h.Host)
			wait = every
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

// tracker records the time of the last progress report of a step and
// forwards reports to the Reporter.
type tracker struct {
	rep    Reporter
	now    func() time.Time
	last   atomic.Int64 // unix nanos
	active atomic.Bool  // a step is running: the watchdog applies
	where  atomic.Value // string: profile/step
}

var _ Progress = (*tracker)(nil)

func (t *tracker) touch()           { t.last.Store(t.now().UnixNano()) }
func (t *tracker) SetTotal(n int64) { t.touch(); t.rep.SetTotal(n) }
func (t *tracker) Add(n int64)      { t.touch(); t.rep.Add(n) }

func (t *tracker) since() time.Duration { return t.now().Sub(time.Unix(0, t.last.Load())) }

func (t *tracker) begin(where string) {
	t.where.Store(where)
	t.touch()
	t.active.Store(true)
}

func (t *tracker) end() { t.active.Store(false) }

// watchdog cancels the work when a running step has reported no progress
// for the stall timeout. It checks every second (a quarter of the stall
// timeout when that is shorter) and acts one check after the stall timeout
// has passed, so /livez reports 503 (at the stall timeout) before the run
// aborts.
func (r *Runner) watchdog(g *leaseGuard, t *tracker) {
	every := min(time.Second, r.opts.StallTimeout/4)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-g.Done():
			return
		case <-tick.C:
		}
		if !t.active.Load() {
			continue
		}
		if since := t.since(); since > r.opts.StallTimeout+every {
			where, _ := t.where.Load().(string)
			g.cancel(fmt.Errorf("%w: %s reported no progress for %s (stall timeout %s)",
				ErrStalled, where, since.Round(time.Millisecond), r.opts.StallTimeout))
			return
		}
	}
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
