package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/internal/harness"
)

// tlsSetup is Redis (client certificates required) and a MongoDB-wire
// server, both serving TLS only with certificates of a CA made by the test,
// reached by the binary as a local process through their published ports
// (the certificates name 127.0.0.1).
type tlsSetup struct {
	dir                 string // profiles
	ca, cert, key       string // files: the CA, the client certificate and key
	mongoAddr, redisURL string
}

func startTLS(t *testing.T) *tlsSetup {
	t.Helper()
	n := harness.NewNetwork(t)
	ca := harness.NewCA(t)
	r := harness.StartRedisTLS(t, n, ca, true)
	m := harness.StartMongoTLS(t, n, ca)
	tmp := t.TempDir()
	client := ca.Issue(t, "bootstrap-client")
	s := &tlsSetup{
		dir: filepath.Join(tmp, "profiles"), ca: filepath.Join(tmp, "ca.pem"),
		cert: filepath.Join(tmp, "client.crt"), key: filepath.Join(tmp, "client.key"),
		mongoAddr: m.Addr, redisURL: "rediss://" + r.Addr,
	}
	for f, b := range map[string][]byte{s.ca: ca.PEM, s.cert: client.Cert, s.key: client.Key} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.CopyFS(s.dir, os.DirFS("../../examples/profiles")); err != nil {
		t.Fatal(err)
	}
	return s
}

// exec runs the binary with args (and the profiles) and the environment
// env, and returns its exit code and output.
func (s *tlsSetup) exec(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	args = append(args, "--profiles-dir", s.dir, "--connect-timeout", "5s")
	if args[0] == "run" {
		args = append(args, "--health-addr", "off")
	}
	c := exec.CommandContext(ctx, harness.Binary(t), args...)
	c.Env = append([]string{"BOOTSTRAP_LOG_FORMAT=json", "BCRYPT_SALT_ROUNDS=4", "DEMO_ADMIN_PASSWORD=" + adminPassword}, env...)
	out, err := c.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("run %v: %v\n%s", args, err, out)
	return -1, ""
}

// TestTLS_private_ca: with the CA file a run succeeds (Redis checks the
// client certificate); without it the run exits 6 naming the untrusted
// certificate and the flag that fixes it; the URI's tlsCAFile, SSL_CERT_FILE
// and tls=true work too; the insecure flag connects with a warning.
func TestTLS_private_ca(t *testing.T) {
	t.Parallel()
	s := startTLS(t)
	mongoTLS := "mongodb://" + s.mongoAddr + "/?tls=true&directConnection=true"
	clientCert := []string{"--redis-tls-cert-file", s.cert, "--redis-tls-key-file", s.key}
	withCA := append([]string{"--mongo-uri", mongoTLS, "--mongo-tls-ca-file", s.ca,
		"--redis-url", s.redisURL, "--redis-tls-ca-file", s.ca}, clientCert...)

	tests := []struct {
		name     string
		env      []string
		args     []string
		wantCode int
		want     []string // in the output
	}{
		{name: "ca_files_apply", args: append([]string{"run", "-p", "example-base"}, withCA...), wantCode: exitOK},
		{name: "mongo_without_ca_exits_6", wantCode: exitUnreachable,
			args: []string{"status", "--mongo-uri", mongoTLS, "--redis-url", s.redisURL},
			want: []string{"certificate", "--mongo-tls-ca-file"}},
		{name: "redis_without_ca_exits_6", wantCode: exitUnreachable,
			args: append([]string{"status", "--mongo-uri", mongoTLS, "--mongo-tls-ca-file", s.ca, "--redis-url", s.redisURL}, clientCert...),
			want: []string{"certificate", "--redis-tls-ca-file"}},
		{name: "redis_without_client_certificate_exits_6", wantCode: exitUnreachable,
			args: []string{"status", "--mongo-uri", mongoTLS, "--mongo-tls-ca-file", s.ca, "--redis-url", s.redisURL, "--redis-tls-ca-file", s.ca}},
		{name: "uri_tlscafile_ssl_cert_file_and_tls_param", env: []string{"SSL_CERT_FILE=" + s.ca}, wantCode: exitOK,
			args: append([]string{"run", "-p", "example-base", "--mongo-uri", mongoTLS + "&tlsCAFile=" + s.ca,
				"--redis-url", strings.Replace(s.redisURL, "rediss://", "redis://", 1) + "?tls=true"}, clientCert...),
			want: []string{`"skipped":1`}},
		{name: "insecure_flags_warn", wantCode: exitOK,
			args: append([]string{"status", "--mongo-uri", mongoTLS, "--mongo-tls-insecure",
				"--redis-url", s.redisURL, "--redis-tls-insecure-skip-verify"}, clientCert...),
			want: []string{"--mongo-tls-insecure", "--redis-tls-insecure-skip-verify", "not verified"}},
		{name: "uri_turning_verification_off_is_refused", wantCode: exitUsage,
			args: []string{"status", "--mongo-uri", mongoTLS + "&tlsInsecure=true", "--redis-url", s.redisURL}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := s.exec(t, tt.env, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; output:\n%s", code, tt.wantCode, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output does not say %q:\n%s", w, out)
				}
			}
		})
	}
}
