package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/alecthomas/kong"
)

// helpCmd is `bootstrap help [command]`: the help that `bootstrap command
// --help` prints (the whole command line's without a command).
type helpCmd struct {
	Command []string `arg:"" optional:"" help:"The command to describe (none: every command)." placeholder:"COMMAND" predictor:"command"`
}

// Run prints the help and exits 0 through the parser; an unknown command
// is a usage error.
func (c *helpCmd) Run(kctx *kong.Context) error {
	_, err := kctx.Kong.Parse(append(slices.Clone(c.Command), "--help"))
	if err != nil {
		return usageError{fmt.Errorf("help %s: %w (bootstrap help lists the commands)", strings.Join(c.Command, " "), err)}
	}
	return nil
}

// Help is the detailed help of the help command.
func (*helpCmd) Help() string {
	return examples("bootstrap help", "bootstrap help run", "bootstrap status --help")
}
