package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/srvthreds/bootstrap/health"
	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner/internal/lease"
	"github.com/srvthreds/bootstrap/store"
)

// attempt is one run's work under the lock: the lease, the session that
// owns every write under it, the markers read once the lock was held, and
// the logger with the run's fields.
type attempt struct {
	r     *Runner
	s     *lease.Session
	lease Lease
	log   *slog.Logger
	prevs map[string]*store.Marker // the markers read once the lock was held
	comps map[string]Completion    // what both stores said then
	where atomic.Pointer[string]   // what runs, for the watchdog's error

	parent context.Context // the run's context, which the session derives from
}

// ctx is the context of the work under the lease.
func (a *attempt) ctx() context.Context { return a.s.Context() }

// work is what runs under the lock.
type work func(a *attempt) error

// underLock bounds the whole by the run timeout, takes the lock and starts
// guarding it at once (lease renewal, and validity counted from before the
// acquire request), reads the markers of profs (after taking the lock: a
// runner that waited finds the work of the one before it done), makes sure
// the fence is above them, then runs w with the stall watchdog on, and
// releases the lock, also when w failed or was interrupted.
//
// With recheck, a run that waits for the lock reads the records again every
// few seconds, and gives up the wait with errAlreadyCurrent once every
// profile of profs is current (another run applied them).
func (r *Runner) underLock(ctx context.Context, what string, profs []*profiles.Profile, recheck bool, w work) error {
	start := r.opts.Now()
	log := r.log.With("run_id", r.opts.RunID)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if r.opts.Timeout > 0 {
		var cancelT context.CancelFunc
		ctx, cancelT = context.WithTimeoutCause(ctx, r.opts.Timeout,
			fmt.Errorf("%w: the %s took longer than %s", ErrTimeout, what, r.opts.Timeout))
		defer cancelT()
	}
	a, err := r.begin(ctx, log, profs, recheck)
	if err != nil {
		r.rep.Report(health.RunEnded{Outcome: "lock-not-acquired", Took: r.opts.Now().Sub(start)})
		return err
	}
	err = a.readMarkers(profs)
	if err == nil {
		err = a.checkFence(profs)
	}
	if err == nil {
		a.log = a.log.With("fence", a.lease.Fence())
		if r.opts.StallTimeout > 0 {
			r.rep.Add(0) // the stall clock counts from the lock held, not the wait
			go a.watch()
		}
		err = a.do(w)
	}
	a.end()
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	r.rep.Report(health.RunEnded{Outcome: outcome, Took: r.opts.Now().Sub(start)})
	return err
}

// begin takes the lock and starts renewing it; with recheck, it gives up
// with errAlreadyCurrent when profs become current while it waits.
func (r *Runner) begin(ctx context.Context, log *slog.Logger, profs []*profiles.Profile, recheck bool) (*attempt, error) {
	wctx := ctx
	if recheck {
		c, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		go r.recheck(c, cancel, profs)
		wctx = c
	}
	lease, err := r.acquire(wctx, log)
	if err != nil {
		if cause := context.Cause(wctx); errors.Is(cause, errAlreadyCurrent) {
			return nil, cause
		}
		return nil, err
	}
	if err := r.reconfirm(ctx, lease, log); err != nil {
		r.releaseLock(ctx, lease, log)
		return nil, err
	}
	a := &attempt{r: r, lease: lease, log: log, parent: ctx}
	a.guard()
	return a, nil
}

