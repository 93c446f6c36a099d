package lease

import (
	"fmt"
	"time"
)

// StallClock is the run's one stall clock, the one /livez reads
// (health.State implements it).
type StallClock interface {
	// SinceProgress is the time since the last progress report.
	SinceProgress() time.Duration
}

// Watch stops the work when clock reports no progress for longer than
// timeout. It reads clock every second (a quarter of timeout when that is
// shorter) and acts one check after timeout has passed, so /livez reports
// the stall (at timeout) before the run aborts. A process found both
// stalled and past its lease was frozen (SIGSTOP, docker pause) rather than
// stalled: the renewals stopped too, and the lost lease is the cause
// (ErrLost, exit 5, not ErrStalled, exit 8). where names what is running,
// for the error. Watch returns when the session ends.
func (s *Session) Watch(clock StallClock, timeout time.Duration, where func() string) {
	every := max(min(time.Second, timeout/4), time.Millisecond)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		}
		since := clock.SinceProgress()
		if since <= timeout {
			continue
		}
		if s.Expired() {
			s.cancel(errExpired)
			return
		}
		if since > timeout+every {
			s.cancel(fmt.Errorf("%w: %s reported no progress for %s (stall timeout %s)",
				ErrStalled, where(), since.Round(time.Millisecond), timeout))
			return
		}
	}
}
