package main

import (
	"errors"

	"github.com/srvthreds/bootstrap/conn"
	"github.com/srvthreds/bootstrap/internal/panics"
	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner"
	"github.com/srvthreds/bootstrap/store"
)

// Exit codes. They are what a Job's podFailurePolicy matches; the
// README documents them.
const (
	exitOK          = 0
	exitInternal    = 1
	exitUsage       = 2
	exitInvalid     = 3 // also: rollback to a version without a snapshot
	exitNotAcquired = 4
	exitLockLost    = 5
	exitUnreachable = 6
	exitStepFailed  = 7
	exitStalled     = 8
	exitWouldChange = 10 // plan --detailed-exitcode: a run would change something
)

// usageError is a bad command line (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitCode maps an error to its exit code. It is the only place that does.
func exitCode(err error) int {
	var sig *signalError
	var step *runner.StepError
	var usage usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errWouldChange):
		return exitWouldChange
	case errors.Is(err, panics.ErrPanic):
		return exitInternal // a bug: retried
	case errors.As(err, &sig):
		return 128 + int(sig.sig)
	case errors.As(err, &usage), errors.Is(err, conn.ErrConfig):
		return exitUsage
	case errors.Is(err, profiles.ErrInvalid), errors.Is(err, runner.ErrNoSnapshot):
		return exitInvalid
	case errors.Is(err, lock.ErrNotAcquired), errors.Is(err, runner.ErrWaitTimeout), errors.Is(err, lock.ErrHeld):
		return exitNotAcquired
	case errors.Is(err, runner.ErrLockLost), errors.Is(err, lock.ErrLost), errors.Is(err, store.ErrFenced):
		return exitLockLost
	case errors.Is(err, conn.ErrUnreachable):
		return exitUnreachable
	case errors.Is(err, runner.ErrStalled), errors.Is(err, runner.ErrTimeout):
		return exitStalled
	case errors.As(err, &step):
		return exitStepFailed
	default:
		return exitInternal
	}
}

// exitMeaning is what an exit code means, for the termination
// message.
func exitMeaning(code int) string {
	switch code {
	case exitOK:
		return "ok"
	case exitUsage:
		return "bad command line"
	case exitInvalid:
		return "invalid profile"
	case exitNotAcquired:
		return "lock not acquired or wait timed out"
	case exitLockLost:
		return "lock lost"
	case exitUnreachable:
		return "MongoDB or Redis unreachable"
	case exitStepFailed:
		return "a step failed"
	case exitStalled:
		return "stalled or timed out"
	case exitWouldChange:
		return "a run would change something"
	case 128 + 2, 128 + 15:
		return "interrupted"
	default:
		return "internal error"
	}
}
