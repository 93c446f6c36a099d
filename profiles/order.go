package profiles

import (
	"cmp"
	"slices"
	"strings"
)

// order returns the loaded profiles in apply order, reporting every
// requires cycle (then the order is nil). A profile comes after all it
// requires; among the profiles ready at a time, the one with the lowest
// rank comes first, then the lowest name. A profile's rank is the
// command-line position of the first requested profile that is it or
// (transitively) requires it.
func (l *loader) order(requested []string) []*source {
	if l.reportCycles() {
		return nil
	}
	rank := map[string]int{}
	var mark func(name string, r int)
	mark = func(name string, r int) {
		src := l.srcs[name]
		if src == nil {
			return
		}
		if old, ok := rank[name]; ok && old <= r {
			return
		}
		rank[name] = r
		for _, req := range src.p.Requires {
			mark(req, r)
		}
	}
	for i, name := range requested {
		mark(name, i)
	}
	pending := map[string]int{} // name -> requires not yet placed
	for name, src := range l.srcs {
		for _, req := range src.p.Requires {
			if l.srcs[req] != nil {
				pending[name]++
			}
		}
	}
	var ready []string
	for name := range l.srcs {
		if pending[name] == 0 {
			ready = append(ready, name)
		}
	}
	out := make([]*source, 0, len(l.srcs))
	for len(ready) > 0 {
		slices.SortFunc(ready, func(a, b string) int {
			return cmp.Or(cmp.Compare(rank[a], rank[b]), cmp.Compare(a, b))
		})
		name := ready[0]
		ready = ready[1:]
		out = append(out, l.srcs[name])
		for other, src := range l.srcs {
			if slices.Contains(src.p.Requires, name) {
				if pending[other]--; pending[other] == 0 {
					ready = append(ready, other)
				}
			}
		}
	}
	return out
}

// reportCycles reports each requires cycle once, at the requires entry that
// closes it, and tells whether there was any.
func (l *loader) reportCycles() bool {
	const (
		unseen = iota
		active
		finished
	)
	state := map[string]int{}
	var (
		stack []string
		found bool
		visit func(name string)
	)
	visit = func(name string) {
		src := l.srcs[name]
		state[name] = active
		stack = append(stack, name)
		for _, r := range src.reqs {
			if l.srcs[r.name] == nil {
				continue
			}
			switch state[r.name] {
			case unseen:
				visit(r.name)
			case active:
				i := slices.Index(stack, r.name)
				cycle := append(slices.Clone(stack[i:]), r.name)
				r.at.report("requires cycle: %s", strings.Join(cycle, " -> "))
				found = true
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = finished
	}
	names := make([]string, 0, len(l.srcs))
	for name := range l.srcs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if state[name] == unseen {
			visit(name)
		}
	}
	return found
}
