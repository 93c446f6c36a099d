package conn_test

import (
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/srvthreds/bootstrap/conn"
	"github.com/srvthreds/bootstrap/internal/harness"
)

// rootsChild names the case a re-executed test binary checks: the system
// roots are read once per process, so each case needs a process of its own.
const rootsChild = "BOOTSTRAP_TEST_ROOTS_CHILD"

// TestLoadFallbackRoots: without a system bundle the embedded roots become
// the system roots; with SSL_CERT_FILE they are not used and the file's
// roots are the only ones, as with the fallback package imported.
func TestLoadFallbackRoots(t *testing.T) {
	if os.Getenv(rootsChild) != "" {
		t.Skip("child process")
	}
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, harness.NewCA(t).PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, certFile := range map[string]string{
		"no-bundle":     filepath.Join(dir, "missing.pem"),
		"ssl-cert-file": caFile,
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestFallbackRootsChild$", "-test.v")
			cmd.Env = append(os.Environ(), rootsChild+"="+name, "SSL_CERT_FILE="+certFile, "SSL_CERT_DIR="+t.TempDir())
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
		})
	}
}

// TestFallbackRootsChild is the child process of TestLoadFallbackRoots.
func TestFallbackRootsChild(t *testing.T) {
	name := os.Getenv(rootsChild)
	if name == "" {
		t.Skip("run by TestLoadFallbackRoots")
	}
	conn.LoadFallbackRoots()
	conn.LoadFallbackRoots() // a second call is a no-op, not a panic
	pool, err := x509.SystemCertPool()
	if err != nil {
		t.Fatal(err)
	}
	switch name {
	case "no-bundle":
		if pool.Equal(x509.NewCertPool()) {
			t.Fatal("no system roots without a bundle, want the embedded roots")
		}
	case "ssl-cert-file":
		want := x509.NewCertPool()
		pem, err := os.ReadFile(os.Getenv("SSL_CERT_FILE"))
		if err != nil {
			t.Fatal(err)
		}
		want.AppendCertsFromPEM(pem)
		if !pool.Equal(want) {
			t.Fatal("system roots with SSL_CERT_FILE are not the file's roots alone")
		}
	}
}
