package main

import (
	"errors"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// readmePath is the README, from this package's directory.
const readmePath = "../../README.md"

// updateReadmeEnv, set to 1, makes TestREADME_flags_table_is_current
// rewrite the README's generated block instead of comparing it (make docs).
const updateReadmeEnv = "BOOTSTRAP_UPDATE_README"

func TestREADME_flags_table_is_current(t *testing.T) {
	want, err := readmeFlagsBlock()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	if os.Getenv(updateReadmeEnv) == "1" {
		out, err := replaceGenerated(doc, want)
		if err != nil {
			t.Fatalf("README.md: %v", err)
		}
		if err := os.WriteFile(readmePath, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	start, end, err := generatedBlock(doc)
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	if got := doc[start:end]; got != want {
		t.Errorf("README.md's flags table differs from the command line's flags (%s); run `make docs` and commit README.md", firstDiff(got, want))
	}
}

// firstDiff names the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + " of the block: README has " + quoteOrNone(gl) + ", the flags give " + quoteOrNone(wl)
		}
	}
	return "no line differs"
}

func quoteOrNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return "`" + s + "`"
}

// readmeRow is a row of the README's generated table as a reader sees it.
type readmeRow struct {
	flags, envs, commands []string // the names in backquotes of each cell
	all                   bool     // the commands cell says all (but the commands it names)
}

// readmeRows parses the rows of the README's generated block.
func readmeRows(t *testing.T) []readmeRow {
	t.Helper()
	raw, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	start, end, err := generatedBlock(string(raw))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	var rows []readmeRow
	for line := range strings.SplitSeq(string(raw[start:end]), "\n") {
		cells := strings.Split(line, " | ")
		if !strings.HasPrefix(line, "| `") || len(cells) < 5 {
			continue
		}
		rows = append(rows, readmeRow{
			flags: quoted(cells[0]), envs: quoted(cells[1]), commands: quoted(cells[3]),
			all: strings.HasPrefix(strings.TrimSpace(cells[3]), allCommands),
		})
	}
	return rows
}

// quoted returns the strings between backquotes in s.
func quoted(s string) []string {
	parts := strings.Split(s, "`")
	var out []string
	for i := 1; i < len(parts); i += 2 {
		out = append(out, parts[i])
	}
	return out
}

// Every flag of every command, with each of its variables, is in a row of
// the README's table that names the command (or says all).
func TestREADME_lists_every_flag_and_env_var_of_every_command(t *testing.T) {
	var c cli
	p, err := newParser(&c, io.Discard, io.Discard, envOf())
	if err != nil {
		t.Fatal(err)
	}
	rows := readmeRows(t)
	if len(rows) == 0 {
		t.Fatal("README.md's generated block has no rows")
	}
	for _, cmd := range modelCommands(p.Model) {
		for _, group := range cmd.node.AllFlags(false) {
			for _, f := range group {
				if !documented(f) {
					continue
				}
				if !slices.ContainsFunc(rows, func(r readmeRow) bool { return r.documents(f, cmd.name) }) {
					t.Errorf("README.md: no row of the flags table has --%s with %v for %q", f.Name, f.Envs, cmd.name)
				}
			}
		}
	}
}

// documents reports whether r is f as cmd takes it.
func (r readmeRow) documents(f *kong.Flag, cmd string) bool {
	if !slices.Contains(r.flags, "--"+f.Name) || r.all == slices.Contains(r.commands, cmd) {
		return false
	}
	for _, e := range f.Envs {
		if !slices.Contains(r.envs, e) {
			return false
		}
	}
	return true
}

// docCLI is a small command line with the cases the generator must handle.
type docCLI struct {
	Verbose bool `help:"Global flag." env:"X_VERBOSE"`

	One struct {
		Shared string `short:"s" help:"A flag | with a pipe." default:"a" env:"X_SHARED"`
		Hidden string `help:"Only for <tests>." env:"X_HIDDEN" hidden:""`
	} `cmd:"" help:"First."`
	Two struct {
		Shared string `short:"s" help:"A flag | with a pipe." default:"a" env:"X_SHARED"`
		Other  int    `help:"Another help,   spaced." default:"3" env:"X_OTHER"`
	} `cmd:"" help:"Second."`
	Three struct {
		Shared string `short:"s" aliases:"common" help:"Declared otherwise." env:"X_SHARED_3"`
	} `cmd:"" help:"Third."`
}

// docGroupedCLI is docCLI with a flag in a kong group.
type docGroupedCLI struct {
	docCLI
	Four struct {
		Conn string `help:"Grouped." env:"X_CONN" group:"conn"`
	} `cmd:"" help:"Fourth."`
}

func TestFlagsTable(t *testing.T) {
	const header = "| flag | env | default | commands | meaning |\n|---|---|---|---|---|\n"
	tests := []struct {
		name  string
		model any
		want  string
	}{
		{name: "one_table_without_groups", model: &docCLI{}, want: header +
			"| `--verbose` | `X_VERBOSE` |  | all | Global flag. |\n" +
			"| `-s`, `--shared` | `X_SHARED` | `a` | all but `three` | A flag \\| with a pipe. |\n" +
			"| `--hidden` | `X_HIDDEN` |  | `one` | Only for &lt;tests>. (Not shown by --help.) |\n" +
			"| `--other` | `X_OTHER` | `3` | `two` | Another help, spaced. |\n" +
			"| `-s`, `--shared`, `--common` | `X_SHARED_3` |  | `three` | Declared otherwise. |\n"},
		{name: "a_table_per_group", model: &docGroupedCLI{}, want: "**General**\n\n" + header +
			"| `--verbose` | `X_VERBOSE` |  | all | Global flag. |\n" +
			"| `-s`, `--shared` | `X_SHARED` | `a` | `one`, `two` | A flag \\| with a pipe. |\n" +
			"| `--hidden` | `X_HIDDEN` |  | `one` | Only for &lt;tests>. (Not shown by --help.) |\n" +
			"| `--other` | `X_OTHER` | `3` | `two` | Another help, spaced. |\n" +
			"| `-s`, `--shared`, `--common` | `X_SHARED_3` |  | `three` | Declared otherwise. |\n" +
			"\n**Connection**\n\n" + header +
			"| `--conn` | `X_CONN` |  | `four` | Grouped. |\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := kong.New(tt.model, kong.Writers(io.Discard, io.Discard),
				kong.ExplicitGroups([]kong.Group{{Key: "conn", Title: "Connection"}}))
			if err != nil {
				t.Fatal(err)
			}
			if got := flagsTable(flagRows(p.Model)); got != tt.want {
				t.Errorf("table =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestReplaceGenerated(t *testing.T) {
	block := flagsBegin + "\nnew\n" + flagsEnd
	tests := []struct {
		name, doc, want string
		err             error
	}{
		{name: "replaces_between_markers", doc: "a\n" + flagsBegin + "\nold\n" + flagsEnd + "\nb\n", want: "a\n" + block + "\nb\n"},
		{name: "no_markers", doc: "a\n", err: errNoMarkers},
		{name: "end_before_begin", doc: flagsEnd + "\n" + flagsBegin + "\n", err: errNoMarkers},
		{name: "twice", doc: block + "\n" + block + "\n", err: errNoMarkers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := replaceGenerated(tt.doc, block)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if got != tt.want {
				t.Errorf("doc =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
