package runner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/srvthreds/bootstrap/health"
	"github.com/srvthreds/bootstrap/internal/testutil"
	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner"
	"github.com/srvthreds/bootstrap/store"
)

// runBound bounds a Run that is expected to end by itself: it never
// measures speed, it only keeps a broken runner from hanging the tests.
const runBound = 2 * time.Minute

// hookReporter is a health.State that also calls hooks from the run's
// goroutines, so a test can act while a step runs.
type hookReporter struct {
	*health.State
	onStep func(profile, step string) // after a step started
	onAdd  func(n int64)              // after Add
}

func (h *hookReporter) Report(e health.Event) {
	h.State.Report(e)
	if s, ok := e.(health.StepStarted); ok && h.onStep != nil {
		h.onStep(s.Profile, s.Step)
	}
}

func (h *hookReporter) Add(n int64) {
	h.State.Add(n)
	if h.onAdd != nil {
		h.onAdd(n)
	}
}

// runWithin runs set with r and fails t when Run does not return within
// runBound.
func runWithin(t *testing.T, ctx context.Context, r *runner.Runner, set *profiles.Set) (*runner.Result, error) {
	t.Helper()
	type outcome struct {
		res *runner.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := r.Run(ctx, set)
		done <- outcome{res, err}
	}()
	select {
	case o := <-done:
		return o.res, o.err
	case <-time.After(runBound):
		t.Fatalf("Run did not return within %s", runBound)
		return nil, nil
	}
}

// execFS is a profiles directory with one profile, name, whose only step
// runs command.
func execFS(name string, command ...string) fstest.MapFS {
	cmd, _ := json.Marshal(command)
	return fstest.MapFS{
		name + "/profile.yaml": file(fmt.Sprintf("steps:\n  - exec: {command: %s}\n", cmd)),
	}
}

// checkInterrupted checks what an interrupted run of profile (in database
// nr) leaves: no marker, one audit record "interrupted" carrying the run's
// error, and a free lock.
func checkInterrupted(t *testing.T, f *fixture, profile, runID string, runErr error) {
	t.Helper()
	if m := testutil.ReadMarker(t, f.mc, profiles.DefaultDatabase, profile); m != nil {
		t.Errorf("%s: marker %+v written by an interrupted run", profile, m)
	}
	a := oneAudit(t, f.mc, profiles.DefaultDatabase, profile, runID)
	if a.Outcome != store.OutcomeInterrupted || a.Error != runErr.Error() {
		t.Errorf("%s: audit outcome %s, error %q; want interrupted, %q", profile, a.Outcome, a.Error, runErr)
	}
	checkLockFree(t, f)
}

// checkLockFree checks that the lock can be taken at once, and releases it.
func checkLockFree(t *testing.T, f *fixture) {
	t.Helper()
	l, err := lock.New(f.rc, testLock, &lock.Options{Holder: lock.Holder{RunID: "checker"}})
	if err != nil {
		t.Fatal(err)
	}
	lease, err := l.TryAcquire(t.Context())
	if err != nil {
		t.Errorf("lock not free after the run: %v", err)
		return
	}
	if err := lease.Release(t.Context()); err != nil {
		t.Errorf("release: %v", err)
	}
}

