package conn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Topology names of a Redis deployment, as RedisConfig.Topology returns them
// and the logs show them.
const (
	TopologySingle   = "single"
	TopologyCluster  = "cluster"
	TopologySentinel = "sentinel"
)

// Timeouts of every Redis client the package builds.
const (
	redisDialTimeout = 5 * time.Second
	redisIOTimeout   = 10 * time.Second
)

// Topology returns TopologyCluster, TopologySentinel or TopologySingle.
func (c RedisConfig) Topology() string {
	switch {
	case c.Cluster:
		return TopologyCluster
	case c.SentinelMaster != "":
		return TopologySentinel
	default:
		return TopologySingle
	}
}

// Describe is the address as logs and errors show it: redacted, with its
// options (Describe), and what the settings besides the URL add: TLS, the
// password of REDIS_PASSWORD, the topology.
func (c RedisConfig) Describe() string {
	var notes []string
	if (c.TLS || c.TLSFiles.Any()) && !strings.HasPrefix(strings.ToLower(c.URL), "rediss://") {
		notes = append(notes, "TLS on")
	}
	if c.Password != "" {
		notes = append(notes, "password from REDIS_PASSWORD")
	}
	switch c.Topology() {
	case TopologyCluster:
		notes = append(notes, "Cluster seed nodes")
	case TopologySentinel:
		notes = append(notes, "Sentinels of master "+c.SentinelMaster)
	}
	if len(notes) == 0 {
		return Describe(c.URL)
	}
	return Describe(c.URL) + " (" + strings.Join(notes, ", ") + ")"
}

// NewRedisClient returns the client of cfg without connecting: a
// *redis.Client for one node, a *redis.ClusterClient for a Cluster (the URL's
// host and its addr= parameters are seed nodes; the others are discovered),
// a failover *redis.Client for Sentinel (the URL's host and addr= parameters
// are Sentinels; the userinfo's password is theirs, the data nodes' password
// is REDIS_PASSWORD or the URL's password= parameter). TLS is on with a
// rediss:// URL, a tls=true parameter, REDIS_USE_TLS=true or any of
// cfg.TLSFiles; the URL's skip_verify is refused (ErrInsecureTLS).
func NewRedisClient(cfg RedisConfig) (redis.UniversalClient, error) {
	raw, wantTLS, err := stripTLSParam(cfg.URL)
	if err != nil {
		return nil, err
	}
	var tc *tls.Config
	if wantTLS || cfg.TLS || cfg.TLSFiles.Any() {
		if tc, err = cfg.TLSFiles.Config(); err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
	}
	switch cfg.Topology() {
	case TopologyCluster:
		o, err := redis.ParseClusterURL(raw)
		if err != nil {
			return nil, urlError(cfg.URL, err)
		}
		shared{&o.Password, &o.TLSConfig, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.ContextTimeoutEnabled}.set(cfg, tc)
		return redis.NewClusterClient(o), nil
	case TopologySentinel:
		o, err := redis.ParseFailoverURL(raw)
		if err != nil {
			return nil, urlError(cfg.URL, err)
		}
		o.MasterName = cfg.SentinelMaster
		shared{&o.Password, &o.TLSConfig, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.ContextTimeoutEnabled}.set(cfg, tc)
		o.MaxRetries = 1
		return redis.NewFailoverClient(o), nil
	}
	if u, _ := url.Parse(raw); u != nil && u.Query().Has("addr") {
		return nil, fmt.Errorf("redis url %s: addr= parameters name more nodes: give --redis-cluster or --redis-sentinel-master", Redact(cfg.URL))
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		return nil, urlError(cfg.URL, err)
	}
	shared{&o.Password, &o.TLSConfig, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.ContextTimeoutEnabled}.set(cfg, tc)
	o.MaxRetries = 1
	return redis.NewClient(o), nil
}

// shared points at the settings that the options of every topology
// (redis.Options, ClusterOptions, FailoverOptions) have, each its own type.
type shared struct {
	password              *string
	tls                   **tls.Config
	dial, read, write     *time.Duration
	contextTimeoutEnabled *bool
}

// set applies cfg's password (when the URL has none), the TLS settings, the
// timeouts, and makes a command's context deadline (a renewal's, the
// lease's) bound it.
func (s shared) set(cfg RedisConfig, tc *tls.Config) {
	*s.password = cmpOr(*s.password, cfg.Password)
	*s.tls = tlsFor(*s.tls, tc)
	*s.dial, *s.read, *s.write = redisDialTimeout, redisIOTimeout, redisIOTimeout
	*s.contextTimeoutEnabled = true
}

// tlsFor returns the TLS configuration to use: ours when TLS is wanted,
// else a rediss:// URL's (from go-redis's parser) with verification by the
// system roots and the host dialled, else none.
func tlsFor(fromURL, ours *tls.Config) *tls.Config {
	if ours != nil {
		return ours
	}
	if fromURL != nil {
		LoadFallbackRoots()
		return &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// stripTLSParam removes the URL's tls= parameter (which go-redis does not
// know) and reports whether it asked for TLS; it refuses skip_verify.
func stripTLSParam(raw string) (string, bool, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", false, urlError(raw, err)
	}
	q := u.Query()
	if q.Has("skip_verify") {
		return "", false, fmt.Errorf("redis url %s: skip_verify: %w", Redact(raw), ErrInsecureTLS)
	}
	if !q.Has("tls") {
		return raw, false, nil
	}
	on, err := strconv.ParseBool(q.Get("tls"))
	if err != nil {
		return "", false, fmt.Errorf("redis url %s: tls=%q is not true or false", Redact(raw), q.Get("tls"))
	}
	q.Del("tls")
	u.RawQuery = q.Encode()
	return u.String(), on, nil
}

// urlError names the URL (redacted) and hides the parser's own copy of it,
// which may hold the password.
func urlError(raw string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return configError("redis url", raw, err)
}

// ConnectRedis builds the client of cfg (NewRedisClient) and waits, bounded
// by the connect timeout, for a PING to succeed: on a Cluster, of every
// master; behind Sentinel, of the master the Sentinels name. It returns an
// *UnreachableError (ErrUnreachable) when that does not happen in time.
func ConnectRedis(ctx context.Context, cfg RedisConfig, opts *ConnectOptions) (redis.UniversalClient, error) {
	c, err := NewRedisClient(cfg)
	if err != nil {
		return nil, err
	}
	addr := cfg.Describe()
	if opts != nil && opts.Addr != "" {
		addr = opts.Addr
	}
	err = waitUp(ctx, "Redis", addr, opts, func(ctx context.Context) error {
		if cc, ok := c.(*redis.ClusterClient); ok {
			return cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
				return n.Ping(ctx).Err()
			})
		}
		return c.Ping(ctx).Err()
	})
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}
