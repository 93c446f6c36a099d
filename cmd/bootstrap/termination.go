package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/kong"

	"github.com/srvthreds/bootstrap/conn"
	"github.com/srvthreds/bootstrap/runner"
	"github.com/srvthreds/bootstrap/store"
)

// terminationMax is the most Kubernetes reads of a termination message.
const terminationMax = 4096

// terminationReporter is implemented by the commands that change the
// databases (run, reset, rollback): at exit, their outcome per profile goes
// into the termination message, which `kubectl describe` shows.
type terminationReporter interface {
	outcomes() []profileOutcome
}

// profileOutcome is one profile's part of the termination message.
type profileOutcome struct {
	Profile string
	Outcome string // a store.Outcome
	Version string // the version applied, restored or attempted
}

func (c *runCmd) outcomes() []profileOutcome { return resultOutcomes(c.result) }

func (c *resetCmd) outcomes() []profileOutcome { return resultOutcomes(c.result) }

// resultOutcomes are the outcomes of a run's (or a reset's) result.
func resultOutcomes(res *runner.Result) []profileOutcome {
	if res == nil {
		return nil
	}
	out := make([]profileOutcome, len(res.Profiles))
	for i, p := range res.Profiles {
		out[i] = profileOutcome{Profile: p.Profile, Outcome: string(p.Outcome), Version: p.Version}
	}
	return out
}

func (c *rollbackCmd) outcomes() []profileOutcome { return c.done }

// rollbackOutcome is the outcome of a rollback of profile.
func rollbackOutcome(profile string, res *runner.RollbackResult, err error) []profileOutcome {
	if err != nil || res == nil {
		return []profileOutcome{{Profile: profile, Outcome: string(store.OutcomeFailed)}}
	}
	return []profileOutcome{{Profile: profile, Outcome: string(store.OutcomeRolledBack), Version: res.To}}
}

// writeTermination writes the termination message of the selected command,
// when it has one, to the termination log, when that file exists and is
// writable (it does in a Kubernetes container). It never creates the file.
func (c *cli) writeTermination(kctx *kong.Context, code int, err error, log *slog.Logger) {
	r, ok := selectedCommand(kctx).(terminationReporter)
	if !ok || c.TerminationLog == "" {
		return
	}
	msg := terminationMessage(strings.Fields(kctx.Command())[0], r.outcomes(), code, err)
	f, oerr := os.OpenFile(c.TerminationLog, os.O_WRONLY|os.O_TRUNC, 0)
	if oerr != nil {
		if !errors.Is(oerr, fs.ErrNotExist) {
			log.Warn("termination message not written", "path", c.TerminationLog, "err", oerr)
		}
		return
	}
	_, werr := f.WriteString(msg)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		log.Warn("termination message not written", "path", c.TerminationLog, "err", werr)
	}
}

// terminationMessage is one line: the command, its exit code and what it
// means, each profile's outcome, and the error, at most 4 KiB. The error is
// the text the logs carry, with any connection string's password redacted
// once more.
func terminationMessage(command string, outcomes []profileOutcome, code int, err error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: exit %d (%s)", command, code, exitMeaning(code))
	if len(outcomes) > 0 {
		parts := make([]string, len(outcomes))
		for i, o := range outcomes {
			parts[i] = o.Profile + " " + o.Outcome
			if o.Version != "" {
				parts[i] += " " + short(o.Version)
			}
		}
		fmt.Fprintf(&b, "; profiles: %s", strings.Join(parts, ", "))
	}
	if err != nil {
		fmt.Fprintf(&b, "; error: %s", redactURLs(err.Error()))
	}
	msg := strings.Join(strings.Fields(b.String()), " ") // one line
	return truncateUTF8(msg, terminationMax)
}

// urlRE finds connection strings in free text.
var urlRE = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>]+`)

// redactURLs redacts the password of every connection string in s.
func redactURLs(s string) string {
	return urlRE.ReplaceAllStringFunc(s, func(u string) string {
		// Punctuation that ends a sentence is not part of the URI.
		trimmed := strings.TrimRight(u, ":,.;)")
		return conn.Redact(trimmed) + u[len(trimmed):]
	})
}

// truncateUTF8 cuts s to at most limit bytes, on a character boundary, ending
// with "..." when it cut.
func truncateUTF8(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	const more = "..."
	cut := limit - len(more)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + more
}
