package step

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/internal/testutil"
	"github.com/srvthreds/bootstrap/profiles"
)

// testStepEnv returns a stepEnv that logs JSON at debug level into the
// returned buffer, and whose environment and files are vars and files.
func testStepEnv(t *testing.T, vars, files map[string]string) (*Env, *testutil.Progress, *testutil.Buffer) {
	t.Helper()
	logs := &testutil.Buffer{}
	progress := &testutil.Progress{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("step log:\n%s", logs.String())
		}
	})
	env := NewEnv(Env{
		Log:      slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Progress: progress,
		Getenv:   func(k string) string { return vars[k] },
		ReadFile: func(name string) ([]byte, error) {
			if v, ok := files[name]; ok {
				return []byte(v), nil
			}
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		},
	})
	return env, progress, logs
}

// fastHTTP is an applier that waits only milliseconds between attempts.
var fastHTTP = httpCall{retryWaitMin: time.Millisecond, retryWaitMax: 5 * time.Millisecond,
	retryAfterMax: 10 * time.Millisecond}

func httpTestStep(h profiles.HTTPStep) profiles.Step {
	if h.Method == "" {
		h.Method = http.MethodGet
	}
	if h.Timeout == 0 {
		h.Timeout = 10 * time.Second
	}
	return profiles.Step{Kind: profiles.KindHTTP, Index: 3, HTTP: &h}
}

// statusServer answers the n-th request (from 1) with codes[n-1], or the
// last code once past the list, and counts the requests.
func statusServer(t *testing.T, codes ...int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		i := int(n.Add(1))
		w.WriteHeader(codes[min(i, len(codes))-1])
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestApplyHTTPRetriesUntilSuccess(t *testing.T) {
	srv, requests := statusServer(t, 503, 503, 200)
	env, progress, _ := testStepEnv(t, nil, nil)

	rec, err := fastHTTP.Apply(t.Context(), env, httpTestStep(profiles.HTTPStep{URL: srv.URL, Retries: 4}))
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if got, want := requests.Load(), int32(3); got != want {
		t.Errorf("requests = %d, want %d", got, want)
	}
	if rec.Name != "3:http" || rec.Kind != "http" || rec.Written != 1 || rec.Error != "" {
		t.Errorf("record = %+v, want name 3:http, kind http, written 1, no error", rec)
	}
	if got, want := progress.Done(), int64(1); got != want {
		t.Errorf("progress items = %d, want %d", got, want)
	}
	if got := progress.Beats(); got < 3 {
		t.Errorf("progress reports = %d, want at least one per attempt (3)", got)
	}
}

func TestApplyHTTPFinalStatus(t *testing.T) {
	tests := []struct {
		name         string
		codes        []int
		expect       []int
		retries      int
		wantErr      string // empty: success
		wantRequests int32
	}{
		{name: "permanent_404_is_not_retried", codes: []int{404}, retries: 4, wantErr: "status 404", wantRequests: 1},
		{name: "unexpected_200", codes: []int{200}, expect: []int{204}, retries: 4, wantErr: "status 200", wantRequests: 1},
		{name: "retries_exhausted_on_503", codes: []int{503}, retries: 2, wantErr: "status 503 after 3 attempts", wantRequests: 3},
		{name: "no_retries", codes: []int{500, 200}, retries: 0, wantErr: "status 500", wantRequests: 1},
		{name: "not_implemented_is_not_retried", codes: []int{501, 200}, retries: 4, wantErr: "status 501", wantRequests: 1},
		{name: "too_many_requests_is_retried", codes: []int{429, 204}, retries: 4, wantRequests: 2},
		{name: "expected_5xx_is_not_retried", codes: []int{503}, expect: []int{503}, retries: 4, wantRequests: 1},
		{name: "expected_204", codes: []int{204}, expect: []int{204}, retries: 4, wantRequests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, requests := statusServer(t, tt.codes...)
			env, _, _ := testStepEnv(t, nil, nil)
			step := httpTestStep(profiles.HTTPStep{Method: http.MethodPut, URL: srv.URL + "/admin/reload",
				Expect: tt.expect, Retries: tt.retries})

			rec, err := fastHTTP.Apply(t.Context(), env, step)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("apply: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("apply: error = nil, want one containing %q", tt.wantErr)
			case tt.wantErr != "":
				for _, want := range []string{tt.wantErr, "PUT", srv.URL + "/admin/reload"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not contain %q", err, want)
					}
				}
				if rec.Written != 0 {
					t.Errorf("Written = %d after a failure, want 0", rec.Written)
				}
			}
			if got, want := requests.Load(), tt.wantRequests; got != want {
				t.Errorf("requests = %d, want %d", got, want)
			}
		})
	}
}

