package health_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/srvthreds/bootstrap/health"
)

// get serves one request to h and returns the status code and body.
func get(t *testing.T, h http.Handler, method, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), method, path, nil))
	return rec.Code, rec.Body.String()
}

func TestLivez(t *testing.T) {
	s, clock := newState(t)
	h := health.NewHandler(s)

	clock.Advance(10 * time.Minute) // connecting and waiting: not a run in progress yet
	if code, body := get(t, h, http.MethodGet, "/livez"); code != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Errorf("GET /livez before the run = %d %q, want 200 \"ok\"", code, body)
	}

	s.StartProfile("base", "v1")
	s.StartStep("base", "0:configs")
	clock.Advance(time.Minute)
	if code, _ := get(t, h, http.MethodGet, "/livez"); code != http.StatusOK {
		t.Errorf("GET /livez after 1m without progress = %d, want 200", code)
	}

	clock.Advance(time.Minute + 3*time.Second)
	code, body := get(t, h, http.MethodGet, "/livez")
	if got, want := code, http.StatusServiceUnavailable; got != want {
		t.Errorf("GET /livez after 2m3s without progress = %d, want %d", got, want)
	}
	if got, want := strings.TrimSpace(body), "stalled: no progress for 2m3s"; got != want {
		t.Errorf("GET /livez body = %q, want %q", got, want)
	}

	s.Add(1)
	if code, _ := get(t, h, http.MethodGet, "/livez"); code != http.StatusOK {
		t.Errorf("GET /livez after progress resumed = %d, want 200", code)
	}
}

func TestReadyz(t *testing.T) {
	s, _ := newState(t)
	h := health.NewHandler(s)
	if code, _ := get(t, h, http.MethodGet, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz before SetReady = %d, want 503", code)
	}
	s.SetReady(true)
	if code, body := get(t, h, http.MethodGet, "/readyz"); code != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Errorf("GET /readyz after SetReady(true) = %d %q, want 200 \"ok\"", code, body)
	}
	s.SetReady(false)
	if code, _ := get(t, h, http.MethodGet, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz after SetReady(false) = %d, want 503", code)
	}
}

func TestStatusJSON(t *testing.T) {
	s, clock := newState(t)
	s.SetReady(true)
	s.LockWaited(3 * time.Second)
	s.SetLock(true, 9, "run-7@pod-b")
	s.StartProfile("users", "ff00")
	s.StartStep("users", "2:users")
	s.SetTotal(3)
	s.Add(2)
	clock.Advance(1500 * time.Millisecond)

	code, body := get(t, health.NewHandler(s), http.MethodGet, "/status")
	if code != http.StatusOK {
		t.Fatalf("GET /status = %d, want 200", code)
	}
	// Decode into a map: the JSON field names are the contract.
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("decode /status: %v\n%s", err, body)
	}
	want := map[string]any{
		"phase":                "running",
		"ready":                true,
		"stalled":              false,
		"profile":              "users",
		"version":              "ff00",
		"step":                 "2:users",
		"done":                 2.0,
		"total":                3.0,
		"sinceProgressSeconds": 1.5,
		"stallTimeoutSeconds":  120.0,
		"started":              "2026-03-01T12:00:00Z",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("/status %s = %#v, want %#v", k, got[k], v)
		}
	}
	lock, ok := got["lock"].(map[string]any)
	if !ok {
		t.Fatalf("/status lock = %#v, want an object", got["lock"])
	}
	wantLock := map[string]any{"held": true, "fence": 9.0, "holder": "run-7@pod-b", "waitedSeconds": 3.0}
	for k, v := range wantLock {
		if lock[k] != v {
			t.Errorf("/status lock.%s = %#v, want %#v", k, lock[k], v)
		}
	}
	if _, ok := got["outcome"]; ok {
		t.Errorf("/status outcome = %#v before the run ended, want absent", got["outcome"])
	}
}

// getMetrics serves GET /metrics of s and parses the body.
func getMetrics(t *testing.T, s *health.State) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	health.NewHandler(s).ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/metrics", nil))
	if got, want := rec.Code, http.StatusOK; got != want {
		t.Fatalf("GET /metrics = %d, want %d\n%s", got, want, rec.Body)
	}
	if got, want := rec.Header().Get("Content-Type"), "text/plain; version=0.0.4; charset=utf-8"; got != want {
		t.Errorf("GET /metrics Content-Type = %q, want %q", got, want)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, rec.Body)
	}
	return families
}

