package main

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/srvthreds/bootstrap/runner"
)

// barReporter draws a progress bar of the current step on a terminal's
// stderr (SPEC §7), never in JSON mode, and forwards every report.
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

func (b *barReporter) StartStep(profile, step string) {
	b.Reporter.StartStep(profile, step)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.desc, b.bar = profile+" "+step, nil
}

func (b *barReporter) SetTotal(n int64) {
	b.Reporter.SetTotal(n)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bar = progressbar.NewOptions64(n,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(b.desc),
		progressbar.OptionShowCount(),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionThrottle(100*time.Millisecond),
	)
}

func (b *barReporter) Add(n int64) {
	b.Reporter.Add(n)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar != nil && n > 0 {
		_ = b.bar.Add64(n)
	}
}

func (b *barReporter) EndStep(profile, kind string, d time.Duration, err error) {
	b.mu.Lock()
	if b.bar != nil {
		_ = b.bar.Finish()
		b.bar = nil
	}
	b.mu.Unlock()
	b.Reporter.EndStep(profile, kind, d, err)
}
