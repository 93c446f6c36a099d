package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/profiles"
)

// Reporter receives the state of a run; health.State implements it. All
// methods must be safe for concurrent use.
type Reporter interface {
	Progress
	Heartbeat()
	SetLock(held bool, fence int64, holder string)
	LockWaited(d time.Duration)
	StartProfile(name, version string)
	StartStep(profile, step string)
	EndStep(profile, kind string, d time.Duration, err error)
	EndProfile(name, outcome string, d time.Duration)
	EndRun(outcome string, d time.Duration)
}

// Options of a run. The zero value of each field means the documented
// default.
type Options struct {
	RunID string // default: a random id
	Host  string // default: os.Hostname (the pod name in Kubernetes)
	Image string // the image version, recorded in markers and audit

	Force     bool // re-apply profiles whose marker matches
	Reset     bool // drop what each profile's reset: section names, then apply
	BatchSize int  // default 50; FerretDB hangs on 100 statements that change documents

	KeepVersions  int   // snapshots kept per profile, default 5; negative: take none
	SnapshotLimit int64 // bytes a profile's snapshot may take, default 50 MiB; negative: no limit

	LockWait      time.Duration // default 10m
	StallTimeout  time.Duration // default 2m; negative disables
	Timeout       time.Duration // whole run, default 15m; negative disables
	ShutdownGrace time.Duration // bound on cleanup after cancellation, default 10s

	Log      *slog.Logger // default: discard
	Reporter Reporter     // default: none
	Now      func() time.Time
	Env      Env // password and header secrets
}

// Runner runs profiles against one MongoDB and one Redis under one lock.
// A Runner is used for one run at a time.
type Runner struct {
	mongo  *mongo.Client
	redis  redis.UniversalClient
	store  MarkerStore
	locker *lock.Locker
	opts   Options
	log    *slog.Logger
	rep    Reporter
}

// New returns a Runner. mongo, redis and locker are required; store defaults
// to a MongoStore on mongo.
func New(mc *mongo.Client, rc redis.UniversalClient, locker *lock.Locker, store MarkerStore, opts *Options) (*Runner, error) {
	if mc == nil || rc == nil || locker == nil {
		return nil, errors.New("runner: mongo, redis and locker are required")
	}
	r := &Runner{mongo: mc, redis: rc, locker: locker, store: store}
	if opts != nil {
		r.opts = *opts
	}
	o := &r.opts
	if o.RunID == "" {
		o.RunID = NewRunID()
	}
	if o.Host == "" {
		o.Host, _ = os.Hostname()
	}
	if o.BatchSize <= 0 {
		o.BatchSize = defaultBatchSize
	}
	if o.LockWait == 0 {
		o.LockWait = 10 * time.Minute
	}
	if o.StallTimeout == 0 {
		o.StallTimeout = 2 * time.Minute
	}
	if o.Timeout == 0 {
		o.Timeout = 15 * time.Minute
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r.log = o.Log
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.rep = o.Reporter
	if r.rep == nil {
		r.rep = nopReporter{}
	}
	if r.store == nil {
		r.store = NewMongoStore(mc)
	}
	return r, nil
}

// Result is what a run did, profile by profile, in order.
type Result struct {
	RunID    string
	Fence    int64
	Profiles []ProfileResult
}

// ProfileResult is the outcome of one profile.
type ProfileResult struct {
	Profile     string
	Version     string
	PrevVersion string
	Outcome     Outcome
	Duration    time.Duration
	Steps       []StepRecord
	Err         error

	applied []string // profiles applied before this one in the run
}

// Run applies set under the lock (see the package documentation). It returns
// the result so far together with any error.
func (r *Runner) Run(ctx context.Context, set *profiles.Set) (*Result, error) {
	res := &Result{RunID: r.opts.RunID}
	err := r.underLock(ctx, "run", set.Profiles, func(g *leaseGuard, lease *lock.Lease, prevs map[string]*Marker, prog *tracker, log *slog.Logger) error {
		res.Fence = lease.Fence()
		return r.applyAll(g, set, prevs, res, lease, prog, log)
	})
	return res, err
}

// work is what runs under the lock: g is its context, prevs the markers of
// the profiles read once the lock was held.
type work func(g *leaseGuard, lease *lock.Lease, prevs map[string]*Marker, prog *tracker, log *slog.Logger) error

// underLock bounds the whole by the run timeout, takes the lock, reads the
// markers of profs (after taking it: a runner that waited finds the work of
// the one before it done), makes sure the fence is above them, then runs w
// with the lease renewed and the stall watchdog on, and releases the lock,
// also when w failed or was interrupted.
func (r *Runner) underLock(ctx context.Context, what string, profs []*profiles.Profile, w work) error {
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

	lease, err := r.acquire(ctx, log)
	if err != nil {
		r.rep.EndRun("lock-not-acquired", r.opts.Now().Sub(start))
		return err
	}
	prevs, err := r.readMarkers(ctx, profs)
	if err == nil {
		lease, err = r.checkFence(ctx, lease, prevs, log)
	}
	if err != nil {
		r.releaseLock(ctx, lease, log)
		r.rep.EndRun("error", r.opts.Now().Sub(start))
		return err
	}
	log = log.With("fence", lease.Fence())

	guard := newLeaseGuard(ctx, r.opts.Now, r.locker.TTL())
	renewDone := make(chan struct{})
	go func() {
		defer close(renewDone)
		r.renew(guard, lease, log)
	}()
	prog := &tracker{rep: r.rep, now: r.opts.Now}
	prog.touch()
	if r.opts.StallTimeout > 0 {
		go r.watchdog(guard, prog)
	}

	err = w(guard, lease, prevs, prog, log)

	guard.cancel(nil)
	<-renewDone
	r.releaseLock(ctx, lease, log)
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	r.rep.EndRun(outcome, r.opts.Now().Sub(start))
	return err
}

func (r *Runner) acquire(ctx context.Context, log *slog.Logger) (*lock.Lease, error) {
	wctx, cancel := context.WithTimeout(ctx, r.opts.LockWait)
	defer cancel()
	t0 := r.opts.Now()
	log.Info("acquiring lock", "lock", r.locker.Name(), "lock_wait", r.opts.LockWait.String())
	lease, err := r.locker.Acquire(wctx)
	waited := r.opts.Now().Sub(t0)
	r.rep.LockWaited(waited)
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx) // interrupted or run timeout while waiting
		}
		return nil, fmt.Errorf("lock %s not acquired within %s: %w", r.locker.Name(), r.opts.LockWait, err)
	}
	h := lease.Holder()
	r.rep.SetLock(true, lease.Fence(), h.RunID+"@"+h.Host)
	log.Info("lock acquired", "lock", r.locker.Name(), "fence", lease.Fence(), "waited_ms", waited.Milliseconds())
	return lease, nil
}

