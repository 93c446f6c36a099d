package profiles

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestGlobCouldMatchPrefix(t *testing.T) {
	tests := []struct {
		glob string
		want bool
	}{
		{"*", true},
		{"b*", true},
		{"bootstrap:*", true},
		{"bootstrap:lock:{bootstrap}", true},
		{"boot?trap:*", true},
		{"[ab]ootstrap:x", true},
		{"[^x]ootstrap*", true},
		{"[a-c]oot*", true},
		{"[c-a]oot*", true}, // Redis accepts a range either way round
		{"*:lock:*", true},
		{"*p:*", true},
		{"\\bootstrap:*", true},
		{"bootstrap:", true},
		{"bootstrap:[", false}, // an unclosed, empty class matches no byte
		{"[b", false},          // an unclosed class: {b}, one byte
		{"bootstr*", true},
		{"?", false},         // one byte only
		{"??????????", true}, // ten bytes: "bootstrap:" itself
		{"Pattern:*", false},
		{"IDX:Pattern", false},
		{"bootstrap", false},
		{"bootstrapx*", false},
		{"[^b]*", false},
		{"[]ootstrap:*", false}, // "[]" is an empty class in Redis
		{"[a]ootstrap:*", false},
		{"*x", true},
		{"bootstrap:[]", false},
		{"Bootstrap:*", false},
		{"app:*", false},
	}
	for _, tt := range tests {
		if got := globCouldMatchPrefix(tt.glob, ReservedRedisPrefix); got != tt.want {
			t.Errorf("globCouldMatchPrefix(%q) = %v, want %v", tt.glob, got, tt.want)
		}
	}
}

// redisMatch is Redis's stringmatchlen (util.c, case-sensitive, without
// its early exit for long strings), ported statement by statement, to check
// parseGlob against. Reading past the end of the pattern yields NUL, as the
// C string does.
func redisMatch(pattern, str string) bool {
	p, s := []byte(pattern), []byte(str)
	pc := func(i int) byte {
		if i < len(p) {
			return p[i]
		}
		return 0
	}
	var match func(pi, si int) bool
	match = func(pi, si int) bool {
		plen, slen := len(p)-pi, len(s)-si
		for plen > 0 && slen > 0 {
			switch pc(pi) {
			case '*':
				for plen > 0 && pc(pi+1) == '*' {
					pi++
					plen--
				}
				if plen == 1 {
					return true
				}
				for ; slen > 0; si, slen = si+1, slen-1 {
					if match(pi+1, si) {
						return true
					}
				}
				return false
			case '?':
				si, slen = si+1, slen-1
			case '[':
				var ok bool
				if ok, pi, plen = redisClass(pc, pi+1, plen-1, s[si]); !ok {
					return false
				}
				si, slen = si+1, slen-1
			default:
				if pc(pi) == '\\' && plen >= 2 {
					pi, plen = pi+1, plen-1
				}
				if pc(pi) != s[si] {
					return false
				}
				si, slen = si+1, slen-1
			}
			pi, plen = pi+1, plen-1
			if slen == 0 {
				for pc(pi) == '*' {
					pi, plen = pi+1, plen-1
				}
				break
			}
		}
		return plen == 0 && slen == 0
	}
	return match(0, 0)
}

// redisClass is the "[...]" case of stringmatchlen: it reads the class
// that starts at pattern index pi (after its "["), with plen bytes left,
// matches byte c against it, and returns where the class ends.
func redisClass(pc func(int) byte, pi, plen int, c byte) (bool, int, int) {
	not := pc(pi) == '^'
	if not {
		pi, plen = pi+1, plen-1
	}
	ok := false
	for {
		switch {
		case pc(pi) == '\\' && plen >= 2:
			pi, plen = pi+1, plen-1
			if pc(pi) == c {
				ok = true
			}
		case pc(pi) == ']':
			return ok != not, pi, plen
		case plen == 0:
			return ok != not, pi - 1, plen + 1
		case plen >= 3 && pc(pi+1) == '-':
			lo, hi := pc(pi), pc(pi+2)
			if lo > hi {
				lo, hi = hi, lo
			}
			pi, plen = pi+2, plen-2
			if c >= lo && c <= hi {
				ok = true
			}
		default:
			if pc(pi) == c {
				ok = true
			}
		}
		pi, plen = pi+1, plen-1
	}
}

// globMatches matches s against parseGlob's tokens.
func globMatches(toks []globToken, s string) bool {
	if len(toks) == 0 {
		return s == ""
	}
	if toks[0].star {
		for i := 0; i <= len(s); i++ {
			if globMatches(toks[1:], s[i:]) {
				return true
			}
		}
		return false
	}
	return s != "" && toks[0].set[s[0]] && globMatches(toks[1:], s[1:])
}

// TestParseGlob_agrees_with_redis compares parseGlob with the port of
// Redis's matcher on random globs and strings over a small alphabet.
func TestParseGlob_agrees_with_redis(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const patAlpha, strAlpha = "ab*?[]^-\\", "ab-]^"
	pick := func(alpha string, n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(alpha[r.IntN(len(alpha))])
		}
		return b.String()
	}
	for range 20000 {
		// Redis's "*" does not match an empty string; keys under a prefix
		// are never empty.
		glob, s := pick(patAlpha, r.IntN(7)), pick(strAlpha, 1+r.IntN(5))
		if got, want := globMatches(parseGlob(glob), s), redisMatch(glob, s); got != want {
			t.Fatalf("glob %q on %q: parseGlob says %v, Redis %v", glob, s, got, want)
		}
	}
}

func TestPosIndex_agrees_with_lineCol(t *testing.T) {
	var b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&b, "é%d", i)
		if i%97 == 0 {
			b.WriteString("\n")
		}
	}
	data := []byte(b.String())
	x := newPosIndex(data)
	for off := int64(0); off <= int64(len(data)); off += 7 {
		l1, c1 := lineCol(data, off)
		if l2, c2 := x.lineCol(off); l1 != l2 || c1 != c2 {
			t.Fatalf("offset %d: index says %d:%d, lineCol %d:%d", off, l2, c2, l1, c1)
		}
	}
	if l, c := newPosIndex(nil).lineCol(0); l != 1 || c != 1 {
		t.Errorf("empty file: %d:%d", l, c)
	}
}

// TestGlobCouldMatchPrefix_agrees_with_redis checks, on random globs, that
// globCouldMatchPrefix finds a match exactly when Redis's matcher matches
// some string of the prefix followed by a few bytes.
func TestGlobCouldMatchPrefix_agrees_with_redis(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	// Globs of up to 4 bytes match, if at all, a string of the prefix and
	// at most 3 more bytes, over the bytes the globs name and one other.
	const patAlpha, strAlpha, prefix = "ab:*?[]^-\\", "ab:*?[]^-\\c", "ab:"
	suffixes := []string{""}
	for n := 1; n <= 3; n++ {
		for _, s := range suffixes {
			if len(s) == n-1 {
				for i := range len(strAlpha) {
					suffixes = append(suffixes, s+strAlpha[i:i+1])
				}
			}
		}
	}
	for range 5000 {
		var b strings.Builder
		for range 1 + r.IntN(4) {
			b.WriteByte(patAlpha[r.IntN(len(patAlpha))])
		}
		glob := b.String()
		want := false
		for _, s := range suffixes {
			if redisMatch(glob, prefix+s) {
				want = true
				break
			}
		}
		if got := globCouldMatchPrefix(glob, prefix); got != want {
			t.Fatalf("globCouldMatchPrefix(%q, %q) = %v; Redis matches a string with that prefix: %v", glob, prefix, got, want)
		}
	}
}
