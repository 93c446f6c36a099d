// Package panics turns a panic into an error that carries its stack, so that
// the program logs it, releases what it holds and exits 1 (retryable)
// instead of crashing with exit 2. Every goroutine the program starts, and
// main, recover through it.
package panics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
)

// ErrPanic matches every *Error.
var ErrPanic = errors.New("panic")

// Error is a recovered panic: the value, where it happened and the stack of
// the goroutine that panicked.
type Error struct {
	Where string // what was running: "watchdog", "lock renewal", ...
	Value any
	Stack []byte
}

func (e *Error) Error() string { return fmt.Sprintf("panic in %s: %v", e.Where, e.Value) }

// Is matches ErrPanic.
func (e *Error) Is(target error) bool { return target == ErrPanic }

// Unwrap returns the panic's value when it is an error.
func (e *Error) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// Recover, deferred at the top of a goroutine, recovers a panic, logs it
// with its stack at error level, and calls onPanic (if not nil) with the
// *Error. log may be nil. It does nothing when there is no panic.
//
//	defer panics.Recover(log, "watchdog", func(err error) { cancel(err) })
func Recover(log *slog.Logger, where string, onPanic func(error)) {
	r := recover()
	if r == nil {
		return
	}
	err := &Error{Where: where, Value: r, Stack: debug.Stack()}
	Log(log, err)
	if onPanic != nil {
		onPanic(err)
	}
}

// Log logs err, a recovered panic, with its stack.
func Log(log *slog.Logger, err *Error) {
	if log == nil {
		return
	}
	log.LogAttrs(context.Background(), slog.LevelError, "panic",
		slog.String("where", err.Where), slog.String("panic", fmt.Sprint(err.Value)),
		slog.String("stack", string(err.Stack)))
}

// Go runs fn in a new goroutine that recovers a panic as Recover does.
func Go(log *slog.Logger, where string, onPanic func(error), fn func()) {
	go func() {
		defer Recover(log, where, onPanic)
		fn()
	}()
}

// Call runs fn and returns its error, or a recovered panic of fn as an
// *Error (logged with its stack).
func Call(log *slog.Logger, where string, fn func() error) (err error) {
	defer Recover(log, where, func(p error) { err = p })
	return fn()
}
