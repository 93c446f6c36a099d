package lock

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNotAcquired means the lock is held by another holder. TryAcquire and
	// Acquire return it as a *NotAcquiredError naming that holder.
	ErrNotAcquired = errors.New("lock: not acquired")
	// ErrLost means a lease no longer holds its lock: it expired, or it was
	// broken, and another holder may have taken it since.
	ErrLost = errors.New("lock: lost")
	// ErrHeld means Break refused to break a lock whose holder is still
	// renewing it.
	ErrHeld = errors.New("lock: held")
)

// NotAcquiredError is the error of a failed TryAcquire or Acquire. It
// matches ErrNotAcquired with errors.Is, and also Err when set.
type NotAcquiredError struct {
	// Holder is the holder seen at the last attempt. It is nil only when
	// Acquire gave up before any attempt completed.
	Holder *Holder
	// LastErr is the Redis error of Acquire's last attempt, when that
	// attempt failed with a transient error rather than finding a holder
	// (Redis was unreachable as the wait ended). It is named in Error but
	// not unwrapped: the wait, not Redis, is what failed.
	LastErr error
	// Err is why Acquire stopped waiting (the cause of its context's end);
	// nil from TryAcquire.
	Err error
}

// Error names the holder: run id, host, image, fence and times.
func (e *NotAcquiredError) Error() string {
	var b strings.Builder
	b.WriteString(ErrNotAcquired.Error())
	if e.Holder != nil {
		b.WriteString(": held by ")
		b.WriteString(e.Holder.String())
	}
	if e.LastErr != nil {
		fmt.Fprintf(&b, ": last Redis error: %v", e.LastErr)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap returns ErrNotAcquired and Err.
func (e *NotAcquiredError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrNotAcquired}
	}
	return []error{ErrNotAcquired, e.Err}
}
