package main

import (
	"context"
	"io"
	"testing"

	"github.com/srvthreds/bootstrap/internal/harness"
)

// TestMain configures the container harness for the integration tests
// (*_integration_test.go); under -short they skip and cli_test.go's unit
// tests run alone.
func TestMain(m *testing.M) { harness.Main(m) }

// run is execute with the process's io, as the tests give it (no signal
// handling).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	return execute(ctx, args, stdio{Out: stdout, Err: stderr, Env: getenv})
}
