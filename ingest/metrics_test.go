package ingest_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/ingest"
)

// fullLog refuses appends with proxmon.ErrFull, as a JetStream out of disk
// does.
type fullLog struct{ memLog }

func (l *fullLog) Append(r *proxmon.Record, done func(error)) error {
	return l.memLog.Append(r, func(err error) {
		if err != nil {
			err = fmt.Errorf("%w: %v", proxmon.ErrFull, err)
		}
		done(err)
	})
}

// Ingest counts what it receives, rejects by reason and stores; while the
// log refuses fixes, proxmon_ingest_store_failing is 1 and the fix stays
// with the broker, and once a redelivery is stored it is 0 again.
func TestSubscriberMetrics(t *testing.T) {
	srv := startBroker(t, 500*time.Millisecond)
	reg := prometheus.NewRegistry()
	m, err := ingest.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	log := &fullLog{memLog{refuse: 1}}
	runSubscriber(t, log, ingest.Options{Broker: srv.MQTTURL(), HeartbeatEvery: -1, Metrics: m,
		Known: func(d string) bool { return d == "tag-1" }})
	if got := gaugeValue(t, reg, "proxmon_mqtt_connected"); got != 1 {
		t.Errorf("proxmon_mqtt_connected %v, want 1", got)
	}

	mustPublish(t, srv.MQTTURL(), map[string][]byte{ingest.TopicPrefix + "tag-1/fix": ingest.EncodeFix(fixAt("tag-1", 1))})
	waitUntil(t, "the refusal", func() bool { return gaugeValue(t, reg, "proxmon_ingest_store_failing") == 1 })
	if fixes, _, _ := log.snapshot(); len(fixes) != 0 {
		t.Fatalf("%d fixes stored while the log refused", len(fixes))
	}
	waitUntil(t, "the redelivery stored", func() bool { return gaugeValue(t, reg, "proxmon_ingest_store_failing") == 0 })

	mustPublish(t, srv.MQTTURL(), map[string][]byte{
		ingest.TopicPrefix + "tag-2/fix":    ingest.EncodeFix(fixAt("tag-2", 1)),
		ingest.TopicPrefix + "tag-1/status": {0xff},
	})
	waitUntil(t, "two rejections", func() bool {
		_, _, rejected := log.snapshot()
		return len(rejected) == 2
	})
	want := `
# HELP proxmon_ingest_rejected_total Device messages rejected, by reason; each is kept in the REJECTED stream.
# TYPE proxmon_ingest_rejected_total counter
proxmon_ingest_rejected_total{reason="bad_coordinates"} 0
proxmon_ingest_rejected_total{reason="bad_id"} 0
proxmon_ingest_rejected_total{reason="bad_time"} 0
proxmon_ingest_rejected_total{reason="bad_value"} 0
proxmon_ingest_rejected_total{reason="device_mismatch"} 0
proxmon_ingest_rejected_total{reason="future_time"} 0
proxmon_ingest_rejected_total{reason="other"} 0
proxmon_ingest_rejected_total{reason="undecodable"} 1
proxmon_ingest_rejected_total{reason="unknown_device"} 1
proxmon_ingest_rejected_total{reason="zero_position"} 0
# HELP proxmon_ingest_store_failures_total Appends the log refused or did not confirm, by error (full: out of disk or over a limit; other). The message stays unacknowledged with the broker.
# TYPE proxmon_ingest_store_failures_total counter
proxmon_ingest_store_failures_total{error="full"} 1
proxmon_ingest_store_failures_total{error="other"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"proxmon_ingest_rejected_total", "proxmon_ingest_store_failures_total"); err != nil {
		t.Error(err)
	}
	// The refused fix came twice: refused, then stored.
	for _, c := range []struct {
		name, label string
		want        float64
	}{
		{"received", "fix", 3}, {"received", "status", 1},
		{"stored", "fix", 1}, {"stored", "rejection", 2},
	} {
		got := counter(t, reg, "proxmon_ingest_"+c.name+"_total", c.label)
		if got != c.want {
			t.Errorf("proxmon_ingest_%s_total{kind=%q} = %v, want %v", c.name, c.label, got, c.want)
		}
	}
}

// gaugeValue returns the value of the gauge name, with one series, in reg.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
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
	t.Fatalf("no single series %s", name)
	return 0
}

// counter returns the value of the counter name{kind=kind} in reg.
func counter(t *testing.T, reg *prometheus.Registry, name, kind string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" && l.GetValue() == kind {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no series %s{kind=%q}", name, kind)
	return 0
}
