// Command bootstrap applies ordered configuration profiles to MongoDB and
// Redis under a distributed lock, records completion markers so that it is
// safe to run any number of times, serves liveness while it runs, and exits
// with a documented code (README, "Exit codes").
package main

import (
	"context"
	"os"
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
	pio := stdio{Out: os.Stdout, Err: os.Stderr, Env: os.Getenv, Shutdown: sd}
	go func() { done <- execute(sd.ctx, os.Args[1:], pio) }() // execute recovers panics
	code := sd.wait(done)
	sd.stop()
	os.Exit(code)
}