// TestFaultFenceCounterLost loses the fence counter (Redis restarted without
// persistence) after markers were written at fence 3 or more: the next run
// raises the counter past the markers and writes its own above them.
func TestFaultFenceCounterLost(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	set := loadSet(t, lifecycleFS(), "app")
	var last *runner.Result
	for range 3 {
		last = runSet(t, f, set, run{opts: runner.Options{Force: true}})
	}
	if last.Fence < 3 {
		t.Fatalf("fence after three runs = %d, want >= 3", last.Fence)
	}
	l, err := lock.New(f.rc, testLock, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.rc.Del(t.Context(), l.Key()+":fence").Result(); err != nil || n != 1 {
		t.Fatalf("delete the fence counter: %d, %v; want 1 key deleted", n, err)
	}

	res := runSet(t, f, set, run{opts: runner.Options{Force: true, RunID: "after-loss"}})
	if res.Fence <= last.Fence {
		t.Errorf("fence = %d, want above the stored markers' %d", res.Fence, last.Fence)
	}
	for _, p := range res.Profiles {
		if p.Outcome != store.OutcomeApplied {
			t.Errorf("%s: outcome %s, want applied", p.Profile, p.Outcome)
		}
	}
	checkApplied(t, f.mc, set, res)
	counter, err := f.rc.Get(t.Context(), l.Key()+":fence").Int64()
	if err != nil || counter < res.Fence {
		t.Errorf("fence counter = %d, %v; want >= %d", counter, err, res.Fence)
	}
	checkLockFree(t, f)
}

// faultTTL is the lock ttl of the fault tests that lose a lease: seconds,
// so that no lease runs out by itself on a loaded machine; a test that
// loses the lock breaks it and acts on what it observes.
const faultTTL = 5 * time.Second

// logSeen receives a run's log lines (run.logTo) and closes seen at the
// first line that contains want.
type logSeen struct {
	want []byte
	once sync.Once
	seen chan struct{}
}

func newLogSeen(want string) *logSeen {
	return &logSeen{want: []byte(want), seen: make(chan struct{})}
}

func (l *logSeen) Write(p []byte) (int, error) {
	if bytes.Contains(p, l.want) {
		l.once.Do(func() { close(l.seen) })
	}
	return len(p), nil
}

// TestFaultLockLostMidRun deletes the lock key once the holder has written
// the first batch of a documents step (as if the lease were broken), and
// holds the step there until the run has logged the loss (its next renewal
// finds the key gone): the run stops with ErrLockLost, writes no marker, and
// writes no document after the loss.
func TestFaultLockLostMidRun(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	const n = 200
	docs := make([]map[string]any, n)
	for i := range docs {
		docs[i] = map[string]any{"code": fmt.Sprintf("item-%05d", i), "n": i, "label": strings.Repeat("x", 64)}
	}
	data, err := json.Marshal(docs)
	if err != nil {
		t.Fatal(err)
	}
	set := loadSet(t, fstest.MapFS{
		"bulk/profile.yaml":   file("steps:\n  - documents: {collection: Bulk, dir: data, key: code}\n"),
		"bulk/data/bulk.json": {Data: data},
	}, "bulk")
	bulk := f.mc.Database(profiles.DefaultDatabase).Collection("Bulk")

	l, err := lock.New(f.rc, testLock, nil)
	if err != nil {
		t.Fatal(err)
	}
	lost := newLogSeen(`msg="lock lost"`)
	var (
		once    sync.Once
		delErr  error
		delN    int64
		seenErr error
		atLoss  int64 = -1 // documents stored once the run logged the loss
	)
	rep := &hookReporter{State: health.NewState(nil), onAdd: func(written int64) {
		if written == 0 {
			return
		}
		// The step's goroutine stands here, between two batches, until
		// the renewal loop has found the lease lost.
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if delN, delErr = f.rc.Del(ctx, l.Key()).Result(); delErr != nil || delN != 1 {
				return
			}
			select {
			case <-lost.seen:
			case <-ctx.Done():
				seenErr = fmt.Errorf("no %q log line within a minute of the key's deletion", lost.want)
				return
			}
			atLoss, seenErr = bulk.CountDocuments(ctx, map[string]any{})
		})
	}}
	r := newRunner(t, f, run{
		opts:    runner.Options{RunID: "losing", BatchSize: 10, Reporter: rep},
		lockTTL: faultTTL,
		logTo:   lost,
	})
	res, err := runWithin(t, t.Context(), r, set)
	if delErr != nil || delN != 1 {
		t.Fatalf("delete the lock key during the step: %d, %v; want 1 key deleted", delN, delErr)
	}
	if seenErr != nil {
		t.Fatalf("wait for the run to see the loss: %v", seenErr)
	}
	if !errors.Is(err, runner.ErrLockLost) {
		t.Fatalf("err = %v, want ErrLockLost", err)
	}
	if got := outcomes(res); got["bulk"] != store.OutcomeInterrupted {
		t.Errorf("outcomes = %v, want bulk interrupted", got)
	}
	checkInterrupted(t, f, "bulk", "losing", err)
	written, err := bulk.CountDocuments(t.Context(), map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	if written != atLoss || written <= 0 || written >= n {
		t.Errorf("documents = %d, %d when the run logged the loss (of %d): want the same, part of the step, nothing written after the loss",
			written, atLoss, n)
	}
}

