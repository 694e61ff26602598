package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/alerting"
	"github.com/proxmon/proxmon/api"
	"github.com/proxmon/proxmon/ingest"
	"github.com/proxmon/proxmon/natsd"
	"github.com/proxmon/proxmon/stream"
)

// The alerting and api roles.
const (
	roleAlerting = "alerting"
	roleAPI      = "api"
)

// rolesConfig is the part of serve's configuration for the alerting and
// api roles.
type rolesConfig struct {
	// HTTPListen is the api role's listener; "" picks a free loopback
	// port.
	HTTPListen string
	// AlertingClientID is alerting's MQTT client id, its persistent
	// session.
	AlertingClientID string
	// Alerting's timing; zero values are alerting's defaults.
	AlertingTiming alerting.Timing
	centreConfig
}

func (c *rolesConfig) flags(fs *flag.FlagSet, env func(name, def string) string) {
	fs.StringVar(&c.HTTPListen, "http-listen", env("PROXMON_HTTP_LISTEN", "127.0.0.1:8080"), "api role's HTTP listener `host:port` (/metrics, /healthz, /readyz); plain HTTP, so beyond loopback only with --insecure [PROXMON_HTTP_LISTEN]")
	c.centreConfig.flags(fs, env)
	fs.StringVar(&c.AlertingClientID, "alerting-client-id", env("PROXMON_ALERTING_CLIENT_ID", alerting.DefaultClientID), "alerting's MQTT client `id`: its persistent session; one process per id [PROXMON_ALERTING_CLIENT_ID]")
}

// validateRoles checks the alerting and api settings and says what to fix.
func (c *serveConfig) validateRoles() error {
	if err := c.validateCentre(); err != nil {
		return err
	}
	if c.hasRole(roleAPI) && c.HTTPListen != "" {
		host, _, err := net.SplitHostPort(c.HTTPListen)
		if err != nil {
			return fmt.Errorf("--http-listen %q: want host:port", c.HTTPListen)
		}
		if !loopback(host) && !c.Insecure {
			return fmt.Errorf("--http-listen %q listens beyond loopback without TLS: bind to 127.0.0.1 (behind a proxy that adds TLS), or pass --insecure", c.HTTPListen)
		}
	}
	if c.hasRole(roleAlerting) {
		if c.AlertingClientID != "" && !proxmon.ValidID(c.AlertingClientID) {
			return fmt.Errorf("--alerting-client-id %q: want 1-64 characters of [A-Za-z0-9_-]", c.AlertingClientID)
		}
		if c.MQTTURL == "" && c.embedded() && c.MQTTListen == "" {
			return errors.New("--mqtt-listen: the alerting role needs an MQTT broker: give the embedded one a listener, or --mqtt the URL of another")
		}
	}
	return nil
}

// alertingStopped is the error of an alerting role that stopped by itself.
func alertingStopped(err error) error {
	if err == nil {
		return errors.New("alerting stopped")
	}
	return fmt.Errorf("alerting stopped: %w", err)
}

// roleState is what the service holds for metrics and the alerting and
// api roles.
type roleState struct {
	metrics       *prometheus.Registry
	ingestMetrics *ingest.Metrics
	runnerMetrics *stream.RunnerMetrics

	notifier     *alerting.Notifier
	stopAlerting context.CancelFunc
	alertingDone chan error

	api *api.Server
}

