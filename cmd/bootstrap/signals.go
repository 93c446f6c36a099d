package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/srvthreds/bootstrap/internal/panics"
)

// signalError is the cause of a run's cancellation by SIGINT or SIGTERM;
// the exit code is 128 + the signal number (130, 143).
type signalError struct{ sig syscall.Signal }

func (e *signalError) Error() string { return "interrupted by " + e.sig.String() }

// signalContext returns a context cancelled, with a *signalError cause, by
// the first SIGINT or SIGTERM.
func signalContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		defer panics.Recover(nil, "signal handler", nil)
		select {
		case s := <-ch:
			sig, _ := s.(syscall.Signal)
			cancel(&signalError{sig: sig})
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel(nil)
	}
}
