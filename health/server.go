package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/srvthreds/bootstrap/internal/panics"
)

// NewHandler returns the health endpoints of s:
//
//   - GET /livez: 200 "ok", or 503 "stalled: no progress for 2m3s" once
//     [State.Stalled] is true;
//   - GET /readyz: 200 "ok" once SetReady(true), else 503 "not ready";
//   - GET /status: the [Status] as JSON;
//   - GET /metrics: the State's metrics, then the Go runtime and process
//     metrics, in the Prometheus text format.
//
// Other methods get 405 (HEAD is served as GET). The handler is safe for
// concurrent use.
func NewHandler(s *State) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		if s.Stalled() {
			plain(w, http.StatusServiceUnavailable,
				"stalled: no progress for "+s.SinceProgress().Round(time.Second).String())
			return
		}
		plain(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			plain(w, http.StatusServiceUnavailable, "not ready")
			return
		}
		plain(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s.Snapshot()) // a write error means the client went away
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		s.metrics.writePrometheus(w)
	})
	return mux
}

func plain(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = fmt.Fprintln(w, body) // a write error means the client went away
}

// Serve listens on addr and serves h in a goroutine until stop is called.
// An addr of "" or "off" serves nothing and returns a stop that does
// nothing. It returns an error when addr cannot be listened on (such as a
// port already in use). ctx bounds only the listen: the server keeps
// serving after ctx is done, so /livez still answers while the run shuts
// down, and stops when stop is called. stop shuts the server down
// gracefully within its ctx, then closes it; it may be called more than
// once. log receives the listen address and serving errors; nil discards
// them.
func Serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger) (stop func(context.Context) error, err error) {
	if addr == "" || addr == "off" {
		return func(context.Context) error { return nil }, nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("health: listen %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer panics.Recover(log, "health server", nil)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("health server stopped", "addr", ln.Addr().String(), "error", err)
		}
	}()
	log.Info("health server listening", "addr", ln.Addr().String())

	var (
		once    sync.Once
		stopErr error
	)
	return func(ctx context.Context) error {
		once.Do(func() {
			if err := srv.Shutdown(ctx); err != nil {
				stopErr = fmt.Errorf("health: shutdown: %w", err)
				_ = srv.Close() // the shutdown error is the one to report
			}
			<-done
		})
		return stopErr
	}, nil
}