// openMetrics creates the service's registry and the metrics of the roles
// it runs; call it before the roles start.
func (s *Service) openMetrics() error {
	r := &s.roles
	r.metrics = prometheus.NewRegistry()
	err := errors.Join(
		r.metrics.Register(collectors.NewGoCollector()),
		r.metrics.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})),
		r.metrics.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "proxmon_nats_connected",
			Help: "1 while the service's NATS connection is up.",
		}, func() float64 {
			if s.nc != nil && s.nc.IsConnected() {
				return 1
			}
			return 0
		})),
	)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if s.cfg.hasRole(roleIngest) {
		if r.ingestMetrics, err = ingest.NewMetrics(r.metrics); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	if s.cfg.hasRole(roleFence) {
		if r.runnerMetrics, err = stream.NewRunnerMetrics(r.metrics); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	return nil
}

// openRoles starts the alerting and api roles, after ingest and the
// engine. mqttURL, user and password are the broker's, as for ingest.
func (s *Service) openRoles(ctx context.Context, mqttURL, user, password string) error {
	c, r := s.cfg, &s.roles
	storage := stream.NewStorageCollector(s.js, s.runner)
	if s.srv != nil {
		storage.WithServerLimit(func() int64 {
			if jc := s.srv.InProcess().JetStreamConfig(); jc != nil {
				return jc.MaxStore
			}
			return 0
		})
	}
	if err := r.metrics.Register(storage); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if c.hasRole(roleAlerting) {
		if err := s.openAlerting(ctx, mqttURL, user, password); err != nil {
			return err
		}
	}
	alerts, err := s.openCentre(ctx)
	if err != nil {
		return err
	}
	if c.hasRole(roleAPI) {
		addr := c.HTTPListen
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		checks := s.readiness()
		if err := r.metrics.Register(readyGauge(checks)); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		if err := r.metrics.Register(s.centreMetrics()); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		book, err := stream.WatchCaseBook(s.groupCtx, s.js, s.log)
		if err != nil {
			return err
		}
		positions, err := stream.WatchPositions(s.groupCtx, s.js, book, s.log.With("component", "positions"))
		if err != nil {
			return err
		}
		cases, err := stream.OpenCaseStore(ctx, s.js)
		if err != nil {
			return err
		}
		r.api = api.New(api.Options{Addr: addr, Registry: r.metrics, Ready: checks,
			Centre: alerts, Users: c.users, Alarms: s.alarms, MetricsToken: c.MetricsToken, Cases: cases,
			Dispatch: stream.NewDispatcher(s.js, s.log.With("component", "dispatch")), Devices: positions,
			Archive: stream.NewArchive(s.js), Log: s.log.With("role", roleAPI)})
		if err := r.api.Open(); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) openAlerting(ctx context.Context, mqttURL, user, password string) error {
	c, r := s.cfg, &s.roles
	log := s.log.With("role", roleAlerting)
	m, err := alerting.NewMetrics(r.metrics)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	book, err := stream.WatchCaseBook(s.groupCtx, s.js, log)
	if err != nil {
		return err
	}
	o := alerting.Options{Broker: mqttURL, ClientID: c.AlertingClientID, Username: user, Password: password,
		Timing: c.AlertingTiming, Metrics: m, Log: log}
	// Credentials in an external broker's URL win over the service secret.
	svcUser, svcPassword, tlsConfig := s.mqttClientAuth(s.embeddedBroker(), natsd.UserAlerting)
	if o.Username == "" {
		o.Username, o.Password = svcUser, svcPassword
	}
	o.TLSConfig = tlsConfig
	r.notifier = alerting.NewNotifier(s.js, book, o)
	actx, cancel := context.WithCancel(s.groupCtx)
	r.stopAlerting = cancel
	r.alertingDone = make(chan error, 1)
	go func() { r.alertingDone <- r.notifier.Run(actx) }()
	select {
	case <-r.notifier.Ready():
		return nil
	case err := <-r.alertingDone:
		r.alertingDone <- err // for closeAlerting
		return fmt.Errorf("alerting: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readiness returns the api role's checks: NATS connected, the engine
// caught up with its backlog, alerting taking events.
func (s *Service) readiness() []api.Check {
	checks := []api.Check{{Name: "nats", Err: func(context.Context) error {
		if st := s.nc.Status(); st != nats.CONNECTED {
			return fmt.Errorf("connection %s", st)
		}
		return nil
	}}}
	if s.runner != nil {
		checks = append(checks, api.Check{Name: "engine", Err: func(ctx context.Context) error {
			if s.runner.CaughtUp() {
				return nil
			}
			lag, err := s.runner.Lag(ctx)
			if err != nil {
				return fmt.Errorf("catching up on the log: %w", err)
			}
			return fmt.Errorf("catching up on the log: %d records behind", lag)
		}})
	}
	if n := s.roles.notifier; n != nil {
		checks = append(checks, api.Check{Name: "alerting", Err: func(context.Context) error {
			select {
			case <-n.Ready():
				return nil
			default:
				return errors.New("restoring what the devices were told")
			}
		}})
	}
	return checks
}

// readyGauge reports /readyz as a metric, for alerting rules: 1 when every
// check passes.
func readyGauge(checks []api.Check) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "proxmon_ready",
		Help: "1 when the process is ready (/readyz): NATS connected, the engine caught up, alerting taking events.",
	}, func() float64 {
		for _, c := range checks {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := c.Err(ctx)
			cancel()
			if err != nil {
				return 0
			}
		}
		return 1
	})
}

// closeAlerting stops alerting; an event it was sending is left to the
// next start, unacknowledged.
func (s *Service) closeAlerting() error {
	r := &s.roles
	if r.stopAlerting == nil {
		return nil
	}
	r.stopAlerting()
	err := <-r.alertingDone
	r.stopAlerting = nil
	if err != nil {
		return fmt.Errorf("alerting: %w", err)
	}
	return nil
}

// closeAPI stops the HTTP server, last of all.
func (s *Service) closeAPI(ctx context.Context) error {
	if s.roles.api == nil {
		return nil
	}
	err := s.roles.api.Close(ctx)
	s.roles.api = nil
	return err
}
