package runner

import (
	"errors"
	"fmt"
	"strings"

	"github.com/srvthreds/bootstrap/runner/internal/lease"
	"github.com/srvthreds/bootstrap/runner/internal/snapshot"
)

// Errors returned by the runner. The command maps them to exit codes
// with errors.Is and errors.As; conn.ErrUnreachable (6) comes from
// the connections.
var (
	// ErrLockLost: the lease was lost during the run, or a newer holder's
	// marker fenced this one out (exit 5).
	ErrLockLost = lease.ErrLost
	// ErrStalled: no step reported progress for the stall timeout (exit 8).
	ErrStalled = lease.ErrStalled
	// ErrTimeout: the whole run took longer than its timeout (exit 8).
	ErrTimeout = errors.New("runner: timeout")
	// ErrWaitTimeout: `wait` gave up before every marker matched (exit 4).
	ErrWaitTimeout = errors.New("runner: wait timed out")
	// ErrFenced: a marker with a higher fence is already stored. It is
	// also an ErrLockLost.
	ErrFenced = lease.ErrFenced
	// ErrNoSnapshot: no stored snapshot restores the version asked for
	// (exit 3).
	ErrNoSnapshot = snapshot.ErrNoSnapshot
)

// StepError is a failed step (exit 7). Applied lists the profiles that were
// applied completely in this run before the failure.
type StepError struct {
	Profile string
	Step    string
	Applied []string
	Err     error
}

func (e *StepError) Error() string {
	msg := fmt.Sprintf("apply %s/%s: %v", e.Profile, e.Step, e.Err)
	if len(e.Applied) > 0 {
		msg += " (applied before it: " + strings.Join(e.Applied, ", ") + ")"
	}
	return msg
}

func (e *StepError) Unwrap() error { return e.Err }
