package main

import (
	"crypto/tls"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"google.golang.org/protobuf/proto"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/ingest"
	"github.com/proxmon/proxmon/proto/proxmonv1"
	"github.com/proxmon/proxmon/stream"
)

// externalBroker is how a test reaches an external broker: the flags of
// proxmon serve, and where the devices connect.
type externalBroker struct {
	serveArgs []string
	deviceURL string
	deviceTLS *tls.Config
	restart   func(t *testing.T) time.Time // clean restart; returns when it is back
}

// externalBrokers are the brokers the tests run against: mosquitto with
// the shipped configuration (the embedded NATS server keeps the log), and a
// separate nats-server with JetStream and MQTT (proxmon runs no server).
var externalBrokers = []struct {
	name  string
	start func(t *testing.T) externalBroker
}{
	{"mosquitto", func(t *testing.T) externalBroker {
		m := startMosquitto(t)
		return externalBroker{serveArgs: []string{"--mqtt", m.serviceURL()},
			deviceURL: m.deviceURL(), deviceTLS: m.deviceTLS(), restart: m.restart}
	}},
	{"nats-server", func(t *testing.T) externalBroker {
		n := startNATSServer(t)
		return externalBroker{serveArgs: []string{"--nats", n.natsURL(), "--mqtt", n.mqttURL()},
			deviceURL: n.mqttURL(), restart: n.restart}
	}},
}

