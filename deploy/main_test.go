package deploy

import (
	"testing"

	"github.com/srvthreds/bootstrap/internal/harness"
)

// TestMain: the container tests (*_integration_test.go) need Docker; the
// manifest tests run under -short too.
func TestMain(m *testing.M) { harness.Main(m) }
