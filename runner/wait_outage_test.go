package runner

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/conn"
)

func TestOutage(t *testing.T) {
	down := errors.New("server selection error: connection refused")
	t0 := time.Unix(1000, 0)
	type read struct {
		at  time.Duration
		err error
	}
	tests := []struct {
		name   string
		limit  time.Duration
		reads  []read
		wantAt int // index of the read that gives up, -1: none
	}{
		{"down_for_the_limit", 10 * time.Second, []read{{0, down}, {5 * time.Second, down}, {10 * time.Second, down}}, 2},
		{"a_success_resets_it", 10 * time.Second, []read{{0, down}, {6 * time.Second, nil}, {9 * time.Second, down}, {18 * time.Second, down}}, -1},
		{"up_then_down_for_the_limit", 10 * time.Second, []read{{0, nil}, {1 * time.Second, down}, {11 * time.Second, down}}, 2},
		{"no_limit", 0, []read{{0, down}, {time.Hour, down}}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := outage{limit: tt.limit}
			got := -1
			for i, r := range tt.reads {
				if err := o.observe(t.Context(), r.err, t0.Add(r.at)); err != nil {
					if !errors.Is(err, conn.ErrUnreachable) || !errors.Is(err, down) {
						t.Errorf("error %v, want conn.ErrUnreachable wrapping the last read's", err)
					}
					got = i
					break
				}
			}
			if got != tt.wantAt {
				t.Errorf("gave up at read %d, want %d", got, tt.wantAt)
			}
		})
	}
}

func TestOutage_read_cut_short_by_the_wait_is_not_the_database(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	o := outage{limit: time.Second}
	t0 := time.Unix(1000, 0)
	for _, at := range []time.Duration{0, time.Hour} {
		if err := o.observe(ctx, context.Canceled, t0.Add(at)); err != nil {
			t.Fatalf("observe: %v, want nil once the wait's context ended", err)
		}
	}
}
