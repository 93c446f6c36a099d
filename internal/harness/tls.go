package harness

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// CA is a private certificate authority made for one test.
type CA struct {
	// PEM is the CA's certificate.
	PEM []byte

	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// KeyPair is a certificate issued by a CA and its key, PEM-encoded.
type KeyPair struct {
	Cert, Key []byte
}

// NewCA generates a CA (ECDSA P-256, valid for a day). It fails t on error.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("harness: ca key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "bootstrap test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("harness: ca certificate: %v", err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &CA{PEM: pemBlock("CERTIFICATE", der), cert: cert, key: key}
}

// pool is a certificate pool of the CA alone.
func (ca *CA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

func serial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatalf("harness: serial: %v", err)
	}
	return n
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// Issue returns a certificate for names (host names or IP addresses), for
// servers and clients alike.
func (ca *CA) Issue(t testing.TB, names ...string) KeyPair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("harness: key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatalf("harness: certificate: %v", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("harness: key: %v", err)
	}
	return KeyPair{Cert: pemBlock("CERTIFICATE", der), Key: pemBlock("PRIVATE KEY", kder)}
}

// tlsFiles returns the container files of a server's certificate, key and
// CA under dir.
func tlsFiles(dir string, ca *CA, kp KeyPair) []testcontainers.ContainerFile {
	f := func(name string, b []byte) testcontainers.ContainerFile {
		return testcontainers.ContainerFile{Reader: bytes.NewReader(b), ContainerFilePath: path.Join(dir, name), FileMode: 0o644}
	}
	return []testcontainers.ContainerFile{f("server.crt", kp.Cert), f("server.key", kp.Key), f("ca.crt", ca.PEM)}
}

// StartRedisTLS starts Redis on n serving only TLS (--port 0 --tls-port
// 6379) with a certificate of ca for its network alias, localhost and
// 127.0.0.1; with clientAuth, clients must present a certificate of ca
// (--tls-auth-clients yes). It fails t on error.
func StartRedisTLS(t testing.TB, n *Network, ca *CA, clientAuth bool) *Node {
	t.Helper()
	needDocker(t)
	name := uniqueName("redis-tls")
	auth := "no"
	if clientAuth {
		auth = "yes"
	}
	nodes, err := startNodes(t, n, []nodeSpec{{
		prefix: "redis-tls", name: name, port: redisPort, ready: "Ready to accept connections",
		args: []string{
			"--port", "0", "--tls-port", redisPort, "--tls-cert-file", "/tls/server.crt",
			"--tls-key-file", "/tls/server.key", "--tls-ca-cert-file", "/tls/ca.crt", "--tls-auth-clients", auth,
			"--save", "", "--appendonly", "no", "--protected-mode", "no",
		},
		files: tlsFiles("/tls", ca, ca.Issue(t, name, "localhost", loopback)),
	}})
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	return nodes[0]
}

// StartMongoTLS starts FerretDB on n with its TLS listener on 27017 (its
// plain listener stays on the container's loopback), with a certificate of
// ca for its network alias, localhost and 127.0.0.1 (mongod, for an image
// such as mongo:7, with --tlsMode requireTLS). It fails t on error.
func StartMongoTLS(t testing.TB, n *Network, ca *CA) *Node {
	t.Helper()
	needDocker(t)
	img, err := mongoImage()
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	name := uniqueName("mongo-tls")
	kp := ca.Issue(t, name, "localhost", loopback)
	spec := nodeSpec{
		prefix: "mongo-tls", name: name, image: img, port: mongoPort, ready: "Listening on TLS",
		tmpfs: map[string]string{"/data": "rw"},
		args: []string{
			"--handler=sqlite", "--sqlite-url=file:/data/", "--listen-addr=127.0.0.1:27018",
			"--listen-tls=:" + mongoPort, "--listen-tls-cert-file=/tls/server.crt", "--listen-tls-key-file=/tls/server.key",
			"--telemetry=disable", "--state-dir=-", "--debug-addr=-",
		},
		files: tlsFiles("/tls", ca, kp),
	}
	if !strings.Contains(strings.ToLower(img), "ferretdb") { // mongod (mongo:7)
		spec.tmpfs, spec.ready = nil, "Waiting for connections"
		spec.args = []string{"--bind_ip_all", "--tlsMode", "requireTLS", "--tlsCertificateKeyFile", "/tls/server.pem"}
		pemFile := append(append([]byte{}, kp.Cert...), kp.Key...)
		spec.files = append(spec.files, testcontainers.ContainerFile{
			Reader: bytes.NewReader(pemFile), ContainerFilePath: "/tls/server.pem", FileMode: 0o644,
		})
	}
	nodes, err := startNodes(t, n, []nodeSpec{spec})
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	return nodes[0]
}
