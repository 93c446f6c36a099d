package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/srvthreds/bootstrap/internal/panics"
	"github.com/srvthreds/bootstrap/runner"
)

// signalError is the cause of a run's cancellation by SIGINT or SIGTERM;
// the exit code is 128 + the signal number (130, 143).
type signalError struct{ sig syscall.Signal }

func (e *signalError) Error() string { return "interrupted by " + e.sig.String() }

// forcedRelease bounds the release of the lock on a forced exit (a second
// signal, or cleanup past the shutdown grace).
const forcedRelease = 250 * time.Millisecond

// shutdown is the program's handling of SIGINT and SIGTERM . The
// first signal cancels ctx with a *signalError cause, and starts a hard
// deadline of the shutdown grace for all the cleanup that follows (audit,
// release, disconnects, health stop, exec kill); a second signal, or the
// deadline, makes main exit at once, after a best-effort release of the
// lock (forcedRelease).
type shutdown struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	ch     chan os.Signal
	first  chan struct{} // closed by the first signal
	second chan struct{} // closed by the second

	mu       sync.Mutex
	sig      syscall.Signal
	deadline time.Time // of the cleanup, once signalled
	grace    time.Duration
	lease    runner.Lease
	log      *slog.Logger
}

// newShutdown starts handling SIGINT and SIGTERM; stop ends it.
func newShutdown(parent context.Context) *shutdown {
	s := &shutdown{ch: make(chan os.Signal, 2), first: make(chan struct{}), second: make(chan struct{}),
		grace: defaultShutdownGrace}
	ctx, cancel := context.WithCancelCause(parent)
	s.ctx, s.cancel = ctx, cancel
	signal.Notify(s.ch, syscall.SIGINT, syscall.SIGTERM)
	go s.loop()
	return s
}

// defaultShutdownGrace is the grace of the commands without the flag.
const defaultShutdownGrace = 10 * time.Second

func (s *shutdown) loop() {
	defer panics.Recover(nil, "signal handler", nil)
	var v os.Signal
	select {
	case v = <-s.ch:
	case <-s.ctx.Done():
		return // stopped before any signal
	}
	sig, _ := v.(syscall.Signal)
	s.mu.Lock()
	s.sig, s.deadline = sig, time.Now().Add(s.grace)
	s.mu.Unlock()
	close(s.first)
	s.cancel(&signalError{sig: sig})
	<-s.ch // the second signal; the process exits before one when none comes
	close(s.second)
}

// stop ends the handling of signals and cancels ctx.
func (s *shutdown) stop() {
	signal.Stop(s.ch)
	s.cancel(nil)
}

// configure sets the shutdown grace and the logger of the command. s may
// be nil.
func (s *shutdown) configure(grace time.Duration, log *slog.Logger) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grace, s.log = grace, log
}

// held records the lease of the run, to release on a forced exit. s may be
// nil.
func (s *shutdown) held(l runner.Lease) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lease = l
}

// cleanupContext returns a context for cleanup after ctx ended: not
// cancelled with ctx, bounded by d and, once a signal came, by the
// deadline of the shutdown grace. s may be nil.
func (s *shutdown) cleanupContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), d)
	if s == nil {
		return c, cancel
	}
	s.mu.Lock()
	deadline := s.deadline
	s.mu.Unlock()
	if deadline.IsZero() {
		return c, cancel
	}
	c2, cancel2 := context.WithDeadline(c, deadline)
	return c2, func() { cancel2(); cancel() }
}

// wait returns the exit code of the command (from done), or, once a
// signal came, 128 + its number when the cleanup outlasts the shutdown
// grace or a second signal comes, after a best-effort release of the lock.
func (s *shutdown) wait(done <-chan int) int {
	select {
	case code := <-done:
		return code
	case <-s.first:
	}
	s.mu.Lock()
	sig, left, grace, log := s.sig, time.Until(s.deadline), s.grace, s.log
	s.mu.Unlock()
	if log != nil {
		log.Warn("shutting down", "signal", sig.String(), "shutdown_grace", grace.String(),
			"hint", "a second signal exits at once")
	}
	t := time.NewTimer(left)
	defer t.Stop()
	why := "cleanup outlasted --shutdown-grace"
	select {
	case code := <-done:
		return code
	case <-t.C:
	case <-s.second:
		why = "second signal"
	}
	s.forceRelease(why, sig)
	return 128 + int(sig)
}

// forceRelease releases the lock, if held, within forcedRelease, and logs
// the forced exit.
func (s *shutdown) forceRelease(why string, sig syscall.Signal) {
	released := s.releaseHeld()
	s.mu.Lock()
	log := s.log
	s.mu.Unlock()
	if log == nil {
		log = newLogger(os.Stderr, "json", "info", false)
	}
	log.Error("exiting now", "why", why, "signal", sig.String(), "lock_released", released, "exit_code", 128+int(sig))
}

// releaseHeld releases the lease of the run, if one was taken, within
// forcedRelease, and reports whether it did. Releasing a lease already
// released, or lost, does no harm. It returns at forcedRelease even when
// the client does not honour the context's deadline (go-redis waits for its
// read timeout unless ContextTimeoutEnabled). s may be nil.
func (s *shutdown) releaseHeld() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	lease := s.lease
	s.mu.Unlock()
	if lease == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), forcedRelease)
	defer cancel()
	done := make(chan bool, 1)
	go func() {
		defer panics.Recover(nil, "forced release", nil)
		done <- lease.Release(ctx) == nil
	}()
	select {
	case ok := <-done:
		return ok
	case <-ctx.Done():
		return false
	}
}
