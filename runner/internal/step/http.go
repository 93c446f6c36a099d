package step

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/srvthreds/bootstrap/conn"
	"github.com/srvthreds/bootstrap/internal/redact"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/store"
)

// Waits between the attempts of an http step: exponential backoff from
// httpRetryWaitMin, capped at httpRetryWaitMax (or a 429/503's Retry-After).
const (
	httpRetryWaitMin = 500 * time.Millisecond
	httpRetryWaitMax = 5 * time.Second
)

// httpRetryAfterMax caps the wait a 429 or 503 asks for with Retry-After,
// well under the default stall timeout: no heartbeat is sent while waiting.
const httpRetryAfterMax = 30 * time.Second

// httpErrorBodyMax bounds how much of an unexpected response's body an
// http step's error quotes.
const httpErrorBodyMax = 512

// httpRedacted replaces secrets in URLs, logs and errors.
const httpRedacted = "xxxxx"

// httpCall calls the endpoint of an http step (go-retryablehttp):
//
//   - connection errors, 429 and 5xx (but 501) are retried with exponential
//     backoff (or the Retry-After of a 429 or 503, up to 30s), at most
//     step.Retries times (the loader's default is 4; 0 means one attempt);
//     any other status is final;
//   - the whole step, retries included, is bounded by step.Timeout (default
//     30s);
//   - the final status must be one of step.Expect (default 200, 201, 202,
//     204), else the step fails with an error naming the method, the URL
//     and the status; a status in Expect is never retried;
//   - headers are step.Headers and step.HeadersFrom, whose secrets come
//     from the environment or a file (trimmed) and are never logged; a
//     redirect to another host (or port, or from https to http) is
//     followed without the HeadersFrom headers (net/http itself drops only
//     Authorization, Cookie and WWW-Authenticate, and keeps them for
//     subdomains);
//   - every attempt and response is a heartbeat to env.Progress, so a step
//     that keeps retrying is not a stalled one.
//
// The URL is logged and quoted in errors without its password, its fragment
// and every query parameter that step.SafeParams does not name
// (redact.URL). A success counts as one item written.
type httpCall struct {
	// Zero values wait as the constants above say; tests shorten the waits.
	retryWaitMin  time.Duration
	retryWaitMax  time.Duration
	retryAfterMax time.Duration
}

// Apply applies the step.
func (a httpCall) Apply(ctx context.Context, env *Env, s profiles.Step) (store.StepRecord, error) {
	start := time.Now()
	rec := store.StepRecord{Name: s.Name(), Kind: s.Kind}
	err := a.call(ctx, env, s.HTTP)
	if err == nil {
		rec.Written = 1
	}
	rec.DurationMs = time.Since(start).Milliseconds()
	return rec, err
}

// httpRequest is an http step ready to send: its defaults applied, its
// secrets read, and what to log of it redacted.
type httpRequest struct {
	*profiles.HTTPStep
	method  string
	timeout time.Duration
	expect  []int
	target  string // the URL, redacted
	headers map[string]string
	scrub   *strings.Replacer // removes the secrets from a text
	log     *slog.Logger
}

func (a httpCall) call(ctx context.Context, env *Env, h *profiles.HTTPStep) error {
	if h == nil {
		return errors.New("http: step has no http")
	}
	hr, err := newHTTPRequest(env, h)
	if err != nil {
		return err
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, hr.timeout)
	defer cancel()
	var body any
	if h.Body != nil {
		body = h.Body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, hr.method, h.URL, body)
	if err != nil {
		return fmt.Errorf("http %s %s: %s", hr.method, hr.target, hr.scrub.Replace(err.Error()))
	}
	for name, value := range hr.headers {
		if http.CanonicalHeaderKey(name) == "Host" {
			req.Host = value
			continue
		}
		req.Header.Set(name, value)
	}
	attempts := 0
	client := a.client(hr, env.Progress, &attempts)
	defer client.HTTPClient.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return hr.failed(resp, err, attempts, parent.Err() == nil)
	}
	defer resp.Body.Close()
	if !slices.Contains(hr.expect, resp.StatusCode) {
		msg := fmt.Sprintf("http %s %s: status %d after %s, want one of %v",
			hr.method, hr.target, resp.StatusCode, attemptsText(attempts), hr.expect)
		if snippet := httpSnippet(resp.Body, httpErrorBodyMax); snippet != "" {
			msg += ": " + hr.scrub.Replace(snippet)
		}
		return errors.New(msg)
	}
	env.Progress.SetTotal(1)
	env.Progress.Add(1)
	hr.log.Info("http done", "status", resp.StatusCode, "attempts", attempts)
	return nil
}

