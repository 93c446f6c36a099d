package conn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo/address"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/auth"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/description"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// Problem is what kept a store from answering, as Diagnose reads it from the
// driver's error.
type Problem int

// The problems Diagnose tells apart; ProblemOther is any other error, shown
// as the driver gives it.
const (
	ProblemOther Problem = iota
	ProblemRefused
	ProblemNoHost
	ProblemTLS
	ProblemAuth
	ProblemNoPrimary
	ProblemTimeout
)

// String is the problem in words.
func (p Problem) String() string {
	switch p {
	case ProblemRefused:
		return "connection refused"
	case ProblemNoHost:
		return "no such host"
	case ProblemTLS:
		return "TLS certificate verification failed"
	case ProblemAuth:
		return "authentication failed"
	case ProblemNoPrimary:
		return "replica set without a primary"
	case ProblemTimeout:
		return "timed out"
	default:
		return "error"
	}
}

// Diagnosis is a Problem and the part of the driver's error that says more
// than the problem's name (the certificate's fault, the server's refusal),
// empty when the name says it all.
type Diagnosis struct {
	Problem Problem
	Detail  string
}

// Diagnose reads what went wrong from an error of a MongoDB or Redis dial or
// ping: the types of the standard library and of the drivers
// (*net.OpError, *net.DNSError, x509's errors, MongoDB's server selection
// error and the last error of each server it describes, go-redis's
// authentication errors), their text only where a driver keeps no type.
func Diagnose(err error) Diagnosis {
	var sel topology.ServerSelectionError
	if errors.As(err, &sel) {
		return diagnoseTopology(sel.Desc, err)
	}
	return diagnoseOne(err)
}

// diagnoseTopology is the most telling of the servers' last errors, else a
// replica set without a primary when the topology says so.
func diagnoseTopology(desc description.Topology, err error) Diagnosis {
	best := Diagnosis{}
	for _, s := range desc.Servers {
		if s.LastError == nil {
			continue
		}
		if d := diagnoseOne(s.LastError); rank(d.Problem) > rank(best.Problem) {
			best = d
		}
	}
	if best.Problem != ProblemOther && best.Problem != ProblemTimeout {
		return best
	}
	if desc.Kind == description.TopologyKindReplicaSetNoPrimary {
		return Diagnosis{Problem: ProblemNoPrimary, Detail: serversOf(desc)}
	}
	if best.Problem == ProblemTimeout || errors.Is(err, context.DeadlineExceeded) {
		return Diagnosis{Problem: ProblemTimeout}
	}
	return Diagnosis{Detail: oneLine(err.Error())}
}

// rank orders problems by how much they tell: a certificate or a password
// over an address, an address over a timeout.
func rank(p Problem) int {
	switch p {
	case ProblemTLS, ProblemAuth:
		return 4
	case ProblemNoHost:
		return 3
	case ProblemRefused:
		return 2
	case ProblemTimeout:
		return 1
	default:
		return 0
	}
}

// serversOf lists the servers a replica set's topology holds and what each
// answered as ("none answered" when it holds none: a standalone server is
// dropped from a replica set's topology).
func serversOf(desc description.Topology) string {
	var parts []string
	for _, s := range desc.Servers {
		parts = append(parts, string(s.Addr)+" is "+s.Kind.String())
	}
	if len(parts) == 0 {
		return "no server answered as a member of the set"
	}
	return strings.Join(parts, ", ")
}

// diagnoseOne reads one error, outermost meaning first.
func diagnoseOne(err error) Diagnosis {
	if d, ok := tlsDiagnosis(err); ok {
		return d
	}
	if d, ok := authDiagnosis(err); ok {
		return d
	}
	var dns *net.DNSError
	var ne net.Error
	switch {
	case errors.As(err, &dns):
		return Diagnosis{Problem: ProblemNoHost, Detail: "lookup " + dns.Name + ": " + dns.Err}
	case errors.Is(err, syscall.ECONNREFUSED):
		return Diagnosis{Problem: ProblemRefused, Detail: dialed(err)}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return Diagnosis{Problem: ProblemTimeout}
	}
	return Diagnosis{Detail: oneLine(err.Error())}
}

// dialed is "dial <address>" of a refused dial, empty when the error does
// not name the address.
func dialed(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Addr != nil {
		return "dial " + op.Addr.String()
	}
	return ""
}

