package runner_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/srvthreds/bootstrap/conn"
	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner"
)

// A run of two profiles against local databases: load and validate first,
// then connect, then run under the lock. It needs MongoDB and Redis, so it
// has no Output.
func ExampleRunner_Run() {
	ctx := context.Background()
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))

	set, err := profiles.Load(profiles.DirFS("../examples/profiles"), []string{"example-patterns", "example-users"})
	if err != nil {
		fmt.Println(err) // names file:line:column; nothing was written
		return
	}
	mc, err := conn.ConnectMongo(ctx, conn.DefaultMongoURI, &conn.ConnectOptions{Timeout: time.Minute, Log: log})
	if err != nil {
		fmt.Println(err)
		return
	}
	rc, err := conn.ConnectRedis(ctx, conn.RedisConfig{URL: conn.DefaultRedisURL}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	locker, err := lock.New(rc, "bootstrap", &lock.Options{TTL: 30 * time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := runner.New(runner.Stores{Mongo: mc, Redis: rc, Locker: locker}, &runner.Options{Image: "v1.2.3", KeepVersions: 5, Log: log})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := r.Run(ctx, set)
	for _, p := range res.Profiles {
		fmt.Println(p.Profile, p.Outcome)
	}
	if err != nil {
		fmt.Println(err)
	}
}
