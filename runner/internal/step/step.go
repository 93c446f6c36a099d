// Package step holds the step kinds of a profile, one type per kind. Each
// kind describes what a step writes (Writes: the single description used by
// apply, the plan diff and snapshot capture) and applies it (Apply).
//
// A new kind is one file with a type implementing Kind, plus its line in
// Lookup.
package step

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/srvthreds/bootstrap/internal/mongox"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/store"
)

// Progress receives heartbeats from steps. Steps call Add after every batch
// (and at least every few seconds while they wait on something slow, such as
// an HTTP retry or an exec'd command), so that the watchdog and /livez can
// tell a slow step from a hung one.
type Progress interface {
	// SetTotal announces how many items the current step will write.
	SetTotal(n int64)
	// Add reports n more items done; n may be 0 for a bare heartbeat.
	Add(n int64)
}

// Kind is one kind of step (profiles.Kind*).
type Kind interface {
	// Writes describes what s writes, with env.DB as its database,
	// env.Prev as the record of the same step in the version applied
	// before (or nil) and env.Now as its time stamp. It reads no server
	// and no secret. A kind whose effects lie outside both stores (http,
	// exec) returns Writes with Opaque set.
	Writes(env *Env, s profiles.Step) (*Writes, error)
	// WritesRedis reports whether Writes may describe Redis keys for a
	// step of this kind (see WritesRedis); it never does for a kind that
	// says false.
	WritesRedis() bool
	// Apply applies s and returns what it did. It honours ctx: when ctx is
	// cancelled (lock lost, stall, signal) it returns promptly with ctx's
	// error.
	Apply(ctx context.Context, env *Env, s profiles.Step) (store.StepRecord, error)
}

// Lookup returns the kind of a step (profiles.Kind*), or an error for a
// kind it does not know.
func Lookup(kind string) (Kind, error) {
	switch kind {
	case profiles.KindConfigs:
		return configs{}, nil
	case profiles.KindPatterns:
		return patterns{}, nil
	case profiles.KindUsers:
		return users{}, nil
	case profiles.KindDocuments:
		return documents{}, nil
	case profiles.KindRedis:
		return redisKeys{}, nil
	case profiles.KindHTTP:
		return httpCall{}, nil
	case profiles.KindExec:
		return execCommand{}, nil
	case profiles.KindUpsert:
		return upsert{}, nil
	case profiles.KindReplace:
		return replace{}, nil
	}
	return nil, fmt.Errorf("unknown step kind %q", kind)
}

// Env is what a step needs. NewEnv fills in the defaults; the runner builds
// one for each step.
type Env struct {
	Mongo     *mongo.Client
	Redis     redis.UniversalClient
	Log       *slog.Logger // carries profile and step fields
	Progress  Progress
	BatchSize int       // at most this many writes per command (mongox.DefaultBatchSize)
	Now       time.Time // the step's time stamp ("modified"), in milliseconds
	DB        string    // the database the step writes to (Database)
	Prev      *store.StepRecord
	Getenv    func(string) string
	ReadFile  func(string) ([]byte, error) // for secrets outside the profile
	// Guard is the run's lease: it bounds every write and fences Redis
	// batches by the lock; nil: unfenced (plan, tests of a step alone).
	Guard Guard
	// Indexes remembers the indexes of keyed writes already made sure of
	// in this process (see DocSet.KeyIndexes); nil: checked every time.
	Indexes *mongox.Indexes
}

// Guard is the run's lease as the steps see it (the runner's
// lease.Session): every write attempt is bounded by it and none starts once
// the lease is gone (mongox.Window), and Redis batches are sent through it,
// fenced by the lock.
type Guard interface {
	mongox.Window
	// ExecRedis sends cmds as one fenced batch and returns their replies;
	// a lock found lost is store.ErrFenced.
	ExecRedis(ctx context.Context, rc redis.UniversalClient, log *slog.Logger, cmds []redis.Cmder) ([]any, error)
}

// window is the Window of the step's writes: the guard, or none.
func (env *Env) window() mongox.Window {
	if env.Guard == nil {
		return nil
	}
	return env.Guard
}

// NewEnv returns env with its zero fields set to their defaults: a logger
// that discards, no progress, mongox.DefaultBatchSize, the current time,
// profiles.DefaultDatabase, os.Getenv and os.ReadFile. Now is truncated to
// milliseconds, the precision of a BSON date, so that a "modified" field
// and the Redis "ts" derived from it agree.
func NewEnv(env Env) *Env {
	if env.Log == nil {
		env.Log = slog.New(slog.DiscardHandler)
	}
	if env.Progress == nil {
		env.Progress = nopProgress{}
	}
	if env.BatchSize <= 0 {
		env.BatchSize = mongox.DefaultBatchSize
	}
	if env.Now.IsZero() {
		env.Now = time.Now()
	}
	env.Now = env.Now.Truncate(time.Millisecond)
	if env.DB == "" {
		env.DB = profiles.DefaultDatabase
	}
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.ReadFile == nil {
		env.ReadFile = os.ReadFile
	}
	return &env
}

// Database is the database a step writes to: its own, else its profile's,
// else profiles.DefaultDatabase.
func Database(p *profiles.Profile, s profiles.Step) string {
	switch {
	case s.Database != "":
		return s.Database
	case p != nil && p.Database != "":
		return p.Database
	}
	return profiles.DefaultDatabase
}

func (env *Env) batcher() mongox.Batcher {
	return mongox.Batcher{Log: env.Log, Size: env.BatchSize, Progress: env.Progress, Window: env.window()}
}

type nopProgress struct{}

func (nopProgress) SetTotal(int64) {}
func (nopProgress) Add(int64)      {}
