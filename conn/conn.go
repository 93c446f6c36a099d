package conn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/srvthreds/bootstrap/internal/redact"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Default addresses when neither the flags nor the srvthreds variables name
// one: the dev databases of a laptop.
const (
	DefaultMongoURI = "mongodb://localhost:27017/?directConnection=true"
	DefaultRedisURL = "redis://localhost:6379"
)

// Env looks up environment variables and reads secret files. The zero value
// uses os.Getenv and os.ReadFile.
type Env struct {
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
}

func (e Env) get(k string) string {
	if e.Getenv != nil {
		return e.Getenv(k)
	}
	return os.Getenv(k)
}

// secret returns the variable k, or the trimmed content of the file named by
// k_FILE (the way Kubernetes mounts secrets); an unreadable or empty file is
// an ErrConfig naming k_FILE.
func (e Env) secret(k string) (string, error) {
	if v := e.get(k); v != "" {
		return v, nil
	}
	path := e.get(k + "_FILE")
	if path == "" {
		return "", nil
	}
	read := e.ReadFile
	if read == nil {
		read = os.ReadFile
	}
	b, err := read(path)
	if err != nil {
		return "", fmt.Errorf("%w: read %s_FILE: %w", ErrConfig, k, err)
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		// An empty mounted secret would silently mean "no password" or
		// "localhost".
		return "", fmt.Errorf("%w: %s_FILE: %s is empty", ErrConfig, k, path)
	}
	return v, nil
}

// MongoTarget is the MongoDB address to dial and what the binary added to
// the address it was given.
type MongoTarget struct {
	URI string
	// Note says what was added and from where, e.g. "replicaSet=rs0 added
	// from MONGO_HOST"; empty when the URI is used as given.
	Note string
}

// Describe is the target as logs and errors show it: redacted, with its
// options (Describe) and the note.
func (t MongoTarget) Describe() string {
	if t.Note == "" {
		return Describe(t.URI)
	}
	return Describe(t.URI) + " (" + t.Note + ")"
}

// ResolveMongoURI is ResolveMongo's URI.
func ResolveMongoURI(flag string, env Env) (string, error) {
	t, err := ResolveMongo(flag, env)
	return t.URI, err
}

// ResolveMongo returns the MongoDB address to use: the flag value
// (--mongo-uri / BOOTSTRAP_MONGO_URI), else BOOTSTRAP_MONGO_URI_FILE, else
// the srvthreds MONGO_HOST (host:port with MONGO_REPLICA_SET, default rs0,
// or a direct connection when MONGO_DIRECT_CONNECTION=true; a full
// mongodb:// or mongodb+srv:// URI as is), else DefaultMongoURI.
func ResolveMongo(flag string, env Env) (MongoTarget, error) {
	if flag != "" {
		return MongoTarget{URI: flag}, nil
	}
	if v, err := env.secret("BOOTSTRAP_MONGO_URI"); err != nil || v != "" {
		return MongoTarget{URI: v}, err
	}
	host, err := env.secret("MONGO_HOST")
	if err != nil {
		return MongoTarget{}, err
	}
	if host == "" {
		return MongoTarget{URI: DefaultMongoURI, Note: "the default: no --mongo-uri, BOOTSTRAP_MONGO_URI or MONGO_HOST"}, nil
	}
	if strings.HasPrefix(host, "mongodb://") || strings.HasPrefix(host, "mongodb+srv://") {
		return MongoTarget{URI: host}, nil
	}
	if env.get("MONGO_DIRECT_CONNECTION") == "true" {
		return MongoTarget{URI: "mongodb://" + host + "/?directConnection=true",
			Note: "directConnection=true added from MONGO_HOST and MONGO_DIRECT_CONNECTION"}, nil
	}
	rs, from := env.get("MONGO_REPLICA_SET"), "MONGO_REPLICA_SET"
	if rs == "" {
		rs, from = "rs0", "MONGO_HOST"
	}
	opt := "replicaSet=" + url.QueryEscape(rs)
	return MongoTarget{URI: "mongodb://" + host + "/?" + opt, Note: opt + " added from " + from}, nil
}

// RedisConfig is a resolved Redis connection.
type RedisConfig struct {
	URL      string // redis:// or rediss://, possibly with a password
	Password string // from REDIS_PASSWORD(_FILE) when the URL has none
	TLS      bool   // REDIS_USE_TLS=true, or a rediss:// URL
	// Cluster: URL's host and its addr= parameters are seed nodes of a
	// Redis Cluster (--redis-cluster).
	Cluster bool
	// SentinelMaster: URL's host and its addr= parameters are Sentinels,
	// which are asked for this master (--redis-sentinel-master).
	SentinelMaster string
	// TLSFiles: a private CA, a client certificate, and whether to skip
	// verification; any of them turns TLS on.
	TLSFiles TLSFiles
}

