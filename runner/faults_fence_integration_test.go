package runner_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/srvthreds/bootstrap/health"
	"github.com/srvthreds/bootstrap/internal/testutil"
	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/runner"
	"github.com/srvthreds/bootstrap/store"
)

// holdingReporter holds the first step progress report of a batch of
// items (Add with n > 0) until released: the holder stands still between
// two batches of a step while its lease is still confirmed.
type holdingReporter struct {
	*health.State
	once    sync.Once
	held    chan struct{}
	release chan struct{}
}

func (h *holdingReporter) Add(n int64) {
	if n > 0 {
		h.once.Do(func() {
			close(h.held)
			<-h.release
		})
	}
	h.State.Add(n)
}

// keysProfile is a profile "k" whose redis step sets 200 keys k:NNN to tag.
func keysProfile(tag string) fstest.MapFS {
	var b strings.Builder
	b.WriteString("keys:\n")
	for i := range 200 {
		fmt.Fprintf(&b, "  - {key: \"k:%03d\", string: %q}\n", i, tag)
	}
	return fstest.MapFS{
		"k/profile.yaml": file("database: nr\nsteps:\n  - redis: {file: keys.yaml}\n"),
		"k/keys.yaml":    file(b.String()),
	}
}

// TestFault_lock_lost_mid_redis_step_writes_nothing: the lock of a holder
// standing between two batches of a redis step is broken and taken by
// another runner, which applies its own content; the holder, whose lease
// it still believes confirmed, then sends its next batch: the batch checks
// the lock token inside Redis and writes nothing (FENCED), and the holder
// stops with ErrLockLost. Every key holds the second runner's value.
func TestFault_lock_lost_mid_redis_step_writes_nothing(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	ctx := t.Context()
	rep := &holdingReporter{State: health.NewState(nil), held: make(chan struct{}), release: make(chan struct{})}
	a := newRunner(t, f, run{opts: runner.Options{RunID: "a", BatchSize: 10, Reporter: rep}, lockTTL: time.Minute})
	errA := make(chan error, 1)
	go func() {
		_, err := a.Run(ctx, loadSet(t, keysProfile("runner a"), "k"))
		errA <- err
	}()
	select {
	case <-rep.held:
	case err := <-errA:
		t.Fatalf("runner a ended before its first batch was held: %v", err)
	}
	l, err := lock.New(f.rc, testLock, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Break(ctx, true); err != nil {
		t.Fatal(err)
	}
	res, err := newRunner(t, f, run{opts: runner.Options{RunID: "b"}}).Run(ctx, loadSet(t, keysProfile("runner b"), "k"))
	if err != nil || res.Profiles[0].Outcome != store.OutcomeApplied {
		close(rep.release)
		t.Fatalf("runner b: %v, %+v; want applied", err, res)
	}
	close(rep.release)
	if err := <-errA; !errors.Is(err, runner.ErrLockLost) {
		t.Errorf("runner a: %v, want ErrLockLost", err)
	}
	wantRunnerBData(t, f)
}

// freezingReporter stands still at the first report of the lock held: right after the
// lock was acquired, before the guard and the first renewal start.
type freezingReporter struct {
	*health.State
	once    sync.Once
	frozen  chan struct{}
	release chan struct{}
}

func (r *freezingReporter) Report(e health.Event) {
	if l, ok := e.(health.LockState); ok && l.Held {
		r.once.Do(func() {
			close(r.frozen)
			<-r.release
		})
	}
	r.State.Report(e)
}

// TestFault_frozen_right_after_acquiring_writes_nothing: a holder that
// stands still right after acquiring the lock, while another runner waits
// for its lease to run out, takes the lock and applies its own content,
// writes nothing once it goes on (its lease is counted from before the
// acquire request, so it ran out before the lock key did) and stops with
// ErrLockLost; the data and the marker are the other runner's. The other
// runner's acquisition is what the test waits for: no sleep, no race with
// the ttl.
func TestFault_frozen_right_after_acquiring_writes_nothing(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	ctx := t.Context()
	rep := &freezingReporter{State: health.NewState(nil), frozen: make(chan struct{}), release: make(chan struct{})}
	errA := make(chan error, 1)
	go func() {
		_, err := newRunner(t, f, run{opts: runner.Options{RunID: "a", Reporter: rep}, lockTTL: faultTTL}).
			Run(ctx, loadSet(t, keysProfile("runner a"), "k"))
		errA <- err
	}()
	select {
	case <-rep.frozen:
	case err := <-errA:
		t.Fatalf("runner a ended before it acquired the lock: %v", err)
	}
	frozenAt := time.Now()
	res, err := newRunner(t, f, run{opts: runner.Options{RunID: "b", LockWait: time.Minute}, lockTTL: faultTTL}).
		Run(ctx, loadSet(t, keysProfile("runner b"), "k"))
	if err != nil || res.Profiles[0].Outcome != store.OutcomeApplied {
		close(rep.release)
		t.Fatalf("runner b: %v, %+v; want applied", err, res)
	}
	t.Logf("runner a frozen for %s (ttl %s)", time.Since(frozenAt).Round(time.Millisecond), faultTTL)
	close(rep.release)
	if err := <-errA; !errors.Is(err, runner.ErrLockLost) {
		t.Errorf("runner a: %v, want ErrLockLost", err)
	}
	wantRunnerBData(t, f)
}

// wantRunnerBData checks that every key of profile k holds runner b's value
// (the holder that lost the lock wrote none after it) and that the marker is
// runner b's.
func wantRunnerBData(t *testing.T, f *fixture) {
	t.Helper()
	for i := range 200 {
		k := fmt.Sprintf("k:%03d", i)
		if got, err := f.rc.Get(t.Context(), k).Result(); err != nil || got != "runner b" {
			t.Fatalf("%s = %q (%v), want runner b's value: the holder wrote after losing the lock", k, got, err)
		}
	}
	if m := testutil.ReadMarker(t, f.mc, "nr", "k"); m == nil || m.RunID != "b" {
		t.Errorf("marker = %+v, want runner b's", m)
	}
}
