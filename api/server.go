// Package api is the api role's HTTP server: Prometheus metrics on
// /metrics, liveness on /healthz and readiness on /readyz, for the
// operators of the platform and their orchestrator; and the monitoring
// centre's /api/v1 (alerts, acknowledgements, closures, reports, the
// dead-man's switch, the audit trail, devices' positions and archived
// tracks).
//
// Invariants: metrics come from the registry the server is given, never the
// global one, so several servers live in one process (and one test);
// /readyz answers 503 with every failing check's reason, never a bare
// "not ready". Every /api/v1 call needs a bearer token whose role allows it
// (401 without one, 403 outside the role), and is appended to the audit
// trail before its answer is written: nothing is read without its entry.
// Errors are problem details (RFC 9457), never a bare 500. A case is
// written only when it passes the checks of a case file, and only over
// the revision it was based on, so an edit never silently undoes another.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/proxmon/proxmon/track"
)

// Check is one condition of readiness. Err returns nil when it holds, else
// the reason it does not, in words an operator can act on.
type Check struct {
	Name string
	Err  func(context.Context) error
}

// Options configures a Server.
type Options struct {
	// Addr is the listen address, host:port; port 0 picks a free port.
	Addr string
	// Registry holds the metrics /metrics serves; the server adds its own
	// (promhttp's scrape counters) to it.
	Registry *prometheus.Registry
	// Ready are the checks of /readyz; all must pass.
	Ready []Check
	// CheckTimeout bounds each readiness check; default 2 s.
	CheckTimeout time.Duration
	// Centre, when set, serves the monitoring centre's /api/v1 endpoints
	// to the Users' bearer tokens; every call is audited.
	Centre Centre
	Users  *Users
	// Dispatch, when set, serves the dispatch terminals'
	// /api/v1/dispatch/{terminal}/next.
	Dispatch Dispatch
	// Devices, when set, serves /api/v1/devices: positions, last seen,
	// battery, open alerts, who is near a place.
	Devices Devices
	// Cases, when set, serves the case managers' /api/v1/cases: the cases
	// in force, read, written, deleted, and their history.
	Cases Cases
	// Archive, with Devices, serves the archived tracks (FIXES):
	// /api/v1/devices/{id}/track and /api/v1/track/near.
	Archive track.Log
	// Alarms returns the dead-man's switch's alarms for /api/v1/status.
	Alarms func(context.Context) []Alarm
	// MetricsToken, when set, makes /metrics require a user's token
	// (any role); by default it is open, like /healthz and /readyz.
	MetricsToken bool
	Now          func() time.Time
	Log          *slog.Logger
}

func (o *Options) ensureDefaults() {
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.CheckTimeout == 0 {
		o.CheckTimeout = 2 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Server is the HTTP server of the api role.
type Server struct {
	o   Options
	srv *http.Server
	ln  net.Listener
	err chan error
}

// New returns a server; Open starts it.
func New(o Options) *Server {
	o.ensureDefaults()
	s := &Server{o: o, err: make(chan error, 1)}
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(o.Log.Handler(), slog.LevelWarn),
	}
	return s
}

// Handler returns the server's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	metrics := promhttp.HandlerFor(s.o.Registry, promhttp.HandlerOpts{
		ErrorLog:      slogPrintln{s.o.Log},
		ErrorHandling: promhttp.ContinueOnError, // a failing collector must not hide the others
		Registry:      s.o.Registry,
	})
	var metricsHandler http.Handler = promhttp.InstrumentMetricHandler(s.o.Registry, metrics)
	if s.o.MetricsToken {
		open := metricsHandler
		metricsHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if s.o.Users.user(r) == nil {
				writeProblem(w, problem(http.StatusUnauthorized, "unauthenticated", "a valid bearer token is required"))
				return
			}
			open.ServeHTTP(w, r)
		})
	}
	mux.Handle("GET /metrics", metricsHandler)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.o.Centre != nil {
		s.centreRoutes(mux)
	}
	return mux
}

// readyz answers 200 when every check passes, else 503 with a line per
// failing check.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	var failed []string
	for _, c := range s.o.Ready {
		ctx, cancel := context.WithTimeout(r.Context(), s.o.CheckTimeout)
		err := c.Err(ctx)
		cancel()
		if err != nil {
			failed = append(failed, c.Name+": "+err.Error())
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if len(failed) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not ready")
		fmt.Fprintln(w, strings.Join(failed, "\n"))
		return
	}
	fmt.Fprintln(w, "ready")
}

// Open listens on Addr and serves in the background.
func (s *Server) Open() error {
	ln, err := net.Listen("tcp", s.o.Addr)
	if err != nil {
		return fmt.Errorf("api: listen %s: %w", s.o.Addr, err)
	}
	s.ln = ln
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.err <- err
	}()
	s.o.Log.Info("api listening", "addr", ln.Addr().String())
	return nil
}

// Addr returns the address the server listens on, after Open.
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Close stops accepting requests and waits for those in progress, until ctx
// ends.
func (s *Server) Close(ctx context.Context) error {
	if s.ln == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	return errors.Join(err, <-s.err)
}

// slogPrintln adapts slog to promhttp's error logger.
type slogPrintln struct{ l *slog.Logger }

func (p slogPrintln) Println(v ...any) { p.l.Warn("metrics", "err", fmt.Sprint(v...)) }
