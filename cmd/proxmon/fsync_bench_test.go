package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/ingest"
	"github.com/proxmon/proxmon/stream"
)

// BenchmarkStoreFsync measures the embedded service end to end with each
// --fsync policy: a device publishes fixes with QoS 1 and ingest stores
// them in FIXES. One op is one fix; reported are fixes/s and the latency
// from the device's publish to JetStream's store time of the record (p50,
// p99). "max" publishes as fast as the broker acknowledges, at most
// benchWindow fixes unacknowledged (the throughput; its latency is mostly
// queueing); "200/s" publishes 200 fixes a second, a fleet of 2,000
// devices reporting every 10 s (the latency at a realistic load). The data
// directory is in TMPDIR: put TMPDIR on the disk to measure.
//
//	go test -run '^$' -bench BenchmarkStoreFsync -benchtime 4000x ./cmd/proxmon
func BenchmarkStoreFsync(b *testing.B) {
	for _, policy := range []string{fsyncInterval, fsyncAlways} {
		b.Run(policy+"/max", func(b *testing.B) { benchmarkStore(b, policy, 0) })
		b.Run(policy+"/200-per-s", func(b *testing.B) { benchmarkStore(b, policy, 200) })
	}
}

// benchWindow bounds the fixes in flight from the device.
const benchWindow = 256

// benchmarkStore publishes b.N fixes, perSecond a second (0: as fast as
// benchWindow allows).
func benchmarkStore(b *testing.B, policy string, perSecond int) {
	dir := b.TempDir()
	casesFile := filepath.Join(dir, "cases.yaml")
	if err := os.WriteFile(casesFile, []byte(fleetCases), 0o600); err != nil {
		b.Fatal(err)
	}
	s := &Service{cfg: &serveConfig{
		Data: filepath.Join(dir, "data"), MQTTListen: "127.0.0.1:0",
		Roles: []string{roleIngest, roleFence}, Cases: casesFile, ClientID: ingest.DefaultClientID,
		durabilityConfig: durabilityConfig{Fsync: policy},
	}}
	if err := s.cfg.validate(); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Close(cctx); err != nil {
			b.Error(err)
		}
	}()

	// Read FIXES as it fills: the store time of each fix, by its id.
	stored := make(map[string]time.Time, b.N)
	var mu sync.Mutex
	all := make(chan struct{})
	cons, err := s.js.OrderedConsumer(ctx, stream.Fixes, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"proxmon.fix.>"}, DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		b.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		md, err := m.Metadata()
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		stored[m.Headers().Get(jetstream.MsgIDHeader)] = md.Timestamp
		if len(stored) == b.N {
			close(all)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Stop()

	c := mqtt.NewClient(fleetOptions(s.srv.MQTTURL(), "tag-a", nil).SetClientID("bench-tag-a"))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)

	// Fixes 10 km from anything, a millisecond apart in GPS time, ending
	// before now (ingest refuses fixes from the future).
	start := time.Now().UTC().Add(-time.Duration(b.N+1) * time.Millisecond).Truncate(time.Millisecond)
	ids := make([]string, b.N)
	sent := make([]time.Time, b.N)
	window := make(chan mqtt.Token, benchWindow)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for tok := range window {
			if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
				b.Errorf("publish: %v", tok.Error())
			}
		}
	}()
	var pace *time.Ticker
	if perSecond > 0 {
		pace = time.NewTicker(time.Second / time.Duration(perSecond))
		defer pace.Stop()
	}
	b.ReportAllocs()
	b.ResetTimer()
	began := time.Now()
	for i := range b.N {
		if pace != nil {
			<-pace.C
		}
		f := proxmon.Fix{Device: "tag-a", Seq: uint64(i + 1), Time: start.Add(time.Duration(i) * time.Millisecond),
			Lat: 52.01, Lon: 4.47, AccuracyM: 5, Source: proxmon.SourceGNSS}
		ids[i] = stream.FixMsgID(&f)
		sent[i] = time.Now()
		window <- c.Publish(ingest.TopicPrefix+"tag-a/fix", 1, false, ingest.EncodeFix(f))
	}
	close(window)
	<-done
	select {
	case <-all:
	case <-time.After(60 * time.Second):
		mu.Lock()
		b.Fatalf("%d of %d fixes stored within 60 s", len(stored), b.N)
	}
	elapsed := time.Since(began)
	b.StopTimer()

	mu.Lock()
	lat := make([]time.Duration, 0, b.N)
	for i, id := range ids {
		if t, ok := stored[id]; ok {
			lat = append(lat, t.Sub(sent[i]))
		}
	}
	mu.Unlock()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "fixes/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
