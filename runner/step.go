package runner

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/srvthreds/bootstrap/profiles"
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

// stepEnv is what a step needs to apply itself. It is built by the runner
// for each step.
type stepEnv struct {
	Mongo     *mongo.Client
	Redis     redis.UniversalClient
	Log       *slog.Logger // carries profile and step fields
	Progress  Progress
	BatchSize int              // at most this many writes per command (SPEC: default 100)
	Now       func() time.Time // clock for "modified" fields
	Profile   *profiles.Profile
	Prev      *StepRecord // the same step's record in the previous marker, or nil
	Getenv    func(string) string
	ReadFile  func(string) ([]byte, error) // for secrets outside the profile
}

// applyFunc applies one step and returns what it did. It must honour ctx:
// when ctx is cancelled (lock lost, stall, signal) it returns promptly with
// ctx's error.
type applyFunc func(ctx context.Context, env *stepEnv, s profiles.Step) (StepRecord, error)
