package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/ingest"
	"github.com/proxmon/proxmon/natsd"
	"github.com/proxmon/proxmon/natsd/natsdtest"
	"github.com/proxmon/proxmon/stream"
)

// memLog is a Log in memory that can refuse appends, as a JetStream that
// is full or away does.
type memLog struct {
	mu       sync.Mutex
	refuse   int // appends of fixes still to fail
	fixes    []proxmon.Fix
	beats    int
	rejected []string // reasons
}

var errFull = errors.New("log full")

func (l *memLog) Append(r *proxmon.Record, done func(error)) error {
	l.mu.Lock()
	var err error
	switch {
	case r.Kind == proxmon.RecordHeartbeat:
		l.beats++
	case l.refuse > 0:
		l.refuse--
		err = errFull
	default:
		l.fixes = append(l.fixes, r.Fix)
	}
	l.mu.Unlock()
	go done(err) // completions come later, from elsewhere
	return nil
}

func (l *memLog) Reject(reason, _, _ string, _ []byte, done func(error)) error {
	l.mu.Lock()
	l.rejected = append(l.rejected, reason)
	l.mu.Unlock()
	go done(nil)
	return nil
}

func (l *memLog) snapshot() (fixes []proxmon.Fix, beats int, rejected []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]proxmon.Fix(nil), l.fixes...), l.beats, append([]string(nil), l.rejected...)
}

