package health

import (
	"slices"
	"time"
)

// Status is a point-in-time view of a State, served as JSON by GET /status.
type Status struct {
	Phase   string `json:"phase"` // PhaseConnecting, PhaseLocking, PhaseRunning or PhaseDone
	Ready   bool   `json:"ready"`
	Stalled bool   `json:"stalled"`

	Profile string `json:"profile,omitempty"` // the current profile
	Version string `json:"version,omitempty"` // its content version
	Step    string `json:"step,omitempty"`    // the current step, "<index>:<kind>"
	Done    int64  `json:"done"`              // items written by the current step
	Total   int64  `json:"total"`             // items the current step announced, 0 if unknown

	Lock LockStatus `json:"lock"`

	LastProgress         time.Time `json:"lastProgress"`
	SinceProgressSeconds float64   `json:"sinceProgressSeconds"`
	StallTimeoutSeconds  float64   `json:"stallTimeoutSeconds"`

	Started         time.Time       `json:"started"`
	Finished        *time.Time      `json:"finished,omitempty"`
	DurationSeconds float64         `json:"durationSeconds,omitempty"` // of the run, once finished
	Outcome         string          `json:"outcome,omitempty"`         // of the run, once finished
	Profiles        []ProfileResult `json:"profiles"`                  // finished profiles, in order
}

// LockStatus is the lock part of a Status.
type LockStatus struct {
	Held          bool    `json:"held"`
	Fence         int64   `json:"fence"`
	Holder        string  `json:"holder,omitempty"`
	WaitedSeconds float64 `json:"waitedSeconds"`
}

// ProfileResult is the outcome of one finished profile.
type ProfileResult struct {
	Name            string  `json:"name"`
	Outcome         string  `json:"outcome"`
	DurationSeconds float64 `json:"durationSeconds"`
}

// Snapshot returns the current Status. Fields are read one by one, so a
// snapshot taken while the run updates the State may mix two neighbouring
// moments; each field is consistent on its own.
func (s *State) Snapshot() Status {
	last := s.at(s.lastProgress.Load())
	st := Status{
		Phase:   s.phase(),
		Ready:   s.ready.Load(),
		Stalled: s.Stalled(),
		Profile: load(&s.profile),
		Version: load(&s.version),
		Step:    load(&s.step),
		Done:    s.done.Load(),
		Total:   s.total.Load(),
		Lock: LockStatus{
			Held:          s.lockHeld.Load(),
			Fence:         s.lockFence.Load(),
			Holder:        load(&s.lockHolder),
			WaitedSeconds: time.Duration(s.lockWaited.Load()).Seconds(),
		},
		LastProgress:         last,
		SinceProgressSeconds: s.now().Sub(last).Seconds(),
		StallTimeoutSeconds:  s.stallTimeout.Seconds(),
		Started:              s.started,
		Outcome:              load(&s.outcome),
	}
	if s.ended.Load() {
		t := s.at(s.finished.Load())
		st.Finished = &t
		st.DurationSeconds = time.Duration(s.runDuration.Load()).Seconds()
	}
	s.mu.Lock()
	st.Profiles = slices.Clone(s.results)
	s.mu.Unlock()
	if st.Profiles == nil {
		st.Profiles = []ProfileResult{}
	}
	return st
}
