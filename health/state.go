// Package health tracks the progress of one run and serves it over HTTP:
// GET /livez, /readyz, /status and /metrics.
//
// The runner updates a [State] as the run goes (connected, lock taken,
// profile and step started, items written, outcomes). [NewHandler] turns the
// State into an [http.Handler], and [Serve] runs it on --health-addr. The
// State also answers the runner's own watchdog through [State.Stalled] and
// [State.SinceProgress], so a run without probes (an initContainer) enforces
// the same rule as the kubelet would.
//
// Progress is what a run reports about its work: [State.Heartbeat],
// [State.StartProfile], [State.StartStep], [State.SetTotal], [State.Add],
// [State.EndStep], [State.EndProfile] and [State.EndRun]. Lock and readiness
// updates are not progress: the lease renewal loop keeps running while a
// step hangs, and must not hide the hang.
package health

import (
	"sync"
	"sync/atomic"
	"time"
)

// DefaultStallTimeout is the StallTimeout of a State whose options name none
// (--stall-timeout).
const DefaultStallTimeout = 2 * time.Minute

// Phases of a run, as reported by [Status].
const (
	PhaseConnecting = "connecting" // not yet connected to the databases
	PhaseLocking    = "locking"    // connected, waiting for the lock
	PhaseRunning    = "running"    // lock held or a profile started
	PhaseDone       = "done"       // EndRun was called
)

