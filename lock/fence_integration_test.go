package lock_test

import (
	"testing"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/lock"
)

// After Redis loses its data the fence counter starts again at 1; RaiseFence
// puts it past the fences already written, and never lowers it.
func TestRaiseFence_after_counter_loss(t *testing.T) {
	rdb := harness.StartRedis(t, nil).Client(t)
	l, err := lock.New(rdb, "fence-floor", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	lease, err := l.TryAcquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := lease.Fence(), int64(1); got != want {
		t.Fatalf("first fence = %d, want %d", got, want)
	}
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := l.RaiseFence(ctx, 41); err != nil || v != 41 {
		t.Fatalf("RaiseFence(41) = %d, %v; want 41", v, err)
	}
	if v, err := l.RaiseFence(ctx, 7); err != nil || v != 41 {
		t.Fatalf("RaiseFence(7) = %d, %v; want 41 (never lowered)", v, err)
	}
	lease, err = l.TryAcquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := lease.Fence(), int64(42); got != want {
		t.Errorf("fence after raise = %d, want %d", got, want)
	}
}
