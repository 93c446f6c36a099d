package lock

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/redis/go-redis/v9"
)

//go:embed scripts/raise_fence.lua
var raiseFenceLua string

var raiseFenceScript = redis.NewScript(raiseFenceLua)

// RaiseFence makes every later acquisition draw a fence above floor. The
// fence counter never expires, but it is lost with Redis's data (a restart
// without persistence, a failover to an empty replica); a holder that finds
// writes fenced with a value at or above its own fence raises the counter
// past them and acquires again. It never lowers the counter, and returns its
// value afterwards.
func (l *Locker) RaiseFence(ctx context.Context, floor int64) (int64, error) {
	v, err := raiseFenceScript.Run(ctx, l.client, l.keys[2:3], floor).Int64()
	if err != nil {
		return 0, fmt.Errorf("lock: raise fence of %s: %w", l.key, err)
	}
	return v, nil
}
