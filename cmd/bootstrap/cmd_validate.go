package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/srvthreds/bootstrap/conn"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner"
)

// validateCmd is `bootstrap validate`: validation only, no network.
type validateCmd struct {
	profileFlags `set:"what=validate (default: every profile of the directory)"`
	outputFlag   `group:"output"`

	CheckEnv bool `help:"Also check the environment a run reads, as run does before it connects: every secret of the profiles (passwordFrom, headersFrom, BCRYPT_SALT_ROUNDS) and the connection settings' *_FILE secrets. On by default in the image (its Dockerfile sets BOOTSTRAP_CHECK_ENV=true), off elsewhere." negatable:"" env:"BOOTSTRAP_CHECK_ENV"`
}

// validateReport is the JSON form of a validation: the profiles when they
// are valid, else every problem found.
type validateReport struct {
	Valid    bool              `json:"valid"`
	Profiles []validProfile    `json:"profiles"`
	Problems []validateProblem `json:"problems"`
}

type validProfile struct {
	Profile  string   `json:"profile"`
	Version  string   `json:"version"`
	Form     string   `json:"form"`
	Database string   `json:"database"`
	Steps    int      `json:"steps"`
	Warnings []string `json:"warnings"`
	// KeyNotes are the keys that start with $ or contain .,
	// "file:line:col: field" each: notes, not problems.
	KeyNotes []string `json:"keyNotes"`
}

// validateProblem is a profiles.Problem; zero fields are unknown.
type validateProblem struct {
	Profile string `json:"profile,omitempty"`
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Run validates the named profiles, or every profile in the directory.
func (c *validateCmd) Run(log *slog.Logger, io *stdio) error {
	set, err := c.load(log, true)
	if err == nil && c.CheckEnv {
		err = c.checkEnv(set, io)
	}
	if c.json() {
		if jerr := writeJSON(io.Out, newValidateReport(set, err)); jerr != nil {
			return jerr
		}
	}
	if err != nil {
		return err
	}
	if c.json() {
		return nil
	}
	for _, p := range set.Profiles {
		fmt.Fprintf(io.Out, "ok  %-24s %s  %s, %d steps\n", p.Name, short(p.Version), p.Form, len(p.Steps))
		for _, n := range keyNoteList(p) {
			fmt.Fprintf(io.Out, "    note: %s: key starts with $ or contains . (some servers refuse it; see --omit-keys)\n", n)
		}
		if p.KeyNotesMore > 0 {
			fmt.Fprintf(io.Out, "    note: and %d more such keys\n", p.KeyNotesMore)
		}
	}
	return nil
}

// checkEnv is run's preflight without the connection flags (validate has
// none): the connection settings the environment gives, then the secrets of
// set's steps. It reads the environment and the secret files, and connects
// to nothing.
func (c *validateCmd) checkEnv(set *profiles.Set, io *stdio) error {
	env := conn.Env{Getenv: io.Env, ReadFile: os.ReadFile}.Cached()
	if _, err := conn.ResolveMongoURI("", env); err != nil {
		return err
	}
	if _, err := conn.ResolveRedis("", env); err != nil {
		return err
	}
	return runner.Preflight(set, env)
}

// newValidateReport reports set, or the problems of err (an error that is not
// a validation error, such as a missing directory, is one problem without a
// place).
func newValidateReport(set *profiles.Set, err error) validateReport {
	rep := validateReport{Valid: err == nil, Profiles: []validProfile{}, Problems: []validateProblem{}}
	var verr *profiles.ValidationError
	switch {
	case errors.As(err, &verr):
		for _, p := range verr.Problems {
			rep.Problems = append(rep.Problems, validateProblem{Profile: p.Profile, File: p.File, Line: p.Line,
				Column: p.Column, Field: p.Field, Message: p.Msg})
		}
	case err != nil:
		rep.Problems = append(rep.Problems, validateProblem{Message: err.Error()})
	default:
		for _, p := range set.Profiles {
			rep.Profiles = append(rep.Profiles, validProfile{Profile: p.Name, Version: p.Version, Form: string(p.Form),
				Database: p.Database, Steps: len(p.Steps), Warnings: append([]string{}, p.Warnings...),
				KeyNotes: append([]string{}, keyNoteList(p)...)})
		}
	}
	return rep
}

// short abbreviates a version for tables.
func short(v string) string {
	if len(v) > 12 {
		return v[:12]
	}
	if v == "" {
		return "-"
	}
	return v
}
