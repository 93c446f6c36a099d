package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/store"
)

// TestClaimFence stores a lock's fence in a database only over a lower
// one, and answers a refusal with the fence stored.
func TestClaimFence(t *testing.T) {
	t.Parallel()
	st := store.New(harness.StartMongo(t, nil).Client(t))
	const db = "store_fences"
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name       string
		stored     int64 // 0: none
		claim      int64
		wantFenced bool
		wantFence  int64 // ClaimFence's value, and Fence's afterwards
	}{
		{name: "first_claim", claim: 3, wantFence: 3},
		{name: "higher_claim", stored: 3, claim: 4, wantFence: 4},
		{name: "equal_claim_refused", stored: 5, claim: 5, wantFenced: true, wantFence: 5},
		{name: "lower_claim_refused", stored: 9, claim: 2, wantFenced: true, wantFence: 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lock := "lock-" + tt.name
			if tt.stored > 0 {
				if _, err := st.ClaimFence(t.Context(), db, store.FenceClaim{Lock: lock, Fence: tt.stored, RunID: "first", At: at}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := st.ClaimFence(t.Context(), db, store.FenceClaim{Lock: lock, Fence: tt.claim, RunID: "second", At: at})
			if errors.Is(err, store.ErrFenced) != tt.wantFenced || (!tt.wantFenced && err != nil) {
				t.Fatalf("ClaimFence(%d) over %d: err = %v, want fenced: %t", tt.claim, tt.stored, err, tt.wantFenced)
			}
			if got != tt.wantFence {
				t.Errorf("ClaimFence(%d) = %d, want %d", tt.claim, got, tt.wantFence)
			}
			stored, err := st.Fence(t.Context(), db, lock)
			if err != nil {
				t.Fatal(err)
			}
			if stored != tt.wantFence {
				t.Errorf("Fence after the claim = %d, want %d", stored, tt.wantFence)
			}
		})
	}
	if f, err := st.Fence(t.Context(), db, "never-claimed"); err != nil || f != 0 {
		t.Errorf("Fence of a lock never claimed = %d, %v; want 0, nil", f, err)
	}
}
