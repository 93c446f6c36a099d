package lock

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Lease is one acquisition of a lock. Its methods are safe for concurrent
// use: a renewal loop may Refresh while another goroutine reads Holder or
// calls Release.
type Lease struct {
	locker *Locker
	token  string
	fence  int64

	mu        sync.Mutex
	holder    Holder
	released  bool
	confirmed time.Time // when the last successful acquire or refresh request was sent
}

// Confirmed is when the request of the last successful acquisition or
// Refresh was sent, on the monotonic clock: the lease is this holder's for
// at most the ttl from then. (Counting from the reply would add the
// request's round trip, and a reply delayed by a pause, to the lease.)
func (l *Lease) Confirmed() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.confirmed
}

// Fence is the lease's fencing token: higher than that of every earlier
// acquisition of the same lock.
func (l *Lease) Fence() int64 { return l.fence }

// Token is the random value the lock key holds while this lease holds it.
func (l *Lease) Token() string { return l.token }

// Holder is this lease's holder metadata as last written: Since at
// acquisition, Renewed at the last successful Refresh, TTL the lease ttl.
func (l *Lease) Holder() Holder {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.holder
}

// Refresh extends the lease by the Locker's TTL if it still holds the lock
// (compare-and-extend) and records the renewal time in the holder metadata.
// It returns ErrLost when the lock is no longer this lease's (it expired or
// was broken or released), and Redis's error, wrapped, when Redis could not
// answer: the lease may then be lost too.
func (l *Lease) Refresh(ctx context.Context) error {
	lk := l.locker
	now := lk.opts.Now().UnixMilli()
	sent := time.Now()
	ok, err := lk.scripts.refresh.Run(ctx, lk.client, lk.keys[:2],
		l.token, lk.opts.TTL.Milliseconds(), now).Int64()
	if err != nil {
		return fmt.Errorf("lock: refresh %s: %w", lk.key, err)
	}
	if ok != 1 {
		return ErrLost
	}
	l.mu.Lock()
	l.holder.Renewed = fromMillis(now)
	l.confirmed = sent
	l.mu.Unlock()
	return nil
}

// Release deletes the lock if this lease still holds it
// (compare-and-delete), so that another holder's lock is never deleted. It
// returns ErrLost when the lock was no longer this lease's, and nil again
// once a Release has succeeded.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	released := l.released
	l.mu.Unlock()
	if released {
		return nil
	}
	lk := l.locker
	ok, err := lk.scripts.release.Run(ctx, lk.client, lk.keys[:2], l.token).Int64()
	if err != nil {
		return fmt.Errorf("lock: release %s: %w", lk.key, err)
	}
	if ok != 1 {
		return ErrLost
	}
	l.mu.Lock()
	l.released = true
	l.mu.Unlock()
	return nil
}
