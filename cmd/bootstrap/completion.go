package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/alecthomas/kong"
	"github.com/posener/complete"
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

// Run prints the script for the shell. The script names the binary by its
// name, found on PATH when the shell completes, not by the path of the
// process that printed it (a go run build, a path that changes with an
// upgrade).
func (c *completionCmd) Run(kctx *kong.Context, io *stdio) error {
	name := kctx.Model.Name
	vars := map[string]string{"bin": shellQuote(c.Shell, name), "cmd": name}
	script := os.Expand(completionScript(c.Shell), func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		return "$" + k // the shell's own variables
	})
	_, err := fmt.Fprint(io.Out, script)
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
// Flags tagged predictor:"profile" complete the names of the profiles of the
// directory that the command line names (--profiles-dir), else of
// BOOTSTRAP_PROFILES_DIR, else of ./profiles; predictor:"dir", directories;
// predictor:"command", the commands.
func completeIfAsked(parser *kong.Kong, getenv func(string) string) {
	kongplete.Complete(parser,
		kongplete.WithPredictor("profile", complete.PredictFunc(func(a complete.Args) []string {
			names, _ := profileNames(completionProfilesDir(a.Completed, getenv))
			return names
		})),
		kongplete.WithPredictor("dir", complete.PredictDirs("*")),
		kongplete.WithPredictor("command", complete.PredictFunc(func(complete.Args) []string {
			var names []string
			for _, c := range (&cli{}).commands() {
				names = append(names, c.name)
			}
			return names
		})),
	)
}

// completionProfilesDir is the profiles directory of a command line being
// completed: the value of its last --profiles-dir, else
// BOOTSTRAP_PROFILES_DIR, else ./profiles.
func completionProfilesDir(args []string, getenv func(string) string) string {
	dir := ""
	for i, a := range args {
		switch {
		case a == "--profiles-dir" && i+1 < len(args):
			dir = args[i+1]
		case strings.HasPrefix(a, "--profiles-dir="):
			dir = strings.TrimPrefix(a, "--profiles-dir=")
		}
	}
	if dir == "" && getenv != nil {
		dir = getenv("BOOTSTRAP_PROFILES_DIR")
	}
	if dir == "" {
		dir = defaultProfilesDir
	}
	return dir
}