// openExternal opens the service in-process as `proxmon serve ARGS` would
// (the roles that take fixes to events), with the test's fast clocks, and waits until ingest has subscribed:
// an external broker keeps QoS 1 messages only for sessions that exist.
func openExternal(t *testing.T, data string, args ...string) *Service {
	t.Helper()
	cfg, err := parseServe(append([]string{"--roles", "ingest,fence", "--data", data, "--nats-listen="}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.TickEvery, cfg.HeartbeatEvery, cfg.SnapshotEvery = 100*time.Millisecond, 100*time.Millisecond, 500*time.Millisecond
	if testing.Verbose() {
		cfg.Log = slogForTest(t)
	}
	s := &Service{cfg: cfg}
	ctx := t.Context()
	if err := s.Open(ctx); err != nil {
		t.Fatalf("open: %v", err)
	}
	select {
	case <-s.sub.Ready():
	case <-time.After(20 * time.Second):
		closeService(t, s)
		t.Fatal("ingest did not subscribe to the external broker within 20 s")
	}
	return s
}

// TestServeExternalBroker runs the service against each external broker:
// devices' fixes become events, the victim's device gets its warning over
// the broker, and ingest's persistent session keeps the fixes sent while
// proxmon is down until it is back.
func TestServeExternalBroker(t *testing.T) {
	for _, b := range externalBrokers {
		t.Run(b.name, func(t *testing.T) {
			br := b.start(t)
			dir := t.TempDir()
			casesFile := filepath.Join(dir, "cases.yaml")
			if err := os.WriteFile(casesFile, []byte(fleetCases), 0o600); err != nil {
				t.Fatal(err)
			}
			data := filepath.Join(dir, "data")
			args := append([]string{"--roles", "ingest,fence,alerting"}, br.serveArgs...)
			s := openExternal(t, data, append(args, "--cases", casesFile)...)
			fl := connectFleet(t, br.deviceURL, br.deviceTLS)
			warnings := make(chan *proxmonv1.Warning, 16)
			tok := fl.clients["phone-a"].Subscribe(ingest.TopicPrefix+"phone-a/warning", 1, func(_ mqtt.Client, m mqtt.Message) {
				w := &proxmonv1.Warning{}
				if err := proto.Unmarshal(m.Payload(), w); err != nil {
					t.Errorf("warning: %v", err)
					return
				}
				warnings <- w
			})
			if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("subscribe to the warning topic: %v", tok.Error())
			}

			base := time.Now().UTC().Add(-5 * time.Minute).Truncate(time.Millisecond)
			at := func(dev string, seq uint64, sec int, northM float64) proxmon.Fix {
				return proxmon.Fix{Device: dev, Seq: seq, Time: base.Add(time.Duration(sec) * time.Second),
					Lat: 51.92 + northM/111_200, Lon: 4.47, AccuracyM: 5, Source: proxmon.SourceGNSS}
			}
			phone := at("phone-a", 1, 0, 0)
			far, warn, breach := at("tag-a", 1, 10, 3000), at("tag-a", 2, 40, 1200), at("tag-a", 3, 60, 400)
			for _, f := range []proxmon.Fix{phone, far, warn, breach} {
				publishStored(t, s, fl.clients[f.Device], f)
			}
			id := func(typ proxmon.EventType, phase proxmon.Phase, f proxmon.Fix) string {
				return proxmon.EventID("case-a", proxmon.RuleContact+"phone-a", typ, phase,
					proxmon.Trigger{Kind: "fix", Device: f.Device, Seq: f.Seq, Time: f.Time})
			}
			want := []string{id(proxmon.ContactWarning, proxmon.PhaseOpen, warn), id(proxmon.ContactBreach, proxmon.PhaseOpen, breach)}
			waitFor(t, "contact_warning and contact_breach in EVENTS", func() bool {
				evs := events(t, s.js)
				return hasEvent(evs, want[0]) && hasEvent(evs, want[1])
			})
			select {
			case w := <-warnings:
				if !slices.Contains(want, w.GetEventId()) {
					t.Errorf("the victim's warning is for event %q, want one of %q", w.GetEventId(), want)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("no warning reached the victim's device through the broker")
			}
			closeService(t, s)

			// proxmon is down; the tag moves away, the phone stays. The
			// broker keeps the fixes for ingest's session. (They come back
			// together, in either order; the closes are the tag's either
			// way.)
			away := at("tag-a", 4, 120, 3000)
			publishFix(t, fl.clients["tag-a"], away)
			publishFix(t, fl.clients["phone-a"], at("phone-a", 2, 130, 0))
			s = openExternal(t, data, args...)
			defer closeService(t, s)
			want = append(want, id(proxmon.ContactBreach, proxmon.PhaseClose, away), id(proxmon.ContactWarning, proxmon.PhaseClose, away))
			waitFor(t, "the fixes sent while proxmon was down, and the closes they cause", func() bool {
				evs := events(t, s.js)
				return hasEvent(evs, want[2]) && hasEvent(evs, want[3])
			})
			got := events(t, s.js)
			replay := evaluateLogOf(t, s.js)
			if len(replay) < len(got) || !slices.Equal(ids(replay[:len(got)]), ids(got)) {
				t.Errorf("EVENTS differs from the replay of FIXES:\nEVENTS:\n%s\nreplay:\n%s",
					strings.Join(ids(got), "\n"), strings.Join(ids(replay), "\n"))
			}
		})
	}
}

// TestBrokerRestart restarts each external broker cleanly while three
// devices stream fixes to it: no fix is lost, and the test reports how long
// ingest took to be back (its first heartbeat in FIXES after the broker
// accepted connections again) and the longest gap between two stored fixes.
func TestBrokerRestart(t *testing.T) {
	for _, b := range externalBrokers {
		t.Run(b.name, func(t *testing.T) {
			br := b.start(t)
			dir := t.TempDir()
			casesFile := filepath.Join(dir, "cases.yaml")
			if err := os.WriteFile(casesFile, []byte(fleetCases), 0o600); err != nil {
				t.Fatal(err)
			}
			s := openExternal(t, filepath.Join(dir, "data"), append(br.serveArgs, "--cases", casesFile)...)
			defer closeService(t, s)
			fl := connectFleet(t, br.deviceURL, br.deviceTLS)
			fl.stream(3 * time.Millisecond)
			fl.waitPublished(t, 300)
			down := time.Now()
			up := br.restart(t)
			fl.waitPublished(t, fl.published()+300)
			fl.stopStreaming()
			fixes, failed := fl.settle(t, 60*time.Second)

			lr := &logReader{js: s.js, name: stream.Fixes, ids: map[string]int{}}
			want := fixIDs(fixes)
			deadline := time.Now().Add(30 * time.Second)
			for {
				lr.poll(t)
				missing, n := missingFrom(want, lr.has())
				if n == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d published fixes are not in FIXES, e.g. %s", n, len(want), strings.Join(missing, " "))
				}
				time.Sleep(50 * time.Millisecond)
			}
			for id, n := range lr.ids {
				if n > 1 {
					t.Errorf("%s stored %d times", id, n)
				}
			}
			// Ingest's first heartbeat after the restart may come after
			// the backlog: wait for it too.
			var beat time.Time
			waitFor(t, "ingest's first heartbeat after the restart", func() bool {
				lr.poll(t)
				for _, m := range lr.msgs {
					if strings.HasPrefix(m.Subject, "proxmon.heartbeat.") && m.Time.After(up) {
						beat = m.Time
						return true
					}
				}
				return false
			})
			var gap time.Duration
			var prevFix time.Time
			for _, m := range lr.msgs {
				if strings.HasPrefix(m.Subject, "proxmon.fix.") {
					if !prevFix.IsZero() {
						gap = max(gap, m.Time.Sub(prevFix))
					}
					prevFix = m.Time
				}
			}
			t.Logf("%s restart: broker away %s; ingest back (first heartbeat) %s after the broker was; longest gap between stored fixes %s; %d fixes, all stored once (paho reported %d as failed and re-sent them)",
				b.name, fmtDur(up.Sub(down)), fmtDur(beat.Sub(up)), fmtDur(gap), len(fixes), failed)
		})
	}
}
