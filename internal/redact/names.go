package redact

import (
	"slices"
	"strings"
	"unicode"
)

// secretWords are the words of a field name that say its value is a
// secret. A name is split into words at case changes and at any character
// that is not a letter or a digit, so "apiKey", "api_key", "API-KEY" and
// "x-api-key" all hold "key".
var secretWords = []string{
	"password", "passwd", "pwd", "passphrase", "pass",
	"secret", "secrets", "token", "tokens", "key", "keys", "apikey",
	"credential", "credentials", "private", "privatekey", "authorization", "cookie", "salt",
}

// SecretName reports whether a field named name probably holds a secret:
// one of its words (split at case changes, "_", "-", "." and any other
// non-alphanumeric character) is password, passwd, pwd, passphrase, pass,
// secret, token, key, apikey, credential, private, privatekey,
// authorization, cookie or salt (or their plural). It errs on the side of
// hiding: "primaryKey" is a secret name too.
func SecretName(name string) bool {
	return slices.ContainsFunc(words(name), func(w string) bool { return slices.Contains(secretWords, w) })
}

// words splits name into lower-case words at non-alphanumeric characters
// and at case changes ("apiKey" → api, key; "APIKey" → api, key).
func words(name string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	rs := []rune(name)
	for i, r := range rs {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
			continue
		case unicode.IsUpper(r) && len(cur) > 0:
			prevLower := unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1])
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if prevLower || (unicode.IsUpper(rs[i-1]) && nextLower) {
				flush()
			}
		}
		cur = append(cur, r)
	}
	flush()
	return out
}
