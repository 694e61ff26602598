package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/ingest"
	"github.com/proxmon/proxmon/stream"
)

// serveCases gives each device an MQTT secret (deviceSecrets), hashed at
// bcrypt's lowest cost to keep the tests fast.
const serveCases = `devices:
  - {id: tag-1, kind: tag, report_interval_s: 600, mqtt_password_bcrypt: "$2a$04$TUQTzDiZafIoLbEk27rR7e0QSVuWBqipxAEqaGF2BMvZtAViHRsSC"}
  - {id: phone-1, kind: victim, report_interval_s: 600, mqtt_password_bcrypt: "$2a$04$YdYNR3HjIvckni5bwnP47.3BVBteAskEtXkoswWLtiHoOixeUOLi6"}
cases:
  - id: case-1
    risk: high
    offender: tag-1
    contact_bans:
      - {protected: phone-1, alert_m: 500, warn_m: 1500}
`

// victim is where the protected person stays; the tag approaches from the
// north (a degree of latitude is about 111.2 km).
var victim = proxmon.Fix{Device: "phone-1", Lat: 51.92, Lon: 4.47, AccuracyM: 5, Source: proxmon.SourceGNSS}

func tagAt(seq uint64, t time.Time, northM float64) proxmon.Fix {
	return proxmon.Fix{Device: "tag-1", Seq: seq, Time: t, Lat: victim.Lat + northM/111_200, Lon: victim.Lon,
		AccuracyM: 5, Source: proxmon.SourceGNSS}
}

// startService opens the service on dir with free ports and fast clocks.
func startService(t *testing.T, dir, cases string) *Service {
	t.Helper()
	return startServiceWith(t, dir, cases, nil)
}

// startServiceWith is startService with the configuration changed by with,
// when it is not nil.
func startServiceWith(t *testing.T, dir, cases string, with func(*serveConfig)) *Service {
	t.Helper()
	s := &Service{cfg: &serveConfig{
		Data: dir, MQTTListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0",
		Roles: availableRoles, Cases: cases, ClientID: ingest.DefaultClientID,
		TickEvery: 100 * time.Millisecond, HeartbeatEvery: 100 * time.Millisecond,
		SnapshotEvery: 500 * time.Millisecond,
	}}
	if with != nil {
		with(s.cfg)
	}
	if testing.Verbose() {
		s.cfg.Log = slogForTest(t)
	}
	if err := s.cfg.validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

func closeService(t *testing.T, s *Service) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// deviceSecrets are the MQTT secrets of serveCases' devices.
var deviceSecrets = map[string]string{"tag-1": "tag-1-secret-0123456789", "phone-1": "phone-1-secret-0123456789"}

// device is a real MQTT client, as a tag or phone is, connected as the
// device id with its secret.
func device(t *testing.T, s *Service, id string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(s.srv.MQTTURL()).
		SetUsername(id).SetPassword(deviceSecrets[id]).
		SetClientID(fmt.Sprintf("dev-%d", time.Now().UnixNano())).SetCleanSession(true))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("device connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// devices connects tag-1 and phone-1; each may publish only its own topics.
func devices(t *testing.T, s *Service) map[string]mqtt.Client {
	t.Helper()
	return map[string]mqtt.Client{"tag-1": device(t, s, "tag-1"), "phone-1": device(t, s, "phone-1")}
}

func publish(t *testing.T, c mqtt.Client, topic string, payload []byte) {
	t.Helper()
	if tok := c.Publish(topic, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

func publishFix(t *testing.T, c mqtt.Client, f proxmon.Fix) {
	t.Helper()
	publish(t, c, ingest.TopicPrefix+f.Device+"/fix", ingest.EncodeFix(f))
}

// publishStored publishes f and waits until the log holds it.
func publishStored(t *testing.T, s *Service, c mqtt.Client, f proxmon.Fix) {
	t.Helper()
	publishFix(t, c, f)
	id := stream.FixMsgID(&f)
	waitFor(t, "fix "+id+" in FIXES", func() bool {
		return slices.ContainsFunc(messages(t, s.js, stream.Fixes), func(m *jetstream.RawStreamMsg) bool {
			return m.Header.Get(jetstream.MsgIDHeader) == id
		})
	})
}

// messages returns every message of a stream, in order.
func messages(t *testing.T, js jetstream.JetStream, name string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := t.Context()
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && seq > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("%s %d: %v", name, seq, err)
		}
		out = append(out, m)
	}
	return out
}

func events(t *testing.T, js jetstream.JetStream) []proxmon.Event {
	t.Helper()
	var evs []proxmon.Event
	for _, m := range messages(t, js, stream.Events) {
		var ev proxmon.Event
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatal(err)
		}
		if m.Header.Get(jetstream.MsgIDHeader) != ev.ID {
			t.Errorf("event %s stored with Nats-Msg-Id %q", ev.ID, m.Header.Get(jetstream.MsgIDHeader))
		}
		if want := stream.EventSubject(&ev); m.Subject != want {
			t.Errorf("event %s on %s, want %s", ev.ID, m.Subject, want)
		}
		evs = append(evs, ev)
	}
	return evs
}

// waitFor polls cond until it holds or 15 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hasEvent(evs []proxmon.Event, id string) bool {
	return slices.ContainsFunc(evs, func(e proxmon.Event) bool { return e.ID == id })
}

