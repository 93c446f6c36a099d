package profiles

import (
	"fmt"
	"strings"
)

// Names that belong to bootstrap itself: a profile must not be
// able to touch them, or it could delete the lock mid-run, block every
// runner or forge completion markers.
const (
	// ReservedRedisPrefix starts every Redis key of bootstrap: the lock,
	// its fence and holder, and any record of its own.
	ReservedRedisPrefix = "bootstrap:"
	// ReservedCollectionPrefix starts every MongoDB collection of bootstrap:
	// markers, audit records, snapshots, claimed fences.
	ReservedCollectionPrefix = "bootstrap_"
)

// checkReservedCollection returns why a profile may not name the
// collection, or "".
func checkReservedCollection(name string) string {
	if strings.HasPrefix(name, ReservedCollectionPrefix) {
		return fmt.Sprintf("collection %q is reserved: %s* collections are bootstrap's own (markers, ownership, audit, snapshots, fences)", name, ReservedCollectionPrefix)
	}
	return ""
}

// checkReservedKey returns why a redis step may not write the key, or "".
func checkReservedKey(key string) string {
	if strings.HasPrefix(key, ReservedRedisPrefix) {
		return fmt.Sprintf("key %q is reserved: %s* keys are bootstrap's own (the lock and its records)", key, ReservedRedisPrefix)
	}
	return ""
}

// checkReservedGlob returns why a reset may not delete the keys matching
// glob, or "".
func checkReservedGlob(glob string) string {
	if globCouldMatchPrefix(glob, ReservedRedisPrefix) {
		return fmt.Sprintf("%q could match bootstrap's own keys (%s*: the lock and its records); name keys that cannot", glob, ReservedRedisPrefix)
	}
	return ""
}

// globToken is one element of a Redis glob: a set of bytes it matches
// once, or any number of any bytes (star).
type globToken struct {
	star bool
	set  *[256]bool
}

// parseGlob splits a Redis glob (SCAN MATCH, KEYS) into tokens, exactly as
// Redis's stringmatchlen reads it: "*" any bytes, "?" one byte, "[...]" one
// byte of a class ("^" negates, "a-z" ranges either way round, "\" escapes;
// an unclosed class runs to the end), "\" escapes the next byte (a "\" at
// the end is itself), any other byte itself. Matching is case-sensitive.
func parseGlob(glob string) []globToken {
	var toks []globToken
	p := []byte(glob)
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '*':
			toks = append(toks, globToken{star: true})
		case '?':
			var all [256]bool
			for c := range all {
				all[c] = true
			}
			toks = append(toks, globToken{set: &all})
		case '[':
			var set *[256]bool
			set, i = parseClass(p, i+1)
			toks = append(toks, globToken{set: set})
		default:
			if p[i] == '\\' && i+1 < len(p) {
				i++
			}
			var one [256]bool
			one[p[i]] = true
			toks = append(toks, globToken{set: &one})
		}
	}
	return toks
}

// parseClass reads the class that starts at p[i] (after its "["), as
// stringmatchlen does, and returns the bytes it matches and the index of
// its last byte (its "]", or the pattern's last byte when unclosed).
func parseClass(p []byte, i int) (*[256]bool, int) {
	at := func(j int) byte { // stringmatchlen reads a NUL past the end
		if j < len(p) {
			return p[j]
		}
		return 0
	}
	var set [256]bool
	not := at(i) == '^'
	if not {
		i++
	}
	for {
		left := len(p) - i
		switch {
		case at(i) == '\\' && left >= 2:
			i++
			set[p[i]] = true
		case at(i) == ']':
			return negate(&set, not), i
		case left <= 0:
			return negate(&set, not), len(p) - 1
		case left >= 3 && p[i+1] == '-':
			lo, hi := p[i], p[i+2]
			if lo > hi {
				lo, hi = hi, lo
			}
			for c := int(lo); c <= int(hi); c++ {
				set[c] = true
			}
			i += 2
		default:
			set[p[i]] = true
		}
		i++
	}
}

func negate(set *[256]bool, not bool) *[256]bool {
	if not {
		for c := range set {
			set[c] = !set[c]
		}
	}
	return set
}

// globCouldMatchPrefix reports whether some string that starts with prefix
// matches glob: the glob's tokens are run over prefix as a set of states,
// and a state left at the end can always be completed (every token of a
// glob matches something) unless it has to match a byte from an empty
// class.
func globCouldMatchPrefix(glob, prefix string) bool {
	toks := parseGlob(glob)
	states := map[int]bool{0: true}
	closeStars(toks, states)
	for i := 0; i < len(prefix) && len(states) > 0; i++ {
		next := map[int]bool{}
		for s := range states {
			switch {
			case s == len(toks):
			case toks[s].star:
				next[s] = true
			case toks[s].set[prefix[i]]:
				next[s+1] = true
			}
		}
		closeStars(toks, next)
		states = next
	}
	for s := range states {
		if completable(toks[s:]) {
			return true
		}
	}
	return false
}

// closeStars adds to states the states reached by skipping stars.
func closeStars(toks []globToken, states map[int]bool) {
	for s := range states {
		for t := s; t < len(toks) && toks[t].star; t++ {
			states[t+1] = true
		}
	}
}

// completable reports whether some string matches toks.
func completable(toks []globToken) bool {
	for _, t := range toks {
		if t.star {
			continue
		}
		empty := true
		for _, ok := range t.set {
			if ok {
				empty = false
				break
			}
		}
		if empty {
			return false
		}
	}
	return true
}
