package harness

import "testing"

// StartRedisTLSPassword starts Redis on n as Azure Cache for Redis serves
// it: TLS only (a certificate of ca for its network alias, localhost and
// 127.0.0.1; no client certificate asked) and a password (--requirepass).
// It fails t on error.
func StartRedisTLSPassword(t testing.TB, n *Network, ca *CA, password string) *Node {
	t.Helper()
	needDocker(t)
	name := uniqueName("redis-tls-pw")
	nodes, err := startNodes(t, n, []nodeSpec{{
		prefix: "redis-tls-pw", name: name, port: redisPort, ready: "Ready to accept connections",
		args: []string{
			"--port", "0", "--tls-port", redisPort, "--tls-cert-file", "/tls/server.crt",
			"--tls-key-file", "/tls/server.key", "--tls-ca-cert-file", "/tls/ca.crt", "--tls-auth-clients", "no",
			"--requirepass", password, "--save", "", "--appendonly", "no", "--protected-mode", "no",
		},
		files: tlsFiles("/tls", ca, ca.Issue(t, name, "localhost", loopback)),
	}})
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	return nodes[0]
}
