package runner

import (
	"errors"
	"fmt"
	"testing"

	"github.com/srvthreds/bootstrap/runner/internal/lease"
	"github.com/srvthreds/bootstrap/store"
)

// TestFencedIsLockLost: a record refused by the store for its fence ends
// the run as a lost lock (exit 5), whatever wrapped it.
func TestFencedIsLockLost(t *testing.T) {
	err := lease.Fenced(fmt.Errorf("snapshot: %w", fmt.Errorf("write marker x: %w", store.ErrFenced)))
	if !errors.Is(err, ErrLockLost) || !errors.Is(err, ErrFenced) || !errors.Is(err, store.ErrFenced) {
		t.Errorf("fenced(...) = %v, want ErrLockLost, ErrFenced and store.ErrFenced", err)
	}
	if err := lease.Fenced(errors.New("other")); errors.Is(err, ErrLockLost) {
		t.Errorf("fenced(other) = %v, want no ErrLockLost", err)
	}
}
