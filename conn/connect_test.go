package conn

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A host name that does not exist, of a URI's hosts or of a mongodb+srv://
// URI's SRV record, ends the connect at once with FinalDNS: an unreachable
// store (exit 6), not a bad setting (exit 2), whose message says so.
func TestConnectMongo_name_not_found_is_final(t *testing.T) {
	if testing.Short() {
		t.Skip("asks the resolver")
	}
	tests := []struct{ name, uri, want string }{
		{"host", "mongodb://u:pw@db.bootstrap-test.invalid:27017/?directConnection=true", "lookup db.bootstrap-test.invalid: no such host"},
		{"srv_record", "mongodb+srv://u:pw@cluster.bootstrap-test.invalid/", "lookup _mongodb._tcp.cluster.bootstrap-test.invalid: no such host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The timeout is never reached: the test would hang for it if the name were retried.
			_, err := ConnectMongo(t.Context(), tt.uri, &ConnectOptions{Timeout: time.Minute, FinalDNS: true})
			var ue *UnreachableError
			if !errors.As(err, &ue) || errors.Is(err, ErrConfig) || ue.Problem() != ProblemNoHost {
				t.Fatalf("err = %v, want an unreachable store with no such host", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.want) || strings.Contains(msg, ":pw@") {
				t.Errorf("message %q does not say %q, or shows the password", msg, tt.want)
			}
		})
	}
}
