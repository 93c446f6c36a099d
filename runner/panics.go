package runner

import (
	"errors"

	"github.com/srvthreds/bootstrap/internal/panics"
)

// watch runs the stall watchdog; a panic in it is logged with its stack and
// cancels the work (so the lock is released on the way out) with the panic
// as the cause.
func (a *attempt) watch() {
	defer panics.Recover(a.log, "watchdog", a.s.Cancel)
	a.s.Watch(a.r.rep, a.r.opts.StallTimeout, a.current)
}

// do runs w; a panic in it is logged with its stack and returned as an
// error matching panics.ErrPanic (exit 1), after cancelling the work, so
// that the lock is released as after any failure.
func (a *attempt) do(w work) error {
	err := panics.Call(a.log, "run", func() error { return w(a) })
	if err != nil && errors.Is(err, panics.ErrPanic) {
		a.s.Cancel(err)
	}
	return err
}
