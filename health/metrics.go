package health

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the collectors of one State, registered on its own registry.
type metrics struct {
	info            *prometheus.GaugeVec
	runDuration     prometheus.Gauge
	profileDuration *prometheus.GaugeVec
	stepDuration    *prometheus.HistogramVec
	documents       *prometheus.CounterVec
	outcomes        *prometheus.CounterVec
	stepErrors      *prometheus.CounterVec
}

// newMetrics creates the collectors of s and registers them on s.reg. Values
// the State already keeps in atomics are exported as GaugeFuncs.
func newMetrics(s *State) *metrics {
	m := &metrics{
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bootstrap_info",
			Help: "Always 1; the version label is the binary's version.",
		}, []string{"version"}),
		runDuration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bootstrap_run_duration_seconds",
			Help: "Duration of the finished run.",
		}),
		profileDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bootstrap_profile_duration_seconds",
			Help: "Duration of each finished profile.",
		}, []string{"profile"}),
		stepDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bootstrap_step_duration_seconds",
			Help:    "Duration of the finished steps.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10), // 10ms .. ~44m
		}, []string{"profile", "kind"}),
		documents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bootstrap_documents_written_total",
			Help: "Documents and keys written.",
		}, []string{"profile"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bootstrap_profile_outcomes_total",
			Help: "Profile outcomes: applied, skipped, failed, interrupted.",
		}, []string{"profile", "outcome"}),
		stepErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bootstrap_step_errors_total",
			Help: "Steps that ended with an error.",
		}, []string{"profile", "kind"}),
	}
	s.reg.MustRegister(
		m.info, m.runDuration, m.profileDuration, m.stepDuration,
		m.documents, m.outcomes, m.stepErrors,
		gaugeFunc("bootstrap_lock_wait_seconds", "Time spent waiting for the lock.",
			func() float64 { return time.Duration(s.lockWaited.Load()).Seconds() }),
		gaugeFunc("bootstrap_lock_held", "1 while this run holds the lock.",
			func() float64 { return boolFloat(s.lockHeld.Load()) }),
		gaugeFunc("bootstrap_lock_fence", "Fencing token of the lock this run holds or held last.",
			func() float64 { return float64(s.lockFence.Load()) }),
		gaugeFunc("bootstrap_last_progress_timestamp_seconds", "Unix time of the last progress report.",
			func() float64 { return float64(s.lastProgress.Load()) / 1e9 }),
		gaugeFunc("bootstrap_ready", "1 once connected to the databases.",
			func() float64 { return boolFloat(s.ready.Load()) }),
		gaugeFunc("bootstrap_stalled", "1 while the run in progress has made no progress for the stall timeout.",
			func() float64 { return boolFloat(s.Stalled()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func gaugeFunc(name, help string, f func() float64) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
