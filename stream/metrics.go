package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/fence"
)

// storeError marks an error of a publish that JetStream refused for want of
// room (its disk, an account or a stream limit) with proxmon.ErrFull.
func storeError(err error) error {
	var apiErr *jetstream.APIError
	if err == nil || !errors.As(err, &apiErr) {
		return err
	}
	switch {
	case apiErr.ErrorCode == 10023, // insufficient resources
		apiErr.ErrorCode == 10047, // insufficient storage resources available
		apiErr.ErrorCode == 10077 && (strings.Contains(apiErr.Description, "maximum bytes") ||
			strings.Contains(apiErr.Description, "maximum messages")): // a stream limit with DiscardNew
		return fmt.Errorf("%w: %w", proxmon.ErrFull, err)
	}
	return err
}

// RunnerMetrics are the engine's metrics. Create them with
// NewRunnerMetrics and pass them in RunnerOptions; nil counts nothing.
type RunnerMetrics struct {
	latency *prometheus.HistogramVec // record
	events  *prometheus.CounterVec   // type, severity
	skipped prometheus.Counter

	stats    atomic.Pointer[fence.Stats]
	statsAge time.Time // of the last refresh; the runner's goroutine only
}

// NewRunnerMetrics creates the engine's metrics and registers them on reg.
func NewRunnerMetrics(reg prometheus.Registerer) (*RunnerMetrics, error) {
	m := &RunnerMetrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "proxmon_event_latency_seconds",
			Help:    "From the log storing a record (a fix's receipt) to EVENTS storing an event it caused, by record kind (fix, status, tick, heartbeat).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800},
		}, []string{"record"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxmon_events_total",
			Help: "Events the engine stored in EVENTS, by type and severity.",
		}, []string{"type", "severity"}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "proxmon_engine_records_skipped_total",
			Help: "Records of FIXES the engine could not read or apply and stepped over (each logged with its sequence): a fix stored but never judged.",
		}),
	}
	m.stats.Store(&fence.Stats{})
	gauge := func(name, help string, v func(s *fence.Stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
			func() float64 { return v(m.stats.Load()) })
	}
	cs := []prometheus.Collector{m.latency, m.events, m.skipped,
		gauge("proxmon_devices_tracked", "Devices in at least one case in force.",
			func(s *fence.Stats) float64 { return float64(s.Tracked) }),
		gauge("proxmon_devices_offline", "Devices not heard from: signal_lost open, or silent under an open network_outage.",
			func(s *fence.Stats) float64 { return float64(s.SignalLost + s.OutageSilent) }),
		gauge("proxmon_devices_gps_lost", "Devices heard without a recent position: gps_lost open.",
			func(s *fence.Stats) float64 { return float64(s.GPSLost) }),
		gauge("proxmon_ingest_down", "1 while the engine has ingest_down open: no ingest heartbeat for 30 s.",
			func(s *fence.Stats) float64 {
				if s.IngestDown {
					return 1
				}
				return 0
			}),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// eventStored counts an event stored in EVENTS, caused by a record of kind
// that the log stored at logTime.
func (m *RunnerMetrics) eventStored(ev *proxmon.Event, kind proxmon.RecordKind, logTime time.Time) {
	if m == nil {
		return
	}
	m.events.WithLabelValues(string(ev.Type), string(ev.Severity)).Inc()
	if !logTime.IsZero() {
		m.latency.WithLabelValues(recordKindLabel(kind)).Observe(time.Since(logTime).Seconds())
	}
}

// recordSkipped counts a record of the log the engine stepped over.
func (m *RunnerMetrics) recordSkipped() {
	if m != nil {
		m.skipped.Inc()
	}
}

// refresh updates the engine's counts, which cost a pass over every
// device: once a second under load, ten times a second at most when the
// engine is idle (it has applied the whole log). The runner calls it from
// its own goroutine.
func (m *RunnerMetrics) refresh(eng *fence.Engine, idle bool) {
	if m == nil {
		return
	}
	if age := time.Since(m.statsAge); age < 100*time.Millisecond || !idle && age < time.Second {
		return
	}
	s := eng.Stats()
	m.stats.Store(&s)
	m.statsAge = time.Now()
}

func recordKindLabel(k proxmon.RecordKind) string {
	switch k {
	case proxmon.RecordFix:
		return "fix"
	case proxmon.RecordStatus:
		return "status"
	case proxmon.RecordTick:
		return "tick"
	case proxmon.RecordHeartbeat:
		return "heartbeat"
	default:
		return "case"
	}
}

// CaughtUp reports whether the runner runs and has applied every record
// the log held when it started: until then its events lag behind.
func (r *Runner) CaughtUp() bool {
	return r.running.Load() && r.seq.Load() >= r.backlog.Load()
}

// Lag returns how many records of the log the engine has still to apply.
func (r *Runner) Lag(ctx context.Context) (uint64, error) {
	info, err := streamInfo(ctx, r.js, Fixes)
	if err != nil {
		return 0, err
	}
	applied := r.seq.Load()
	if info.State.LastSeq <= applied {
		return 0, nil
	}
	return info.State.LastSeq - applied, nil
}

func streamInfo(ctx context.Context, js jetstream.JetStream, name string) (*jetstream.StreamInfo, error) {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", name, err)
	}
	return info, nil
}