func TestApplyHTTPHeadersAndSecrets(t *testing.T) {
	const (
		envSecret  = "Bearer s3cr3t-token-value"
		fileSecret = "file-secret-xyz"
	)
	var (
		mu       sync.Mutex
		received []http.Header
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		received = append(received, r.Header.Clone())
		n := len(received)
		mu.Unlock()
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // one retry, logged at debug
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)

	env, _, logs := testStepEnv(t,
		map[string]string{"API_TOKEN": envSecret},
		map[string]string{"/run/secrets/key": "  " + fileSecret + "\n"})
	step := httpTestStep(profiles.HTTPStep{
		Method:  http.MethodPost,
		URL:     srv.URL,
		Retries: 2,
		Headers: map[string]string{"X-Plain": "plain-value"},
		HeadersFrom: map[string]profiles.SecretSource{
			"Authorization": {Env: "API_TOKEN"},
			"X-Api-Key":     {File: "/run/secrets/key"},
		},
	})
	if _, err := fastHTTP.Apply(t.Context(), env, step); err != nil {
		t.Fatalf("apply: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	if got, want := len(received), 2; got != want {
		t.Fatalf("requests = %d, want %d", got, want)
	}
	for i, h := range received {
		for name, want := range map[string]string{"X-Plain": "plain-value", "Authorization": envSecret, "X-Api-Key": fileSecret} {
			if got := h.Get(name); got != want {
				t.Errorf("request %d header %s = %q, want %q", i+1, name, got, want)
			}
		}
	}
	out := logs.String()
	for _, secret := range []string{"s3cr3t-token-value", fileSecret} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains the secret %q:\n%s", secret, out)
		}
	}
	var debug int
	for _, rec := range logs.Records(t) {
		if rec["level"] == "DEBUG" && strings.HasPrefix(rec["msg"].(string), "http: ") {
			debug++
		}
	}
	if debug == 0 {
		t.Errorf("no debug line from the retrying client in the log:\n%s", out)
	}
}

func TestApplyHTTPRedactsURLAndEchoedSecrets(t *testing.T) {
	const token = "echoed-token-123"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, "bad token "+r.Header.Get("Authorization"))
	}))
	t.Cleanup(srv.Close)
	u := strings.Replace(srv.URL, "http://", "http://admin:url-password@", 1) + "/hook?sig=query-secret"

	env, _, logs := testStepEnv(t, map[string]string{"TOKEN": token}, nil)
	step := httpTestStep(profiles.HTTPStep{URL: u, Retries: 1,
		HeadersFrom: map[string]profiles.SecretSource{"Authorization": {Env: "TOKEN"}}})
	_, err := fastHTTP.Apply(t.Context(), env, step)
	if err == nil {
		t.Fatal("apply: error = nil, want status 401")
	}
	for _, want := range []string{"status 401", "/hook:", "bad token xxxxx"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	for _, secret := range []string{token, "url-password", "query-secret"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q contains the secret %q", err, secret)
		}
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log contains the secret %q", secret)
		}
	}
}

