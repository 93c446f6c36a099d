package main

import (
	"github.com/srvthreds/bootstrap/conn"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner"
)

// preflight checks, before any connection, everything a run of set will
// read from its environment (docs/preflight.md): the connection settings
// (*_FILE secrets, TLS files, the Redis topology flags; a bad one is a
// usage error, exit 2), then every secret of set's steps (users'
// passwordFrom, http steps' headersFrom, BCRYPT_SALT_ROUNDS; a missing or
// empty one is a *profiles.ValidationError, exit 3). Each is read once: from
// then on the connections and the runner read the values checked here.
func (f *connFlags) preflight(set *profiles.Set, io *stdio) error {
	env := f.env(io).Cached()
	if err := checkConnEnv(f, env); err != nil {
		return err
	}
	f.checked = &env
	return runner.Preflight(set, env)
}

// checkConnEnv resolves the connection settings of f through env and reads
// the TLS files they name, connecting to nothing.
func checkConnEnv(f *connFlags, env conn.Env) error {
	if err := f.connTLSFlags.Validate(); err != nil {
		return usageError{err}
	}
	if _, err := conn.ResolveMongoURI(f.MongoURI, env); err != nil {
		return err
	}
	if _, err := conn.ResolveRedis(f.RedisURL, env); err != nil {
		return err
	}
	mongoTLS := conn.TLSFiles{CAFile: f.MongoTLSCAFile, Insecure: f.MongoTLSInsecure}
	var redisCfg conn.RedisConfig
	f.redisConfig(&redisCfg)
	for _, files := range []conn.TLSFiles{mongoTLS, redisCfg.TLSFiles} {
		if !files.Any() {
			continue
		}
		if _, err := files.Config(); err != nil {
			return usageError{err}
		}
	}
	return nil
}
