package main

import (
	"log/slog"
	"sync"
	"time"

	"github.com/srvthreds/bootstrap/health"
	"github.com/srvthreds/bootstrap/runner"
)

// etaMinSample is how long a step runs before its pace is trusted to
// estimate the time it still needs.
const etaMinSample = 5 * time.Second

// stepETA is the time a step still needs at the pace it has kept since it
// started: elapsed for done of total items. ok is false when there is no
// pace yet (nothing done, no total, the step complete).
func stepETA(elapsed time.Duration, done, total int64) (eta time.Duration, ok bool) {
	if done <= 0 || total <= done || elapsed <= 0 {
		return 0, false
	}
	return time.Duration(float64(elapsed) / float64(done) * float64(total-done)), true
}

// etaWarner forwards every report, and logs one warning in a run when the
// running step's estimated time to finish passes what is left of the run's
// --timeout (which ends the run with exit 8): early enough to raise it.
type etaWarner struct {
	runner.Reporter
	log      *slog.Logger
	timeout  time.Duration
	deadline time.Time

	mu          sync.Mutex
	profile     string
	step        string
	start       time.Time
	done, total int64
	warned      bool
}

// withETAWarning wraps rep with an etaWarner whose run started now and
// ends after timeout; a timeout <= 0 (none) returns rep.
func withETAWarning(rep runner.Reporter, log *slog.Logger, timeout time.Duration) runner.Reporter {
	if timeout <= 0 {
		return rep
	}
	return &etaWarner{Reporter: rep, log: log, timeout: timeout, deadline: time.Now().Add(timeout)}
}

// Report forwards e and follows the step it starts or sizes.
func (w *etaWarner) Report(e health.Event) {
	w.Reporter.Report(e)
	w.mu.Lock()
	defer w.mu.Unlock()
	switch e := e.(type) {
	case health.StepStarted:
		w.profile, w.step, w.start, w.done, w.total = e.Profile, e.Step, time.Now(), 0, 0
	case health.StepTotal:
		w.total = e.Total
	case health.StepEnded:
		w.total = 0
	}
}

// Add forwards n and checks the step's estimate.
func (w *etaWarner) Add(n int64) {
	w.Reporter.Add(n)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done += n
	if w.warned || n <= 0 {
		return
	}
	now := time.Now()
	elapsed := now.Sub(w.start)
	eta, ok := stepETA(elapsed, w.done, w.total)
	left := w.deadline.Sub(now)
	if !ok || elapsed < etaMinSample || eta <= left {
		return
	}
	w.warned = true
	w.log.Warn("this step will likely outlast --timeout, which ends the run with exit 8: raise --timeout (BOOTSTRAP_TIMEOUT) if it is making progress",
		"profile", w.profile, "step", w.step, "done", w.done, "total", w.total,
		"eta", eta.Round(time.Second).String(), "timeout_left", left.Round(time.Second).String(), "timeout", w.timeout.String())
}
