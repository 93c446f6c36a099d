package store

import (
	"slices"
	"testing"
)

func TestSnapshotGroupAndPrune(t *testing.T) {
	m := &Marker{Version: "v"}
	chunks := []chunk{
		// v1: complete, 2 chunks at fence 5.
		{Version: "v1", Fence: 5, Chunk: 0, Chunks: 2, Marker: m, Bytes: 10},
		{Version: "v1", Fence: 5, Chunk: 1, Chunks: 2, Bytes: 20},
		// v2: chunk 1 is of an older write (fence 3): incomplete.
		{Version: "v2", Fence: 7, Chunk: 0, Chunks: 2, Marker: m, Bytes: 1},
		{Version: "v2", Fence: 3, Chunk: 1, Chunks: 2, Bytes: 2},
		// v3: no header.
		{Version: "v3", Fence: 9, Chunk: 1, Chunks: 2, Bytes: 4},
		// v0: complete, older.
		{Version: "v0", Fence: 2, Chunk: 0, Chunks: 1, Marker: m, Bytes: 8},
	}
	got := groupSnapshots(chunks)
	type row struct {
		v        string
		complete bool
		bytes    int64
	}
	var rows []row
	for _, s := range got {
		rows = append(rows, row{s.Version, s.Complete, s.Bytes})
	}
	want := []row{{"v3", false, 4}, {"v2", false, 3}, {"v1", true, 30}, {"v0", true, 8}}
	if !slices.Equal(rows, want) {
		t.Errorf("snapshots = %+v, want %+v (newest first)", rows, want)
	}
	if got, want := Prunable(got, 2), []string{"v1", "v0"}; !slices.Equal(got, want) {
		t.Errorf("prune keeping 2 = %v, want %v", got, want)
	}
	if got := Prunable(got, 5); got != nil {
		t.Errorf("prune keeping 5 of 4 = %v, want none", got)
	}
	for _, keep := range []int{0, -1} {
		if got, want := Prunable(got, keep), []string{"v3", "v2", "v1", "v0"}; !slices.Equal(got, want) {
			t.Errorf("prune keeping %d = %v, want %v", keep, got, want)
		}
	}
}
