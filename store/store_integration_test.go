package store_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/internal/testutil"
	"github.com/srvthreds/bootstrap/store"
)

// TestStorePutMarkerIsFenced stores a marker only over one with a lower
// fence: a zombie holder can't overwrite a newer run's marker.
func TestStorePutMarkerIsFenced(t *testing.T) {
	t.Parallel()
	mc := harness.StartMongo(t, nil).Client(t)
	st := store.New(mc)
	const db = "store_fenced"

	marker := func(profile string, fence int64, runID string) *store.Marker {
		return &store.Marker{
			Profile: profile, Version: "v-" + runID, HashAlgo: 1, Fence: fence, RunID: runID,
			AppliedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(fence) * time.Second),
			Host:      testHost, Image: testImage,
			Steps: []store.StepRecord{{Name: "0:configs", Kind: "configs", Written: fence}},
		}
	}
	tests := []struct {
		name      string
		stored    int64 // fence of the marker stored first
		put       int64 // fence of the second PutMarker
		wantFence bool  // whether the second is refused with ErrFenced
	}{
		{name: "lower_fence_refused", stored: 5, put: 4, wantFence: true},
		{name: "equal_fence_refused", stored: 5, put: 5, wantFence: true},
		{name: "higher_fence_replaces", stored: 5, put: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			profile := "p-" + tt.name
			if m, err := st.Marker(t.Context(), db, profile); err != nil || m != nil {
				t.Fatalf("marker before any write = %+v, %v; want nil, nil", m, err)
			}
			first := marker(profile, tt.stored, "first")
			if err := st.PutMarker(t.Context(), db, first); err != nil {
				t.Fatalf("first marker: %v", err)
			}
			second := marker(profile, tt.put, "second")
			err := st.PutMarker(t.Context(), db, second)
			if got := errors.Is(err, store.ErrFenced); got != tt.wantFence {
				t.Fatalf("PutMarker at fence %d over %d: err = %v, want ErrFenced: %t", tt.put, tt.stored, err, tt.wantFence)
			}
			want := second
			if tt.wantFence {
				want = first
			}
			got := testutil.ReadMarker(t, mc, db, profile)
			if got == nil {
				t.Fatal("no marker stored")
			}
			if got.RunID != want.RunID || got.Fence != want.Fence || got.Version != want.Version ||
				!got.AppliedAt.Equal(want.AppliedAt) || len(got.Steps) != 1 || got.Steps[0].Written != want.Steps[0].Written {
				t.Errorf("stored marker = %+v, want %+v", got, want)
			}
			viaStore, err := st.Marker(t.Context(), db, profile)
			if err != nil || viaStore == nil || viaStore.RunID != want.RunID {
				t.Errorf("store.Marker = %+v, %v; want run %s's", viaStore, err, want.RunID)
			}
		})
	}
}

// TestStoreAuditAndHistory appends audit records and reads them back newest
// first, filtered by profile and limited.
func TestStoreAuditAndHistory(t *testing.T) {
	t.Parallel()
	mc := harness.StartMongo(t, nil).Client(t)
	st := store.New(mc)
	const db = "store_audit"
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	recs := []store.AuditRecord{
		{RunID: "r1", Fence: 1, Profile: "a", Outcome: store.OutcomeApplied, At: at},
		{RunID: "r1", Fence: 1, Profile: "b", Outcome: store.OutcomeFailed, Error: "boom", At: at.Add(time.Second)},
		{RunID: "r2", Fence: 2, Profile: "a", Outcome: store.OutcomeSkipped, At: at.Add(2 * time.Second)},
	}
	for i := range recs {
		if err := st.Audit(t.Context(), db, &recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	all, err := st.History(t.Context(), db, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range all {
		got = append(got, r.RunID+"/"+r.Profile+"/"+string(r.Outcome))
	}
	if want := []string{"r2/a/skipped", "r1/b/failed", "r1/a/applied"}; !slices.Equal(got, want) {
		t.Errorf("history = %v, want %v", got, want)
	}
	a, err := st.History(t.Context(), db, []string{"a"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 1 || a[0].RunID != "r2" {
		t.Errorf("history of a, limit 1 = %+v, want r2's record", a)
	}
	if got := testutil.ReadAudit(t, mc, db, "b", "r1"); len(got) != 1 || got[0].Error != "boom" {
		t.Errorf("audit of b = %+v, want one record with error boom", got)
	}
}

const (
	testHost  = "test-host"
	testImage = "test-image:1.2.3"
)
