package conn

import (
	"crypto/x509"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

var fallbackOnce sync.Once

// LoadFallbackRoots makes the public CA roots embedded in the binary the
// roots of certificate verification when the system has none (an image
// FROM scratch without a CA bundle), exactly as importing
// golang.org/x/crypto/x509roots/fallback would, but on the first call rather
// than at the start of every process: parsing them costs more than the rest
// of the binary's initialisation, and most runs never dial TLS. Call it
// before the first TLS handshake that verifies against the system roots;
// TLSFiles.Config and the Redis and MongoDB clients of this package do.
//
// SSL_CERT_FILE and SSL_CERT_DIR keep their meaning: when they (or the
// system's bundle) provide any root, the embedded roots are not parsed and
// not used, unless GODEBUG=x509usefallbackroots=1 asks for them, as with
// the fallback package.
func LoadFallbackRoots() {
	fallbackOnce.Do(func() {
		if !strings.Contains(os.Getenv("GODEBUG"), "x509usefallbackroots=1") {
			if sys, err := x509.SystemCertPool(); err == nil && !sys.Equal(x509.NewCertPool()) {
				return
			}
		}
		x509.SetFallbackRoots(fallbackPool())
	})
}

// fallbackPool parses the embedded roots (what the fallback package does in
// its init).
func fallbackPool() *x509.CertPool {
	p := x509.NewCertPool()
	for c := range bundle.Roots() {
		cert, err := x509.ParseCertificate(c.Certificate)
		if err != nil {
			panic(err) // the bundle is tested upstream; a bad one is a build defect
		}
		if c.Constraint == nil {
			p.AddCert(cert)
		} else {
			p.AddCertWithConstraint(cert, c.Constraint)
		}
	}
	return p
}
