package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/alecthomas/kong"
)

// The README's table of flags and environment variables is generated from
// kong's model of every command (the same model --help prints), between
// these two markers. `make docs` rewrites it; TestREADME_flags_table_is_current
// fails while it is stale.
const (
	flagsBegin = "<!-- flags:begin: generated from the command line by `make docs`; edit the flags' help in cmd/bootstrap, not here -->"
	flagsEnd   = "<!-- flags:end -->"
	// allCommands is the commands cell of a flag that every command takes,
	// and starts the cell of one that most commands take ("all but `x`").
	allCommands = "all"
)

// flagRow is one row of the table: one flag as one or more commands
// declare it. A flag declared differently by two commands (another help,
// default or variable) gets a row for each declaration.
type flagRow struct {
	group    string // the title of the flag's kong group, "" for none
	flag     string // "`-p`, `--profile`"
	env      string
	def      string
	help     string
	commands []string // in the order of the help; [allCommands] for a global flag
	except   []string // the commands that don't take it, when fewer than those that do
}

// key identifies a declaration of a flag.
func (r *flagRow) key() string {
	return strings.Join([]string{r.group, r.flag, r.env, r.def, r.help}, "\x00")
}

// commandNode is a command of the model and its name as typed ("a b" for a
// sub-command).
type commandNode struct {
	name string
	node *kong.Node
}

// modelCommands returns every command of app, depth first, in the order of
// the help; hidden commands are left out.
func modelCommands(app *kong.Application) []commandNode {
	var out []commandNode
	var walk func(prefix string, n *kong.Node)
	walk = func(prefix string, n *kong.Node) {
		for _, c := range n.Children {
			if c.Hidden || c.Type != kong.CommandNode {
				continue
			}
			name := strings.TrimSpace(prefix + " " + c.Name)
			out = append(out, commandNode{name: name, node: c})
			walk(name, c)
		}
	}
	walk("", app.Node)
	return out
}

// documented reports whether f belongs in the table: every flag but kong's
// own --help. Hidden flags are listed (their variables are honoured too).
func documented(f *kong.Flag) bool {
	return f.Name != "help"
}

// newFlagRow is the row of f as cmd declares it.
func newFlagRow(f *kong.Flag, cmd string) *flagRow {
	names := []string{"`--" + f.Name + "`"}
	for _, a := range f.Aliases {
		names = append(names, "`--"+a+"`")
	}
	if f.Short != 0 {
		names = append([]string{"`-" + string(f.Short) + "`"}, names...)
	}
	envs := make([]string, len(f.Envs))
	for i, e := range f.Envs {
		envs[i] = "`" + e + "`"
	}
	r := &flagRow{flag: strings.Join(names, ", "), env: strings.Join(envs, ", "), help: f.Help, commands: []string{cmd}}
	if f.Group != nil {
		r.group = f.Group.Title
	}
	if f.HasDefault && f.Default != "" {
		r.def = "`" + f.Default + "`"
	}
	if f.Hidden {
		r.help += " (Not shown by --help.)"
	}
	return r
}

// flagRows returns the rows of app's model: the global flags first, then
// each command's flags in the order they are first declared.
func flagRows(app *kong.Application) []*flagRow {
	var rows []*flagRow
	byKey := map[string]*flagRow{}
	add := func(f *kong.Flag, cmd string) {
		r := newFlagRow(f, cmd)
		if have, ok := byKey[r.key()]; ok {
			if !slices.Contains(have.commands, cmd) {
				have.commands = append(have.commands, cmd)
			}
			return
		}
		byKey[r.key()] = r
		rows = append(rows, r)
	}
	for _, f := range app.Flags {
		if documented(f) {
			add(f, allCommands)
		}
	}
	cmds := modelCommands(app)
	for _, c := range cmds {
		for _, f := range c.node.Flags {
			if documented(f) {
				add(f, c.name)
			}
		}
	}
	for _, r := range rows {
		if r.commands[0] == allCommands {
			continue
		}
		for _, c := range cmds {
			if !slices.Contains(r.commands, c.name) {
				r.except = append(r.except, c.name)
			}
		}
		if len(r.except) < len(r.commands) {
			r.commands = []string{allCommands}
		} else {
			r.except = nil
		}
	}
	return rows
}

// flagsTable renders rows as Markdown: one table, or, when some flags have a
// kong group, one table per group (the ungrouped ones first, as "General").
func flagsTable(rows []*flagRow) string {
	var groups []string
	byGroup := map[string][]*flagRow{}
	for _, r := range rows {
		if _, ok := byGroup[r.group]; !ok {
			groups = append(groups, r.group)
		}
		byGroup[r.group] = append(byGroup[r.group], r)
	}
	slices.SortStableFunc(groups, func(a, b string) int { // "" first, else first seen
		return boolInt(a != "") - boolInt(b != "")
	})
	var b strings.Builder
	for i, g := range groups {
		if i > 0 {
			b.WriteString("\n")
		}
		if len(groups) > 1 {
			title := g
			if title == "" {
				title = "General"
			}
			fmt.Fprintf(&b, "**%s**\n\n", cell(title))
		}
		b.WriteString("| flag | env | default | commands | meaning |\n|---|---|---|---|---|\n")
		for _, r := range byGroup[g] {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.flag, r.env, r.def, commandsCell(r.commands, r.except), cell(r.help))
		}
	}
	return b.String()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// commandsCell names the commands of a row: "all", "all but `x`, `y`",
// or "`a`, `b`".
func commandsCell(cmds, except []string) string {
	switch {
	case len(except) > 0:
		return allCommands + " but " + codeList(except)
	case slices.Equal(cmds, []string{allCommands}):
		return allCommands
	}
	return codeList(cmds)
}

// codeList is "`a`, `b`".
func codeList(names []string) string {
	quoted := make([]string, len(names))
	for i, c := range names {
		quoted[i] = "`" + c + "`"
	}
	return strings.Join(quoted, ", ")
}

// cell makes s safe in a Markdown table cell: one line, no bare pipe, no
// "<" that a renderer would take for an HTML tag.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.NewReplacer("|", `\|`, "<", "&lt;").Replace(s)
}

// readmeFlagsBlock is the generated block of the whole command line, the
// markers included.
func readmeFlagsBlock() (string, error) {
	var c cli
	p, err := newParser(&c, io.Discard, io.Discard, envOf())
	if err != nil {
		return "", fmt.Errorf("build the command line's model: %w", err)
	}
	return flagsBegin + "\n\n" + flagsTable(flagRows(p.Model)) + "\n" + flagsEnd, nil
}

// errNoMarkers is returned when a document lacks the generated block's
// markers, or has them more than once or out of order.
var errNoMarkers = errors.New("no single " + flagsBegin + " … " + flagsEnd + " block")

// generatedBlock returns where the generated block of doc starts and ends
// (the markers included).
func generatedBlock(doc string) (start, end int, err error) {
	start = strings.Index(doc, flagsBegin)
	e := strings.Index(doc, flagsEnd)
	if start < 0 || e < start || strings.Count(doc, flagsBegin) != 1 || strings.Count(doc, flagsEnd) != 1 {
		return 0, 0, errNoMarkers
	}
	return start, e + len(flagsEnd), nil
}

// replaceGenerated returns doc with its generated block replaced by block.
func replaceGenerated(doc, block string) (string, error) {
	start, end, err := generatedBlock(doc)
	if err != nil {
		return "", err
	}
	return doc[:start] + block + doc[end:], nil
}
