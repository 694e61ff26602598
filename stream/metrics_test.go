package stream_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/stream"
)

// The runner counts the events it stores with their latency, keeps the
// engine's device counts, and is caught up once it applied what the log
// held at its start; the storage collector reports the streams and the
// engine's lag.
func TestRunnerMetrics(t *testing.T) {
	js := setup(t)
	base := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Millisecond)
	appendFix(t, js, "phone-1", 1, base, 0)
	appendFix(t, js, "tag-1", 1, base.Add(time.Minute), 1200)  // contact_warning
	appendFix(t, js, "tag-1", 2, base.Add(2*time.Minute), 400) // contact_breach
	// A record the engine cannot read: stepped over, counted.
	if _, err := js.Publish(t.Context(), "proxmon.fix.0.tag-1", []byte(`{"device":"tag-1","seq":3,"heading_deg":360}`)); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	m, err := stream.NewRunnerMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	r := stream.NewRunner(js, stream.RunnerOptions{TickEvery: -1, Metrics: m})
	if r.CaughtUp() {
		t.Error("caught up before it ran")
	}
	if err := reg.Register(stream.NewStorageCollector(js, r)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(t.Context()) }()
	waitCond(t, "caught up", r.CaughtUp)
	waitCond(t, "devices counted", func() bool { return value(t, reg, "proxmon_devices_tracked") == 2 })

	want := `
# HELP proxmon_events_total Events the engine stored in EVENTS, by type and severity.
# TYPE proxmon_events_total counter
proxmon_events_total{severity="critical",type="contact_breach"} 1
proxmon_events_total{severity="high",type="contact_warning"} 1
# HELP proxmon_devices_tracked Devices in at least one case in force.
# TYPE proxmon_devices_tracked gauge
proxmon_devices_tracked 2
# HELP proxmon_engine_lag_records Records of the log (FIXES) the engine has still to apply.
# TYPE proxmon_engine_lag_records gauge
proxmon_engine_lag_records 0
# HELP proxmon_engine_records_skipped_total Records of FIXES the engine could not read or apply and stepped over (each logged with its sequence): a fix stored but never judged.
# TYPE proxmon_engine_records_skipped_total counter
proxmon_engine_records_skipped_total 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"proxmon_events_total", "proxmon_devices_tracked", "proxmon_engine_lag_records", "proxmon_engine_records_skipped_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(reg, "proxmon_event_latency_seconds"); n != 1 {
		t.Errorf("%d latency series, want 1 (fix)", n)
	}
	if n := testutil.CollectAndCount(reg, "proxmon_stream_bytes"); n != 3 {
		t.Errorf("%d proxmon_stream_bytes series, want 3", n)
	}
	if err := r.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r.CaughtUp() {
		t.Error("caught up after it stopped")
	}
}

// A stream that has no room refuses a record with proxmon.ErrFull, which
// is how ingest tells a full disk from other failures.
func TestLogFull(t *testing.T) {
	js := setup(t)
	ctx := t.Context()
	s, err := js.Stream(ctx, stream.Fixes)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.MaxBytes, cfg.Discard = 1, jetstream.DiscardNew
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	l := stream.NewLog(js, nil)
	got := make(chan error, 1)
	rec := proxmon.Record{Kind: proxmon.RecordHeartbeat, Time: time.Now().UTC()}
	if err := l.Append(&rec, func(err error) { got <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-got; !errors.Is(err, proxmon.ErrFull) {
		t.Errorf("append to a full stream: %v, want ErrFull", err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// value returns the value of the gauge name, with no labels, in reg.
func value(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}

func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
