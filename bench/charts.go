package main

import (
	"fmt"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// series is one line of a chart: y values in seconds at xs.
type series struct {
	Name string
	Y    []time.Duration
}

// lineChart saves a PNG line chart of series over xs (the chart's ticks) to
// path.
func lineChart(path, title, xLabel, yLabel string, xs []int, lines ...series) error {
	p := plot.New()
	p.Title.Text = title
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())

	ticks := make([]plot.Tick, len(xs))
	for i, x := range xs {
		ticks[i] = plot.Tick{Value: float64(x), Label: fmt.Sprint(x)}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)

	var args []any
	for _, l := range lines {
		pts := make(plotter.XYs, len(xs))
		for i, x := range xs {
			pts[i].X = float64(x)
			pts[i].Y = l.Y[i].Seconds()
			p.Y.Max = max(p.Y.Max, pts[i].Y*1.15)
		}
		args = append(args, l.Name, pts)
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return fmt.Errorf("chart %s: %w", path, err)
	}
	if err := p.Save(7*vg.Inch, 4.2*vg.Inch, path); err != nil {
		return fmt.Errorf("chart %s: %w", path, err)
	}
	return nil
}

// applyChart draws apply time against profile size: the fastest run of
// each program, the one the machine's other load disturbed least (with few
// runs, a median still carries a load spike).
func applyChart(path string, a *applyResult) error {
	xs := make([]int, len(a.Points))
	run, raw := series{Name: "bootstrap run (end to end)"}, series{Name: "raw driver program (end to end)"}
	for i, p := range a.Points {
		xs[i] = p.Docs
		run.Y = append(run.Y, p.Runner.min())
		raw.Y = append(raw.Y, p.Raw.min())
	}
	return lineChart(path, "Apply time against profile size", "documents in the profile",
		fmt.Sprintf("seconds (fastest of %d runs)", a.Runs), xs, run, raw)
}
