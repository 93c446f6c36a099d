package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/srvthreds/bootstrap/conn"
	"github.com/srvthreds/bootstrap/internal/mongox"
	"github.com/srvthreds/bootstrap/internal/panics"
)

// dial is how a command waits for the stores: onAttempt after each failed
// attempt (a heartbeat), and whether a host name that does not resolve is
// final at once (commands that only read, run by a person: status, history,
// plan) rather than retried until --connect-timeout (run, wait: in a Pod,
// DNS may come up later); throttled counts each MongoDB command the server
// throttled (a run's /metrics).
type dial struct {
	onAttempt func()
	finalDNS  bool
	throttled func()
}

func (f *connFlags) env(io *stdio) conn.Env {
	if f.checked != nil {
		return *f.checked
	}
	return conn.Env{Getenv: io.Env, ReadFile: os.ReadFile}
}

func (f *connFlags) mongo(ctx context.Context, log *slog.Logger, io *stdio, d dial) (*mongo.Client, error) {
	target, err := conn.ResolveMongo(f.MongoURI, f.env(io))
	if err != nil {
		return nil, err
	}
	addr := target.Describe()
	log.Info("connecting", "service", "MongoDB", "addr", addr)
	if f.MongoTLSInsecure {
		log.Warn("MongoDB's TLS certificate is not verified (--mongo-tls-insecure): anyone on the path can read and change what is written")
	}
	co := &conn.ConnectOptions{
		Timeout: f.ConnectTimeout, Log: log, OnAttempt: d.onAttempt, FinalDNS: d.finalDNS, Addr: addr,
		TLS: conn.TLSFiles{CAFile: f.MongoTLSCAFile, Insecure: f.MongoTLSInsecure},
	}
	if d.throttled != nil {
		co.Monitor = mongox.ThrottleMonitor(d.throttled)
	}
	mc, err := conn.ConnectMongo(ctx, target.URI, co)
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

func (f *connFlags) redis(ctx context.Context, log *slog.Logger, io *stdio, d dial) (redis.UniversalClient, error) {
	if err := f.connTLSFlags.Validate(); err != nil { // kong does not call an embedded struct's hook
		return nil, usageError{err}
	}
	cfg, err := conn.ResolveRedis(f.RedisURL, f.env(io))
	if err != nil {
		return nil, err
	}
	f.redisConfig(&cfg)
	log.Info("connecting", "service", "Redis", "addr", cfg.Describe(), "topology", cfg.Topology())
	if f.RedisTLSInsecure {
		log.Warn("Redis's TLS certificate is not verified (--redis-tls-insecure-skip-verify): anyone on the path can read and change what is written")
	}
	rc, err := conn.ConnectRedis(ctx, cfg, &conn.ConnectOptions{Timeout: f.ConnectTimeout, Log: log, OnAttempt: d.onAttempt, FinalDNS: d.finalDNS})
	return rc, insecureIsUsage(err)
}

// errOtherStore cancels the dial of one store when the other's has failed
// on a bad setting: waiting for the first would only delay the answer.
var errOtherStore = errors.New("the other store failed")

// both connects to MongoDB and Redis at the same time; on an error nothing
// stays connected, and the error says what failed on each store that failed
// (errors.Join: one line per store).
func (f *connFlags) both(parent context.Context, log *slog.Logger, io *stdio, d dial) (*mongo.Client, redis.UniversalClient, error) {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	var (
		mc         *mongo.Client
		rc         redis.UniversalClient
		merr, rerr error
		wg         sync.WaitGroup
	)
	failed := func(err error) {
		if err != nil && finalBeforeTimeout(err) {
			cancel(errOtherStore)
		}
	}
	wg.Go(func() {
		defer panics.Recover(log, "connect MongoDB", func(err error) { merr = err; cancel(err) })
		mc, merr = f.mongo(ctx, log, io, d)
		failed(merr)
	})
	wg.Go(func() {
		defer panics.Recover(log, "connect Redis", func(err error) { rerr = err; cancel(err) })
		rc, rerr = f.redis(ctx, log, io, d)
		failed(rerr)
	})
	wg.Wait()
	if merr == nil && rerr == nil {
		return mc, rc, nil
	}
	disconnect(context.WithoutCancel(ctx), io.Shutdown, mc, rc)
	if errors.Is(merr, errOtherStore) {
		merr = nil
	}
	if errors.Is(rerr, errOtherStore) {
		rerr = nil
	}
	if cause := context.Cause(parent); cause != nil && errors.Is(merr, cause) && errors.Is(rerr, cause) {
		rerr = nil // interrupted, or the run's timeout: said once
	}
	return nil, nil, errors.Join(merr, rerr)
}

// finalBeforeTimeout reports whether a store's error is a setting that
// no wait can fix (not a store that did not answer: the other store's
// answer is worth waiting for then, to report both).
func finalBeforeTimeout(err error) bool {
	return !errors.Is(err, conn.ErrUnreachable)
}