// TestFaultStall runs a command that hangs without output: /livez turns 503
// after the stall timeout, and the run aborts itself with ErrStalled,
// records the profile interrupted and frees the lock.
func TestFaultStall(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	set := loadSet(t, execFS("hang", "/bin/sleep", "30"), "hang")
	// Seconds: the work before the step (the lock, the records) must not
	// pass for a stall on a loaded machine.
	const stall = 5 * time.Second
	state := health.NewState(&health.StateOptions{StallTimeout: stall})
	srv := httptest.NewServer(health.NewHandler(state))
	t.Cleanup(srv.Close)
	livez := func() (int, error) {
		resp, err := srv.Client().Get(srv.URL + "/livez")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := livez(); err != nil || code != http.StatusOK {
		t.Fatalf("/livez before the run = %d, %v; want 200", code, err)
	}

	var (
		saw503, saw200 atomic.Int64
		pollErr        atomic.Value
		stop           = make(chan struct{})
		polled         = make(chan struct{})
	)
	go func() {
		defer close(polled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			code, err := livez()
			switch {
			case err != nil:
				pollErr.Store(err)
			case code == http.StatusServiceUnavailable:
				saw503.Add(1)
			case code == http.StatusOK:
				saw200.Add(1)
			}
		}
	}()
	r := newRunner(t, f, run{opts: runner.Options{RunID: "stalling", StallTimeout: stall, Reporter: state}})
	res, err := runWithin(t, t.Context(), r, set)
	close(stop)
	<-polled

	if !errors.Is(err, runner.ErrStalled) {
		t.Fatalf("err = %v, want ErrStalled", err)
	}
	if e := pollErr.Load(); e != nil {
		t.Errorf("poll /livez: %v", e)
	}
	if saw200.Load() == 0 || saw503.Load() == 0 {
		t.Errorf("/livez answered 200 %d times and 503 %d times during the run; want both", saw200.Load(), saw503.Load())
	}
	if got := outcomes(res); got["hang"] != store.OutcomeInterrupted {
		t.Errorf("outcomes = %v, want hang interrupted", got)
	}
	checkInterrupted(t, f, "hang", "stalling", err)
	if code, err := livez(); err != nil || code != http.StatusOK {
		t.Errorf("/livez after the run = %d, %v; want 200 (a finished run never counts as stalled)", code, err)
	}
}

// TestFaultTimeout bounds the whole run: a command that outlives
// Options.Timeout stops the run with ErrTimeout, even though the stall
// timeout is far away.
func TestFaultTimeout(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	set := loadSet(t, execFS("slow", "/bin/sleep", "30"), "slow")
	// Seconds: the work before the step (the lock, the records) must not
	// use up the timeout on a loaded machine.
	r := newRunner(t, f, run{opts: runner.Options{RunID: "timing-out", Timeout: 5 * time.Second, StallTimeout: time.Minute}})
	res, err := runWithin(t, t.Context(), r, set)
	if !errors.Is(err, runner.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if errors.Is(err, runner.ErrStalled) {
		t.Errorf("err = %v, want no ErrStalled", err)
	}
	if got := outcomes(res); got["slow"] != store.OutcomeInterrupted {
		t.Errorf("outcomes = %v, want slow interrupted", got)
	}
	checkInterrupted(t, f, "slow", "timing-out", err)
}

// TestFaultLockNotAcquired holds the lock from the test: the run gives up
// after LockWait, names the holder, and writes nothing.
func TestFaultLockNotAcquired(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	set := loadSet(t, lifecycleFS(), "legacy", "app")
	holder, err := lock.New(f.rc, testLock, &lock.Options{
		Holder: lock.Holder{RunID: "holder-run-42", Host: "holder-pod-7", Image: "holder-image"},
	})
	if err != nil {
		t.Fatal(err)
	}
	lease, err := holder.TryAcquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lease.Release(context.WithoutCancel(t.Context())) })

	r := newRunner(t, f, run{opts: runner.Options{RunID: "waiter", LockWait: 1500 * time.Millisecond}})
	res, err := runWithin(t, t.Context(), r, set)
	if !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("err = %v, want lock.ErrNotAcquired", err)
	}
	for _, want := range []string{"holder-run-42", "holder-pod-7"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %q, want it to name the holder (%s)", err, want)
		}
	}
	if res == nil || len(res.Profiles) != 0 {
		t.Errorf("result = %+v, want no profile outcome", res)
	}
	for _, c := range []struct{ db, coll string }{
		{"nr", store.MarkersCollection}, {"nr", store.AuditCollection}, {"nr", "Config"}, {"nr", "PatternModel"},
		{"nr", "Reference"}, {"appdb", store.MarkersCollection}, {"appdb", store.AuditCollection}, {"appdb", "Config"},
	} {
		if docs := snapshot(t, f.mc, c.db, c.coll); len(docs) != 0 {
			t.Errorf("%s.%s: %d documents written by a run without the lock", c.db, c.coll, len(docs))
		}
	}
	if keys, err := f.rc.Keys(t.Context(), "*Pattern*").Result(); err != nil || len(keys) != 0 {
		t.Errorf("pattern cache keys = %v, %v; want none", keys, err)
	}
	if err := lease.Refresh(t.Context()); err != nil {
		t.Errorf("the holder's lease after the run: %v, want still held", err)
	}
}

