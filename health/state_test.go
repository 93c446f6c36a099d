package health_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/health"
)

// fakeClock is a manual clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newState returns a State on a fake clock with a 2m stall timeout.
func newState(t *testing.T) (*health.State, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	return health.NewState(&health.StateOptions{StallTimeout: 2 * time.Minute, Now: clock.Now}), clock
}

func TestStalled(t *testing.T) {
	tests := []struct {
		name string
		run  func(s *health.State, c *fakeClock)
		want bool
	}{
		{
			name: "before_the_first_profile_never_stalls",
			run:  func(s *health.State, c *fakeClock) { s.SetReady(true); c.Advance(10 * time.Minute) },
			want: false,
		},
		{
			name: "lock_wait_never_stalls",
			run: func(s *health.State, c *fakeClock) {
				s.SetLock(false, 0, "run-1@pod-a")
				s.LockWaited(9 * time.Minute)
				c.Advance(9 * time.Minute)
			},
			want: false,
		},
		{
			name: "running_within_the_timeout",
			run:  func(s *health.State, c *fakeClock) { s.StartProfile("base", "v1"); c.Advance(2 * time.Minute) },
			want: false,
		},
		{
			name: "running_past_the_timeout",
			run: func(s *health.State, c *fakeClock) {
				s.StartProfile("base", "v1")
				s.StartStep("base", "0:configs")
				c.Advance(2*time.Minute + time.Second)
			},
			want: true,
		},
		{
			name: "add_resets_the_clock",
			run: func(s *health.State, c *fakeClock) {
				s.StartProfile("base", "v1")
				c.Advance(time.Minute + 59*time.Second)
				s.Add(0)
				c.Advance(time.Minute + 59*time.Second)
			},
			want: false,
		},
		{
			name: "set_total_resets_the_clock",
			run: func(s *health.State, c *fakeClock) {
				s.StartProfile("base", "v1")
				c.Advance(time.Minute + 59*time.Second)
				s.SetTotal(10)
				c.Advance(time.Minute + 59*time.Second)
			},
			want: false,
		},
		{
			name: "lock_renewal_is_not_progress",
			run: func(s *health.State, c *fakeClock) {
				s.StartProfile("base", "v1")
				for range 5 {
					c.Advance(30 * time.Second)
					s.SetLock(true, 7, "run-1@pod-a")
					s.SetReady(true)
				}
			},
			want: true,
		},
		{
			name: "after_end_run_never_stalls",
			run: func(s *health.State, c *fakeClock) {
				s.StartProfile("base", "v1")
				s.EndRun("applied", time.Second)
				c.Advance(time.Hour)
			},
			want: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clock := newState(t)
			tt.run(s, clock)
			if got, want := s.Stalled(), tt.want; got != want {
				t.Errorf("Stalled() = %v, want %v (since progress %v)", got, want, s.SinceProgress())
			}
		})
	}
}

func TestSinceProgress(t *testing.T) {
	s, clock := newState(t)
	clock.Advance(5 * time.Second)
	if got, want := s.SinceProgress(), 5*time.Second; got != want {
		t.Errorf("SinceProgress() before any report = %v, want %v", got, want)
	}
	s.Heartbeat()
	clock.Advance(3 * time.Second)
	if got, want := s.SinceProgress(), 3*time.Second; got != want {
		t.Errorf("SinceProgress() after Heartbeat = %v, want %v", got, want)
	}
}

func TestNewStateDefaults(t *testing.T) {
	s := health.NewState(nil)
	if got, want := s.StallTimeout(), health.DefaultStallTimeout; got != want {
		t.Errorf("StallTimeout() = %v, want %v", got, want)
	}
	if got := s.SinceProgress(); got < 0 || got > time.Minute {
		t.Errorf("SinceProgress() on the real clock = %v, want a small non-negative duration", got)
	}
}

