package runner

import (
	"context"
	"errors"
	"time"

	"github.com/srvthreds/bootstrap/lock"
)

// Pauses between the attempts of the lease confirmation before a marker
// write: from markerRefreshMin, doubling up to markerRefreshMax.
const (
	markerRefreshMin = 50 * time.Millisecond
	markerRefreshMax = time.Second
)

// refreshForMarker confirms the lease right before the fenced marker write.
// A transient Redis error (a dropped connection, a timeout, LOADING,
// READONLY during a failover) is retried with backoff for as long as the
// lease is still known to be ours; ErrLost, any other error, or the end of
// that validity ends it (the lease's end is the cause: lock lost, exit 5,
// not a failed step).
func (a *attempt) refreshForMarker() error {
	g := a.g
	pause := markerRefreshMin
	for {
		err := a.lease.Refresh(g)
		switch {
		case err == nil:
			return nil
		case g.Err() != nil:
			return context.Cause(g)
		case errors.Is(err, lock.ErrLost) || !lock.IsTransient(err):
			return err
		}
		a.log.Warn("lock refresh before the marker write failed; retrying within the lease",
			"err", err, "lease_left_ms", g.remaining().Milliseconds())
		t := time.NewTimer(min(pause, max(g.remaining(), 0)))
		select {
		case <-g.Done():
			t.Stop()
			return context.Cause(g)
		case <-t.C:
		}
		pause = min(pause*2, markerRefreshMax)
	}
}
