// Command bootstrap applies ordered configuration profiles to MongoDB and
// Redis under a distributed lock, records completion markers so that it is
// safe to run any number of times, serves liveness while it runs, and exits
// with a documented code (README, "Exit codes").
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/srvthreds/bootstrap/conn"
)

// Set by the Makefile with -ldflags -X.
var (
	version = "dev"
	commit  = "unknown"
	date    = "unknown"
)

func main() {
	setMemoryLimit(os.Getenv)
	sd := newShutdown(context.Background())
	done := make(chan int, 1)
	pio := stdio{Out: os.Stdout, Err: os.Stderr, Env: os.Getenv, Shutdown: sd,
		RedisLog: func(log *slog.Logger) { redis.SetLogger(conn.RedisLog{Log: log}) }}
	go func() { done <- execute(sd.ctx, os.Args[1:], pio) }() // execute recovers panics
	code := sd.wait(done)
	sd.stop()
	os.Exit(code)
}