func TestApplyHTTPMissingSecret(t *testing.T) {
	tests := []struct {
		name    string
		source  profiles.SecretSource
		wantErr string
	}{
		{name: "unset_env", source: profiles.SecretSource{Env: "NOPE"}, wantErr: "NOPE"},
		{name: "missing_file", source: profiles.SecretSource{File: "/run/secrets/nope"}, wantErr: "/run/secrets/nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, requests := statusServer(t, 200)
			env, _, _ := testStepEnv(t, nil, nil)
			step := httpTestStep(profiles.HTTPStep{URL: srv.URL,
				HeadersFrom: map[string]profiles.SecretSource{"Authorization": tt.source}})
			_, err := fastHTTP.Apply(t.Context(), env, step)
			if err == nil {
				t.Fatal("apply: error = nil, want a missing secret error")
			}
			for _, want := range []string{"Authorization", tt.wantErr} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if got := requests.Load(); got != 0 {
				t.Errorf("requests = %d, want 0: no request without its credentials", got)
			}
		})
	}
}

func TestApplyHTTPBody(t *testing.T) {
	body := []byte(`{"reload": ["patterns", "configs"]}`)
	var (
		mu     sync.Mutex
		bodies [][]byte
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, b)
		n := len(bodies)
		mu.Unlock()
		if n == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)

	env, _, _ := testStepEnv(t, nil, nil)
	step := httpTestStep(profiles.HTTPStep{Method: http.MethodPost, URL: srv.URL, Retries: 3, Body: body,
		Headers: map[string]string{"Content-Type": "application/json"}})
	if _, err := fastHTTP.Apply(t.Context(), env, step); err != nil {
		t.Fatalf("apply: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got, want := len(bodies), 2; got != want {
		t.Fatalf("requests = %d, want %d", got, want)
	}
	for i, b := range bodies {
		if !bytes.Equal(b, body) {
			t.Errorf("request %d body = %q, want %q (a retry resends the body)", i+1, b, body)
		}
	}
}

func TestApplyHTTPTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)

	env, _, _ := testStepEnv(t, nil, nil)
	step := httpTestStep(profiles.HTTPStep{URL: srv.URL, Retries: 4, Timeout: 200 * time.Millisecond})
	_, err := fastHTTP.Apply(t.Context(), env, step)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("apply: error = %v, want context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "step timeout 200ms") {
		t.Errorf("error %q does not name the step timeout", err)
	}
}

func TestApplyHTTPCancelStopsRetries(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if requests.Add(1) == 2 {
			cancel()
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)

	env, _, _ := testStepEnv(t, nil, nil)
	slow := httpCall{retryWaitMin: 50 * time.Millisecond, retryWaitMax: 50 * time.Millisecond}
	_, err := slow.Apply(ctx, env, httpTestStep(profiles.HTTPStep{URL: srv.URL, Retries: 20}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("apply: error = %v, want context.Canceled", err)
	}
	if got, want := requests.Load(), int32(2); got != want {
		t.Errorf("requests = %d, want %d: no attempt after the cancellation", got, want)
	}
}

func TestApplyHTTPCapsRetryAfter(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if requests.Add(1) == 1 {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)

	env, _, _ := testStepEnv(t, nil, nil)
	// Without the cap the retry would wait an hour and hit the step timeout.
	step := httpTestStep(profiles.HTTPStep{URL: srv.URL, Retries: 1, Timeout: 20 * time.Second})
	if _, err := fastHTTP.Apply(t.Context(), env, step); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if got, want := requests.Load(), int32(2); got != want {
		t.Errorf("requests = %d, want %d", got, want)
	}
}

func TestApplyHTTPConnectionErrorsAreRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now

	env, progress, _ := testStepEnv(t, nil, nil)
	_, err = fastHTTP.Apply(t.Context(), env, httpTestStep(profiles.HTTPStep{URL: "http://" + addr + "/x", Retries: 2}))
	if err == nil {
		t.Fatal("apply: error = nil, want a connection error")
	}
	if !strings.Contains(err.Error(), "3 attempts") {
		t.Errorf("error %q does not say 3 attempts", err)
	}
	if got := progress.Beats(); got < 3 {
		t.Errorf("progress reports = %d, want at least one per attempt (3)", got)
	}
}

func TestApplyHTTPDefaults(t *testing.T) {
	methods := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		methods <- r.Method
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)

	env, _, _ := testStepEnv(t, nil, nil)
	step := profiles.Step{Kind: profiles.KindHTTP, HTTP: &profiles.HTTPStep{URL: srv.URL}}
	rec, err := (httpCall{}).Apply(t.Context(), env, step)
	if err != nil {
		t.Fatalf("applyHTTP: %v", err)
	}
	if got, want := <-methods, http.MethodGet; got != want {
		t.Errorf("method = %q, want %q", got, want)
	}
	if got, want := rec.Written, int64(1); got != want {
		t.Errorf("Written = %d, want %d", got, want)
	}
}

