package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/srvthreds/bootstrap/conn"
	"github.com/srvthreds/bootstrap/internal/mongox"
	"github.com/srvthreds/bootstrap/internal/panics"
	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner"
)

// profileFlags select profiles.
type profileFlags struct {
	ProfilesDir string   `help:"Directory of profiles." default:"./profiles" env:"BOOTSTRAP_PROFILES_DIR" placeholder:"DIR"`
	Profile     []string `short:"p" help:"Profile to apply (repeat, or comma-separated)." env:"BOOTSTRAP_PROFILE" sep:"," placeholder:"NAME"`
	OmitKeys    []string `help:"Keys left out of every config, pattern and document (part of the version)." env:"BOOTSTRAP_OMIT_KEYS" sep:"," placeholder:"KEY"`

	MaxFileSize    profiles.ByteSize `help:"Largest JSON file." default:"8MiB" env:"BOOTSTRAP_MAX_FILE_SIZE" placeholder:"SIZE"`
	MaxYAMLSize    profiles.ByteSize `help:"Largest YAML file." default:"256KiB" env:"BOOTSTRAP_MAX_YAML_SIZE" placeholder:"SIZE"`
	MaxProfileSize profiles.ByteSize `help:"Largest total of the files of one profile." default:"16MiB" env:"BOOTSTRAP_MAX_PROFILE_SIZE" placeholder:"SIZE"`
	MaxDocuments   int               `help:"Most items one profile writes." default:"100000" env:"BOOTSTRAP_MAX_DOCUMENTS"`
	MaxProblems    int               `help:"Most problems listed." default:"50" env:"BOOTSTRAP_MAX_PROBLEMS"`
}

// options are the load options the flags give (a zero limit means its
// default); a negative limit is a usage error.
func (f *profileFlags) options() (*profiles.Options, error) {
	if f.MaxFileSize < 0 || f.MaxYAMLSize < 0 || f.MaxProfileSize < 0 || f.MaxDocuments < 0 || f.MaxProblems < 0 {
		return nil, usageError{errors.New("--max-file-size, --max-yaml-size, --max-profile-size, --max-documents and --max-problems must be positive")}
	}
	return &profiles.Options{
		Limits: profiles.Limits{
			MaxFileSize: int64(f.MaxFileSize), MaxYAMLSize: int64(f.MaxYAMLSize), MaxProfileSize: int64(f.MaxProfileSize),
			MaxDocuments: f.MaxDocuments, MaxProblems: f.MaxProblems,
		},
		OmitKeys: f.OmitKeys,
	}, nil
}

