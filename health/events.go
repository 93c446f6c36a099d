package health

import "time"

// Event is something that happened in a run, reported to a State with
// Report. Progress itself (items written, heartbeats) is reported with Add.
type Event interface{ event() }

// LockState: whether the run holds the lock, its fence, and the holder
// (run id@host of whoever holds it). Not progress.
type LockState struct {
	Held   bool
	Fence  int64
	Holder string
}

// LockWaited: how long the run has waited for the lock so far. Not
// progress.
type LockWaited struct{ Waited time.Duration }

// ProfileStarted: the run started applying (or checking) a profile; from
// the first, the run is in progress and can stall.
type ProfileStarted struct{ Name, Version string }

// StepStarted: a step of a profile started.
type StepStarted struct{ Profile, Step string }

// StepTotal: how many items the current step will write.
type StepTotal struct{ Total int64 }

// StepEnded: a step of a kind ended after Took, with Err nil on success.
type StepEnded struct {
	Profile, Kind string
	Took          time.Duration
	Err           error
}

// ProfileEnded: a profile's outcome ("applied", "skipped", "failed",
// "interrupted", ...) and duration.
type ProfileEnded struct {
	Name, Outcome string
	Took          time.Duration
}

// RunEnded: the outcome and duration of the whole run; it is no longer in
// progress afterwards.
type RunEnded struct {
	Outcome string
	Took    time.Duration
}

func (LockState) event()      {}
func (LockWaited) event()     {}
func (ProfileStarted) event() {}
func (StepStarted) event()    {}
func (StepTotal) event()      {}
func (StepEnded) event()      {}
func (ProfileEnded) event()   {}
func (RunEnded) event()       {}

// Report records e. Every event but LockState and LockWaited counts as
// progress. Safe for concurrent use.
func (s *State) Report(e Event) {
	switch e := e.(type) {
	case LockState:
		s.SetLock(e.Held, e.Fence, e.Holder)
	case LockWaited:
		s.LockWaited(e.Waited)
	case ProfileStarted:
		s.StartProfile(e.Name, e.Version)
	case StepStarted:
		s.StartStep(e.Profile, e.Step)
	case StepTotal:
		s.SetTotal(e.Total)
	case StepEnded:
		s.EndStep(e.Profile, e.Kind, e.Took, e.Err)
	case ProfileEnded:
		s.EndProfile(e.Name, e.Outcome, e.Took)
	case RunEnded:
		s.EndRun(e.Outcome, e.Took)
	}
}
