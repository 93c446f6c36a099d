package main

import (
	"fmt"
	"log/slog"
)

// validateCmd is `bootstrap validate`: SPEC §2.3 only, no network.
type validateCmd struct {
	profileFlags
}

// Run validates the named profiles, or every profile in the directory.
func (c *validateCmd) Run(log *slog.Logger, io *stdio) error {
	set, err := c.load(log, true)
	if err != nil {
		return err
	}
	for _, p := range set.Profiles {
		fmt.Fprintf(io.Out, "ok  %-24s %s  %s, %d steps\n", p.Name, short(p.Version), p.Form, len(p.Steps))
	}
	return nil
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
