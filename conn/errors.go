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

// UnreachableError names the service, the address (password redacted,
// with the options the binary added), what went wrong in words and what a
// person can do about it.
type UnreachableError struct {
	Service string // "MongoDB" or "Redis"
	Addr    string // redacted
	Err     error
}

// Error is one line: "MongoDB unreachable at <address>: <problem> (<detail>);
// <hint>", or the driver's error in place of problem and hint when Diagnose
// does not know it.
func (e *UnreachableError) Error() string {
	msg := fmt.Sprintf("%s unreachable at %s: ", e.Service, e.Addr)
	if e.Err == nil {
		return msg + "no answer"
	}
	d := Diagnose(e.Err)
	if d.Problem == ProblemOther {
		return msg + d.Detail
	}
	msg += d.Problem.String()
	if d.Detail != "" {
		msg += " (" + d.Detail + ")"
	}
	if h := hint(e.Service, d); h != "" {
		msg += "; " + h
	}
	return msg
}

// Problem is what Diagnose reads from the error.
func (e *UnreachableError) Problem() Problem {
	if e.Err == nil {
		return ProblemOther
	}
	return Diagnose(e.Err).Problem
}

func (e *UnreachableError) Unwrap() []error { return []error{ErrUnreachable, e.Err} }
