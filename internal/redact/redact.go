// Package redact renders connection strings and URLs for logs, plans and
// audit records without their secrets. It never echoes what it cannot
// parse: a MongoDB or Redis URI becomes its scheme, hosts, ports, database
// and user, built from a parse of it, or "unparseable URI". SecretName
// tells which field names look like they hold a secret.
package redact

import (
	"net/url"
	"slices"
	"strings"
)

// Unparseable is what URI returns for a string it cannot read as a URI.
const Unparseable = "unparseable URI"

// Hidden stands for a password, after the user name.
const Hidden = "***"

// URI returns s, a MongoDB or Redis connection string or any URL, reduced
// to what is safe to print: "scheme://user:***@host1:port,host2/database"
// (the user and ":***" only when present; ":***" says that a password was
// given, never what it is). The query, the fragment and any path beyond
// the database are dropped. The scheme is printed in lower case.
//
// The password may hold unescaped "/", "+", "@", ":" or "?" (as base64 and
// generated passwords do): the user information runs to the last "@" of
// the string whose rest reads as hosts. A Redis URI whose user information
// has no ":" (redis://secret@host) is a password alone and prints as
// ":***@". Anything that does not read as scheme://hosts[/database] gives
// Unparseable, without any of s.
func URI(s string) string {
	s = strings.TrimSpace(s)
	i := strings.Index(s, "://")
	if i <= 0 || !validScheme(s[:i]) {
		return Unparseable
	}
	scheme, rest := strings.ToLower(s[:i]), s[i+3:]
	userinfo, hasUser, hosts, db, ok := split(rest)
	if !ok {
		return Unparseable
	}
	var b strings.Builder
	b.WriteString(scheme + "://")
	if hasUser {
		user, _, hasPw := strings.Cut(userinfo, ":")
		if !hasPw && strings.HasPrefix(scheme, "redis") {
			user, hasPw = "", true // redis://secret@host: the password alone
		}
		b.WriteString(safeUser(user))
		if hasPw {
			b.WriteString(":" + Hidden)
		}
		b.WriteString("@")
	}
	b.WriteString(hosts)
	if db != "" {
		b.WriteString("/" + db)
	}
	return b.String()
}

// split splits the part of a URI after "scheme://" into user information,
// hosts and database. Each "@" could end the user information (a password
// may hold "@"), or none (a query value may): exactly one of these readings
// must give valid hosts and database, or the URI is not parsed, so that a
// password is never printed as a host.
func split(rest string) (userinfo string, hasUser bool, hosts, db string, ok bool) {
	found := 0
	if h, d, valid := hostsAndDB(rest); valid {
		hosts, db, found = h, d, 1
	}
	for at := strings.LastIndexByte(rest, '@'); at >= 0; at = strings.LastIndexByte(rest[:at], '@') {
		// User information names no host after it: an "@" followed by
		// none is in a query value (Cosmos DB's appName=@account@).
		if h, d, valid := hostsAndDB(rest[at+1:]); valid && h != "" {
			userinfo, hasUser, hosts, db = rest[:at], true, h, d
			found++
		}
	}
	return userinfo, hasUser, hosts, db, found == 1
}

// hostsAndDB reads "host[:port][,host[:port]...][/[database]][?query]".
func hostsAndDB(s string) (hosts, db string, ok bool) {
	end := strings.IndexAny(s, "/?#")
	if end < 0 {
		end = len(s)
	}
	hosts = s[:end]
	for h := range strings.SplitSeq(hosts, ",") {
		if !validHost(h) {
			return "", "", false
		}
	}
	if end < len(s) && s[end] == '/' {
		tail := s[end+1:]
		if q := strings.IndexAny(tail, "?#"); q >= 0 {
			tail = tail[:q]
		}
		if !validDB(tail) {
			return "", "", false
		}
		db = tail
	}
	return hosts, db, true
}

// validScheme reports whether s is a URI scheme: a letter, then letters,
// digits, "+", "-" or ".".
func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isLetter(c) || (i > 0 && (isDigit(c) || c == '+' || c == '-' || c == '.')) {
			continue
		}
		return false
	}
	return s != ""
}

// validHost reports whether h is "name[:port]" or "[ipv6][:port]", or
// empty (the client's default host), with a name of letters, digits, "-",
// ".", "_" or "%" (an escaped socket path).
func validHost(h string) bool {
	name, port := h, ""
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 || !allBytes(h[1:end], func(c byte) bool { return isHex(c) || c == ':' || c == '.' || c == '%' }) {
			return false
		}
		name, port = "", h[end+1:]
		if port != "" && port[0] != ':' {
			return false
		}
		port = strings.TrimPrefix(port, ":")
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		name, port = h[:i], h[i+1:]
	}
	if len(h) > 0 && h[len(h)-1] == ':' {
		return false
	}
	return allBytes(name, func(c byte) bool {
		return isLetter(c) || isDigit(c) || c == '-' || c == '.' || c == '_' || c == '%'
	}) && allBytes(port, isDigit) && len(port) <= 5
}

// validDB reports whether s reads as a database name or number.
func validDB(s string) bool {
	return len(s) <= 64 && allBytes(s, func(c byte) bool {
		return isLetter(c) || isDigit(c) || c == '-' || c == '_' || c == '.'
	})
}

// safeUser returns the user name unescaped when it reads as one, else "?".
func safeUser(u string) string {
	if v, err := url.PathUnescape(u); err == nil {
		u = v
	}
	if !allBytes(u, func(c byte) bool {
		return isLetter(c) || isDigit(c) || strings.IndexByte("-_.~=+@!$", c) >= 0
	}) {
		return "?"
	}
	return u
}

// URL returns u without its password and fragment, and with only the query
// parameters named in safeParams (their values as given): for the URL of an
// http step in logs, plans and audit records, where a query may carry a
// token. A password prints as ":***".
func URL(u *url.URL, safeParams []string) string {
	if u == nil {
		return ""
	}
	c := *u
	c.Fragment, c.RawFragment = "", ""
	if c.User != nil {
		if _, has := c.User.Password(); has {
			c.User = url.UserPassword(c.User.Username(), Hidden)
		}
	}
	q := c.Query()
	for k := range q {
		if !slices.Contains(safeParams, k) {
			q.Del(k)
		}
	}
	c.RawQuery = q.Encode()
	c.ForceQuery = false
	out := c.String()
	return strings.Replace(out, ":"+url.QueryEscape(Hidden)+"@", ":"+Hidden+"@", 1)
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isHex(c byte) bool    { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') }

func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}