func TestMetrics(t *testing.T) {
	s, clock := newState(t)
	s.SetInfo("1.2.2")
	s.SetInfo("1.2.3") // replaces the series of 1.2.2
	s.SetReady(true)
	s.LockWaited(5 * time.Second)
	s.SetLock(true, 17, "run-1@pod-a")
	s.MongoThrottled()
	s.MongoThrottled()

	s.StartProfile("base", "v1")
	s.StartStep("base", "0:configs")
	s.SetTotal(150)
	s.Add(100)
	s.Add(50)
	s.EndStep("base", "configs", 2*time.Second, nil)
	s.StartStep("base", "1:http")
	s.EndStep("base", "http", time.Second, errors.New("status 500"))
	s.EndProfile("base", "failed", 3*time.Second)
	s.StartProfile("extra", "v2")
	s.EndProfile("extra", "skipped", 0)
	clock.Advance(time.Second)
	s.EndRun("failed", 4*time.Second)

	families := getMetrics(t, s)

	tests := []struct {
		name   string
		metric string
		labels map[string]string
		want   float64
	}{
		{"documents_written", "bootstrap_documents_written_total", map[string]string{"profile": "base"}, 150},
		{"outcome_failed", "bootstrap_profile_outcomes_total", map[string]string{"profile": "base", "outcome": "failed"}, 1},
		{"outcome_skipped", "bootstrap_profile_outcomes_total", map[string]string{"profile": "extra", "outcome": "skipped"}, 1},
		{"step_errors", "bootstrap_step_errors_total", map[string]string{"profile": "base", "kind": "http"}, 1},
		{"step_duration_count", "bootstrap_step_duration_seconds", map[string]string{"profile": "base", "kind": "configs"}, 1},
		{"profile_duration", "bootstrap_profile_duration_seconds", map[string]string{"profile": "base"}, 3},
		{"run_duration", "bootstrap_run_duration_seconds", nil, 4},
		{"lock_wait", "bootstrap_lock_wait_seconds", nil, 5},
		{"lock_held", "bootstrap_lock_held", nil, 1},
		{"lock_fence", "bootstrap_lock_fence", nil, 17},
		{"ready", "bootstrap_ready", nil, 1},
		{"stalled", "bootstrap_stalled", nil, 0},
		{"last_progress", "bootstrap_last_progress_timestamp_seconds", nil, float64(clock.Now().Unix())},
		{"info", "bootstrap_info", map[string]string{"version": "1.2.3"}, 1},
		{"mongo_throttled", "bootstrap_mongo_throttled_total", nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := sample(families[tt.metric], tt.labels)
			if !ok {
				t.Fatalf("%s%v not found in /metrics", tt.metric, tt.labels)
			}
			if got != tt.want {
				t.Errorf("%s%v = %v, want %v", tt.metric, tt.labels, got, tt.want)
			}
		})
	}
	if _, ok := sample(families["bootstrap_step_errors_total"], map[string]string{"profile": "base", "kind": "configs"}); ok {
		t.Error("bootstrap_step_errors_total{kind=configs} present, want absent: that step succeeded")
	}
	if _, ok := sample(families["bootstrap_info"], map[string]string{"version": "1.2.2"}); ok {
		t.Error("bootstrap_info{version=1.2.2} present, want absent: SetInfo(1.2.3) replaced it")
	}

	types := map[string]dto.MetricType{
		"bootstrap_info":                            dto.MetricType_GAUGE,
		"bootstrap_run_duration_seconds":            dto.MetricType_GAUGE,
		"bootstrap_profile_duration_seconds":        dto.MetricType_GAUGE,
		"bootstrap_step_duration_seconds":           dto.MetricType_HISTOGRAM,
		"bootstrap_documents_written_total":         dto.MetricType_COUNTER,
		"bootstrap_profile_outcomes_total":          dto.MetricType_COUNTER,
		"bootstrap_step_errors_total":               dto.MetricType_COUNTER,
		"bootstrap_lock_wait_seconds":               dto.MetricType_GAUGE,
		"bootstrap_lock_held":                       dto.MetricType_GAUGE,
		"bootstrap_lock_fence":                      dto.MetricType_GAUGE,
		"bootstrap_last_progress_timestamp_seconds": dto.MetricType_GAUGE,
		"bootstrap_ready":                           dto.MetricType_GAUGE,
		"bootstrap_stalled":                         dto.MetricType_GAUGE,
		"bootstrap_mongo_throttled_total":           dto.MetricType_COUNTER,
	}
	for name, want := range types {
		mf := families[name]
		if mf == nil {
			t.Errorf("family %s not found in /metrics", name)
			continue
		}
		if got := mf.GetType(); got != want {
			t.Errorf("family %s type = %v, want %v", name, got, want)
		}
		if mf.GetHelp() == "" {
			t.Errorf("family %s has no HELP text", name)
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if families[name] == nil {
			t.Errorf("runtime metric %s not found in /metrics", name)
		}
	}
}

