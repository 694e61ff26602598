package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/alerting"
	"github.com/proxmon/proxmon/api"
	"github.com/proxmon/proxmon/centre"
	"github.com/proxmon/proxmon/stream"
)

// centreConfig is the monitoring centre's part of serve's configuration.
type centreConfig struct {
	UsersFile         string // API users (token hashes, roles)
	Deadlines         string // e.g. "critical=60s,high=5m,high/critical=30s"
	EscalationWebhook string
	EscalationCommand string
	MetricsToken      bool
	// DeadManAfter: engine ticks older than this raise the alarm; default 10 s.
	DeadManAfter time.Duration
	deadlines    centre.Deadlines
	users        *api.Users
}

func (c *centreConfig) flags(fs *flag.FlagSet, env func(name, def string) string) {
	fs.StringVar(&c.UsersFile, "api-users", env("PROXMON_API_USERS", ""), "`file` of API users: name, role, token_sha256 (proxmon users add); without it every /api/v1 call is refused [PROXMON_API_USERS]")
	fs.StringVar(&c.Deadlines, "deadlines", env("PROXMON_DEADLINES", ""), "acknowledgement `deadlines` over the defaults critical=60s,high=5m; risk/severity=d for cases of a risk, e.g. high/critical=30s [PROXMON_DEADLINES]")
	fs.StringVar(&c.EscalationWebhook, "escalation-webhook", env("PROXMON_ESCALATION_WEBHOOK", ""), "`URL` that escalations and patterns are POSTed to as JSON [PROXMON_ESCALATION_WEBHOOK]")
	fs.StringVar(&c.EscalationCommand, "escalation-command", env("PROXMON_ESCALATION_COMMAND", ""), "`command` (words split by spaces) run with each escalation and pattern as JSON on stdin [PROXMON_ESCALATION_COMMAND]")
	fs.BoolVar(&c.MetricsToken, "metrics-token", env("PROXMON_METRICS_TOKEN", "") == "true", "require an API token for /metrics [PROXMON_METRICS_TOKEN]")
}

func (c *centreConfig) validateCentre() error {
	var err error
	if c.deadlines, err = centre.ParseDeadlines(c.Deadlines); err != nil {
		return fmt.Errorf("--deadlines: %w", err)
	}
	if c.UsersFile != "" {
		data, err := os.ReadFile(c.UsersFile)
		if err != nil {
			return fmt.Errorf("--api-users: %w", err)
		}
		if c.users, err = api.ParseUsers(data); err != nil {
			return fmt.Errorf("--api-users %s: %w", c.UsersFile, err)
		}
	}
	if c.DeadManAfter == 0 {
		c.DeadManAfter = 10 * time.Second
	}
	return nil
}

// openCentre opens the centre's alert state (EVENTS + ACKS) for the api
// and alerting roles, and starts the escalator with alerting.
func (s *Service) openCentre(ctx context.Context) (*stream.AlertStore, error) {
	c := s.cfg
	if !c.hasRole(roleAPI) && !c.hasRole(roleAlerting) {
		return nil, nil
	}
	book, err := stream.WatchCaseBook(s.groupCtx, s.js, s.log)
	if err != nil {
		return nil, err
	}
	risk := func(id string) proxmon.Risk {
		if cs, ok := book.Case(id); ok {
			return cs.Risk
		}
		return ""
	}
	store, err := stream.OpenAlertStore(s.groupCtx, s.js, centre.Options{Deadlines: c.deadlines, Risk: risk}, s.log.With("component", "centre"))
	if err != nil {
		return nil, err
	}
	if c.hasRole(roleAlerting) {
		esc := &alerting.Escalator{Book: store, Log: s.log.With("component", "escalation")}
		if c.EscalationWebhook != "" {
			esc.Notifiers = append(esc.Notifiers, alerting.Webhook(c.EscalationWebhook, nil))
		}
		if argv := strings.Fields(c.EscalationCommand); len(argv) > 0 {
			esc.Notifiers = append(esc.Notifiers, alerting.Command(argv))
		}
		go func() { _ = esc.Run(s.groupCtx) }()
	}
	return store, nil
}

// alarms is the dead-man's switch: silence must never look like safety.
func (s *Service) alarms(ctx context.Context) []api.Alarm {
	return deadMan(ctx, s.js, s.cfg.DeadManAfter, time.Now())
}

// deadMan returns the alarms of the dead-man's switch: the engine's ticks
// older than after, no dispatch terminal connected.
func deadMan(ctx context.Context, js jetstream.JetStream, after time.Duration, now time.Time) []api.Alarm {
	var out []api.Alarm
	age, ok, err := stream.TickAge(ctx, js, now)
	switch {
	case err != nil:
		out = append(out, api.Alarm{Code: "engine_unknown", Detail: "cannot read the engine's ticks: " + err.Error()})
	case !ok:
		out = append(out, api.Alarm{Code: "engine_silent", Detail: "no engine tick in the log: alerts are NOT being checked"})
	case age > after:
		out = append(out, api.Alarm{Code: "engine_silent", Detail: fmt.Sprintf("no engine tick for %s: alerts are NOT being checked", age.Round(time.Second))})
	}
	term, err := stream.DispatchTerminals(ctx, js)
	if err != nil {
		out = append(out, api.Alarm{Code: "dispatch_unknown", Detail: "cannot count dispatch terminals: " + err.Error()})
	} else if term.Connected == 0 {
		out = append(out, api.Alarm{Code: "no_dispatch", Detail: "no dispatch terminal is connected: nobody sees the alerts"})
	}
	return out
}

// centreMetrics are the dead-man's switch as metrics.
func (s *Service) centreMetrics() prometheus.Collector {
	return centreCollector{s}
}

type centreCollector struct{ s *Service }

var (
	tickAgeDesc = prometheus.NewDesc("proxmon_engine_tick_age_seconds", "Seconds since FIXES stored the engine's last tick; above 10 the engine is silent.", nil, nil)
	terminals   = prometheus.NewDesc("proxmon_dispatch_terminals", "Dispatch terminals connected now (consumers on EVENTS with a pull waiting); 0: nobody sees the alerts.", nil, nil)
	behindDesc  = prometheus.NewDesc("proxmon_dispatch_pending_events", "Events the most up-to-date connected dispatch terminal has still to show; above 0 for long: the centre sees alerts late.", nil, nil)
)

func (c centreCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- tickAgeDesc
	ch <- terminals
	ch <- behindDesc
}

func (c centreCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if age, ok, err := stream.TickAge(ctx, c.s.js, time.Now()); err == nil && ok {
		ch <- prometheus.MustNewConstMetric(tickAgeDesc, prometheus.GaugeValue, age.Seconds())
	}
	if t, err := stream.DispatchTerminals(ctx, c.s.js); err == nil {
		ch <- prometheus.MustNewConstMetric(terminals, prometheus.GaugeValue, float64(t.Connected))
		if t.Connected > 0 {
			ch <- prometheus.MustNewConstMetric(behindDesc, prometheus.GaugeValue, float64(t.Behind))
		}
	}
}
