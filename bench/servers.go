package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Aliases of the servers on the bench network, as the runner containers
// reach them.
const (
	redisAlias = "redis"
	mongoAlias = "mongo"
)

// servers are Redis and a MongoDB-wire server in containers on one network,
// with their ports published on loopback for local processes.
type servers struct {
	// RedisURL and MongoURI are for local processes (127.0.0.1); RedisAddr
	// is RedisURL's host:port.
	RedisURL, MongoURI, RedisAddr string
	// NetRedisURL and NetMongoURI are for containers on Network.
	NetRedisURL, NetMongoURI string
	// Network is the Docker network the servers are on.
	Network string
	// Ferret reports whether the MongoDB-wire server is FerretDB.
	Ferret bool

	redis *redis.Client
	mongo *mongo.Client
}

// isFerret reports whether img is a FerretDB image (its repository's last
// element contains "ferretdb").
func isFerret(img string) bool {
	repo := img
	if i := strings.LastIndex(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	return strings.Contains(strings.ToLower(path.Base(repo)), "ferretdb")
}

// startServers starts Redis (redisImage, without persistence) and the
// MongoDB-wire server (mongoImage: FerretDB on a tmpfs, or mongod with the
// image's own command) on network, publishes their ports on 127.0.0.1, and
// returns once both answer from this process.
func startServers(ctx context.Context, d *dockerCLI, network, redisImage, mongoImage string) (*servers, error) {
	s := &servers{Network: network, Ferret: isFerret(mongoImage)}
	redisID, err := d.runDetached(ctx,
		[]string{"--name", "bootstrap-bench-redis-" + d.run, "--network", network, "--network-alias", redisAlias,
			"-p", "127.0.0.1::6379"},
		redisImage, "--save", "", "--appendonly", "no", "--protected-mode", "no")
	if err != nil {
		return nil, fmt.Errorf("start redis: %w", err)
	}
	mongoOpts := []string{"--name", "bootstrap-bench-mongo-" + d.run, "--network", network, "--network-alias", mongoAlias,
		"-p", "127.0.0.1::27017"}
	var mongoArgs []string
	if s.Ferret {
		mongoOpts = append(mongoOpts, "--tmpfs", "/data:rw")
		mongoArgs = []string{"--handler=sqlite", "--sqlite-url=file:/data/", "--listen-addr=:27017",
			"--telemetry=disable", "--state-dir=-", "--debug-addr=-"}
	}
	mongoID, err := d.runDetached(ctx, mongoOpts, mongoImage, mongoArgs...)
	if err != nil {
		return nil, fmt.Errorf("start mongo: %w", err)
	}
	redisAddr, err := d.hostPort(ctx, redisID, "6379/tcp")
	if err != nil {
		return nil, err
	}
	mongoAddr, err := d.hostPort(ctx, mongoID, "27017/tcp")
	if err != nil {
		return nil, err
	}
	s.RedisAddr = redisAddr
	s.RedisURL = "redis://" + redisAddr
	s.MongoURI = "mongodb://" + mongoAddr + "/?directConnection=true"
	s.NetRedisURL = "redis://" + redisAlias + ":6379"
	s.NetMongoURI = "mongodb://" + mongoAlias + ":27017/?directConnection=true"

	s.redis = redis.NewClient(&redis.Options{Addr: redisAddr, MaxRetries: -1})
	s.mongo, err = mongo.Connect(options.Client().ApplyURI(s.MongoURI).SetServerSelectionTimeout(2 * time.Second))
	if err != nil {
		return nil, fmt.Errorf("connect to mongo: %w", err)
	}
	err = waitUntil(ctx, time.Minute, func(ctx context.Context) error {
		return errors.Join(s.redis.Ping(ctx).Err(), s.mongo.Ping(ctx, nil))
	})
	if err != nil {
		return nil, fmt.Errorf("servers did not answer: %w", err)
	}
	return s, nil
}

// close disconnects this process's clients.
func (s *servers) close(ctx context.Context) {
	if s.redis != nil {
		s.redis.Close()
	}
	if s.mongo != nil {
		s.mongo.Disconnect(ctx)
	}
}

// reset empties both servers: FLUSHALL, and every database but the system
// ones dropped.
func (s *servers) reset(ctx context.Context) error {
	if err := s.redis.FlushAll(ctx).Err(); err != nil {
		return fmt.Errorf("reset redis: %w", err)
	}
	names, err := s.mongo.ListDatabaseNames(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("reset mongo: %w", err)
	}
	for _, n := range names {
		if n == "admin" || n == "local" || n == "config" {
			continue
		}
		if err := s.dropDatabase(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// dropDatabase drops one database.
func (s *servers) dropDatabase(ctx context.Context, name string) error {
	if err := s.mongo.Database(name).Drop(ctx); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// counts are the number of calls of each command a server has served.
type counts map[string]int64

// sub returns c - before for every command whose count changed, leaving out
// the commands named in skip (the bench's own probes).
func (c counts) sub(before counts, skip ...string) counts {
	d := counts{}
	for k, v := range c {
		if slices.Contains(skip, k) {
			continue
		}
		if n := v - before[k]; n != 0 {
			d[k] = n
		}
	}
	return d
}

// minus returns c - o for every command whose count is still positive.
func (c counts) minus(o counts) counts {
	d := counts{}
	for k, v := range c {
		if n := v - o[k]; n > 0 {
			d[k] = n
		}
	}
	return d
}

// total returns the sum of the counts.
func (c counts) total() int64 {
	var n int64
	for _, v := range c {
		n += v
	}
	return n
}

// String lists the counts as "a 2, b 1", most frequent first.
func (c counts) String() string {
	keys := slices.Collect(maps.Keys(c))
	slices.SortFunc(keys, func(a, b string) int {
		if c[a] != c[b] {
			return int(c[b] - c[a])
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("`%s` %d", k, c[k])
	}
	return strings.Join(parts, ", ")
}

// redisCalls returns Redis's INFO commandstats call counts, by command name
// in lower case (subcommands as "client|setinfo").
func (s *servers) redisCalls(ctx context.Context) (counts, error) {
	info, err := s.redis.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, fmt.Errorf("redis info commandstats: %w", err)
	}
	return parseCommandStats(info)
}

// parseCommandStats parses the lines "cmdstat_<name>:calls=N,usec=..." of
// INFO commandstats.
func parseCommandStats(info string) (counts, error) {
	c := counts{}
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		name, rest, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for _, field := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(field, "=")
			if k != "calls" {
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("commandstats line %q: %w", line, err)
			}
			c[strings.TrimPrefix(name, "cmdstat_")] = n
		}
	}
	return c, nil
}

// mongoCalls returns the per-command counts of serverStatus
// (metrics.commands.<name>.total), which both MongoDB and FerretDB keep.
func (s *servers) mongoCalls(ctx context.Context) (counts, error) {
	var status struct {
		Metrics struct {
			Commands map[string]bson.Raw `bson:"commands"`
		} `bson:"metrics"`
	}
	err := s.mongo.Database("admin").RunCommand(ctx, bson.D{{Key: "serverStatus", Value: 1}}).Decode(&status)
	if err != nil {
		return nil, fmt.Errorf("serverStatus: %w", err)
	}
	if status.Metrics.Commands == nil {
		return nil, errors.New("serverStatus has no metrics.commands")
	}
	c := counts{}
	for name, raw := range status.Metrics.Commands {
		v, err := raw.LookupErr("total")
		if err != nil {
			continue
		}
		if n, ok := v.AsInt64OK(); ok {
			c[name] = n
		}
	}
	return c, nil
}