// tlsDiagnosis recognises a failed verification of the server's certificate.
func tlsDiagnosis(err error) (Diagnosis, bool) {
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	var cv *tls.CertificateVerificationError
	switch {
	case errors.As(err, &he):
		return Diagnosis{Problem: ProblemTLS, Detail: he.Error()}, true
	case errors.As(err, &ua):
		return Diagnosis{Problem: ProblemTLS, Detail: ua.Error()}, true
	case errors.As(err, &ci):
		return Diagnosis{Problem: ProblemTLS, Detail: ci.Error()}, true
	case errors.As(err, &cv):
		return Diagnosis{Problem: ProblemTLS, Detail: cv.Err.Error()}, true
	}
	// Drivers that wrap the error without keeping its type leave its text.
	msg := err.Error()
	if i := strings.Index(msg, "x509: "); i >= 0 {
		return Diagnosis{Problem: ProblemTLS, Detail: oneLine(msg[i:])}, true
	}
	if strings.Contains(msg, "tls: failed to verify certificate") {
		return Diagnosis{Problem: ProblemTLS, Detail: oneLine(msg)}, true
	}
	return Diagnosis{}, false
}

// mongoAuthenticationFailed is MongoDB's error code of refused credentials.
const mongoAuthenticationFailed = 18

// authDiagnosis recognises credentials the server refused: MongoDB's
// authentication error, or Redis's reply to AUTH or to a command sent
// without it.
func authDiagnosis(err error) (Diagnosis, bool) {
	var ae *auth.Error
	if errors.As(err, &ae) {
		detail := ae.Message()
		if in := ae.Unwrap(); in != nil {
			detail += ": " + in.Error()
		}
		return Diagnosis{Problem: ProblemAuth, Detail: oneLine(detail)}, true
	}
	var de driver.Error
	if errors.As(err, &de) && de.Code == mongoAuthenticationFailed {
		return Diagnosis{Problem: ProblemAuth, Detail: oneLine(de.Message)}, true
	}
	var re redis.Error
	if errors.As(err, &re) {
		// The replies of Redis that refuse a client's credentials, or its lack of them.
		for _, p := range []string{"WRONGPASS", "NOAUTH", "ERR AUTH", "ERR invalid password", "ERR Client sent AUTH"} {
			if strings.HasPrefix(re.Error(), p) {
				return Diagnosis{Problem: ProblemAuth, Detail: oneLine(re.Error())}, true
			}
		}
	}
	return Diagnosis{}, false
}

// oneLine joins the lines of s.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// notFound reports whether err is a host name that does not resolve (the
// name server says it does not exist, not that it could not be asked).
func notFound(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.IsNotFound
	}
	var sel topology.ServerSelectionError
	if !errors.As(err, &sel) || len(sel.Desc.Servers) == 0 {
		return false
	}
	for _, s := range sel.Desc.Servers {
		if !notFound(s.LastError) {
			return false
		}
	}
	return true
}

// lookupHosts resolves the host of each address, and returns the error of
// the first that does not exist when none does (a seed list that names one
// known host is left to the driver).
func lookupHosts(ctx context.Context, hosts []string) error {
	var first error
	for _, h := range hosts {
		name := address.Address(h).String()
		if host, _, err := net.SplitHostPort(name); err == nil {
			name = host
		}
		if net.ParseIP(name) != nil || strings.HasPrefix(name, "/") {
			return nil
		}
		_, err := net.DefaultResolver.LookupHost(ctx, name)
		if err == nil || !notFound(err) {
			return nil
		}
		if first == nil {
			first = &net.OpError{Op: "dial", Net: "tcp", Err: err}
		}
	}
	return first
}

// hint is what a person can do about p on service ("MongoDB" or "Redis").
func hint(service string, d Diagnosis) string {
	mongo := service == "MongoDB"
	pick := func(m, r string) string {
		if mongo {
			return m
		}
		return r
	}
	switch d.Problem {
	case ProblemRefused:
		return "check the host and port (" + pick("--mongo-uri or MONGO_HOST", "--redis-url or REDIS_HOST") + ") and that the server runs there"
	case ProblemNoHost:
		return "check the host name (" + pick("--mongo-uri or MONGO_HOST", "--redis-url or REDIS_HOST") + ") and the DNS of this network"
	case ProblemTLS:
		if strings.Contains(d.Detail, "certificate is valid for") { // x509.HostnameError
			return "dial the server by a name its certificate holds"
		}
		return "the server's TLS certificate is not trusted: give the CA that signed it with " +
			pick("--mongo-tls-ca-file", "--redis-tls-ca-file") + " or SSL_CERT_FILE"
	case ProblemAuth:
		return pick("check the user and password in the URI and its authSource",
			"check REDIS_PASSWORD (or the URL's user and password)")
	case ProblemNoPrimary:
		return "a single server that is not a replica set member needs MONGO_DIRECT_CONNECTION=true " +
			"(or directConnection=true in --mongo-uri); for a replica set, check its name (MONGO_REPLICA_SET, default rs0) and that it has a primary"
	case ProblemTimeout:
		return "check the address, firewalls and network policies; --connect-timeout sets how long to wait"
	}
	return ""
}
