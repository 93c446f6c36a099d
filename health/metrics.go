package health

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// family is one metric family. Each has a Set of its own so that /metrics
// can write its HELP and TYPE lines: the library writes them only when
// switched on for the whole process, which a package must not do.
type family struct {
	name string
	help string
	typ  string // "counter", "gauge" or "histogram"
	set  *metrics.Set
}

func newFamily(name, typ, help string) *family {
	return &family{name: name, help: help, typ: typ, set: metrics.NewSet()}
}

// stateMetrics are the metric families of one State. Their output has no
// HELP and TYPE lines of the library's own as long as nothing in the process
// calls metrics.ExposeMetadata(true); nothing in this module does.
type stateMetrics struct {
	all []*family // every family, sorted by name

	info            *family
	runDuration     *metrics.Gauge
	profileDuration *family
	stepDuration    *family
	stepBuckets     []float64
	documents       *family
	outcomes        *family
	stepErrors      *family
	throttled       *metrics.Counter

	infoMu sync.Mutex // serializes setInfo's replace of the info series
}

// newMetrics creates the metric families of s. Values the State already
// keeps in atomics are exported as gauges that read them.
func newMetrics(s *State) *stateMetrics {
	m := &stateMetrics{
		info: newFamily("bootstrap_info", "gauge",
			"Always 1; the version label is the binary's version."),
		profileDuration: newFamily("bootstrap_profile_duration_seconds", "gauge",
			"Duration of each finished profile."),
		stepDuration: newFamily("bootstrap_step_duration_seconds", "histogram",
			"Duration of the finished steps."),
		stepBuckets: metrics.ExponentialBuckets(0.01, 4, 10), // 10ms .. ~44m
		documents: newFamily("bootstrap_documents_written_total", "counter",
			"Documents and keys written."),
		outcomes: newFamily("bootstrap_profile_outcomes_total", "counter",
			"Profile outcomes: applied, skipped, failed, interrupted, repaired, removed, reset, rolled-back."),
		stepErrors: newFamily("bootstrap_step_errors_total", "counter",
			"Steps that ended with an error."),
	}
	runDuration := newFamily("bootstrap_run_duration_seconds", "gauge", "Duration of the finished run.")
	m.runDuration = runDuration.set.NewGauge(runDuration.name, nil)
	throttled := newFamily("bootstrap_mongo_throttled_total", "counter",
		"MongoDB commands the server throttled (Azure Cosmos DB's 16500, request rate is large), retried after the wait it named.")
	m.throttled = throttled.set.NewCounter(throttled.name)
	m.all = []*family{
		m.info, runDuration, m.profileDuration, m.stepDuration,
		m.documents, m.outcomes, m.stepErrors, throttled,
		gaugeFunc("bootstrap_lock_wait_seconds", "Time spent waiting for the lock.",
			func() float64 { return time.Duration(s.lockWaited.Load()).Seconds() }),
		gaugeFunc("bootstrap_lock_held", "1 while this run holds the lock.",
			func() float64 { return boolFloat(s.lockHeld.Load()) }),
		gaugeFunc("bootstrap_lock_fence", "Fencing token of the lock this run holds or held last.",
			func() float64 { return float64(s.lockFence.Load()) }),
		gaugeFunc("bootstrap_last_progress_timestamp_seconds", "Unix time of the last progress report.",
			func() float64 { return float64(s.at(s.lastProgress.Load()).UnixNano()) / 1e9 }),
		gaugeFunc("bootstrap_ready", "1 once connected to the databases.",
			func() float64 { return boolFloat(s.ready.Load()) }),
		gaugeFunc("bootstrap_stalled", "1 while the run in progress has made no progress for the stall timeout.",
			func() float64 { return boolFloat(s.Stalled()) }),
	}
	slices.SortFunc(m.all, func(a, b *family) int { return strings.Compare(a.name, b.name) })
	return m
}

func gaugeFunc(name, help string, f func() float64) *family {
	fam := newFamily(name, "gauge", help)
	fam.set.NewGauge(name, f)
	return fam
}

// setInfo replaces the bootstrap_info series by the one of version.
func (m *stateMetrics) setInfo(version string) {
	m.infoMu.Lock()
	defer m.infoMu.Unlock()
	m.info.set.UnregisterAllMetrics()
	m.info.set.NewGauge(series(m.info.name, "version", version), nil).Set(1)
}

func (m *stateMetrics) addDocuments(profile string, n int64) {
	m.documents.set.GetOrCreateCounter(series(m.documents.name, "profile", profile)).AddInt64(n)
}

func (m *stateMetrics) endStep(profile, kind string, d time.Duration, failed bool) {
	m.stepDuration.set.GetOrCreatePrometheusHistogramExt(
		series(m.stepDuration.name, "profile", profile, "kind", kind), m.stepBuckets).Update(d.Seconds())
	if failed {
		m.stepErrors.set.GetOrCreateCounter(series(m.stepErrors.name, "profile", profile, "kind", kind)).Inc()
	}
}

func (m *stateMetrics) endProfile(name, outcome string, d time.Duration) {
	m.profileDuration.set.GetOrCreateGauge(series(m.profileDuration.name, "profile", name), nil).Set(d.Seconds())
	m.outcomes.set.GetOrCreateCounter(series(m.outcomes.name, "profile", name, "outcome", outcome)).Inc()
}

// writePrometheus writes every family that has a series, each after its
// HELP and TYPE lines, then the Go runtime and process metrics, in the
// Prometheus text format.
func (m *stateMetrics) writePrometheus(w io.Writer) {
	var out, fam bytes.Buffer
	for _, f := range m.all {
		fam.Reset()
		f.set.WritePrometheus(&fam)
		if fam.Len() == 0 {
			continue
		}
		out.WriteString("# HELP " + f.name + " " + f.help + "\n")
		out.WriteString("# TYPE " + f.name + " " + f.typ + "\n")
		out.Write(fam.Bytes())
	}
	metrics.WriteProcessMetrics(&out)
	_, _ = w.Write(out.Bytes()) // a write error means the client went away
}

// series returns the name of the series of family name with the label pairs
// kv (name, value, name, value...), the values escaped as the text format
// requires.
func series(name string, kv ...string) string {
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv[i])
		b.WriteString(`="`)
		for _, r := range strings.ToValidUTF8(kv[i+1], "\uFFFD") {
			switch r {
			case '\\':
				b.WriteString(`\\`)
			case '"':
				b.WriteString(`\"`)
			case '\n':
				b.WriteString(`\n`)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
