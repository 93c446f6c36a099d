package runner

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/srvthreds/bootstrap/conn"
	"github.com/srvthreds/bootstrap/health"
	"github.com/srvthreds/bootstrap/internal/mongox"
	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/runner/internal/step"
	"github.com/srvthreds/bootstrap/store"
)

// Progress receives heartbeats from steps: SetTotal when a step knows how
// much it will write, Add after every batch (n may be 0 for a bare
// heartbeat). Silence is not progress: the watchdog and /livez count from
// the last report.
type Progress = step.Progress

// Reporter receives the state of a run and is its one stall clock: the
// watchdog reads SinceProgress, as /livez does. health.State implements it.
// All methods must be safe for concurrent use.
type Reporter interface {
	// Report records an event of the run: the lock, a profile or a step
	// started or ended, the run's end (health.Event).
	Report(e health.Event)
	// Add reports n more items written by the current step; n may be 0 for
	// a bare heartbeat. Silence is not progress: the watchdog and /livez
	// count from the last report.
	Add(n int64)
	// SinceProgress is the time since the last progress report.
	SinceProgress() time.Duration
}

// progressOf is rep as the steps' Progress.
func progressOf(rep Reporter) Progress { return stepProgress{rep} }

type stepProgress struct{ Reporter }

func (p stepProgress) SetTotal(n int64) { p.Report(health.StepTotal{Total: n}) }

var _ Reporter = (*health.State)(nil)

// Defaults of Options.
const (
	DefaultSnapshotLimit int64 = 50 << 20 // bytes
	DefaultLockWait            = 10 * time.Minute
	DefaultStallTimeout        = 2 * time.Minute
	DefaultTimeout             = 15 * time.Minute
	DefaultShutdownGrace       = 10 * time.Second
	DefaultPollMin             = 250 * time.Millisecond
	DefaultPollMax             = 5 * time.Second
	DefaultLogEvery            = 10 * time.Second
)

// Options of a run. The zero value of each field means the documented
// default; New applies the defaults once.
type Options struct {
	RunID string // default: a random id
	Host  string // default: os.Hostname (the pod name in Kubernetes)
	Image string // the image version, recorded in markers and audit

	Force bool // re-apply profiles whose marker matches
	// Verify compares the live documents and keys of current profiles with
	// what they write, and applies again (outcome repaired) those that
	// drifted.
	Verify bool
	// Exclusive makes the profiles run the only ones applied in the
	// databases they use: what other profiles' markers there say they
	// wrote is removed (snapshotted first), and those markers with it.
	Exclusive bool
	Reset     bool // drop what each profile's reset: section names, then apply
	BatchSize int  // default mongox.DefaultBatchSize (50): FerretDB hangs on 100 statements that change documents

	KeepVersions  int   // snapshots kept per profile; 0 or negative: none (the run command's default is 5)
	SnapshotLimit int64 // bytes a profile's snapshot may take, default 50 MiB; negative: no limit

	LockWait      time.Duration // default 10m
	StallTimeout  time.Duration // default 2m; negative disables
	Timeout       time.Duration // whole run, default 15m; negative disables
	ShutdownGrace time.Duration // bound on cleanup after cancellation, default 10s

	// Wait polls every PollMin (default 250ms), backing off exponentially
	// up to PollMax (default 5s), logs what it awaits every LogEvery
	// (default 10s) and, when Unreachable is positive, gives up with an
	// error matching conn.ErrUnreachable (exit 6) once every read failed
	// for that long in a row.
	PollMin, PollMax, LogEvery, Unreachable time.Duration

	Log      *slog.Logger // default: discard
	Reporter Reporter     // default: a health.State served nowhere
	Now      func() time.Time
	Env      Env // password and header secrets
	// OnLease, if set, is called with every lease the run takes, as soon
	// as it is taken: a process forced to exit at once (a second signal)
	// can release it on its way out. Releasing it ends the run's work
	// under the lock.
	OnLease func(Lease)
}

// Locker is the lock a Runner takes: *lock.Locker, which New adapts.
type Locker interface {
	// Acquire takes the lock, waiting until ctx ends.
	Acquire(ctx context.Context) (Lease, error)
	// RaiseFence raises the fence counter to at least floor.
	RaiseFence(ctx context.Context, floor int64) (int64, error)
	TTL() time.Duration
	Name() string
	// Key is the lock's Redis key, which Redis batches check the token of.
	Key() string
}

// Lease is one acquisition of a Locker (*lock.Lease).
type Lease interface {
	Refresh(ctx context.Context) error
	Release(ctx context.Context) error
	Confirmed() time.Time
	Fence() int64
	Token() string
	Holder() lock.Holder
}

// lockerOf adapts *lock.Locker to Locker.
type lockerOf struct{ *lock.Locker }

