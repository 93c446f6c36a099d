package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/srvthreds/bootstrap/conn"
)

// outage tracks how long the reads of Runner.Wait have failed in a row.
type outage struct {
	limit time.Duration // 0: never give up on it
	since time.Time     // of the first failure of the current run of them
}

// observe records the result of a read made at now, and returns an error
// matching conn.ErrUnreachable once reads have failed for limit in a row.
// A read cut short by ctx's end is not a failure of the database.
func (o *outage) observe(ctx context.Context, err error, now time.Time) error {
	switch {
	case err == nil:
		o.since = time.Time{}
		return nil
	case ctx.Err() != nil || o.limit <= 0:
		return nil
	case o.since.IsZero():
		o.since = now
	}
	if d := now.Sub(o.since); d >= o.limit {
		return fmt.Errorf("%w: MongoDB: no marker could be read for %s (connect timeout %s): %w",
			conn.ErrUnreachable, d.Round(time.Millisecond), o.limit, err)
	}
	return nil
}
