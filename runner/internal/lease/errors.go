package lease

import (
	"context"
	"errors"
	"fmt"

	"github.com/srvthreds/bootstrap/store"
)

// Errors a session ends with. The runner exports them (runner.ErrLockLost,
// runner.ErrStalled, runner.ErrFenced) and the command maps them to exit
// codes 5 and 8.
var (
	// ErrLost: the lease was lost, could not be confirmed within its
	// validity, or a store refused a write as fenced out.
	ErrLost = errors.New("runner: lock lost")
	// ErrStalled: nothing reported progress for the stall timeout.
	ErrStalled = errors.New("runner: stalled")
	// ErrFenced: a store holds a record with a higher fence, written by a
	// newer holder. It is also an ErrLost.
	ErrFenced = fmt.Errorf("%w: %w", ErrLost, store.ErrFenced)
)

// errExpired is the cause of a session whose lease is past its validity.
// It is also a context.Canceled, so code that checks for cancellation stops.
var errExpired = fmt.Errorf("%w: lease not confirmed within its ttl (%w)", ErrLost, context.Canceled)

// Fenced turns a store's store.ErrFenced into ErrFenced (an ErrLost); any
// other error is returned as is.
func Fenced(err error) error {
	if errors.Is(err, store.ErrFenced) && !errors.Is(err, ErrFenced) {
		return fmt.Errorf("%w: %w", ErrFenced, err)
	}
	return err
}
