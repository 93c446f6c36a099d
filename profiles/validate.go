package profiles

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/srvthreds/bootstrap/internal/redact"
)

// checkName returns why name cannot be a profile name, or "". A profile
// name is one directory name: no slashes, not "." or "..", not hidden.
func checkName(name string) string {
	switch {
	case name == "":
		return "empty profile name"
	case strings.ContainsAny(name, `/\`) || !fs.ValidPath(name):
		return fmt.Sprintf("invalid profile name %q: want a directory name", name)
	case strings.HasPrefix(name, "."):
		return fmt.Sprintf("invalid profile name %q: must not start with a dot", name)
	}
	return ""
}

// cleanRel checks a path that a manifest names, relative to the profile
// directory, and returns it cleaned ("run-config/" → "run-config"). Absolute
// paths and ".." are refused (references are confined to the
// profile directory).
func cleanRel(p string) (string, error) {
	switch {
	case p == "":
		return "", fmt.Errorf("must not be empty")
	case path.IsAbs(p) || strings.HasPrefix(p, `\`) || (len(p) > 1 && p[1] == ':'):
		return "", fmt.Errorf("%q is absolute; want a path relative to the profile directory", p)
	case slices.Contains(strings.Split(strings.ReplaceAll(p, `\`, "/"), "/"), ".."):
		return "", fmt.Errorf("%q leaves the profile directory (..)", p)
	}
	c := path.Clean(p)
	if !fs.ValidPath(c) {
		return "", fmt.Errorf("%q is not a valid path", p)
	}
	return c, nil
}

// checkDatabase returns why name cannot be a MongoDB database name, or "".
func checkDatabase(name string) string {
	switch {
	case name == "":
		return "must not be empty"
	case len(name) >= 64:
		return "a database name has fewer than 64 bytes"
	case strings.ContainsAny(name, "/\\. \"$*<>:|?\x00"):
		return fmt.Sprintf("invalid database name %q", name)
	}
	return ""
}

// checkCollection returns why name cannot be a MongoDB collection name, or
// "".
func checkCollection(name string) string {
	switch {
	case name == "":
		return "must not be empty"
	case strings.ContainsAny(name, "$\x00"):
		return fmt.Sprintf("invalid collection name %q", name)
	case strings.HasPrefix(name, "system."):
		return fmt.Sprintf("collection %q is reserved", name)
	}
	return ""
}

// checkKeyField returns why name cannot be the key field of a documents
// step, or "".
func checkKeyField(name string) string {
	switch {
	case name == "":
		return "must not be empty"
	case strings.Contains(name, "."):
		return fmt.Sprintf("%q: dotted paths are not supported; want a top-level field", name)
	case strings.HasPrefix(name, "$"):
		return fmt.Sprintf("%q must not start with $", name)
	}
	return ""
}

// checkEnvName returns why name cannot be an environment variable name, or
// "".
func checkEnvName(name string) string {
	if name == "" {
		return "must not be empty"
	}
	for i, r := range name {
		if r == '_' || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') || (i > 0 && r >= '0' && r <= '9') {
			continue
		}
		return fmt.Sprintf("invalid environment variable name %q", name)
	}
	return ""
}

// httpMethods are the methods an http step may use.
var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// checkMethod returns why m is not a method an http step may use, or "".
func checkMethod(m string) string {
	if slices.Contains(httpMethods, m) {
		return ""
	}
	return fmt.Sprintf("unknown method %q (want one of %s)", m, strings.Join(httpMethods, ", "))
}

// checkURL returns why u cannot be the URL of an http step, or "".
func checkURL(u string) string {
	if u == "" {
		return "must not be empty"
	}
	// The messages never quote the URL as written: it may hold a password
	// or a token.
	p, err := url.Parse(u)
	var ue *url.Error
	switch {
	case errors.As(err, &ue):
		return fmt.Sprintf("invalid URL: %v", ue.Err) // url.Error quotes the URL
	case err != nil:
		return "invalid URL"
	case p.Scheme != "http" && p.Scheme != "https":
		return fmt.Sprintf("invalid URL %q: want an http:// or https:// URL", redact.URL(p, nil))
	case p.Host == "":
		return fmt.Sprintf("invalid URL %q: no host", redact.URL(p, nil))
	}
	return ""
}

// checkHeaderName returns why name cannot be an HTTP header name, or "".
func checkHeaderName(name string) string {
	if name == "" {
		return "empty header name"
	}
	for _, r := range name {
		if r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return fmt.Sprintf("invalid header name %q", name)
		}
	}
	return ""
}

// checkHeaderValue returns why v cannot be an HTTP header value, or "".
func checkHeaderValue(v string) string {
	if strings.ContainsAny(v, "\r\n\x00") {
		return "header value must not contain CR, LF or NUL"
	}
	return ""
}
