package runner

import (
	"errors"
	"fmt"
	"strings"
)

// Errors returned by the runner. The command maps them to exit codes
// (SPEC §6) with errors.Is and errors.As.
var (
	// ErrUnreachable: MongoDB or Redis did not answer within the connect
	// timeout (exit 6).
	ErrUnreachable = errors.New("runner: unreachable")
	// ErrLockLost: the lease was lost during the run, or a newer holder's
	// marker fenced this one out (exit 5).
	ErrLockLost = errors.New("runner: lock lost")
	// ErrStalled: no step reported progress for the stall timeout (exit 8).
	ErrStalled = errors.New("runner: stalled")
	// ErrTimeout: the whole run took longer than its timeout (exit 8).
	ErrTimeout = errors.New("runner: timeout")
	// ErrWaitTimeout: `wait` gave up before every marker matched (exit 4).
	ErrWaitTimeout = errors.New("runner: wait timed out")
	// ErrFenced: a marker with a higher fence is already stored.
	ErrFenced = fmt.Errorf("%w: a newer holder's marker is stored", ErrLockLost)
)

// UnreachableError names the service and the address (password redacted)
// that could not be reached.
type UnreachableError struct {
	Service string // "MongoDB" or "Redis"
	Addr    string // redacted
	Err     error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("%s unreachable at %s: %v", e.Service, e.Addr, e.Err)
}

func (e *UnreachableError) Unwrap() []error { return []error{ErrUnreachable, e.Err} }

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