// ResolveRedis returns the Redis connection to use: the flag value
// (--redis-url / BOOTSTRAP_REDIS_URL), else BOOTSTRAP_REDIS_URL_FILE, else the
// srvthreds REDIS_HOST (host:port or a URL), else DefaultRedisURL; with
// REDIS_PASSWORD (or REDIS_PASSWORD_FILE) and REDIS_USE_TLS.
func ResolveRedis(flag string, env Env) (RedisConfig, error) {
	var c RedisConfig
	u := flag
	if u == "" {
		v, err := env.secret("BOOTSTRAP_REDIS_URL")
		if err != nil {
			return c, err
		}
		u = v
	}
	if u == "" {
		host, err := env.secret("REDIS_HOST")
		if err != nil {
			return c, err
		}
		switch {
		case host == "":
			u = DefaultRedisURL
		case strings.Contains(host, "://"):
			u = host
		default:
			u = "redis://" + host
		}
	}
	pw, err := env.secret("REDIS_PASSWORD")
	if err != nil {
		return c, err
	}
	c.URL, c.Password = u, pw
	c.TLS = env.get("REDIS_USE_TLS") == "true" || strings.HasPrefix(u, "rediss://")
	return c, nil
}

// Redact returns uri as logs and errors may show it: scheme, hosts, ports,
// database and user only, built from a parse ("unparseable URI" when it
// does not parse); never a password or query parameters (redact.URI).
func Redact(uri string) string { return redact.URI(uri) }

// ConnectOptions bound how long Connect waits for the databases.
type ConnectOptions struct {
	Timeout time.Duration // default 2m
	Log     *slog.Logger
	// OnAttempt is called after each failed attempt (a heartbeat for /livez).
	OnAttempt func()
	// TLS are ConnectMongo's TLS settings given as files (--mongo-tls-*);
	// they add to the URI's own tls options. ConnectRedis reads
	// RedisConfig.TLSFiles instead.
	TLS TLSFiles
	// Addr is how logs and errors name the address (MongoTarget.Describe,
	// RedisConfig.Describe); default Describe of the URI.
	Addr string
	// FinalDNS: a host name that does not resolve ends the wait at once
	// (commands that only read, run by a person); else it is retried until
	// the timeout, as DNS may come up later (a Pod's Service).
	FinalDNS bool
	// Monitor, when set, watches ConnectMongo's client's commands (the run
	// counts the commands its server throttled).
	Monitor *event.CommandMonitor
}

func (o *ConnectOptions) timeout() time.Duration {
	if o == nil || o.Timeout <= 0 {
		return 2 * time.Minute
	}
	return o.Timeout
}

func (o *ConnectOptions) addr(uri string) string {
	if o == nil || o.Addr == "" {
		return Describe(uri)
	}
	return o.Addr
}

// ConnectMongo connects to MongoDB and waits, bounded by the connect timeout,
// for a ping to succeed. It returns an *UnreachableError (ErrUnreachable) when
// the server does not answer in time. A mongodb+srv:// URI whose DNS records
// do not resolve yet is retried like a server that does not answer.
func ConnectMongo(ctx context.Context, uri string, opts *ConnectOptions) (*mongo.Client, error) {
	var files TLSFiles
	var monitor *event.CommandMonitor
	if opts != nil {
		files, monitor = opts.TLS, opts.Monitor
	}
	var c *mongo.Client
	var hosts []string
	connect := func() error { // once: the client, when the URI's records resolve
		if c != nil {
			return nil
		}
		co, err := MongoOptions(uri, files)
		if err != nil {
			return err
		}
		if monitor != nil {
			co.SetMonitor(monitor)
		}
		if c, err = mongo.Connect(co); err != nil {
			return configError("mongo uri", uri, err)
		}
		hosts = co.Hosts
		return nil
	}
	if err := connect(); err != nil && !lookupFailed(err) {
		return nil, err
	}
	err := waitUp(ctx, "MongoDB", opts.addr(uri), opts, func(ctx context.Context) error {
		if err := connect(); err != nil {
			return err
		}
		if err := lookupHosts(ctx, hosts); err != nil {
			return err // a clear error at once, rather than the server selection's after its timeout
		}
		return c.Ping(ctx, nil)
	})
	if err != nil {
		if c != nil {
			_ = c.Disconnect(context.WithoutCancel(ctx))
		}
		return nil, err
	}
	return c, nil
}