// newHTTPRequest applies h's defaults and reads its secrets.
func newHTTPRequest(env *Env, h *profiles.HTTPStep) (*httpRequest, error) {
	hr := &httpRequest{HTTPStep: h, method: strings.ToUpper(h.Method), timeout: h.Timeout, expect: h.Expect}
	if hr.method == "" {
		hr.method = profiles.DefaultHTTPMethod
	}
	if hr.timeout <= 0 {
		hr.timeout = profiles.DefaultHTTPTimeout
	}
	if len(hr.expect) == 0 {
		hr.expect = profiles.DefaultHTTPExpect()
	}
	u, err := url.Parse(h.URL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error quotes the URL, secrets included
		}
		return nil, fmt.Errorf("http: invalid url: %w", err)
	}
	hr.target = redact.URL(u, h.SafeParams)
	headers, secrets, err := httpHeaders(env, h)
	if err != nil {
		return nil, fmt.Errorf("http %s %s: %w", hr.method, hr.target, err)
	}
	hr.headers = headers
	hr.scrub = httpScrubber(h.URL, u, hr.target, secrets)
	hr.log = env.Log.With("method", hr.method, "url", hr.target)
	return hr, nil
}

// client is the retrying client of hr: every attempt and response is a
// heartbeat to progress, and *attempts counts the attempts.
func (a httpCall) client(hr *httpRequest, progress Progress, attempts *int) *retryablehttp.Client {
	conn.LoadFallbackRoots() // the request may dial https:// (or be redirected there)
	client := retryablehttp.NewClient()
	client.RetryMax = max(hr.Retries, 0)
	client.RetryWaitMin = durationOr(a.retryWaitMin, httpRetryWaitMin)
	client.RetryWaitMax = durationOr(a.retryWaitMax, httpRetryWaitMax)
	retryAfterMax := durationOr(a.retryAfterMax, httpRetryAfterMax)
	client.Backoff = func(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
		return min(retryablehttp.DefaultBackoff(lo, hi, attempt, resp), retryAfterMax)
	}
	client.Logger = retryLogger{log: hr.log, scrub: hr.scrub}
	client.RequestLogHook = func(_ retryablehttp.Logger, _ *http.Request, attempt int) {
		*attempts = attempt + 1 // hooks run on the goroutine of Do
		progress.Add(0)
	}
	client.ResponseLogHook = func(_ retryablehttp.Logger, resp *http.Response) {
		progress.Add(0)
		hr.log.Debug("http response", "status", resp.StatusCode, "attempt", *attempts)
	}
	client.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if err == nil && resp != nil && slices.Contains(hr.expect, resp.StatusCode) {
			return false, nil
		}
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	// Keep the last response or error: the step's error says what it was.
	client.ErrorHandler = retryablehttp.PassthroughErrorHandler
	client.HTTPClient.CheckRedirect = hr.checkRedirect
	return client
}

// httpMaxRedirects is how many redirects an http step follows (net/http's
// default).
const httpMaxRedirects = 10

// checkRedirect drops the secret headers (HeadersFrom) from a redirect
// that leaves the origin of the first request: another host or port, or
// https to http.
func (hr *httpRequest) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= httpMaxRedirects {
		return fmt.Errorf("stopped after %d redirects", httpMaxRedirects)
	}
	first := via[0].URL
	if sameOrigin(first, req.URL) {
		return nil
	}
	for name := range hr.HeadersFrom {
		req.Header.Del(name)
	}
	hr.log.Debug("http: redirect to another origin, secret headers dropped", "to", redact.URL(req.URL, hr.SafeParams))
	return nil
}

// sameOrigin reports whether b has a's scheme, host and port.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

// port is u's port, or its scheme's default.
func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

// failed is the step's error when the request got no usable answer;
// timedOut: the step's own timeout ended it (not the run's context).
func (hr *httpRequest) failed(resp *http.Response, err error, attempts int, timedOut bool) error {
	if resp != nil {
		_ = resp.Body.Close()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // url.Error quotes the URL, secrets included
	}
	if errors.Is(err, context.DeadlineExceeded) && timedOut {
		return fmt.Errorf("http %s %s: no answer within the step timeout %s (%s): %w",
			hr.method, hr.target, hr.timeout, attemptsText(attempts), err)
	}
	return fmt.Errorf("http %s %s: %s: %w", hr.method, hr.target, attemptsText(attempts), err)
}

