package conn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo/address"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/description"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// redisReply is a reply of Redis as go-redis returns it (a redis.Error).
type redisReply string

func (e redisReply) Error() string { return string(e) }
func (redisReply) RedisError()     {}

func refused() error {
	return &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1},
		Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
}

func noHost() error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "db.invalid", IsNotFound: true}}
}

func selection(kind description.TopologyKind, last ...error) error {
	desc := description.Topology{Kind: kind}
	for i, err := range last {
		desc.Servers = append(desc.Servers, description.Server{Addr: address.Address(fmt.Sprintf("h%d:27017", i)), LastError: err})
	}
	return topology.ServerSelectionError{Desc: desc, Wrapped: context.DeadlineExceeded}
}

func TestDiagnose(t *testing.T) {
	unknownCA := &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}
	tests := []struct {
		name       string
		err        error
		want       Problem
		wantDetail string
	}{
		{"refused", refused(), ProblemRefused, "dial 127.0.0.1:1"},
		{"refused_wrapped", fmt.Errorf("ping: %w", refused()), ProblemRefused, "dial 127.0.0.1:1"},
		{"no_such_host", noHost(), ProblemNoHost, "lookup db.invalid: no such host"},
		{"tls_unknown_authority", fmt.Errorf("dial: %w", unknownCA), ProblemTLS, "x509: certificate signed by unknown authority"},
		{"tls_hostname", x509.HostnameError{Certificate: &x509.Certificate{DNSNames: []string{"a.example"}}, Host: "b.example"},
			ProblemTLS, "x509: certificate is valid for a.example, not b.example"},
		{"tls_text_only", errors.New("connection() error: tls: failed to verify certificate: x509: certificate signed by unknown authority"),
			ProblemTLS, "x509: certificate signed by unknown authority"},
		{"mongo_auth", fmt.Errorf("handshake: %w", driver.Error{Code: 18, Message: "Authentication failed."}), ProblemAuth, "Authentication failed."},
		{"redis_wrongpass", redisReply("WRONGPASS invalid username-password pair or user is disabled."), ProblemAuth,
			"WRONGPASS invalid username-password pair or user is disabled."},
		{"redis_noauth", fmt.Errorf("ping: %w", redisReply("NOAUTH Authentication required.")), ProblemAuth, "NOAUTH Authentication required."},
		{"redis_other_reply", redisReply("LOADING Redis is loading the dataset in memory"), ProblemOther, "LOADING Redis is loading the dataset in memory"},
		{"replica_set_no_primary", selection(description.TopologyKindReplicaSetNoPrimary), ProblemNoPrimary, "no server answered as a member of the set"},
		{"replica_set_server_refused", selection(description.TopologyKindReplicaSetNoPrimary, refused()), ProblemRefused, "dial 127.0.0.1:1"},
		{"selection_tls_over_refused", selection(description.TopologyKindReplicaSetNoPrimary, refused(), unknownCA), ProblemTLS,
			"x509: certificate signed by unknown authority"},
		{"single_server_no_host", selection(description.TopologyKindSingle, noHost()), ProblemNoHost, "lookup db.invalid: no such host"},
		{"selection_timeout", selection(description.TopologyKindSingle, context.DeadlineExceeded), ProblemTimeout, ""},
		{"timeout", fmt.Errorf("ping: %w", context.DeadlineExceeded), ProblemTimeout, ""},
		{"net_timeout", &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, ProblemTimeout, ""},
		{"other_one_line", errors.New("boom\n  bang"), ProblemOther, "boom bang"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Diagnose(tt.err)
			if d.Problem != tt.want || d.Detail != tt.wantDetail {
				t.Errorf("Diagnose = %v %q, want %v %q", d.Problem, d.Detail, tt.want, tt.wantDetail)
			}
		})
	}
}

// Each problem's message is one line naming the store, the address, the
// problem in words and a hint that names what to change.
func TestUnreachableError_message(t *testing.T) {
	tests := []struct {
		name, service, addr string
		err                 error
		want                []string
		wantNot             []string
	}{
		{"mongo_refused", "MongoDB", "mongodb://h:1", refused(), []string{"MongoDB unreachable at mongodb://h:1: connection refused", "MONGO_HOST"}, nil},
		{"redis_refused", "Redis", "redis://h:1", refused(), []string{"Redis unreachable", "connection refused", "REDIS_HOST"}, []string{"TLS"}},
		{"no_host", "MongoDB", "mongodb://db.invalid", noHost(), []string{"no such host (lookup db.invalid: no such host)", "host name"}, nil},
		{"redis_tls", "Redis", "rediss://r1", errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority"),
			[]string{"TLS certificate verification failed", "--redis-tls-ca-file", "SSL_CERT_FILE"}, []string{"--mongo-tls-ca-file"}},
		{"mongo_tls", "MongoDB", "mongodb://m1/?tls=true", x509.UnknownAuthorityError{}, []string{"--mongo-tls-ca-file"}, nil},
		{"tls_hostname", "Redis", "rediss://r1", x509.HostnameError{Certificate: &x509.Certificate{DNSNames: []string{"a"}}, Host: "b"},
			[]string{"a name its certificate holds"}, []string{"--redis-tls-ca-file"}},
		{"no_primary", "MongoDB", "mongodb://h:1/?replicaSet=rs0 (replicaSet=rs0 added from MONGO_HOST)", selection(description.TopologyKindReplicaSetNoPrimary),
			[]string{"replicaSet=rs0 added from MONGO_HOST", "replica set without a primary", "MONGO_DIRECT_CONNECTION=true"}, nil},
		{"redis_auth", "Redis", "redis://h:1", redisReply("WRONGPASS invalid username-password pair"), []string{"authentication failed", "REDIS_PASSWORD"}, nil},
		{"mongo_auth", "MongoDB", "mongodb://u:***@h", driver.Error{Code: 18, Message: "Authentication failed."}, []string{"authentication failed", "authSource"}, nil},
		{"timeout", "Redis", "redis://h:1", context.DeadlineExceeded, []string{"timed out", "--connect-timeout"}, nil},
		{"other", "Redis", "redis://h:1", errors.New("LOADING\nRedis is loading"), []string{"Redis unreachable at redis://h:1: LOADING Redis is loading"}, []string{";"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &UnreachableError{Service: tt.service, Addr: tt.addr, Err: tt.err}
			msg := e.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("message has more than one line: %q", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not say %q", msg, w)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(msg, w) {
					t.Errorf("message %q says %q", msg, w)
				}
			}
			if !errors.Is(e, ErrUnreachable) {
				t.Errorf("error does not match ErrUnreachable")
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"dns_not_found", noHost(), true},
		{"dns_server_failure", &net.DNSError{Err: "server misbehaving", Name: "db", IsTemporary: true}, false},
		{"refused", refused(), false},
		{"selection_every_server_not_found", selection(description.TopologyKindReplicaSetNoPrimary, noHost(), noHost()), true},
		{"selection_one_server_refused", selection(description.TopologyKindReplicaSetNoPrimary, noHost(), refused()), false},
		{"selection_no_server", selection(description.TopologyKindReplicaSetNoPrimary), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := notFound(tt.err); got != tt.want {
				t.Errorf("notFound = %v, want %v", got, tt.want)
			}
		})
	}
}
