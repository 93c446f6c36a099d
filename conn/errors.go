package conn

import (
	"errors"
	"fmt"
)

// ErrUnreachable: MongoDB or Redis did not answer within the connect
// timeout (exit 6).
var ErrUnreachable = errors.New("conn: unreachable")

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