// StateOptions configures a State. The zero value means the defaults.
type StateOptions struct {
	// StallTimeout is how long a run in progress may go without reporting
	// progress before it counts as stalled. Zero or negative means
	// DefaultStallTimeout.
	StallTimeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// State is the progress of one run. All its methods are safe for concurrent
// use; the zero value is not usable, create one with NewState.
type State struct {
	now          func() time.Time
	stallTimeout time.Duration
	started      time.Time

	ready        atomic.Bool
	running      atomic.Bool  // between the first StartProfile and EndRun
	ended        atomic.Bool  // EndRun was called
	lastProgress atomic.Int64 // nanoseconds since started (monotonic)
	finished     atomic.Int64 // nanoseconds since started, 0 while running
	runDuration  atomic.Int64 // nanoseconds, set by EndRun

	lockHeld   atomic.Bool
	lockFence  atomic.Int64
	lockHolder atomic.Pointer[string]
	lockWaited atomic.Int64 // nanoseconds

	profile atomic.Pointer[string]
	version atomic.Pointer[string]
	step    atomic.Pointer[string]
	outcome atomic.Pointer[string]
	done    atomic.Int64
	total   atomic.Int64

	mu      sync.Mutex
	results []ProfileResult // guarded by mu

	metrics *stateMetrics
}

// NewState returns the State of a run that starts now. opts may be nil.
func NewState(opts *StateOptions) *State {
	var o StateOptions
	if opts != nil {
		o = *opts
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = DefaultStallTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &State{
		now:          o.Now,
		stallTimeout: o.StallTimeout,
		started:      o.Now(),
	}
	s.metrics = newMetrics(s)
	return s
}

// StallTimeout returns the stall timeout in effect.
func (s *State) StallTimeout() time.Duration { return s.stallTimeout }

// SetInfo sets the bootstrap_info{version} metric to 1, replacing the
// series of any version set before.
func (s *State) SetInfo(version string) {
	s.metrics.setInfo(version)
}

// SetReady records whether the run is connected to its databases; /readyz
// answers 200 once it is. It is not progress.
func (s *State) SetReady(ready bool) { s.ready.Store(ready) }

// SetLock records the lock state: whether this run holds it, its fencing
// token, and the holder (run id and host of whoever holds it, this run or
// another one while waiting). It is not progress.
func (s *State) SetLock(held bool, fence int64, holder string) {
	s.lockHeld.Store(held)
	s.lockFence.Store(fence)
	s.lockHolder.Store(&holder)
}

// LockWaited records how long the run has waited for the lock so far. It may
// be called repeatedly while waiting; each call replaces the previous value.
// It is not progress: waiting is kept alive with Heartbeat.
func (s *State) LockWaited(d time.Duration) { s.lockWaited.Store(int64(d)) }

// MongoThrottled counts one MongoDB command that the server throttled
// (bootstrap_mongo_throttled_total).
func (s *State) MongoThrottled() { s.metrics.throttled.Inc() }

// Heartbeat reports progress without work done, for phases that wait on
// something (connecting, waiting for the lock).
func (s *State) Heartbeat() { s.touch() }

// StartProfile records that the run started applying (or checking) a
// profile. From the first call on, the run is in progress and can stall.
func (s *State) StartProfile(name, version string) {
	s.profile.Store(&name)
	s.version.Store(&version)
	s.step.Store(nil)
	s.done.Store(0)
	s.total.Store(0)
	s.running.Store(!s.ended.Load())
	s.touch()
}

// StartStep records that a step of profile started; it resets the step's
// done and total counters and counts as progress.
func (s *State) StartStep(profile, step string) {
	s.profile.Store(&profile)
	s.step.Store(&step)
	s.done.Store(0)
	s.total.Store(0)
	s.touch()
}

// SetTotal announces how many items the current step will write. It
// implements runner.Progress and counts as progress.
func (s *State) SetTotal(n int64) {
	s.total.Store(n)
	s.touch()
}

// Add reports n more items written by the current step; n may be 0 for a
// bare heartbeat. It implements runner.Progress and counts as progress.
// Positive n also adds to bootstrap_documents_written_total of the current
// profile.
func (s *State) Add(n int64) {
	if n > 0 {
		s.done.Add(n)
		s.metrics.addDocuments(load(&s.profile), n)
	}
	s.touch()
}

// EndStep records that a step of kind in profile ended after d, with err
// nil on success. It counts as progress.
func (s *State) EndStep(profile, kind string, d time.Duration, err error) {
	s.metrics.endStep(profile, kind, d, err != nil)
	s.step.Store(nil)
	s.touch()
}

// EndProfile records the outcome of a profile ("applied", "skipped",
// "failed", "interrupted") and its duration. It counts as progress.
func (s *State) EndProfile(name, outcome string, d time.Duration) {
	s.metrics.endProfile(name, outcome, d)
	s.mu.Lock()
	s.results = append(s.results, ProfileResult{Name: name, Outcome: outcome, DurationSeconds: d.Seconds()})
	s.mu.Unlock()
	s.profile.Store(nil)
	s.version.Store(nil)
	s.step.Store(nil)
	s.touch()
}

// EndRun records the outcome and duration of the whole run. Afterwards the
// run is no longer in progress and never counts as stalled.
func (s *State) EndRun(outcome string, d time.Duration) {
	s.outcome.Store(&outcome)
	s.runDuration.Store(int64(d))
	s.finished.Store(int64(s.elapsed()))
	s.ended.Store(true)
	s.running.Store(false)
	s.metrics.runDuration.Set(d.Seconds())
	s.touch()
}

// SinceProgress returns the time since the last progress report (or since
// NewState, before the first one).
func (s *State) SinceProgress() time.Duration {
	return s.elapsed() - time.Duration(s.lastProgress.Load())
}

// elapsed is the time since NewState on the monotonic clock (time.Now's
// readings keep theirs), so that a wall clock stepped back or forth
// changes no duration.
func (s *State) elapsed() time.Duration { return s.now().Sub(s.started) }

// at is the wall time of an offset from started, for display.
func (s *State) at(offset int64) time.Time { return s.started.Add(time.Duration(offset)) }

// Stalled reports whether a run in progress has gone longer than the stall
// timeout without progress. It is false before the first StartProfile
// (connecting and waiting for the lock have their own timeouts) and after
// EndRun.
func (s *State) Stalled() bool {
	return s.running.Load() && s.SinceProgress() > s.stallTimeout
}

func (s *State) touch() { s.lastProgress.Store(int64(s.elapsed())) }

func (s *State) phase() string {
	switch {
	case s.ended.Load():
		return PhaseDone
	case s.running.Load() || s.lockHeld.Load():
		return PhaseRunning
	case s.ready.Load():
		return PhaseLocking
	default:
		return PhaseConnecting
	}
}

// load returns the string p points to, or "".
func load(p *atomic.Pointer[string]) string {
	if v := p.Load(); v != nil {
		return *v
	}
	return ""
}
