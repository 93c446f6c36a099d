package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/srvthreds/bootstrap/runner"
)

// planCmd is `bootstrap plan` (and `run --dry-run`): it writes nothing.
type planCmd struct {
	profileFlags `set:"what=plan"`
	connFlags    `group:"connection"`
	outputFlag   `group:"output"`

	Force   bool `help:"Plan as if --force were given." env:"BOOTSTRAP_FORCE"`
	Reset   bool `help:"Show what --reset would drop." env:"BOOTSTRAP_RESET"`
	Offline bool `help:"Do not read markers (no network)." env:"BOOTSTRAP_OFFLINE"`
	Verify  bool `help:"Compare the live documents and keys of current profiles with what they write (a drift is a repair)." env:"BOOTSTRAP_VERIFY"`

	DetailedExitcode bool `name:"detailed-exitcode" help:"Exit 10 when a run would change anything (apply, re-apply, repair)." env:"BOOTSTRAP_DETAILED_EXITCODE"`
}

// errWouldChange is plan --detailed-exitcode's answer when a run would
// change something (exit 10).
var errWouldChange = errors.New("plan: a run would change something")

// Run prints the plan.
func (c *planCmd) Run(ctx context.Context, log *slog.Logger, io *stdio) error {
	set, err := c.load(log, false)
	if err != nil {
		return err
	}
	if c.Verify { // --verify compares users' passwords with their secrets: read them first, as run does
		if err := c.preflight(set, io); err != nil {
			return err
		}
	}
	var stores runner.Stores // offline: none
	if !c.Offline {
		mc, rc, err := c.both(ctx, log, io, dial{finalDNS: true})
		if err != nil {
			return err
		}
		defer disconnect(ctx, io.Shutdown, mc, rc)
		stores = runner.Stores{Mongo: mc, Redis: rc}
	}
	rn, err := runner.New(stores, &runner.Options{Force: c.Force, Reset: c.Reset, Verify: c.Verify, Env: c.env(io)})
	if err != nil {
		return err
	}
	plan, err := rn.Plan(ctx, set)
	if err != nil {
		return err
	}
	if err := c.print(io, plan); err != nil {
		return err
	}
	if c.DetailedExitcode && runner.Changes(plan) {
		return errWouldChange
	}
	return nil
}

// print writes the plan as JSON or text.
func (c *planCmd) print(io *stdio, plan []runner.PlanEntry) error {
	if c.json() {
		return writeJSON(io.Out, plan)
	}
	order := make([]string, len(plan))
	for i, e := range plan {
		order[i] = e.Profile
	}
	fmt.Fprintf(io.Out, "order: %s\n", strings.Join(order, " -> "))
	for _, e := range plan {
		var what string
		switch e.Action {
		case runner.ActionSkip:
			what = "current " + short(e.Version)
		case runner.ActionReapply:
			what = short(e.PrevVersion) + " -> " + short(e.Version)
		default:
			what = "version " + short(e.Version)
		}
		fmt.Fprintf(io.Out, "\n%-9s %s  (%s, db %s)\n", e.Action, e.Profile, what, e.Database)
		for _, r := range e.Reset {
			fmt.Fprintf(io.Out, "  reset: %s\n", r)
		}
		for _, d := range e.Delete {
			fmt.Fprintf(io.Out, "  delete: %s (no longer in the profile)\n", d)
		}
		for i, s := range e.Steps {
			fmt.Fprintf(io.Out, "  %d. %s\n", i+1, s)
		}
		for _, d := range e.Diff {
			printDiff(io.Out, d)
		}
		for _, ix := range e.Indexes {
			fmt.Fprintf(io.Out, "  index: %s\n", ix)
		}
		for _, w := range e.Warnings {
			fmt.Fprintf(io.Out, "  warning: %s\n", w)
		}
	}
	return nil
}

// shownMax is the most characters of a value a text plan shows.
const shownMax = 100

// printDiff writes one step's diff: its counts, the documents (or Redis
// keys) it changes, and each changed document's fields, old -> new.
func printDiff(w io.Writer, d runner.StepDiff) {
	fmt.Fprintf(w, "  diff %s %s: %d to insert, %d to change, %d unchanged", d.Step, d.Collection, d.Insert, d.Change, d.Unchanged)
	if len(d.Changed) > 0 {
		more := ""
		if d.Change > len(d.Changed) {
			more = ", ..."
		}
		fmt.Fprintf(w, "; changed: %s%s", strings.Join(d.Changed, ", "), more)
	}
	if d.Note != "" {
		fmt.Fprintf(w, " (%s)", d.Note)
	}
	fmt.Fprintln(w)
	for _, c := range d.Changes {
		fmt.Fprintf(w, "    ~ %s", c.Key)
		if c.Note != "" {
			fmt.Fprintf(w, " (%s)", c.Note)
		}
		fmt.Fprintln(w)
		for _, f := range c.Fields {
			fmt.Fprintf(w, "        %s: %s -> %s\n", f.Path, shownValue(f.Old), shownValue(f.New))
		}
		if c.More > 0 {
			fmt.Fprintf(w, "        ... and %d more fields\n", c.More)
		}
	}
}

// shownValue is a field's value in a text plan: its JSON, cut to
// shownMax characters, or "(none)" when the field is absent.
func shownValue(v json.RawMessage) string {
	if v == nil {
		return "(none)"
	}
	if r := []rune(string(v)); len(r) > shownMax {
		return string(r[:shownMax]) + "..."
	}
	return string(v)
}
