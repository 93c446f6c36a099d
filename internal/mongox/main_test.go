package mongox_test

import (
	"testing"

	"github.com/srvthreds/bootstrap/internal/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