// TestFaultCancelled cancels the run's context with a cause mid-step, as
// the command does on SIGTERM, once the step's command has printed its
// first line: the run returns that cause, records the profile interrupted
// and releases the lock.
func TestFaultCancelled(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	set := loadSet(t, execFS("longrun", "/bin/sh", "-c", "echo started; exec /bin/sleep 30"), "longrun")
	errTerm := errors.New("terminated by SIGTERM")
	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	started := make(chan struct{})
	var once sync.Once
	// Every line of the command's output is a heartbeat (Add(0)).
	rep := &hookReporter{State: health.NewState(nil), onAdd: func(int64) {
		once.Do(func() { close(started) })
	}}
	go func() {
		select {
		case <-started:
			cancel(errTerm)
		case <-ctx.Done():
		}
	}()
	r := newRunner(t, f, run{opts: runner.Options{RunID: "cancelled", Reporter: rep}})
	res, err := runWithin(t, ctx, r, set)
	if !errors.Is(err, errTerm) {
		t.Fatalf("err = %v, want the cancellation's cause %v", err, errTerm)
	}
	if got := outcomes(res); got["longrun"] != store.OutcomeInterrupted {
		t.Errorf("outcomes = %v, want longrun interrupted", got)
	}
	checkInterrupted(t, f, "longrun", "cancelled", err)
}