func (l lockerOf) Acquire(ctx context.Context) (Lease, error) {
	lease, err := l.Locker.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return lease, nil
}

var (
	_ Locker = lockerOf{}
	_ Lease  = (*lock.Lease)(nil)
)

// Env looks up environment variables and reads secret files (conn.Env).
type Env = conn.Env

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.RunID == "" {
		o.RunID = NewRunID()
	}
	if o.Host == "" {
		o.Host, _ = os.Hostname()
	}
	o.BatchSize = cmp.Or(max(o.BatchSize, 0), mongox.DefaultBatchSize)
	o.SnapshotLimit = cmp.Or(o.SnapshotLimit, DefaultSnapshotLimit)
	o.LockWait = cmp.Or(o.LockWait, DefaultLockWait)
	o.StallTimeout = cmp.Or(o.StallTimeout, DefaultStallTimeout)
	o.Timeout = cmp.Or(o.Timeout, DefaultTimeout)
	o.ShutdownGrace = cmp.Or(max(o.ShutdownGrace, 0), DefaultShutdownGrace)
	o.PollMin = cmp.Or(max(o.PollMin, 0), DefaultPollMin)
	o.PollMax = cmp.Or(max(o.PollMax, 0), DefaultPollMax)
	o.LogEvery = cmp.Or(max(o.LogEvery, 0), DefaultLogEvery)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Reporter == nil {
		o.Reporter = health.NewState(&health.StateOptions{StallTimeout: max(o.StallTimeout, 0)})
	}
	if o.Env.Getenv == nil {
		o.Env.Getenv = os.Getenv
	}
	if o.Env.ReadFile == nil {
		o.Env.ReadFile = os.ReadFile
	}
	return o
}

// keepVersions is how many snapshots to keep per profile, as given (no
// default); 0: take none.
func (o Options) keepVersions() int { return max(o.KeepVersions, 0) }

// snapshotLimit is the byte limit of a snapshot; 0: none.
func (o Options) snapshotLimit() int64 { return max(o.SnapshotLimit, 0) }

// Stores are what a Runner works on. Run, Rollback and Reset need all
// three; Wait and Status need MongoDB, and Redis when a profile writes
// there; Plan reads the records with MongoDB and Redis, or works offline
// with none (every action unknown).
type Stores struct {
	Mongo  *mongo.Client
	Redis  redis.UniversalClient
	Locker *lock.Locker
}

// Runner runs profiles against one MongoDB and one Redis under one lock,
// and answers what they say of them (Plan, Wait, Status). A Runner is used
// for one command at a time.
type Runner struct {
	mongo   *mongo.Client
	redis   redis.UniversalClient
	store   *store.Store
	records *records
	fences  fenceClaimer // store, where the lock's fences are kept durable
	reader  recordReader // records, as the fast path, the wait for the lock, wait and plan read them
	locker  Locker
	// lockKey is the lock's key for the token check of Redis batches; ""
	// on a Cluster, where it can't be checked atomically with a write.
	lockKey string
	opts    Options
	log     *slog.Logger
	rep     Reporter
	// indexes: those of keyed writes made sure of by this process.
	indexes *mongox.Indexes
}

// New returns a Runner of s, with opts (nil: every default) applied once.
// A method that needs a store s lacks returns an error saying so.
func New(s Stores, opts *Options) (*Runner, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o = o.withDefaults()
	r := &Runner{mongo: s.Mongo, redis: s.Redis, opts: o, log: o.Log, rep: o.Reporter, indexes: mongox.NewIndexes()}
	if s.Mongo != nil {
		r.store = store.New(s.Mongo)
		r.fences = r.store
		r.records = newRecords(r.store, s.Redis)
		r.reader = r.records
	}
	if s.Locker != nil {
		r.locker = lockerOf{s.Locker}
		if _, cluster := s.Redis.(*redis.ClusterClient); !cluster {
			r.lockKey = s.Locker.Key()
		}
	}
	return r, nil
}

// needsAll is the error of a method that writes under the lock on a Runner
// without every store.
func (r *Runner) needsAll(what string) error {
	if r.mongo == nil || r.redis == nil || r.locker == nil {
		return fmt.Errorf("runner: %s needs MongoDB, Redis and a lock", what)
	}
	return nil
}

// needsRecords is the error of a method that reads records on a Runner
// without MongoDB.
func (r *Runner) needsRecords(what string) error {
	if r.reader == nil {
		return fmt.Errorf("runner: %s needs MongoDB", what)
	}
	return nil
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
	Outcome     store.Outcome
	Duration    time.Duration
	Steps       []store.StepRecord
	Err         error

	applied []string // profiles applied before this one in the run
}

// NewRunID returns a random run id.
func NewRunID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