// lookupFailed reports whether err is a DNS lookup that failed (the SRV
// and TXT records of a mongodb+srv:// URI).
func lookupFailed(err error) bool {
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// MongoOptions are the client options of uri and files: the URI's own
// (retryWrites, appName, replicaSet, ssl, ... as given: nothing in the
// binary relies on retryable writes, and none of the URI's options is
// overridden), bounded server selection and connect timeouts, the appName
// "bootstrap" when the URI names none, and the TLS files (mongoTLS).
func MongoOptions(uri string, files TLSFiles) (*options.ClientOptions, error) {
	co := options.Client().ApplyURI(uri).
		SetServerSelectionTimeout(5 * time.Second).
		SetConnectTimeout(5 * time.Second)
	if err := co.Validate(); err != nil {
		if lookupFailed(err) { // the SRV or TXT records: names only, no secret
			return nil, fmt.Errorf("mongo uri %s: %w", Redact(uri), err)
		}
		return nil, configError("mongo uri", uri, err)
	}
	if co.AppName == nil {
		co.SetAppName("bootstrap")
	}
	if err := mongoTLS(co, files); err != nil {
		return nil, fmt.Errorf("mongo uri %s: %w", Redact(uri), err)
	}
	return co, nil
}

// mongoTLS applies files to co, whose TLS settings so far come from the URI
// (tls=true, tlsCAFile, tlsCertificateKeyFile): --mongo-tls-ca-file replaces
// the URI's roots with the system roots plus the file, a client certificate
// is added, and verification is turned off only by files.Insecure: a URI
// that turns it off (tlsInsecure, tlsAllowInvalidCertificates,
// tlsAllowInvalidHostnames) without it is refused (ErrInsecureTLS).
func mongoTLS(co *options.ClientOptions, files TLSFiles) error {
	if co.TLSConfig != nil && co.TLSConfig.InsecureSkipVerify && !files.Insecure {
		return ErrInsecureTLS
	}
	if co.TLSConfig != nil {
		LoadFallbackRoots()
	}
	if !files.Any() {
		return nil
	}
	ours, err := files.Config()
	if err != nil {
		return err
	}
	if co.TLSConfig == nil {
		co.SetTLSConfig(ours)
		return nil
	}
	if files.CAFile != "" {
		co.TLSConfig.RootCAs = ours.RootCAs
	}
	co.TLSConfig.Certificates = append(co.TLSConfig.Certificates, ours.Certificates...)
	if files.Insecure {
		co.TLSConfig.InsecureSkipVerify = true
	}
	return nil
}

// waitUp pings until it succeeds, the connect timeout passes, or ctx ends.
func waitUp(ctx context.Context, service, addr string, opts *ConnectOptions, ping func(context.Context) error) error {
	var log *slog.Logger
	if opts != nil && opts.Log != nil {
		log = opts.Log
	} else {
		log = slog.New(slog.DiscardHandler)
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, opts.timeout())
	defer cancel()
	wait := 250 * time.Millisecond
	lastLog := time.Time{}
	var cause error // the last error that says more than a timeout
	for attempt := 1; ; attempt++ {
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		err := ping(pctx)
		pcancel()
		if cause == nil || !errors.Is(err, context.DeadlineExceeded) {
			cause = err
		}
		if err == nil {
			log.Info("connected", "service", service, "addr", addr, "attempts", attempt)
			return nil
		}
		if opts != nil && opts.FinalDNS && notFound(err) {
			return &UnreachableError{Service: service, Addr: addr, Err: err}
		}
		if opts != nil && opts.OnAttempt != nil {
			opts.OnAttempt()
		}
		if time.Since(lastLog) > 5*time.Second {
			d := Diagnose(err)
			log.Warn("waiting for "+service, "service", service, "addr", addr, "attempt", attempt,
				"problem", d.Problem.String(), "err", d.Detail)
			lastLog = time.Now()
		}
		sleep := wait/2 + rand.N(wait/2+1)
		select {
		case <-ctx.Done():
			if parent.Err() != nil {
				return context.Cause(parent) // interrupted or run timeout: not an unreachable server
			}
			return &UnreachableError{Service: service, Addr: addr, Err: cause}
		case <-time.After(sleep):
		}
		wait = min(wait*2, 5*time.Second)
	}
}