// StorageCollector reports, at each scrape, what JetStream stores: bytes and
// messages per stream, the account's storage use and limit, and the engine's
// lag when a runner is given. A scrape asks the server, bounded by a
// timeout; a stream it cannot read is left out and counted in
// proxmon_jetstream_scrape_errors_total.
type StorageCollector struct {
	js          jetstream.JetStream
	runner      *Runner
	serverLimit func() int64
	timeout     time.Duration

	bytes, msgs, store, limit, lag *prometheus.Desc
	errs                           prometheus.Counter
}

var _ prometheus.Collector = (*StorageCollector)(nil)

// NewStorageCollector returns the collector; runner may be nil (a process
// without the fence role).
func NewStorageCollector(js jetstream.JetStream, runner *Runner) *StorageCollector {
	return &StorageCollector{
		js: js, runner: runner, timeout: 2 * time.Second,
		bytes: prometheus.NewDesc("proxmon_stream_bytes", "Bytes a JetStream stream stores.", []string{"stream"}, nil),
		msgs:  prometheus.NewDesc("proxmon_stream_messages", "Messages a JetStream stream stores.", []string{"stream"}, nil),
		store: prometheus.NewDesc("proxmon_jetstream_store_bytes", "File storage the account uses in JetStream, all streams, buckets and MQTT sessions.", nil, nil),
		limit: prometheus.NewDesc("proxmon_jetstream_store_limit_bytes", "The JetStream file storage limit: the account's, else the embedded server's; absent when unknown.", nil, nil),
		lag:   prometheus.NewDesc("proxmon_engine_lag_records", "Records of the log (FIXES) the engine has still to apply.", nil, nil),
		errs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "proxmon_jetstream_scrape_errors_total",
			Help: "Scrapes that could not read a stream's or the account's JetStream state.",
		}),
	}
}

// WithServerLimit makes the collector report limit's value as the storage
// limit when the account has none of its own: the embedded server's
// JetStream limit, which it derives from the free disk at its start.
func (c *StorageCollector) WithServerLimit(limit func() int64) *StorageCollector {
	c.serverLimit = limit
	return c
}

// Describe implements prometheus.Collector.
func (c *StorageCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.bytes
	ch <- c.msgs
	ch <- c.store
	ch <- c.limit
	if c.runner != nil {
		ch <- c.lag
	}
	c.errs.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *StorageCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	for _, name := range []string{Fixes, Rejected, Events} {
		info, err := streamInfo(ctx, c.js, name)
		if err != nil {
			c.errs.Inc()
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(info.State.Bytes), name)
		ch <- prometheus.MustNewConstMetric(c.msgs, prometheus.GaugeValue, float64(info.State.Msgs), name)
		if name == Fixes && c.runner != nil {
			lag := uint64(0)
			if applied := c.runner.Applied(); info.State.LastSeq > applied {
				lag = info.State.LastSeq - applied
			}
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(lag))
		}
	}
	if ai, err := c.js.AccountInfo(ctx); err != nil {
		c.errs.Inc()
	} else {
		ch <- prometheus.MustNewConstMetric(c.store, prometheus.GaugeValue, float64(ai.Store))
		limit := ai.Limits.MaxStore
		if limit <= 0 && c.serverLimit != nil {
			limit = c.serverLimit()
		}
		if limit > 0 {
			ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(limit))
		}
	}
	c.errs.Collect(ch)
}

// start records the backlog the runner has to catch up on: the log's last
// sequence now.
func (r *Runner) start(ctx context.Context) error {
	info, err := streamInfo(ctx, r.js, Fixes)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	r.backlog.Store(info.State.LastSeq)
	r.running.Store(true)
	return nil
}