// startBroker starts an embedded NATS server with its MQTT listener on a
// free loopback port; unacknowledged QoS 1 messages come again after ackWait.
func startBroker(t *testing.T, ackWait time.Duration) *natsd.Server {
	t.Helper()
	srv, err := natsd.Start(natsd.Options{Dir: t.TempDir(), MQTTListen: "127.0.0.1:0", MQTTAckWait: ackWait})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

func runSubscriber(t *testing.T, log ingest.Log, o ingest.Options) (stop func()) {
	t.Helper()
	sub := ingest.NewSubscriber(log, o)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- sub.Run(ctx) }()
	select {
	case <-sub.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("ingest not subscribed within 10 s")
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func mustPublish(t *testing.T, broker string, msgs map[string][]byte) {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("test-device"))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	for topic, payload := range msgs {
		if tok := c.Publish(topic, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func fixAt(dev string, seq uint64) proxmon.Fix {
	return proxmon.Fix{Device: dev, Seq: seq, Time: time.Now().UTC().Truncate(time.Millisecond),
		Lat: 51.92, Lon: 4.47, AccuracyM: 5, Source: proxmon.SourceGNSS}
}

// A fix the log failed to store is not acknowledged: the broker delivers it
// again and it is stored then. Nothing the broker accepted is lost.
func TestSubscriberAcksOnlyStored(t *testing.T) {
	srv := startBroker(t, 300*time.Millisecond)
	log := &memLog{refuse: 1}
	runSubscriber(t, log, ingest.Options{Broker: srv.MQTTURL(), HeartbeatEvery: -1})
	f := fixAt("tag-1", 1)
	mustPublish(t, srv.MQTTURL(), map[string][]byte{ingest.TopicPrefix + "tag-1/fix": ingest.EncodeFix(f)})
	waitUntil(t, "the fix stored after its redelivery", func() bool {
		fixes, _, _ := log.snapshot()
		return len(fixes) == 1
	})
	fixes, _, _ := log.snapshot()
	if got := fixes[0]; got.Device != f.Device || got.Seq != f.Seq || !got.Time.Equal(f.Time) {
		t.Errorf("stored %+v, want %+v", got, f)
	}
}

// Ingest's persistent session keeps the devices' fixes while ingest is
// away; they arrive when it is back.
func TestSubscriberSessionKeepsFixesWhileAway(t *testing.T) {
	srv := startBroker(t, 0)
	o := ingest.Options{Broker: srv.MQTTURL(), ClientID: "ingest-test", HeartbeatEvery: -1}
	if err := ingest.Subscribe(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	mustPublish(t, srv.MQTTURL(), map[string][]byte{
		ingest.TopicPrefix + "tag-1/fix":   ingest.EncodeFix(fixAt("tag-1", 1)),
		ingest.TopicPrefix + "phone-1/fix": ingest.EncodeFix(fixAt("phone-1", 1)),
	})
	log := &memLog{}
	runSubscriber(t, log, o)
	waitUntil(t, "both fixes kept by the session", func() bool {
		fixes, _, _ := log.snapshot()
		return len(fixes) == 2
	})
}

// Unknown devices and bad payloads are rejected with their reason;
// heartbeats flow while connected.
func TestSubscriberRejectsAndBeats(t *testing.T) {
	srv := startBroker(t, 0)
	log := &memLog{}
	runSubscriber(t, log, ingest.Options{Broker: srv.MQTTURL(), HeartbeatEvery: 20 * time.Millisecond,
		Known: func(d string) bool { return d == "tag-1" }})
	mustPublish(t, srv.MQTTURL(), map[string][]byte{
		ingest.TopicPrefix + "tag-2/fix":    ingest.EncodeFix(fixAt("tag-2", 1)),
		ingest.TopicPrefix + "tag-1/status": {0xff},
	})
	waitUntil(t, "two rejections and heartbeats", func() bool {
		_, beats, rejected := log.snapshot()
		return len(rejected) == 2 && beats >= 2
	})
	_, _, rejected := log.snapshot()
	for _, want := range []string{"unknown_device", "undecodable"} {
		found := false
		for _, r := range rejected {
			found = found || r == want
		}
		if !found {
			t.Errorf("no rejection %s in %v", want, rejected)
		}
	}
}

// Each device's fixes reach FIXES in the order the broker delivered them,
// however fast they come and however many devices send at once: a fix
// stored after a later one of its device would count as late. A malformed
// message among them is rejected without holding anything back.
func TestSubscriberKeepsEachDevicesOrder(t *testing.T) {
	devices, n := 4, 400
	if testing.Short() {
		n = 150
	}
	srv, _, js := natsdtest.MustJetStream(t, natsd.Options{MQTTListen: "127.0.0.1:0"})
	if err := stream.Setup(t.Context(), js, stream.Config{}); err != nil {
		t.Fatal(err)
	}
	log := stream.NewLog(js, nil)
	t.Cleanup(func() { _ = log.Close(context.Background()) })
	runSubscriber(t, log, ingest.Options{Broker: srv.MQTTURL(), HeartbeatEvery: -1})

	// Every device its own connection, all sending at once, each without
	// waiting for the broker between fixes.
	var wg sync.WaitGroup
	for d := range devices {
		dev := fmt.Sprintf("tag-%d", d)
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(srv.MQTTURL()).SetClientID(dev))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("connect %s: %v", dev, tok.Error())
		}
		t.Cleanup(func() { c.Disconnect(100) })
		wg.Go(func() {
			toks := make([]mqtt.Token, 0, n+1)
			for seq := 1; seq <= n; seq++ {
				toks = append(toks, c.Publish(ingest.TopicPrefix+dev+"/fix", 1, false, ingest.EncodeFix(fixAt(dev, uint64(seq)))))
				if d == 0 && seq == n/2 {
					toks = append(toks, c.Publish(ingest.TopicPrefix+dev+"/fix", 1, false, []byte{0xff}))
				}
			}
			for _, tok := range toks {
				if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
					t.Errorf("publish as %s: %v", dev, tok.Error())
					return
				}
			}
		})
	}
	wg.Wait()

	want := uint64(devices * n)
	waitUntil(t, "every fix in FIXES", func() bool { return msgsIn(t, js, stream.Fixes) >= want })
	last := map[string]uint64{}
	var stored, misplaced uint64
	err := stream.NewArchive(js).ScanFixes(t.Context(), "", time.Time{}, time.Time{}, func(seq uint64, f *proxmon.Fix) error {
		stored++
		if f.Seq != last[f.Device]+1 {
			if misplaced++; misplaced == 1 {
				t.Errorf("FIXES #%d: %s fix %d after its fix %d", seq, f.Device, f.Seq, last[f.Device])
			}
		}
		last[f.Device] = f.Seq
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if misplaced > 0 || stored != want {
		t.Errorf("%d fixes stored, %d out of their device's order; want %d, none", stored, misplaced, want)
	}
	waitUntil(t, "the malformed message in REJECTED", func() bool { return msgsIn(t, js, stream.Rejected) == 1 })
}

// msgsIn returns how many messages the stream holds.
func msgsIn(t *testing.T, js jetstream.JetStream, name string) uint64 {
	t.Helper()
	st, err := js.Stream(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}
