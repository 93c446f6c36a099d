package main

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/srvthreds/bootstrap/health"
	"github.com/srvthreds/bootstrap/runner"
)

// barReporter draws a progress bar of the current step on a terminal's
// stderr , never in JSON mode, and forwards every report.
type barReporter struct {
	runner.Reporter
	w    io.Writer
	mu   sync.Mutex
	desc string
	bar  *progressbar.ProgressBar
}

// withProgressBar wraps rep with a progress bar when the logs are pretty and
// stderr is a terminal.
func withProgressBar(rep runner.Reporter, io *stdio) runner.Reporter {
	f, ok := io.Err.(*os.File)
	if !io.Pretty || !ok || !term.IsTerminal(int(f.Fd())) {
		return rep
	}
	return &barReporter{Reporter: rep, w: f}
}

// Report forwards e, and draws the bar of the step it starts, sizes or
// ends.
func (b *barReporter) Report(e health.Event) {
	if end, ok := e.(health.StepEnded); ok {
		b.finish()
		b.Reporter.Report(end)
		return
	}
	b.Reporter.Report(e)
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e := e.(type) {
	case health.StepStarted:
		b.desc, b.bar = e.Profile+" "+e.Step, nil
	case health.StepTotal:
		b.bar = progressbar.NewOptions64(e.Total,
			progressbar.OptionSetWriter(b.w),
			progressbar.OptionSetDescription(b.desc),
			progressbar.OptionShowCount(),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionThrottle(100*time.Millisecond),
		)
	}
}

func (b *barReporter) Add(n int64) {
	b.Reporter.Add(n)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar != nil && n > 0 {
		_ = b.bar.Add64(n)
	}
}

func (b *barReporter) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar != nil {
		_ = b.bar.Finish()
		b.bar = nil
	}
}