func TestSnapshot(t *testing.T) {
	s, clock := newState(t)
	start := clock.Now()

	if got, want := s.Snapshot().Phase, health.PhaseConnecting; got != want {
		t.Errorf("phase before connecting = %q, want %q", got, want)
	}
	s.SetReady(true)
	s.SetLock(false, 0, "run-0@pod-z")
	clock.Advance(4 * time.Second)
	s.LockWaited(4 * time.Second)
	if got, want := s.Snapshot().Phase, health.PhaseLocking; got != want {
		t.Errorf("phase while waiting for the lock = %q, want %q", got, want)
	}
	s.SetLock(true, 42, "run-1@pod-a")
	s.StartProfile("base", "abc123")
	s.StartStep("base", "1:patterns")
	s.SetTotal(250)
	s.Add(100)
	s.Add(50)
	clock.Advance(7 * time.Second)

	st := s.Snapshot()
	if got, want := st.Phase, health.PhaseRunning; got != want {
		t.Errorf("Phase = %q, want %q", got, want)
	}
	if !st.Ready {
		t.Error("Ready = false, want true")
	}
	if st.Stalled {
		t.Error("Stalled = true, want false")
	}
	if got, want := st.Profile, "base"; got != want {
		t.Errorf("Profile = %q, want %q", got, want)
	}
	if got, want := st.Version, "abc123"; got != want {
		t.Errorf("Version = %q, want %q", got, want)
	}
	if got, want := st.Step, "1:patterns"; got != want {
		t.Errorf("Step = %q, want %q", got, want)
	}
	if got, want := st.Done, int64(150); got != want {
		t.Errorf("Done = %d, want %d", got, want)
	}
	if got, want := st.Total, int64(250); got != want {
		t.Errorf("Total = %d, want %d", got, want)
	}
	wantLock := health.LockStatus{Held: true, Fence: 42, Holder: "run-1@pod-a", WaitedSeconds: 4}
	if got := st.Lock; got != wantLock {
		t.Errorf("Lock = %+v, want %+v", got, wantLock)
	}
	if got, want := st.SinceProgressSeconds, 7.0; got != want {
		t.Errorf("SinceProgressSeconds = %v, want %v", got, want)
	}
	if got, want := st.Started, start; !got.Equal(want) {
		t.Errorf("Started = %v, want %v", got, want)
	}
	if st.Finished != nil || st.Outcome != "" {
		t.Errorf("Finished, Outcome = %v, %q before EndRun, want nil, empty", st.Finished, st.Outcome)
	}

	s.StartStep("base", "2:users")
	if got := s.Snapshot(); got.Done != 0 || got.Total != 0 {
		t.Errorf("Done, Total after StartStep = %d, %d, want 0, 0", got.Done, got.Total)
	}
	s.EndStep("base", "users", time.Second, nil)
	s.EndProfile("base", "applied", 9*time.Second)
	clock.Advance(time.Second)
	s.EndRun("applied", 12*time.Second)

	st = s.Snapshot()
	if got, want := st.Phase, health.PhaseDone; got != want {
		t.Errorf("Phase after EndRun = %q, want %q", got, want)
	}
	if got, want := st.Outcome, "applied"; got != want {
		t.Errorf("Outcome = %q, want %q", got, want)
	}
	if st.Finished == nil || !st.Finished.Equal(clock.Now()) {
		t.Errorf("Finished = %v, want %v", st.Finished, clock.Now())
	}
	if got, want := st.DurationSeconds, 12.0; got != want {
		t.Errorf("DurationSeconds = %v, want %v", got, want)
	}
	if st.Profile != "" || st.Step != "" {
		t.Errorf("Profile, Step after EndProfile = %q, %q, want empty", st.Profile, st.Step)
	}
	wantResults := []health.ProfileResult{{Name: "base", Outcome: "applied", DurationSeconds: 9}}
	if got := st.Profiles; len(got) != 1 || got[0] != wantResults[0] {
		t.Errorf("Profiles = %+v, want %+v", got, wantResults)
	}
}

// TestConcurrentUse is meant for -race: a step reporting progress while the
// handler takes snapshots and the renewal loop updates the lock.
func TestConcurrentUse(t *testing.T) {
	s := health.NewState(nil)
	s.StartProfile("base", "v1")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				switch g {
				case 0:
					s.Add(1)
				case 1:
					s.SetLock(true, int64(i), "run-1")
				case 2:
					_ = s.Snapshot()
				case 3:
					s.EndStep("base", "configs", time.Millisecond, errors.New("boom"))
				}
			}
		})
	}
	wg.Wait()
	if got, want := s.Snapshot().Done, int64(200); got != want {
		t.Errorf("Done = %d, want %d", got, want)
	}
}