func TestMetricsStepBuckets(t *testing.T) {
	s, _ := newState(t)
	s.EndStep("base", "configs", 2*time.Second, nil)
	s.EndStep("base", "configs", 3*time.Hour, nil)

	mf := getMetrics(t, s)["bootstrap_step_duration_seconds"]
	if mf == nil || len(mf.GetMetric()) != 1 {
		t.Fatalf("bootstrap_step_duration_seconds = %v, want one histogram", mf)
	}
	h := mf.GetMetric()[0].GetHistogram()
	if got, want := h.GetSampleCount(), uint64(2); got != want {
		t.Errorf("sample count = %d, want %d", got, want)
	}
	if got, want := h.GetSampleSum(), 2+3*time.Hour.Seconds(); got != want {
		t.Errorf("sample sum = %v, want %v", got, want)
	}
	tests := []struct {
		name string
		le   float64
		want uint64
	}{
		{"below_the_step", 0.64, 0},
		{"holding_the_step", 2.56, 1},
		{"last_finite_bucket", 2621.44, 1}, // 3h is only in +Inf
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, b := range h.GetBucket() {
				if b.GetUpperBound() == tt.le {
					if got := b.GetCumulativeCount(); got != tt.want {
						t.Errorf("bucket le=%v = %d, want %d", tt.le, got, tt.want)
					}
					return
				}
			}
			t.Errorf("bucket le=%v not found in %v", tt.le, h.GetBucket())
		})
	}
}

func TestMetricsLabelEscaping(t *testing.T) {
	tests := []struct {
		name    string
		profile string
		want    string // the label value as parsed back
	}{
		{"quote", `say "hi"`, `say "hi"`},
		{"backslash", `a\b`, `a\b`},
		{"newline", "two\nlines", "two\nlines"},
		{"braces_and_comma", `x{a="b"},y`, `x{a="b"},y`},
		{"unicode", "café", "café"},
		{"invalid_utf8", "bad\xffbyte", "bad\uFFFDbyte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newState(t)
			s.StartProfile(tt.profile, "v1")
			s.Add(7)
			s.EndProfile(tt.profile, "applied", time.Second)
			families := getMetrics(t, s)
			if got, ok := sample(families["bootstrap_documents_written_total"], map[string]string{"profile": tt.want}); !ok || got != 7 {
				t.Errorf("bootstrap_documents_written_total{profile=%q} = %v (found %v), want 7", tt.want, got, ok)
			}
			if _, ok := sample(families["bootstrap_profile_outcomes_total"], map[string]string{"profile": tt.want, "outcome": "applied"}); !ok {
				t.Errorf("bootstrap_profile_outcomes_total{profile=%q} not found", tt.want)
			}
		})
	}
}

// sample returns the value of the metric of mf whose labels are exactly
// labels: a counter or gauge value, or a histogram's sample count.
func sample(mf *dto.MetricFamily, labels map[string]string) (float64, bool) {
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, lp := range m.GetLabel() {
			if v, ok := labels[lp.GetName()]; !ok || v != lp.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func TestMethodRouting(t *testing.T) {
	h := health.NewHandler(health.NewState(nil))
	tests := []struct {
		name   string
		method string
		path   string
		want   int
	}{
		{"get_livez", http.MethodGet, "/livez", http.StatusOK},
		{"head_livez", http.MethodHead, "/livez", http.StatusOK},
		{"post_livez", http.MethodPost, "/livez", http.StatusMethodNotAllowed},
		{"put_readyz", http.MethodPut, "/readyz", http.StatusMethodNotAllowed},
		{"delete_status", http.MethodDelete, "/status", http.StatusMethodNotAllowed},
		{"post_metrics", http.MethodPost, "/metrics", http.StatusMethodNotAllowed},
		{"unknown_path", http.MethodGet, "/nope", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := get(t, h, tt.method, tt.path); got != tt.want {
				t.Errorf("%s %s = %d, want %d", tt.method, tt.path, got, tt.want)
			}
		})
	}
}

func TestServeOff(t *testing.T) {
	for _, addr := range []string{"", "off"} {
		stop, err := health.Serve(t.Context(), addr, http.NotFoundHandler(), nil)
		if err != nil {
			t.Fatalf("Serve(%q) error = %v, want nil", addr, err)
		}
		if err := stop(t.Context()); err != nil {
			t.Errorf("stop() of Serve(%q) = %v, want nil", addr, err)
		}
	}
}

func TestServePortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })

	stop, err := health.Serve(t.Context(), ln.Addr().String(), http.NotFoundHandler(), nil)
	if err == nil {
		_ = stop(t.Context())
		t.Fatalf("Serve on a taken port %s: error = nil, want an error", ln.Addr())
	}
}

func TestServe(t *testing.T) {
	// Find a free loopback port; Serve reports no address of its own.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()

	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	s := health.NewState(nil)
	stop, err := health.Serve(t.Context(), addr, health.NewHandler(s), log)
	if err != nil {
		t.Fatalf("Serve(%s): %v", addr, err)
	}
	t.Cleanup(func() { _ = stop(t.Context()) })

	resp, err := http.Get("http://" + addr + "/livez")
	if err != nil {
		t.Fatalf("GET /livez: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
		t.Errorf("GET /livez = %d %q, want 200 \"ok\"", resp.StatusCode, body)
	}
	if !strings.Contains(logs.String(), addr) {
		t.Errorf("log = %q, want the listen address %s", logs.String(), addr)
	}

	if err := stop(t.Context()); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := stop(t.Context()); err != nil {
		t.Errorf("second stop: %v, want nil", err)
	}
	if resp, err := http.Get("http://" + addr + "/livez"); err == nil {
		_ = resp.Body.Close()
		t.Error("GET /livez after stop succeeded, want a connection error")
	}
}
