package conn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLSFiles are the TLS settings of one store given as files (the way
// Kubernetes mounts them): a private CA, a client certificate and key.
type TLSFiles struct {
	// CAFile is a PEM file of CA certificates trusted in addition to the
	// system roots (SSL_CERT_FILE / SSL_CERT_DIR when set, else the
	// embedded public roots of the binary, see LoadFallbackRoots).
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// servers that authenticate clients by certificate.
	CertFile, KeyFile string
	// Insecure turns certificate verification off. Only a flag named so
	// sets it, and every run that uses it logs a warning.
	Insecure bool
}

// Any reports whether any TLS setting is given (so TLS is wanted).
func (f TLSFiles) Any() bool {
	return f.CAFile != "" || f.CertFile != "" || f.KeyFile != "" || f.Insecure
}

// ErrInsecureTLS: a connection string asks for no certificate verification
// (skip_verify=true, tlsInsecure=true, ...) without the flag that allows it.
var ErrInsecureTLS = errors.New("conn: certificate verification can only be turned off by the --*-tls-insecure* flag")

// Config returns the TLS configuration of f: TLS 1.2 or later; the system
// roots (which honour SSL_CERT_FILE and SSL_CERT_DIR; in an image without a
// bundle, the roots embedded in the binary) plus CAFile; the client
// certificate when given. The server name is left empty, so that each
// address dialled is verified under its own host name (the nodes of a
// Cluster have different names).
func (f TLSFiles) Config() (*tls.Config, error) {
	LoadFallbackRoots()
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CAFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls ca file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca file %s: no PEM certificate in it", f.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (f.CertFile == "") != (f.KeyFile == "") {
		return nil, errors.New("tls client certificate: give both the certificate file and the key file")
	}
	if f.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	cfg.InsecureSkipVerify = f.Insecure //nolint:gosec // only with the flag named so, and a warning on every run
	return cfg, nil
}
