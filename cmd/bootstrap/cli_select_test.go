package main

import "testing"

// TestCommandInArgs: a command line that names its command builds that
// command's model alone; anything else (run by default, help, --version,
// completion) builds the whole model.
func TestCommandInArgs(t *testing.T) {
	env := func(k string) string { return map[string]string{}[k] }
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"version"}, "version"},
		{[]string{"--log-format", "json", "run", "-p", "a"}, "run"},
		{[]string{"--log-level=debug", "--no-color", "status"}, "status"},
		{[]string{"--termination-log", "wait", "plan"}, "plan"}, // a flag's value is not the command
		{[]string{"-p", "status"}, ""},                          // run's flags first: run by default
		{[]string{}, ""},
		{[]string{"status", "--help"}, ""},
		{[]string{"--version"}, ""},
		{[]string{"bogus"}, ""},
		{[]string{"help", "run"}, ""}, // help needs the command it describes
	} {
		var c cli
		if got := commandInArgs(&c, tc.args, env); got != tc.want {
			t.Errorf("commandInArgs(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
	var c cli
	comp := func(k string) string { return map[string]string{"COMP_LINE": "bootstrap st"}[k] }
	if got := commandInArgs(&c, []string{"status"}, comp); got != "" {
		t.Errorf("with COMP_LINE: %q, want the whole model", got)
	}
}
