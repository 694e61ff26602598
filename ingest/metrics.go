package ingest

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/proxmon/proxmon"
)

// Metrics counts what ingest receives, rejects and stores. Register them
// with NewMetrics on the service's registry; a nil *Metrics counts nothing.
type Metrics struct {
	received      *prometheus.CounterVec // kind: fix, status, other
	rejected      *prometheus.CounterVec // reason
	stored        *prometheus.CounterVec // kind: fix, status, rejection, heartbeat
	storeFailures *prometheus.CounterVec // error: full, other
	storeFailing  prometheus.Gauge
	connected     prometheus.Gauge
}

// Store failure labels.
const (
	storeFull  = "full"
	storeOther = "other"
)

// NewMetrics creates ingest's metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxmon_ingest_received_total",
			Help: "MQTT messages ingest received from devices, by kind (fix, status; other: a topic ingest does not serve).",
		}, []string{"kind"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxmon_ingest_rejected_total",
			Help: "Device messages rejected, by reason; each is kept in the REJECTED stream.",
		}, []string{"reason"}),
		stored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxmon_ingest_stored_total",
			Help: "Records the log stored and ingest acknowledged to the broker, by kind (fix, status, rejection, heartbeat).",
		}, []string{"kind"}),
		storeFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxmon_ingest_store_failures_total",
			Help: "Appends the log refused or did not confirm, by error (full: out of disk or over a limit; other). The message stays unacknowledged with the broker.",
		}, []string{"error"}),
		storeFailing: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "proxmon_ingest_store_failing",
			Help: "1 while the log refuses to store what ingest appends (disk full, JetStream away): devices' messages stay with the broker, unacknowledged, and no new fix reaches the engine.",
		}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "proxmon_mqtt_connected",
			Help:        "1 while the MQTT client is connected to the broker.",
			ConstLabels: prometheus.Labels{"client": "ingest"},
		}),
	}
	for _, k := range []string{"fix", "status", "other"} {
		m.received.WithLabelValues(k)
	}
	for _, r := range reasons {
		m.rejected.WithLabelValues(r.label)
	}
	m.rejected.WithLabelValues("other")
	for _, k := range []string{"fix", "status", "rejection", "heartbeat"} {
		m.stored.WithLabelValues(k)
	}
	for _, e := range []string{storeFull, storeOther} {
		m.storeFailures.WithLabelValues(e)
	}
	for _, c := range []prometheus.Collector{m.received, m.rejected, m.stored, m.storeFailures, m.storeFailing, m.connected} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) receivedOn(kind string) {
	if m != nil {
		m.received.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) rejectedFor(reason string) {
	if m != nil {
		m.rejected.WithLabelValues(reason).Inc()
	}
}

// storeResult records the outcome of an append of a record of kind.
func (m *Metrics) storeResult(kind string, err error) {
	if m == nil {
		return
	}
	if err == nil {
		m.stored.WithLabelValues(kind).Inc()
		m.storeFailing.Set(0)
		return
	}
	label := storeOther
	if errors.Is(err, proxmon.ErrFull) {
		label = storeFull
	}
	m.storeFailures.WithLabelValues(label).Inc()
	m.storeFailing.Set(1)
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
