package conn

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnreachable: MongoDB or Redis did not answer within the connect
// timeout (exit 6).
var ErrUnreachable = errors.New("conn: unreachable")

// ErrConfig: a connection setting is unusable (a malformed URI, an
// unreadable *_FILE): a usage error (exit 2), never retried.
var ErrConfig = errors.New("conn: bad connection setting")

// configError reports a connection string that does not parse, naming it
// redacted: the parser's message is not quoted when it contains any part of
// the string's userinfo (a password may be in it).
func configError(what, uri string, err error) error {
	msg := err.Error()
	if i := strings.Index(uri, "://"); i >= 0 {
		rest := uri[i+3:]
		if j := strings.LastIndex(rest, "@"); j > 0 {
			userinfo := rest[:j]
			for _, part := range strings.FieldsFunc(userinfo, func(r rune) bool { return r == ':' }) {
				if len(part) >= 3 && strings.Contains(msg, part) {
					msg = "does not parse"
					break
				}
			}
		}
	}
	return fmt.Errorf("%w: %s %s: %s", ErrConfig, what, Redact(uri), msg)
}

// UnreachableError names the service and the address (password redacted)
// that could not be reached.
type UnreachableError struct {
	Service string // "MongoDB" or "Redis"
	Addr    string // redacted
	Err     error
}

func (e *UnreachableError) Error() string {
	msg := fmt.Sprintf("%s unreachable at %s: %v", e.Service, e.Addr, e.Err)
	if e.Err != nil && certProblem(e.Err.Error()) {
		flag := "--redis-tls-ca-file"
		if e.Service == "MongoDB" {
			flag = "--mongo-tls-ca-file"
		}
		msg += fmt.Sprintf(" (the server's TLS certificate is not trusted: give the CA that signed it with %s or SSL_CERT_FILE)", flag)
	}
	return msg
}

// certProblem reports whether an error message is a failed verification of
// the server's certificate (the drivers wrap the error without keeping its
// type, so its text is what is left).
func certProblem(msg string) bool {
	return strings.Contains(msg, "x509: ") || strings.Contains(msg, "tls: failed to verify certificate")
}

func (e *UnreachableError) Unwrap() []error { return []error{ErrUnreachable, e.Err} }
