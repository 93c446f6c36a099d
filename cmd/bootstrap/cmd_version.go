package main

import (
	"fmt"
	"io"
	"runtime"
)

// versionCmd is `bootstrap version` (also `bootstrap --version`).
type versionCmd struct {
	outputFlag
}

// versionReport is the JSON form of the version.
type versionReport struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Date    string `json:"date"`
	Go      string `json:"go"`
}

// Run prints the version, the git commit and the build date.
func (c *versionCmd) Run(bi *buildInfo, io *stdio) error {
	return writeVersion(io.Out, bi, c.json())
}

// writeVersion prints bi as text or JSON.
func writeVersion(w io.Writer, bi *buildInfo, asJSON bool) error {
	if asJSON {
		return writeJSON(w, versionReport{Version: bi.Version, Commit: bi.Commit, Date: bi.Date, Go: runtime.Version()})
	}
	_, err := fmt.Fprintf(w, "bootstrap %s (commit %s, built %s, %s)\n", bi.Version, bi.Commit, bi.Date, runtime.Version())
	return err
}
