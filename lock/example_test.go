package lock_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/srvthreds/bootstrap/lock"
)

// A run takes the lock, waiting at most ten minutes, renews it at a third of
// its ttl while it works, and stops its work when the lease is lost.
func ExampleLocker() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer rdb.Close()

	locker, err := lock.New(rdb, "bootstrap", &lock.Options{
		TTL:    30 * time.Second,
		Holder: lock.Holder{RunID: "run-1", Image: "bootstrap:1.0.0"},
		OnWait: func(h *lock.Holder, waited time.Duration) {
			log.Printf("waited %s for the lock, held by %s", waited, h)
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	lease, err := locker.Acquire(waitCtx)
	if err != nil {
		fmt.Println(err) // errors.Is(err, lock.ErrNotAcquired) when the wait ran out
		return
	}
	defer func() {
		if err := lease.Release(context.Background()); err != nil {
			fmt.Println(err)
		}
	}()

	work, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	go func() {
		t := time.NewTicker(locker.TTL() / 3)
		defer t.Stop()
		for {
			select {
			case <-work.Done():
				return
			case <-t.C:
				if err := lease.Refresh(work); err != nil {
					stop(err) // lock.ErrLost, or Redis did not answer in time
					return
				}
			}
		}
	}()

	// Work under the lock; every write carries the fence.
	fmt.Println("applying with fence", lease.Fence())
	if errors.Is(context.Cause(work), lock.ErrLost) {
		fmt.Println("lease lost: stop without writing a marker")
	}
}
