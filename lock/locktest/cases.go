package locktest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/lock"
)

func (s *suite) oneWinner(t *testing.T) {
	const contenders, rounds = 10, 3
	name := lockName(t)
	lockers := make([]*lock.Locker, contenders)
	for i := range lockers {
		lockers[i] = s.newLocker(t, name, "run-"+string(rune('a'+i)), lock.Options{})
	}
	var lastFence int64
	for round := range rounds {
		leases := make([]*lock.Lease, contenders)
		errs := make([]error, contenders)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, l := range lockers {
			wg.Go(func() {
				<-start
				leases[i], errs[i] = l.TryAcquire(t.Context())
			})
		}
		close(start)
		wg.Wait()

		var winner *lock.Lease
		for i, lease := range leases {
			if errs[i] == nil {
				if winner != nil {
					t.Fatalf("round %d: %s and %s both acquired", round, winner.Holder().RunID, lease.Holder().RunID)
				}
				winner = lease
			}
		}
		if winner == nil {
			t.Fatalf("round %d: no contender acquired: %v", round, errors.Join(errs...))
		}
		for i, err := range errs {
			if err == nil {
				continue
			}
			var na *lock.NotAcquiredError
			if !errors.As(err, &na) || !errors.Is(err, lock.ErrNotAcquired) {
				t.Fatalf("round %d: contender %d: got %v, want a *NotAcquiredError", round, i, err)
			}
			if got, want := na.Holder.RunID, winner.Holder().RunID; got != want {
				t.Errorf("round %d: contender %d sees holder %q, want %q", round, i, got, want)
			}
		}
		if got := winner.Fence(); got <= lastFence {
			t.Errorf("round %d: fence %d, want > %d", round, got, lastFence)
		}
		lastFence = winner.Fence()
		if err := winner.Release(t.Context()); err != nil {
			t.Fatalf("round %d: Release: %v", round, err)
		}
	}
}

func (s *suite) fencesStrictlyIncrease(t *testing.T) {
	name := lockName(t)
	a := s.newLocker(t, name, "run-a", lock.Options{})
	b := s.newLocker(t, name, "run-b", lock.Options{})
	var last int64
	for i := range 6 {
		l := []*lock.Locker{a, b}[i%2]
		lease := mustAcquire(t, l)
		if got := lease.Fence(); got <= last {
			t.Errorf("acquisition %d: fence %d, want > %d", i, got, last)
		}
		last = lease.Fence()
		h, err := b.Holder(t.Context())
		if err != nil {
			t.Fatalf("Holder: %v", err)
		}
		if got, want := h.Fence, lease.Fence(); got != want {
			t.Errorf("acquisition %d: stored fence %d, want %d", i, got, want)
		}
		if err := lease.Release(t.Context()); err != nil {
			t.Fatalf("Release: %v", err)
		}
	}
}

