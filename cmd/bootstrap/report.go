package main

import (
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner"
	"github.com/srvthreds/bootstrap/store"
)

// outcomeNotRun is the outcome of a requested profile that the command
// did not reach (it failed before, e.g. on the connection or the lock).
const outcomeNotRun = "not-run"

// report is the one JSON document that run, rollback, reset and unlock
// write to stdout at their end when given -o json, whether they succeed or
// fail (docs/output.md describes it). Their log lines go to stderr then.
type report struct {
	Command    string          `json:"command"`
	OK         bool            `json:"ok"`
	ExitCode   int             `json:"exitCode"`
	Error      string          `json:"error,omitempty"` // connection strings' passwords redacted
	RunID      string          `json:"runId,omitempty"`
	Fence      int64           `json:"fence,omitempty"` // of the lease the work was done under; 0: none taken
	DurationMs int64           `json:"durationMs"`
	Profiles   []profileReport `json:"profiles"`
	Rollback   *rollbackReport `json:"rollback,omitempty"`
	Unlock     *unlockReport   `json:"unlock,omitempty"`
}

// profileReport is one profile's outcome.
type profileReport struct {
	Profile     string             `json:"profile"`
	Outcome     string             `json:"outcome"` // a store.Outcome, or not-run
	Version     string             `json:"version,omitempty"`
	PrevVersion string             `json:"prevVersion,omitempty"`
	DurationMs  int64              `json:"durationMs"`
	Steps       []store.StepRecord `json:"steps,omitempty"`
	Error       string             `json:"error,omitempty"`
}

// rollbackReport is what a rollback restored.
type rollbackReport struct {
	From         string   `json:"from,omitempty"`
	To           string   `json:"to,omitempty"`
	Snapshots    []string `json:"snapshots,omitempty"`
	DocsRestored int64    `json:"docsRestored"`
	DocsDeleted  int64    `json:"docsDeleted"`
	KeysRestored int64    `json:"keysRestored"`
	KeysDeleted  int64    `json:"keysDeleted"`
	Members      int64    `json:"members"`
	Uncovered    []string `json:"uncovered,omitempty"`
}

// unlockReport is what unlock found and did.
type unlockReport struct {
	Lock   string        `json:"lock"`
	Broken bool          `json:"broken"`
	Force  bool          `json:"force"`
	Holder *holderReport `json:"holder,omitempty"` // none: the lock was free
}

// holderReport is the holder of the lock that unlock found.
type holderReport struct {
	RunID   string    `json:"runId"`
	Host    string    `json:"host"`
	Image   string    `json:"image,omitempty"`
	Fence   int64     `json:"fence"`
	Since   time.Time `json:"since"`
	Renewed time.Time `json:"renewed"`
}

// jsonReporter is implemented by run, rollback, reset and unlock: their
// report when -o json was given, else nil.
type jsonReporter interface {
	jsonReport() *report
}

// writeReport writes the selected command's report, when it has one, with
// the command's name, exit code, error and duration, to w.
func writeReport(kctx *kong.Context, w io.Writer, code int, err error, took time.Duration, log *slog.Logger) {
	r, ok := selectedCommand(kctx).(jsonReporter)
	if !ok {
		return
	}
	rep := r.jsonReport()
	if rep == nil {
		return
	}
	rep.Command = strings.Fields(kctx.Command())[0]
	rep.OK, rep.ExitCode, rep.DurationMs = err == nil, code, took.Milliseconds()
	if err != nil {
		rep.Error = redactURLs(err.Error())
	}
	if rep.Profiles == nil {
		rep.Profiles = []profileReport{}
	}
	if werr := writeJSON(w, rep); werr != nil && log != nil {
		log.Warn("report not written", "err", werr)
	}
}

// resultReport is the report of a run's or a reset's result: one entry
// per profile of set in order, those the result does not hold not-run.
// Either may be nil.
func resultReport(res *runner.Result, set *profiles.Set) *report {
	rep := &report{}
	got := map[string]runner.ProfileResult{}
	if res != nil {
		rep.RunID, rep.Fence = res.RunID, res.Fence
		for _, p := range res.Profiles {
			got[p.Profile] = p
			rep.Profiles = append(rep.Profiles, profileOf(p))
		}
	}
	if set != nil {
		for _, p := range set.Profiles {
			if _, done := got[p.Name]; !done {
				rep.Profiles = append(rep.Profiles, profileReport{Profile: p.Name, Outcome: outcomeNotRun, Version: p.Version})
			}
		}
	}
	return rep
}

// profileOf is the report of one profile's result.
func profileOf(p runner.ProfileResult) profileReport {
	pr := profileReport{
		Profile: p.Profile, Outcome: string(p.Outcome), Version: p.Version, PrevVersion: p.PrevVersion,
		DurationMs: p.Duration.Milliseconds(), Steps: p.Steps,
	}
	if p.Err != nil {
		pr.Error = redactURLs(p.Err.Error())
	}
	return pr
}

func (c *runCmd) jsonReport() *report {
	if !c.json() || c.DryRun { // a dry run prints the plan
		return nil
	}
	rep := resultReport(c.result, c.set)
	if rep.RunID == "" {
		rep.RunID = c.runID
	}
	return rep
}

func (c *resetCmd) jsonReport() *report {
	if !c.json() {
		return nil
	}
	return resultReport(c.result, c.set)
}

func (c *rollbackCmd) jsonReport() *report {
	if !c.json() {
		return nil
	}
	rep := &report{}
	for _, name := range c.Profile { // exactly one (Validate)
		rep.Profiles = append(rep.Profiles, profileReport{Profile: name, Outcome: outcomeNotRun})
	}
	for _, o := range c.done {
		rep.Profiles = []profileReport{{Profile: o.Profile, Outcome: o.Outcome, Version: o.Version}}
	}
	if res := c.res; res != nil {
		rep.RunID, rep.Fence = res.RunID, res.Fence
		if len(rep.Profiles) == 1 {
			rep.Profiles[0].PrevVersion, rep.Profiles[0].DurationMs = res.From, res.Duration.Milliseconds()
		}
		rep.Rollback = &rollbackReport{
			From: res.From, To: res.To, Snapshots: res.Snapshots,
			DocsRestored: res.DocsRestored, DocsDeleted: res.DocsDeleted,
			KeysRestored: res.KeysRestored, KeysDeleted: res.KeysDeleted, Members: res.Members,
			Uncovered: res.Uncovered,
		}
	}
	return rep
}

func (c *unlockCmd) jsonReport() *report {
	if !c.json() {
		return nil
	}
	u := &unlockReport{Lock: c.LockName, Force: c.Force, Broken: c.broken}
	rep := &report{Unlock: u, RunID: c.runID}
	if h := c.holder; h != nil {
		u.Holder = holderOf(h)
		rep.Fence = h.Fence
	}
	return rep
}

// holderOf is the report of a lock's holder.
func holderOf(h *lock.Holder) *holderReport {
	return &holderReport{RunID: h.RunID, Host: h.Host, Image: h.Image, Fence: h.Fence, Since: h.Since, Renewed: h.Renewed}
}
