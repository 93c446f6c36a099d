package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/alecthomas/kong"
	"github.com/willabides/kongplete"
)

// completionCmd is `bootstrap completion bash|zsh|fish`. The script it
// prints registers this binary as its own completer: the shell runs it with
// COMP_LINE set, and completeIfAsked answers from kong's model of the command
// line (commands, flags, enum values) before any parsing.
//
//	source <(bootstrap completion bash)
type completionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"The shell: bash, zsh or fish."`
}

// completionScript registers the binary ($bin) as the completer of the
// command ($cmd) in the shell. zsh uses bash's completion through
// bashcompinit; fish sets COMP_LINE itself.
func completionScript(shell string) string {
	switch shell {
	case "fish":
		return `function __complete_${cmd}
    set -lx COMP_LINE (commandline -cp)
    test -z (commandline -ct)
    and set COMP_LINE "$COMP_LINE "
    ${bin}
end
complete -f -c ${cmd} -a "(__complete_${cmd})"
`
	case "zsh":
		return "autoload -U +X bashcompinit && bashcompinit\ncomplete -C ${bin} ${cmd}\n"
	default:
		return "complete -C ${bin} ${cmd}\n"
	}
}

// Run prints the script for the shell.
func (c *completionCmd) Run(kctx *kong.Context, io *stdio) error {
	bin, err := os.Executable()
	if err != nil {
		bin = kctx.Model.Name // found on PATH
	}
	vars := map[string]string{"bin": shellQuote(c.Shell, bin), "cmd": kctx.Model.Name}
	script := os.Expand(completionScript(c.Shell), func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		return "$" + k // the shell's own variables
	})
	_, err = fmt.Fprint(io.Out, script)
	return err
}

// shellQuote quotes s as one word for the shell.
func shellQuote(shell, s string) string {
	if shell == "fish" { // fish reads \' and \\ inside single quotes
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// completeIfAsked answers a shell's completion request (COMP_LINE in the
// process environment, set by the shell for the script above) on the
// parser's stdout and exits 0 through the parser; otherwise it does nothing.
func completeIfAsked(parser *kong.Kong) {
	kongplete.Complete(parser)
}
