package runner

import "testing"

func TestSnapshotOptionDefaults(t *testing.T) {
	tests := []struct {
		name      string
		keep      int
		limit     int64
		wantKeep  int
		wantLimit int64
	}{
		{name: "zero_keeps_none_and_default_limit", wantKeep: 0, wantLimit: DefaultSnapshotLimit},
		{name: "set", keep: 2, limit: 1000, wantKeep: 2, wantLimit: 1000},
		{name: "negative_disables", keep: -1, limit: -1, wantKeep: 0, wantLimit: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{KeepVersions: tt.keep, SnapshotLimit: tt.limit}.withDefaults()
			if got := o.keepVersions(); got != tt.wantKeep {
				t.Errorf("keepVersions = %d, want %d", got, tt.wantKeep)
			}
			if got := o.snapshotLimit(); got != tt.wantLimit {
				t.Errorf("snapshotLimit = %d, want %d", got, tt.wantLimit)
			}
		})
	}
}