// applyAll runs the profiles in order and stops at the first failure.
func (r *Runner) applyAll(g *leaseGuard, set *profiles.Set, prevs map[string]*Marker, res *Result, lease *lock.Lease, prog *tracker, log *slog.Logger) error {
	var applied []string
	for _, p := range set.Profiles {
		pr, err := r.applyProfile(g, p, prevs[p.Name], applied, lease, prog, log.With("profile", p.Name))
		res.Profiles = append(res.Profiles, pr)
		if err != nil {
			return err
		}
		if pr.Outcome == OutcomeApplied {
			applied = append(applied, p.Name)
		}
	}
	return nil
}

// readMarkers reads the marker of every profile of profs (nil when none).
func (r *Runner) readMarkers(ctx context.Context, profs []*profiles.Profile) (map[string]*Marker, error) {
	prevs := make(map[string]*Marker, len(profs))
	for _, p := range profs {
		m, err := r.store.Marker(ctx, p.Database, p.Name)
		if err != nil {
			return nil, err
		}
		prevs[p.Name] = m
	}
	return prevs, nil
}

// checkFence makes sure the lease's fence is above every stored marker's. It
// is not when Redis lost the fence counter (a restart without persistence):
// then the counter is raised past the markers and the lock taken again, so
// that this run's markers are not refused as stale.
func (r *Runner) checkFence(ctx context.Context, lease *lock.Lease, prevs map[string]*Marker, log *slog.Logger) (*lock.Lease, error) {
	var top int64
	for _, m := range prevs {
		if m != nil && m.Fence > top {
			top = m.Fence
		}
	}
	if top < lease.Fence() {
		return lease, nil
	}
	log.Warn("fence counter is behind the stored markers (Redis lost its data?); raising it and taking the lock again",
		"fence", lease.Fence(), "highest_marker_fence", top)
	if _, err := r.locker.RaiseFence(ctx, top); err != nil {
		return lease, err
	}
	if err := lease.Release(ctx); err != nil {
		return lease, err
	}
	return r.acquire(ctx, log)
}

// releaseLock releases the lease, with a context of its own bounded by the
// shutdown grace (the run's may be cancelled), and logs how it went.
func (r *Runner) releaseLock(ctx context.Context, lease *lock.Lease, log *slog.Logger) {
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
	r.rep.SetLock(false, lease.Fence(), "")
}

// NewRunID returns a random run id.
func NewRunID() string { return randomID() }

type nopReporter struct{}

func (nopReporter) SetTotal(int64)                               {}
func (nopReporter) Add(int64)                                    {}
func (nopReporter) Heartbeat()                                   {}
func (nopReporter) SetLock(bool, int64, string)                  {}
func (nopReporter) LockWaited(time.Duration)                     {}
func (nopReporter) StartProfile(string, string)                  {}
func (nopReporter) StartStep(string, string)                     {}
func (nopReporter) EndStep(string, string, time.Duration, error) {}
func (nopReporter) EndProfile(string, string, time.Duration)     {}
func (nopReporter) EndRun(string, time.Duration)                 {}