// reconfirm renews a lease whose acquisition took so long (a client that
// first reloaded a Cluster's slots, say) that its validity, counted from
// before the request, has already run out: the lock may still be ours, and
// compare-and-extend tells atomically. A lease found lost is ErrLockLost.
func (r *Runner) reconfirm(ctx context.Context, lease Lease, log *slog.Logger) error {
	ttl := r.locker.TTL()
	if time.Since(lease.Confirmed()) < ttl*2/3 {
		return nil
	}
	log.Warn("the lock's acquisition took longer than its validity; confirming it", "lock", r.locker.Name(),
		"since_request_ms", time.Since(lease.Confirmed()).Milliseconds())
	rctx, cancel := context.WithTimeout(ctx, ttl/3)
	defer cancel()
	if err := lease.Refresh(rctx); err != nil {
		return fmt.Errorf("%w: %w", ErrLockLost, err)
	}
	return nil
}

// guard starts the session of a.lease and its renewal loop.
func (a *attempt) guard() {
	r := a.r
	a.s = lease.Start(a.parent, a.lease, lease.Options{
		TTL: r.locker.TTL(), LockKey: r.lockKey, Log: a.log.With("lock", r.locker.Name()),
		OnRenew: func() { r.rep.Report(health.LockState{Held: true, Fence: a.lease.Fence(), Holder: holderOf(a.lease)}) },
	})
}

// end stops the session and releases the lock.
func (a *attempt) end() {
	a.s.Stop()
	a.r.releaseLock(a.parent, a.lease, a.log)
}

// holderOf names the holder of l, for /status: run id@host.
func holderOf(l Lease) string {
	h := l.Holder()
	return h.RunID + "@" + h.Host
}

// current names what runs, for the watchdog.
func (a *attempt) current() string {
	if w := a.where.Load(); w != nil {
		return *w
	}
	return "the run"
}

// begins marks the start of something that reports progress (a step, a
// snapshot, a reset): the watchdog names it.
func (a *attempt) begins(where string) {
	a.where.Store(&where)
	a.r.rep.Add(0)
}

func (r *Runner) acquire(ctx context.Context, log *slog.Logger) (Lease, error) {
	wctx, cancel := context.WithTimeout(ctx, r.opts.LockWait)
	defer cancel()
	t0 := r.opts.Now()
	log.Info("acquiring lock", "lock", r.locker.Name(), "lock_wait", r.opts.LockWait.String())
	lease, err := r.locker.Acquire(wctx)
	waited := r.opts.Now().Sub(t0)
	r.rep.Report(health.LockWaited{Waited: waited})
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx) // interrupted or run timeout while waiting
		}
		return nil, fmt.Errorf("lock %s not acquired within %s: %w", r.locker.Name(), r.opts.LockWait, err)
	}
	if r.opts.OnLease != nil {
		r.opts.OnLease(lease)
	}
	r.rep.Report(health.LockState{Held: true, Fence: lease.Fence(), Holder: holderOf(lease)})
	log.Info("lock acquired", "lock", r.locker.Name(), "fence", lease.Fence(), "waited_ms", waited.Milliseconds())
	return lease, nil
}

// readMarkers reads what both stores say of every profile of profs.
func (a *attempt) readMarkers(profs []*profiles.Profile) error {
	comps, err := a.r.reader.All(a.ctx(), profs)
	if err != nil {
		if c := a.s.Err(); c != nil {
			return c
		}
		return err
	}
	a.comps = comps
	a.prevs = make(map[string]*store.Marker, len(profs))
	for name, c := range comps {
		a.prevs[name] = c.Marker
	}
	return nil
}

// releaseLock releases the lease, with a context of its own bounded by the
// shutdown grace (the run's may be cancelled), and logs how it went.
func (r *Runner) releaseLock(ctx context.Context, lease Lease, log *slog.Logger) {
	if lease == nil {
		return // taking the lock again failed
	}
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.ShutdownGrace)
	defer cancel()
	switch err := lease.Release(c); {
	case err == nil:
		log.Info("lock released", "lock", r.locker.Name())
	case errors.Is(err, lock.ErrLost):
		log.Warn("lock was lost before release", "lock", r.locker.Name())
	default:
		log.Warn("release lock", "err", err)
	}
	r.rep.Report(health.LockState{Fence: lease.Fence()})
}