func (s *suite) mutualExclusion(t *testing.T) {
	const workers, each = 5, 4
	name := lockName(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var (
		inside atomic.Int32
		mu     sync.Mutex
		fences []int64 // in acquisition order: appended under the lock
		wg     sync.WaitGroup
	)
	for w := range workers {
		l := s.newLocker(t, name, "run-"+string(rune('a'+w)), lock.Options{
			RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond,
		})
		wg.Go(func() {
			for range each {
				lease, err := l.Acquire(ctx)
				if err != nil {
					t.Errorf("Acquire: %v", err)
					return
				}
				if n := inside.Add(1); n != 1 {
					t.Errorf("%d holders at once", n)
				}
				mu.Lock()
				fences = append(fences, lease.Fence())
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
				inside.Add(-1)
				if err := lease.Release(ctx); err != nil {
					t.Errorf("Release: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got, want := len(fences), workers*each; got != want {
		t.Fatalf("%d acquisitions, want %d", got, want)
	}
	for i := 1; i < len(fences); i++ {
		if fences[i] <= fences[i-1] {
			t.Errorf("fence %d after %d: fences %v do not strictly increase", fences[i], fences[i-1], fences)
		}
	}
}

func (s *suite) lostLease(t *testing.T) {
	const shortTTL = 200 * time.Millisecond
	tests := []struct {
		name string
		ttl  time.Duration                          // of the first lease
		lose func(t *testing.T, other *lock.Locker) // makes the first lease lost
	}{
		{"expired", shortTTL, func(t *testing.T, _ *lock.Locker) {
			time.Sleep(3 * shortTTL) // past the ttl, with margin
		}},
		{"broken", longTTL, func(t *testing.T, other *lock.Locker) {
			if _, err := other.Break(t.Context(), true); err != nil {
				t.Fatalf("Break(force): %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := lockName(t)
			old := s.newLocker(t, name, "run-old", lock.Options{TTL: tt.ttl})
			other := s.newLocker(t, name, "run-new", lock.Options{})
			stale := mustAcquire(t, old)
			tt.lose(t, other)

			if err := stale.Refresh(t.Context()); !errors.Is(err, lock.ErrLost) {
				t.Errorf("stale Refresh: got %v, want ErrLost", err)
			}
			fresh := mustAcquire(t, other)
			if got, prev := fresh.Fence(), stale.Fence(); got <= prev {
				t.Errorf("new fence %d, want > %d", got, prev)
			}
			if err := stale.Release(t.Context()); !errors.Is(err, lock.ErrLost) {
				t.Errorf("stale Release: got %v, want ErrLost", err)
			}
			if err := stale.Refresh(t.Context()); !errors.Is(err, lock.ErrLost) {
				t.Errorf("stale Refresh after new acquisition: got %v, want ErrLost", err)
			}
			if got, want := mustHolder(t, old), "run-new"; got != want {
				t.Errorf("holder after stale Release is %q, want %q", got, want)
			}
			if err := fresh.Refresh(t.Context()); err != nil {
				t.Errorf("new holder's Refresh: %v", err)
			}
		})
	}
}

func (s *suite) breakLock(t *testing.T) {
	tests := []struct {
		name       string
		held       bool // a lease holds the lock
		stalled    bool // and its holder stopped renewing 3/4 of a ttl ago
		force      bool
		wantErr    error
		wantBroken bool // the lease is lost
	}{
		{name: "free"},
		{name: "free_forced", force: true},
		{name: "renewing_holder", held: true, wantErr: lock.ErrHeld},
		{name: "renewing_holder_forced", held: true, force: true, wantBroken: true},
		{name: "stalled_holder", held: true, stalled: true, wantBroken: true},
		{name: "stalled_holder_forced", held: true, stalled: true, force: true, wantBroken: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := lockName(t)
			holder := s.newLocker(t, name, "run-holder", lock.Options{})
			breaker := s.newLocker(t, name, "run-breaker", lock.Options{})
			var lease *lock.Lease
			if tt.held {
				lease = mustAcquire(t, holder)
				if tt.stalled {
					s.setPTTL(t, holder, holder.TTL()/4)
				}
			}

			h, err := breaker.Break(t.Context(), tt.force)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Break(force=%t): got error %v, want %v", tt.force, err, tt.wantErr)
			}
			switch {
			case !tt.held && h != nil:
				t.Errorf("Break of a free lock returned holder %v, want nil", h)
			case tt.held && h == nil:
				t.Errorf("Break returned no holder, want run-holder")
			case tt.held && h.RunID != "run-holder":
				t.Errorf("Break returned holder %q, want %q", h.RunID, "run-holder")
			}
			if !tt.held {
				return
			}
			err = lease.Refresh(t.Context())
			switch {
			case tt.wantBroken && !errors.Is(err, lock.ErrLost):
				t.Errorf("holder's Refresh after Break: got %v, want ErrLost", err)
			case !tt.wantBroken && err != nil:
				t.Errorf("holder's Refresh after refused Break: %v", err)
			}
			wantHolder := ""
			if !tt.wantBroken {
				wantHolder = "run-holder"
			}
			if got := mustHolder(t, breaker); got != wantHolder {
				t.Errorf("holder after Break is %q, want %q", got, wantHolder)
			}
		})
	}
}

func (s *suite) holderMetadata(t *testing.T) {
	const ttl = 10 * time.Second
	start := time.Date(2030, 1, 2, 3, 4, 5, 678e6, time.UTC)
	var clock atomic.Int64 // unix ms
	clock.Store(start.UnixMilli())
	name := lockName(t)
	l := s.newLocker(t, name, "run-meta", lock.Options{
		TTL:    ttl,
		Holder: lock.Holder{Host: "pod-a", Image: "bootstrap:1.2.3"},
		Now:    func() time.Time { return time.UnixMilli(clock.Load()) },
	})
	reader := s.newLocker(t, name, "run-reader", lock.Options{})
	read := func(t *testing.T) lock.Holder {
		t.Helper()
		h, err := reader.Holder(t.Context())
		if err != nil || h == nil {
			t.Fatalf("Holder: got %v, %v; want the holder", h, err)
		}
		if h.TTL <= 0 || h.TTL > ttl {
			t.Errorf("remaining ttl %s, want in (0, %s]", h.TTL, ttl)
		}
		got := *h
		got.TTL = 0
		return got
	}

	if h, err := reader.Holder(t.Context()); err != nil || h != nil {
		t.Fatalf("Holder of a free lock: got %v, %v; want nil, nil", h, err)
	}
	lease := mustAcquire(t, l)
	want := lock.Holder{
		RunID: "run-meta", Host: "pod-a", Image: "bootstrap:1.2.3", Fence: lease.Fence(),
		Since: start, Renewed: start, LeaseTTL: ttl,
	}
	if got := read(t); !equalHolder(got, want) {
		t.Errorf("stored holder:\n got %+v\nwant %+v", got, want)
	}
	if got, want := lease.Holder(), (lock.Holder{
		RunID: "run-meta", Host: "pod-a", Image: "bootstrap:1.2.3", Fence: lease.Fence(),
		Since: start, Renewed: start, TTL: ttl, LeaseTTL: ttl,
	}); !equalHolder(got, want) {
		t.Errorf("lease holder:\n got %+v\nwant %+v", got, want)
	}

	clock.Add((3 * time.Second).Milliseconds())
	if err := lease.Refresh(t.Context()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	want.Renewed = start.Add(3 * time.Second)
	if got := read(t); !equalHolder(got, want) {
		t.Errorf("stored holder after Refresh:\n got %+v\nwant %+v", got, want)
	}
	if got, want := lease.Holder().Renewed, want.Renewed; !got.Equal(want) {
		t.Errorf("lease renewed %s, want %s", got, want)
	}

	if err := lease.Release(t.Context()); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if h, err := reader.Holder(t.Context()); err != nil || h != nil {
		t.Errorf("Holder after Release: got %v, %v; want nil, nil", h, err)
	}
}

func equalHolder(a, b lock.Holder) bool {
	return a.RunID == b.RunID && a.Host == b.Host && a.Image == b.Image && a.Fence == b.Fence &&
		a.Since.Equal(b.Since) && a.Renewed.Equal(b.Renewed) && a.TTL == b.TTL && a.LeaseTTL == b.LeaseTTL
}

func (s *suite) acquireGivesUp(t *testing.T) {
	name := lockName(t)
	holder := s.newLocker(t, name, "run-holder", lock.Options{Holder: lock.Holder{Host: "pod-holder"}})
	lease := mustAcquire(t, holder)
	var waits atomic.Int32
	waiter := s.newLocker(t, name, "run-waiter", lock.Options{
		RetryMin: 20 * time.Millisecond, RetryMax: 50 * time.Millisecond,
		OnWait: func(h *lock.Holder, _ time.Duration) {
			waits.Add(1)
			if h == nil || h.RunID != "run-holder" {
				t.Errorf("OnWait holder %v, want run-holder", h)
			}
		},
	})
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()

	got, err := waiter.Acquire(ctx)
	if err == nil {
		t.Fatalf("Acquire of a held lock returned lease with fence %d", got.Fence())
	}
	if !errors.Is(err, lock.ErrNotAcquired) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Acquire: got %v, want ErrNotAcquired and DeadlineExceeded", err)
	}
	var na *lock.NotAcquiredError
	if !errors.As(err, &na) || na.Holder == nil {
		t.Fatalf("Acquire: got %#v, want a *NotAcquiredError with a holder", err)
	}
	if got, want := na.Holder.RunID, "run-holder"; got != want {
		t.Errorf("NotAcquiredError holder %q, want %q", got, want)
	}
	for _, want := range []string{"run-holder", "pod-holder"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if waits.Load() == 0 {
		t.Errorf("OnWait was not called")
	}
	if err := lease.Refresh(t.Context()); err != nil {
		t.Errorf("holder's Refresh after the wait: %v", err)
	}
}

func (s *suite) acquireWaits(t *testing.T) {
	name := lockName(t)
	holder := s.newLocker(t, name, "run-holder", lock.Options{})
	first := mustAcquire(t, holder)
	waiting := make(chan struct{})
	var once sync.Once
	waiter := s.newLocker(t, name, "run-waiter", lock.Options{
		RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond,
		OnWait: func(*lock.Holder, time.Duration) { once.Do(func() { close(waiting) }) },
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	type result struct {
		lease *lock.Lease
		err   error
	}
	done := make(chan result, 1)
	go func() {
		lease, err := waiter.Acquire(ctx)
		done <- result{lease, err}
	}()

	select {
	case <-waiting:
	case r := <-done:
		t.Fatalf("Acquire returned before the lock was released: %v, %v", r.lease, r.err)
	}
	if err := first.Release(t.Context()); err != nil {
		t.Fatalf("Release: %v", err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("Acquire after Release: %v", r.err)
	}
	if got, prev := r.lease.Fence(), first.Fence(); got <= prev {
		t.Errorf("fence %d, want > %d", got, prev)
	}
	if got, want := mustHolder(t, holder), "run-waiter"; got != want {
		t.Errorf("holder %q, want %q", got, want)
	}
}

func (s *suite) releaseIdempotent(t *testing.T) {
	name := lockName(t)
	a := s.newLocker(t, name, "run-a", lock.Options{})
	b := s.newLocker(t, name, "run-b", lock.Options{})
	lease := mustAcquire(t, a)
	for i := range 2 {
		if err := lease.Release(t.Context()); err != nil {
			t.Fatalf("Release #%d: %v", i+1, err)
		}
	}
	if err := lease.Refresh(t.Context()); !errors.Is(err, lock.ErrLost) {
		t.Errorf("Refresh after Release: got %v, want ErrLost", err)
	}
	next := mustAcquire(t, b)
	if err := lease.Release(t.Context()); err != nil {
		t.Errorf("Release after another acquired: %v", err)
	}
	if got, want := mustHolder(t, a), "run-b"; got != want {
		t.Errorf("holder %q, want %q", got, want)
	}
	if err := next.Refresh(t.Context()); err != nil {
		t.Errorf("new holder's Refresh: %v", err)
	}
}

func (s *suite) namesIndependent(t *testing.T) {
	x := s.newLocker(t, lockName(t)+"-x", "run-x", lock.Options{})
	y := s.newLocker(t, lockName(t)+"-y", "run-y", lock.Options{})
	mustAcquire(t, x)
	mustAcquire(t, y)
	if got, want := mustHolder(t, x), "run-x"; got != want {
		t.Errorf("holder of x %q, want %q", got, want)
	}
	if got, want := mustHolder(t, y), "run-y"; got != want {
		t.Errorf("holder of y %q, want %q", got, want)
	}
}
