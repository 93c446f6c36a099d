package main

import (
	"fmt"
	"runtime"
)

// versionCmd is `bootstrap version`.
type versionCmd struct{}

// Run prints the version, the git commit and the build date.
func (c *versionCmd) Run(bi *buildInfo, io *stdio) error {
	_, err := fmt.Fprintf(io.Out, "bootstrap %s (commit %s, built %s, %s)\n", bi.Version, bi.Commit, bi.Date, runtime.Version())
	return err
}