// httpHeaders returns the headers of h, with those of HeadersFrom read from
// the environment or a file and trimmed, and the secret values among them.
// An empty secret is an error: a request without its credentials would fail
// in a less helpful way.
func httpHeaders(env *Env, h *profiles.HTTPStep) (headers map[string]string, secrets []string, err error) {
	headers = make(map[string]string, len(h.Headers)+len(h.HeadersFrom))
	for name, value := range h.Headers {
		headers[name] = value
	}
	getenv, readFile := env.Getenv, env.ReadFile
	names := make([]string, 0, len(h.HeadersFrom))
	for name := range h.HeadersFrom {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		src := h.HeadersFrom[name]
		var value string
		switch {
		case src.Env != "":
			value = strings.TrimSpace(getenv(src.Env))
			if value == "" {
				return nil, nil, fmt.Errorf("header %s: environment variable %s is empty or unset", name, src.Env)
			}
		case src.File != "":
			b, err := readFile(src.File)
			if err != nil {
				return nil, nil, fmt.Errorf("header %s: %w", name, err)
			}
			value = strings.TrimSpace(string(b))
			if value == "" {
				return nil, nil, fmt.Errorf("header %s: file %s is empty", name, src.File)
			}
		default:
			return nil, nil, fmt.Errorf("header %s: no secret source", name)
		}
		headers[name] = value
		secrets = append(secrets, value)
	}
	return headers, secrets, nil
}

// httpScrubber replaces, in text from go-retryablehttp and net/http, every
// spelling of the URL they use by target, and secret header values by
// "xxxxx" (those of at least 4 bytes: shorter ones would mangle the text
// more than they would hide).
func httpScrubber(raw string, u *url.URL, target string, secrets []string) *strings.Replacer {
	forms := []string{raw, u.String(), u.Redacted()}
	if u.User != nil {
		// net/http's form of a URL with a password, in *url.Error.
		forms = append(forms, strings.Replace(u.String(), u.User.String()+"@", u.User.Username()+":***@", 1))
	}
	// Longest first, so a form is not partly replaced by a shorter one.
	sort.Slice(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	var pairs []string
	for _, f := range slices.Compact(forms) {
		if f != "" && f != target {
			pairs = append(pairs, f, target)
		}
	}
	for _, s := range secrets {
		if len(s) >= 4 {
			pairs = append(pairs, s, httpRedacted)
		}
	}
	return strings.NewReplacer(pairs...)
}

// httpSnippet returns up to n bytes of r as trimmed, valid UTF-8 text on
// one line.
func httpSnippet(r io.Reader, n int) string {
	b, _ := io.ReadAll(io.LimitReader(r, int64(n))) // a partial body is still worth quoting
	return strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "")), " ")
}

// retryLogger adapts go-retryablehttp's leveled logger to slog: everything
// at debug (the step logs its outcome itself), URLs and secrets scrubbed.
// The library logs no headers.
type retryLogger struct {
	log   *slog.Logger
	scrub *strings.Replacer
}

var _ retryablehttp.LeveledLogger = retryLogger{}

func (l retryLogger) Error(msg string, kv ...any) { l.debug(msg, kv) }
func (l retryLogger) Info(msg string, kv ...any)  { l.debug(msg, kv) }
func (l retryLogger) Debug(msg string, kv ...any) { l.debug(msg, kv) }
func (l retryLogger) Warn(msg string, kv ...any)  { l.debug(msg, kv) }

func (l retryLogger) debug(msg string, kv []any) {
	args := make([]any, 0, len(kv))
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		if k == "method" || k == "url" {
			continue // l.log carries them already
		}
		switch v := kv[i+1].(type) {
		case string:
			args = append(args, k, l.scrub.Replace(v))
		case error:
			args = append(args, k, l.scrub.Replace(v.Error()))
		case fmt.Stringer:
			args = append(args, k, l.scrub.Replace(v.String()))
		default:
			args = append(args, k, v)
		}
	}
	l.log.Debug("http: "+l.scrub.Replace(msg), args...)
}

// attemptsText is "1 attempt" or "n attempts".
func attemptsText(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return strconv.Itoa(n) + " attempts"
}

// durationOr returns a if it is positive, else def.
func durationOr(a, def time.Duration) time.Duration {
	if a > 0 {
		return a
	}
	return def
}

// Writes: the step acts outside both stores.
// WritesRedis: what the call does is opaque, outside both stores.
func (httpCall) WritesRedis() bool { return false }

func (httpCall) Writes(*Env, profiles.Step) (*Writes, error) { return &Writes{Opaque: true}, nil }