// TestFaultStepFails fails a step of the second profile: the run returns a
// *StepError naming the profile, the step and the profile applied before
// it, audits the failure, writes no marker for it and does not go on.
func TestFaultStepFails(t *testing.T) {
	t.Parallel()
	f := startFixture(t)
	set := loadSet(t, fstest.MapFS{
		"good/profile.yaml":     file("steps:\n  - documents: {collection: Reference, dir: data, key: code}\n"),
		"good/data/levels.json": file(`[{"code": "low"}, {"code": "high"}]`),
		"bad/profile.yaml": file("requires: [good]\nsteps:\n" +
			"  - exec: {command: [/bin/sh, -c, \"echo boom-on-stderr >&2; exit 3\"]}\n"),
		"later/profile.yaml":    file("steps:\n  - documents: {collection: Later, dir: data}\n"),
		"later/data/thing.json": file(`{"_id": "thing"}`),
	}, "bad", "later")
	if got, want := profileNames(set), []string{"good", "bad", "later"}; !slices.Equal(got, want) {
		t.Fatalf("order = %v, want %v", got, want)
	}

	r := newRunner(t, f, run{opts: runner.Options{RunID: "failing"}})
	res, err := runWithin(t, t.Context(), r, set)
	var se *runner.StepError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T), want a *StepError", err, err)
	}
	if se.Profile != "bad" || se.Step != "0:exec" || !slices.Equal(se.Applied, []string{"good"}) {
		t.Errorf("StepError = {Profile: %q, Step: %q, Applied: %v}, want bad, 0:exec, [good]", se.Profile, se.Step, se.Applied)
	}
	if !strings.Contains(err.Error(), "boom-on-stderr") {
		t.Errorf("err = %q, want the command's stderr", err)
	}
	want := map[string]store.Outcome{"good": store.OutcomeApplied, "bad": store.OutcomeFailed}
	if got := outcomes(res); len(got) != len(want) || got["good"] != want["good"] || got["bad"] != want["bad"] {
		t.Errorf("outcomes = %v, want %v", got, want)
	}

	if m := testutil.ReadMarker(t, f.mc, "nr", "good"); m == nil || m.Fence != res.Fence || m.Version != set.Get("good").Version {
		t.Errorf("good: marker = %+v, want version %s at fence %d", m, set.Get("good").Version, res.Fence)
	}
	if m := testutil.ReadMarker(t, f.mc, "nr", "bad"); m != nil {
		t.Errorf("bad: marker %+v written for a failed profile", m)
	}
	a := oneAudit(t, f.mc, "nr", "bad", "failing")
	// The audit record is written when the profile fails, before the run
	// knows it stops there: its error names the profile, the step and the
	// cause, and the profiles applied before it have records of their own.
	if a.Outcome != store.OutcomeFailed || a.Fence != res.Fence ||
		!strings.Contains(a.Error, "bad/0:exec") || !strings.Contains(a.Error, se.Err.Error()) {
		t.Errorf("bad: audit outcome %s, error %q, fence %d; want failed, naming bad/0:exec and %q, at fence %d",
			a.Outcome, a.Error, a.Fence, se.Err, res.Fence)
	}
	if a := oneAudit(t, f.mc, "nr", "good", "failing"); a.Outcome != store.OutcomeApplied {
		t.Errorf("good: audit outcome %s, want applied", a.Outcome)
	}
	if len(a.Steps) != 1 || a.Steps[0].Error == "" {
		t.Errorf("bad: audit steps = %+v, want the failed step with its error", a.Steps)
	}
	if got := testutil.ReadAudit(t, f.mc, "nr", "later", "failing"); len(got) != 0 {
		t.Errorf("later: audit %+v; want none, the run stops at the first failure", got)
	}
	if m := testutil.ReadMarker(t, f.mc, "nr", "later"); m != nil {
		t.Errorf("later: marker %+v; want none", m)
	}
	if docs := snapshot(t, f.mc, "nr", "Later"); len(docs) != 0 {
		t.Errorf("later: %d documents written after the failure", len(docs))
	}
	checkLockFree(t, f)
}

func profileNames(set *profiles.Set) []string {
	var out []string
	for _, p := range set.Profiles {
		out = append(out, p.Name)
	}
	return out
}