// evaluateLogOf runs `proxmon evaluate` on the FIXES log and returns its
// events, as the archive's replay would.
func evaluateLogOf(t *testing.T, js jetstream.JetStream) []proxmon.Event {
	t.Helper()
	return replayEvents(t, messages(t, js, stream.Fixes), math.MaxUint64)
}

func ids(evs []proxmon.Event) []string {
	out := make([]string, len(evs))
	for i := range evs {
		out[i] = evs[i].ID + " " + string(evs[i].Type) + "/" + string(evs[i].Phase)
	}
	return out
}

func contactID(typ proxmon.EventType, phase proxmon.Phase, f proxmon.Fix) string {
	return proxmon.EventID("case-1", proxmon.RuleContact+"phone-1", typ, phase,
		proxmon.Trigger{Kind: "fix", Device: f.Device, Seq: f.Seq, Time: f.Time})
}

// TestServe runs the service end to end: fixes from a real MQTT client
// become the engine's events in EVENTS, bad payloads land in REJECTED with
// their reason, and a restart on the same data directory neither loses nor
// repeats an event.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	casesFile := filepath.Join(dir, "cases.yaml")
	if err := os.WriteFile(casesFile, []byte(serveCases), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startService(t, filepath.Join(dir, "data"), casesFile)
	devs := devices(t, s)

	base := time.Now().UTC().Add(-3 * time.Minute).Truncate(time.Millisecond)
	v := victim
	v.Seq, v.Time = 1, base
	far := tagAt(1, base.Add(10*time.Second), 3000)
	warn := tagAt(2, base.Add(40*time.Second), 1200)
	breach := tagAt(3, base.Add(60*time.Second), 400)
	// One at a time: ingest appends concurrently, so fixes sent together
	// may reach the log in another order, and the events' triggers (and
	// ids) follow the log's order.
	for _, f := range []proxmon.Fix{v, far, warn, breach} {
		publishStored(t, s, devs[f.Device], f)
	}
	publishFix(t, devs["tag-1"], breach) // a redelivery: stored once
	want := []string{
		contactID(proxmon.ContactWarning, proxmon.PhaseOpen, warn),
		contactID(proxmon.ContactBreach, proxmon.PhaseOpen, breach),
	}
	waitFor(t, "contact_warning and contact_breach in EVENTS", func() bool {
		evs := events(t, s.js)
		return hasEvent(evs, want[0]) && hasEvent(evs, want[1])
	})

	t.Run("rejections", func(t *testing.T) {
		good := tagAt(9, time.Now().UTC(), 5000)
		mod := func(fn func(*proxmon.Fix)) []byte { f := good; fn(&f); return ingest.EncodeFix(f) }
		cases := []struct {
			reason, device string
			payload        []byte
		}{
			{"undecodable", "tag-1", []byte{0xff, 0xff, 0xff}},
			{"device_mismatch", "phone-1", ingest.EncodeFix(good)},
			// unknown_device cannot happen here: the embedded broker
			// refuses a device no case uses (natsd's tests).
			{"bad_coordinates", "tag-1", mod(func(f *proxmon.Fix) { f.Lat = 91 })},
			{"zero_position", "tag-1", mod(func(f *proxmon.Fix) { f.Lat, f.Lon = 0, 0 })},
			{"future_time", "tag-1", mod(func(f *proxmon.Fix) { f.Time = f.Time.Add(time.Hour) })},
			{"bad_time", "tag-1", mod(func(f *proxmon.Fix) { f.Time = time.Time{} })},
			{"bad_value", "tag-1", mod(func(f *proxmon.Fix) { f.AccuracyM = -1 })},
		}
		for _, c := range cases {
			publish(t, devs[c.device], ingest.TopicPrefix+c.device+"/fix", c.payload)
		}
		waitFor(t, "a rejection of each kind", func() bool {
			return len(messages(t, s.js, stream.Rejected)) >= len(cases)
		})
		got := map[string]*jetstream.RawStreamMsg{}
		for _, m := range messages(t, s.js, stream.Rejected) {
			got[m.Header.Get(stream.HeaderReason)] = m
		}
		for _, c := range cases {
			m := got[c.reason]
			switch {
			case m == nil:
				t.Errorf("no rejection %s", c.reason)
			case m.Subject != "proxmon.rejected."+c.reason:
				t.Errorf("rejection %s on %s", c.reason, m.Subject)
			case m.Header.Get(stream.HeaderTopic) != ingest.TopicPrefix+c.device+"/fix":
				t.Errorf("rejection %s: topic %q", c.reason, m.Header.Get(stream.HeaderTopic))
			case !bytes.Equal(m.Data, c.payload):
				t.Errorf("rejection %s: payload not kept", c.reason)
			case strings.Contains(m.Header.Get(stream.HeaderError), "91"):
				t.Errorf("rejection %s: error names a coordinate: %s", c.reason, m.Header.Get(stream.HeaderError))
			}
		}
	})

	t.Run("heartbeats", func(t *testing.T) {
		waitFor(t, "heartbeats in FIXES", func() bool {
			n := 0
			for _, m := range messages(t, s.js, stream.Fixes) {
				if m.Subject == "proxmon.heartbeat.0" {
					n++
				}
			}
			return n >= 2
		})
	})

	t.Run("cases apply", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.yaml")
		if err := os.WriteFile(bad, []byte(strings.Replace(serveCases, "alert_m: 500", "alert_m: -5", 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		before := len(messages(t, s.js, stream.Fixes))
		var out, errOut bytes.Buffer
		url := s.srv.ClientURL()
		secret := filepath.Join(dir, "data", "service-secret")
		if code := run(t.Context(), []string{"cases", "apply", "-f", bad, "--nats", url, "--secret-file", secret}, nil, &out, &errOut); code != exitFault {
			t.Fatalf("bad file: exit %d, want %d: %s", code, exitFault, errOut.String())
		}
		if code := run(t.Context(), []string{"cases", "apply", "-f", casesFile, "--nats", url, "--secret-file", secret}, nil, &out, &errOut); code != exitOK {
			t.Fatalf("good file: exit %d: %s", code, errOut.String())
		}
		cases := 0
		for _, m := range messages(t, s.js, stream.Fixes)[before:] {
			if m.Subject == "proxmon.case.0" {
				cases++
			}
		}
		if cases != 1 {
			t.Errorf("%d case records appended, want 1 (and none for the bad file)", cases)
		}
	})

	closeService(t, s)

	// Restart on the same data directory; the tag moves away, which closes
	// both conditions.
	s = startService(t, filepath.Join(dir, "data"), "")
	devs = devices(t, s)
	away := tagAt(4, base.Add(120*time.Second), 3000)
	publishFix(t, devs["tag-1"], breach) // a late redelivery across the restart
	publishFix(t, devs["tag-1"], away)
	want = append(want,
		contactID(proxmon.ContactBreach, proxmon.PhaseClose, away),
		contactID(proxmon.ContactWarning, proxmon.PhaseClose, away))
	waitFor(t, "both conditions closed", func() bool {
		evs := events(t, s.js)
		return hasEvent(evs, want[2]) && hasEvent(evs, want[3])
	})
	closeService(t, s)

	// Read what the service left behind, through a server of our own.
	s = startService(t, filepath.Join(dir, "data"), "")
	defer closeService(t, s)
	got := events(t, s.js)
	seen := map[string]bool{}
	for _, ev := range got {
		if seen[ev.ID] {
			t.Errorf("event %s (%s %s) stored twice", ev.ID, ev.Type, ev.Phase)
		}
		seen[ev.ID] = true
	}
	for _, id := range want {
		if !seen[id] {
			t.Errorf("event %s missing", id)
		}
	}
	// EVENTS holds exactly what a replay of the log computes, in order.
	// (The service started again: its ticks may add to both meanwhile, so
	// compare the replay's prefix that EVENTS had when read.)
	replay := evaluateLogOf(t, s.js)
	if len(replay) < len(got) || !slices.Equal(ids(replay[:len(got)]), ids(got)) {
		t.Errorf("EVENTS differs from the replay of FIXES:\nEVENTS:\n%s\nreplay:\n%s",
			strings.Join(ids(got), "\n"), strings.Join(ids(replay), "\n"))
	}
}

// slogForTest writes the service's log to the test's log.
func slogForTest(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
