package runner_test

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner"
	"github.com/srvthreds/bootstrap/store"
)

// waitBound bounds how long a Wait may take to notice a marker a run has
// just written; it only keeps a broken Waiter from hanging the tests.
const waitBound = 30 * time.Second

// stillWaiting is how long a Wait must not return while its profiles are
// pending: long enough for many polls at the test's poll bounds.
const stillWaiting = 500 * time.Millisecond

// startWait starts w.Wait(ctx, set) and returns the channel of its result.
func startWait(ctx context.Context, w *runner.Runner, set *profiles.Set) <-chan error {
	done := make(chan error, 1)
	go func() { done <- w.Wait(ctx, set) }()
	return done
}

// wantWaiting fails t if done delivers before stillWaiting has passed.
func wantWaiting(t *testing.T, done <-chan error, why string) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("Wait returned %v while %s", err, why)
	case <-time.After(stillWaiting):
	}
}

// wantReturned fails t unless done delivers nil within waitBound.
func wantReturned(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait = %v, want nil once the markers match", err)
		}
	case <-time.After(waitBound):
		t.Fatalf("Wait did not return within %s of the run that wrote the markers", waitBound)
	}
}

// TestWait waits while a marker is missing or at an older version, returns
// once a run writes the wanted version, and gives up with ErrWaitTimeout
// naming what is still pending.
func TestWait(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	fsys := lifecycleFS()
	v1 := loadSet(t, fsys, "app")
	v2fs := maps.Clone(fsys)
	v2fs["app/run-config/app.json"] = file(`{"name": "app", "port": 9090}`)
	v2 := loadSet(t, v2fs, "app")
	w := readRunner(t, f, runner.Options{PollMin: 10 * time.Millisecond, PollMax: 100 * time.Millisecond})

	ok := t.Run("missing_marker", func(t *testing.T) {
		done := startWait(t.Context(), w, v1)
		wantWaiting(t, done, "no profile was applied")
		runSet(t, f, v1, run{})
		wantReturned(t, done)
	})
	if !ok {
		return
	}
	ok = t.Run("older_version", func(t *testing.T) {
		done := startWait(t.Context(), w, v2)
		wantWaiting(t, done, "app's marker is at the older version")
		res := runSet(t, f, v2, run{})
		if got := outcomes(res); got["base"] != store.OutcomeSkipped || got["app"] != store.OutcomeApplied {
			t.Fatalf("outcomes = %v, want base skipped and app applied", got)
		}
		wantReturned(t, done)
	})
	if !ok {
		return
	}
	t.Run("current_returns_at_once", func(t *testing.T) {
		// The markers match: the first poll finds nothing pending.
		ctx, cancel := context.WithTimeoutCause(t.Context(), waitBound, runner.ErrWaitTimeout)
		defer cancel()
		if err := w.Wait(ctx, v2); err != nil {
			t.Errorf("Wait = %v, want nil", err)
		}
	})
	t.Run("timeout_names_pending", func(t *testing.T) {
		// v1 is now older than the stored markers of app; base matches.
		// The wait times out at several moments after its first complete
		// poll, so that some fall in the middle of a poll's reads: the
		// error still names what the last complete poll found pending.
		for i := range 5 {
			polled := &firstPoll{done: make(chan struct{})}
			wi := readRunner(t, f, runner.Options{PollMin: 10 * time.Millisecond, PollMax: 100 * time.Millisecond,
				Log: slog.New(polled)})
			ctx, cancel := context.WithCancelCause(t.Context())
			go func() {
				select {
				case <-polled.done:
					time.AfterFunc(time.Duration(i)*17*time.Millisecond, func() { cancel(runner.ErrWaitTimeout) })
				case <-ctx.Done():
				}
			}()
			err := wi.Wait(ctx, v1)
			cancel(nil)
			if !errors.Is(err, runner.ErrWaitTimeout) {
				t.Fatalf("timeout %d: Wait = %v, want ErrWaitTimeout", i, err)
			}
			if msg := err.Error(); !strings.Contains(msg, "app (have ") || strings.Contains(msg, "base") {
				t.Errorf("timeout %d: Wait = %q, want it to name app as pending and not base", i, msg)
			}
		}
	})
	t.Run("cancel_returns_cause", func(t *testing.T) {
		errStop := errors.New("stopped by the test")
		ctx, cancel := context.WithCancelCause(t.Context())
		done := startWait(ctx, w, v1)
		wantWaiting(t, done, "app's marker is at another version")
		cancel(errStop)
		select {
		case err := <-done:
			if !errors.Is(err, errStop) {
				t.Errorf("Wait = %v, want the cancellation's cause", err)
			}
		case <-time.After(waitBound):
			t.Fatalf("Wait did not return within %s of its cancellation", waitBound)
		}
	})
}

// firstPoll is a log handler that closes done at a Waiter's first
// "waiting for profiles" line, logged once its first poll is complete.
type firstPoll struct {
	once sync.Once
	done chan struct{}
}

func (h *firstPoll) Enabled(context.Context, slog.Level) bool { return true }

func (h *firstPoll) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "waiting for profiles" {
		h.once.Do(func() { close(h.done) })
	}
	return nil
}

func (h *firstPoll) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *firstPoll) WithGroup(string) slog.Handler      { return h }
