package main

import (
	"testing"

	"github.com/srvthreds/bootstrap/internal/harness"
)

// TestMain configures the container harness for the integration tests
// (*_integration_test.go); under -short they skip and cli_test.go's unit
// tests run alone.
func TestMain(m *testing.M) { harness.Main(m) }