func TestHTTPTarget_drops_the_query_unless_safe(t *testing.T) {
	tests := []struct {
		name string
		in   string
		safe []string
		want string
	}{
		{"plain", "http://engine:3001/admin/reload", nil, "http://engine:3001/admin/reload"},
		{"password", "https://user:pw@engine/x", nil, "https://user:***@engine/x"},
		{"query_dropped", "http://engine/x?token=abc&a=1&a=2", nil, "http://engine/x"},
		{"safe_params_kept", "http://engine/x?token=abc&a=1&a=2&v=3", []string{"a", "v"}, "http://engine/x?a=1&a=2&v=3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _, _ := testStepEnv(t, nil, nil)
			hr, err := newHTTPRequest(env, &profiles.HTTPStep{URL: tt.in, SafeParams: tt.safe})
			if err != nil {
				t.Fatal(err)
			}
			if got := hr.target; got != tt.want {
				t.Errorf("target of %q = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestApplyHTTP_query_secret_reaches_no_log_and_no_error(t *testing.T) {
	srv, _ := statusServer(t, http.StatusTeapot)
	env, _, logs := testStepEnv(t, nil, nil)
	step := httpTestStep(profiles.HTTPStep{URL: srv.URL + "/hook?token=query-secret-42&tenant=acme",
		SafeParams: []string{"tenant"}, Retries: 0})
	_, err := fastHTTP.Apply(t.Context(), env, step)
	if err == nil {
		t.Fatal("apply: error = nil, want status 418")
	}
	if !strings.Contains(err.Error(), "/hook?tenant=acme") {
		t.Errorf("error %q, want the URL with its safe parameter", err)
	}
	for _, out := range []string{err.Error(), logs.String(), step.Summary()} {
		if strings.Contains(out, "query-secret-42") || strings.Contains(out, "token") {
			t.Errorf("%q shows the query secret", out)
		}
	}
}

func TestApplyHTTP_secret_headers_dropped_on_a_redirect_to_another_host(t *testing.T) {
	type seen struct{ auth, key, plain string }
	got := make(chan seen, 2)
	record := func(r *http.Request) {
		got <- seen{r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"), r.Header.Get("X-Source")}
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/start" { // a redirect within one origin
			http.Redirect(w, r, "/done", http.StatusFound)
			return
		}
		record(r)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(other.Close)
	// The same server under another name: 127.0.0.1 and localhost are two
	// hosts to a browser and to this check.
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	tests := []struct {
		name     string
		to       string
		wantKept bool
	}{
		{"same_origin_keeps_them", other.URL + "/done", true},
		{"other_host_drops_them", otherURL + "/done", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, tt.to, http.StatusFound)
			}))
			t.Cleanup(first.Close)
			from := first.URL
			if tt.wantKept {
				from = other.URL + "/start"
			}
			env, _, _ := testStepEnv(t, map[string]string{"TOKEN": "Bearer s3cr3t-token", "KEY": "k3y-value"}, nil)
			step := httpTestStep(profiles.HTTPStep{URL: from, Headers: map[string]string{"X-Source": "bootstrap"},
				HeadersFrom: map[string]profiles.SecretSource{"Authorization": {Env: "TOKEN"}, "X-Api-Key": {Env: "KEY"}}})
			if _, err := fastHTTP.Apply(t.Context(), env, step); err != nil {
				t.Fatalf("apply: %v", err)
			}
			s := <-got
			if s.plain != "bootstrap" {
				t.Errorf("X-Source = %q, want plain headers kept", s.plain)
			}
			if kept := s.auth != "" || s.key != ""; kept != tt.wantKept {
				t.Errorf("secret headers at the target: Authorization %q, X-Api-Key %q; want kept: %t", s.auth, s.key, tt.wantKept)
			}
		})
	}
}
