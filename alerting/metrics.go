package alerting

import (
	"math"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/proxmon/proxmon/proto/proxmonv1"
)

// Metrics counts what alerting sends. Register them with NewMetrics on the
// service's registry; a nil *Metrics counts nothing.
type Metrics struct {
	events    *prometheus.CounterVec // result: handled, dropped
	warnings  *prometheus.CounterVec // level
	commands  *prometheus.CounterVec // action
	failures  prometheus.Counter
	active    prometheus.Gauge
	connected prometheus.Gauge
	// pending reports the events alerting has still to act on, asked of
	// the consumer at each scrape: a notifier stuck on one event must
	// not report a stale backlog.
	pending     atomic.Pointer[func() (uint64, bool)]
	lastPending atomic.Uint64
}

// NewMetrics creates alerting's metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxmon_alerting_events_total",
			Help: "Events alerting took from EVENTS, by result (handled: every message it called for was acknowledged by the broker; dropped: undecodable).",
		}, []string{"result"}),
		warnings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxmon_alerting_warnings_sent_total",
			Help: "Warnings the broker acknowledged for protected persons' devices, by level (renewals included).",
		}, []string{"level"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxmon_alerting_commands_sent_total",
			Help: "Commands the broker acknowledged for devices, by action (vibrate, report_interval; renewals included).",
		}, []string{"action"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "proxmon_alerting_publish_failures_total",
			Help: "Publishes to devices the broker did not acknowledge in time; each is retried.",
		}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "proxmon_alerting_warnings_active",
			Help: "Protected persons' devices with a warning in force (danger, caution or unknown).",
		}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "proxmon_mqtt_connected",
			Help:        "1 while the MQTT client is connected to the broker.",
			ConstLabels: prometheus.Labels{"client": "alerting"},
		}),
	}
	for _, r := range []string{"handled", "dropped"} {
		m.events.WithLabelValues(r)
	}
	for _, l := range []proxmonv1.WarningLevel{proxmonv1.WarningLevel_WARNING_LEVEL_ALL_CLEAR,
		proxmonv1.WarningLevel_WARNING_LEVEL_CAUTION, proxmonv1.WarningLevel_WARNING_LEVEL_DANGER,
		proxmonv1.WarningLevel_WARNING_LEVEL_UNKNOWN} {
		m.warnings.WithLabelValues(levelLabel(l))
	}
	for _, a := range []string{"vibrate", "report_interval"} {
		m.commands.WithLabelValues(a)
	}
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "proxmon_alerting_events_pending",
		Help: "Events in EVENTS that alerting has still to act on (the one in hand included); NaN before alerting has its consumer.",
	}, func() float64 {
		f := m.pending.Load()
		if f == nil {
			return math.NaN()
		}
		if n, ok := (*f)(); ok {
			m.lastPending.Store(n)
		}
		return float64(m.lastPending.Load())
	})
	for _, c := range []prometheus.Collector{m.events, m.warnings, m.commands, m.failures, m.active, pending, m.connected} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func levelLabel(l proxmonv1.WarningLevel) string {
	return strings.ToLower(strings.TrimPrefix(l.String(), "WARNING_LEVEL_"))
}

func (m *Metrics) event(result string) {
	if m != nil {
		m.events.WithLabelValues(result).Inc()
	}
}

func (m *Metrics) sent(msg *Message) {
	if m == nil {
		return
	}
	switch {
	case msg.Warning != nil:
		m.warnings.WithLabelValues(levelLabel(msg.Warning.GetLevel())).Inc()
	case msg.Command.GetVibrate() != nil:
		m.commands.WithLabelValues("vibrate").Inc()
	case msg.Command.GetSetReportInterval() != nil:
		m.commands.WithLabelValues("report_interval").Inc()
	}
}

func (m *Metrics) failed() {
	if m != nil {
		m.failures.Inc()
	}
}

func (m *Metrics) setActive(active int) {
	if m != nil {
		m.active.Set(float64(active))
	}
}

// watchPending sets how the backlog is read: f returns it, or false when
// it cannot tell (the last value is reported then).
func (m *Metrics) watchPending(f func() (uint64, bool)) {
	if m != nil {
		m.pending.Store(&f)
	}
}

func (m *Metrics) setConnected(up bool) {
	if m == nil {
		return
	}
	if up {
		m.connected.Set(1)
	} else {
		m.connected.Set(0)
	}
}