// load reads and validates the named profiles (all of them when none is
// named and all is true). Nothing is written before this succeeds.
func (f *profileFlags) load(log *slog.Logger, all bool) (*profiles.Set, error) {
	if st, err := os.Stat(f.ProfilesDir); err != nil || !st.IsDir() {
		return nil, usageError{fmt.Errorf("profiles dir %q is not a directory", f.ProfilesDir)}
	}
	opts, err := f.options()
	if err != nil {
		return nil, err
	}
	fsys := profiles.DirFS(f.ProfilesDir)
	var set *profiles.Set
	if len(f.Profile) == 0 {
		if !all {
			return nil, usageError{errors.New("no profile given: use -p NAME (or BOOTSTRAP_PROFILE)")}
		}
		set, err = profiles.LoadAllWith(fsys, opts)
	} else {
		set, err = profiles.LoadWith(fsys, f.Profile, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("profiles in %s: %w", f.ProfilesDir, err)
	}
	for _, p := range set.Profiles {
		for _, w := range p.Warnings {
			log.Warn(w, "profile", p.Name)
		}
		if len(p.KeyNotes) > 0 {
			log.Info("keys that start with $ or contain . (stored nested by MongoDB 5.0+; refused by FerretDB, Cosmos DB and older servers; --omit-keys leaves them out)",
				"profile", p.Name, "keys", keyNoteList(p), "more", p.KeyNotesMore)
		}
	}
	return set, nil
}

// connFlags are the connection settings. The srvthreds variables
// (MONGO_HOST, REDIS_HOST, REDIS_PASSWORD, ...) and *_FILE secrets are
// honoured by conn.ResolveMongoURI and conn.ResolveRedis.
type connFlags struct {
	MongoURI       string        `help:"MongoDB URI (else MONGO_HOST, else localhost)." env:"BOOTSTRAP_MONGO_URI" placeholder:"URI"`
	RedisURL       string        `help:"Redis URL (else REDIS_HOST, else localhost)." env:"BOOTSTRAP_REDIS_URL" placeholder:"URL"`
	ConnectTimeout time.Duration `help:"How long to wait for MongoDB and Redis to come up." default:"2m" env:"BOOTSTRAP_CONNECT_TIMEOUT"`
	connTLSFlags
}

// connTLSFlags are the Redis topologies and the TLS files of both stores
// (README, "Redis topologies and TLS").
type connTLSFlags struct {
	RedisCluster        bool   `help:"The Redis URL's host and addr= parameters are seed nodes of a Redis Cluster." env:"BOOTSTRAP_REDIS_CLUSTER"`
	RedisSentinelMaster string `help:"Ask the Sentinels at the Redis URL's host and addr= parameters for this master." env:"BOOTSTRAP_REDIS_SENTINEL_MASTER" placeholder:"NAME"`
	RedisTLSCAFile      string `name:"redis-tls-ca-file" help:"PEM CA certificates trusted for Redis, besides the system roots (turns TLS on)." env:"BOOTSTRAP_REDIS_TLS_CA_FILE" placeholder:"FILE"`
	RedisTLSCertFile    string `name:"redis-tls-cert-file" help:"PEM client certificate for Redis (with --redis-tls-key-file)." env:"BOOTSTRAP_REDIS_TLS_CERT_FILE" placeholder:"FILE"`
	RedisTLSKeyFile     string `name:"redis-tls-key-file" help:"PEM key of the Redis client certificate." env:"BOOTSTRAP_REDIS_TLS_KEY_FILE" placeholder:"FILE"`
	RedisTLSInsecure    bool   `name:"redis-tls-insecure-skip-verify" help:"Do not verify Redis's certificate (insecure; warned on every run)." env:"BOOTSTRAP_REDIS_TLS_INSECURE_SKIP_VERIFY"`
	MongoTLSCAFile      string `name:"mongo-tls-ca-file" help:"PEM CA certificates trusted for MongoDB, besides the system roots (turns TLS on)." env:"BOOTSTRAP_MONGO_TLS_CA_FILE" placeholder:"FILE"`
	MongoTLSInsecure    bool   `name:"mongo-tls-insecure" help:"Do not verify MongoDB's certificate (insecure; warned on every run)." env:"BOOTSTRAP_MONGO_TLS_INSECURE"`
}

func (f *connTLSFlags) redisConfig(cfg *conn.RedisConfig) {
	cfg.Cluster, cfg.SentinelMaster = f.RedisCluster, f.RedisSentinelMaster
	cfg.TLSFiles = conn.TLSFiles{CAFile: f.RedisTLSCAFile, CertFile: f.RedisTLSCertFile, KeyFile: f.RedisTLSKeyFile, Insecure: f.RedisTLSInsecure}
}

// Validate refuses both topologies at once.
func (f *connTLSFlags) Validate() error {
	if f.RedisCluster && f.RedisSentinelMaster != "" {
		return errors.New("--redis-cluster and --redis-sentinel-master exclude each other")
	}
	return nil
}

func (f *connFlags) env(io *stdio) conn.Env {
	return conn.Env{Getenv: io.Env, ReadFile: os.ReadFile}
}

// connHooks is what a command that serves /livez and /metrics (a
// *health.State) learns from the connections: a heartbeat after each failed
// attempt to connect, and each MongoDB command the server throttled.
type connHooks interface {
	Heartbeat()
	MongoThrottled()
}

// onAttempt is h's heartbeat; nil without h.
func onAttempt(h connHooks) func() {
	if h == nil {
		return nil
	}
	return h.Heartbeat
}

func (f *connFlags) mongo(ctx context.Context, log *slog.Logger, io *stdio, h connHooks) (*mongo.Client, error) {
	uri, err := conn.ResolveMongoURI(f.MongoURI, f.env(io))
	if err != nil {
		return nil, err
	}
	log.Info("connecting", "service", "MongoDB", "addr", conn.Redact(uri))
	if f.MongoTLSInsecure {
		log.Warn("MongoDB's TLS certificate is not verified (--mongo-tls-insecure): anyone on the path can read and change what is written")
	}
	tlsFiles := conn.TLSFiles{CAFile: f.MongoTLSCAFile, Insecure: f.MongoTLSInsecure}
	co := &conn.ConnectOptions{Timeout: f.ConnectTimeout, Log: log, OnAttempt: onAttempt(h), TLS: tlsFiles}
	if h != nil {
		co.Monitor = mongox.ThrottleMonitor(h.MongoThrottled)
	}
	mc, err := conn.ConnectMongo(ctx, uri, co)
	return mc, insecureIsUsage(err)
}

// insecureIsUsage makes a connection string that turns verification off
// without the flag a bad command line (exit 2).
func insecureIsUsage(err error) error {
	if errors.Is(err, conn.ErrInsecureTLS) {
		return usageError{err}
	}
	return err
}

func (f *connFlags) redis(ctx context.Context, log *slog.Logger, io *stdio, h connHooks) (redis.UniversalClient, error) {
	if err := f.connTLSFlags.Validate(); err != nil { // kong does not call an embedded struct's hook
		return nil, usageError{err}
	}
	cfg, err := conn.ResolveRedis(f.RedisURL, f.env(io))
	if err != nil {
		return nil, err
	}
	f.redisConfig(&cfg)
	log.Info("connecting", "service", "Redis", "addr", conn.Redact(cfg.URL), "topology", cfg.Topology())
	if f.RedisTLSInsecure {
		log.Warn("Redis's TLS certificate is not verified (--redis-tls-insecure-skip-verify): anyone on the path can read and change what is written")
	}
	rc, err := conn.ConnectRedis(ctx, cfg, &conn.ConnectOptions{Timeout: f.ConnectTimeout, Log: log, OnAttempt: onAttempt(h)})
	return rc, insecureIsUsage(err)
}

// both connects to MongoDB, then Redis; on an error nothing stays connected.
func (f *connFlags) both(ctx context.Context, log *slog.Logger, io *stdio, h connHooks) (*mongo.Client, redis.UniversalClient, error) {
	mc, err := f.mongo(ctx, log, io, h)
	if err != nil {
		return nil, nil, err
	}
	rc, err := f.redis(ctx, log, io, h)
	if err != nil {
		disconnect(ctx, io.Shutdown, mc, nil)
		return nil, nil, err
	}
	return mc, rc, nil
}

// lockFlags name the lock.
type lockFlags struct {
	LockName string        `help:"Name of the distributed lock." default:"bootstrap" env:"BOOTSTRAP_LOCK_NAME"`
	LockTTL  time.Duration `help:"Lease time of the lock; renewed every third of it." default:"30s" env:"BOOTSTRAP_LOCK_TTL"`
}

func (f *lockFlags) locker(rc redis.UniversalClient, h lock.Holder, onWait func(*lock.Holder, time.Duration), onRetry func(error, time.Duration)) (*lock.Locker, error) {
	return lock.New(rc, f.LockName, &lock.Options{TTL: f.LockTTL, Holder: h, OnWait: onWait, OnRetry: onRetry})
}

// waitingLocker is f.locker logging, every few seconds while it waits, who
// holds the lock, with beat called each time (a heartbeat).
func (f *lockFlags) waitingLocker(rc redis.UniversalClient, h lock.Holder, log *slog.Logger, beat func()) (*lock.Locker, error) {
	l, err := f.locker(rc, h, func(o *lock.Holder, waited time.Duration) {
		if beat != nil {
			beat()
		}
		log.Info("waiting for lock", "lock", f.LockName, "holder_run_id", o.RunID, "holder_host", o.Host,
			"holder_image", o.Image, "holder_since", o.Since, "holder_renewed", o.Renewed, "holder_fence", o.Fence,
			"waited_ms", waited.Milliseconds())
	}, func(err error, waited time.Duration) {
		if beat != nil {
			beat()
		}
		log.Warn("waiting for lock: Redis error, retrying until --lock-wait", "lock", f.LockName, "err", err,
			"waited_ms", waited.Milliseconds())
	})
	if err != nil {
		return nil, usageError{err}
	}
	return l, nil
}

func (f *lockFlags) validate() error {
	if f.LockTTL < 300*time.Millisecond {
		return errors.New("--lock-ttl must be at least 300ms")
	}
	return nil
}

// hostname is the pod name in Kubernetes.
func hostname() string {
	h, _ := os.Hostname()
	return h
}

// disconnectTimeout bounds disconnecting the clients.
const disconnectTimeout = 5 * time.Second

// disconnect disconnects the clients (either may be nil), bounded by
// disconnectTimeout and, after a signal, by the shutdown grace.
func disconnect(ctx context.Context, sd *shutdown, mc *mongo.Client, rc redis.UniversalClient) {
	c, cancel := sd.cleanupContext(ctx, disconnectTimeout)
	defer cancel()
	disconnectWithin(c, mc, rc)
}

// disconnectWithin disconnects the clients (either may be nil) at the same
// time, within ctx.
func disconnectWithin(ctx context.Context, mc *mongo.Client, rc redis.UniversalClient) {
	var wg sync.WaitGroup
	if mc != nil {
		wg.Go(func() {
			defer panics.Recover(nil, "mongo disconnect", nil)
			_ = mc.Disconnect(ctx)
		})
	}
	if rc != nil {
		_ = rc.Close() // closes the pool's connections, without a round trip
	}
	wg.Wait()
}

// keyNoteList renders p's key notes, "file:line:col: field" each.
func keyNoteList(p *profiles.Profile) []string {
	out := make([]string, len(p.KeyNotes))
	for i, n := range p.KeyNotes {
		out[i] = n.String()
	}
	return out
}

// runEnv is what every command is given: its logger, the build and stdio.
type runEnv struct {
	log *slog.Logger
	bi  *buildInfo
	io  *stdio
}

// lockedRunner connects both databases and returns a runner that works
// under the lock of lf (waiting at most lockWait, logging who holds it), and
// a function that disconnects.
func lockedRunner(ctx context.Context, cf *connFlags, lf *lockFlags, lockWait time.Duration, e runEnv) (*runner.Runner, func(), error) {
	mc, rc, err := cf.both(ctx, e.log, e.io, nil)
	if err != nil {
		return nil, nil, err
	}
	closeDBs := func() { disconnect(ctx, e.io.Shutdown, mc, rc) }
	runID, host := runner.NewRunID(), hostname()
	locker, err := lf.waitingLocker(rc, lock.Holder{RunID: runID, Host: host, Image: e.bi.Version}, e.log.With("run_id", runID), nil)
	if err == nil {
		var rn *runner.Runner
		rn, err = runner.New(runner.Stores{Mongo: mc, Redis: rc, Locker: locker}, &runner.Options{
			RunID: runID, Host: host, Image: e.bi.Version, LockWait: lockWait, Log: e.log, Env: cf.env(e.io),
			OnLease: e.io.Shutdown.held,
		})
		if err == nil {
			return rn, closeDBs, nil
		}
	}
	closeDBs()
	return nil, nil, err
}
