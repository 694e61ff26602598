package alerting_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/alerting"
	"github.com/proxmon/proxmon/natsd"
	"github.com/proxmon/proxmon/natsd/natsdtest"
	"github.com/proxmon/proxmon/proto/proxmonv1"
	"github.com/proxmon/proxmon/stream"
)

// env is an embedded NATS server with JetStream, EVENTS and an MQTT
// listener.
type env struct {
	srv *natsd.Server
	js  jetstream.JetStream
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv, _, js := natsdtest.MustJetStream(t, natsd.Options{Dir: t.TempDir(), MQTTListen: "127.0.0.1:0"})
	if err := stream.Setup(t.Context(), js, stream.Config{}); err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, js: js}
}

// store puts an event into EVENTS as the engine does.
func (e *env) store(t *testing.T, ev proxmon.Event) {
	t.Helper()
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(stream.EventSubject(&ev))
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, ev.ID)
	if _, err := e.js.PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}
}

func (e *env) consumer(t *testing.T) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := e.js.Consumer(t.Context(), "EVENTS", alerting.DefaultConsumer)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// run runs a notifier until the returned stop is called.
func run(t *testing.T, js jetstream.JetStream, broker string) (stop func()) {
	t.Helper()
	n := alerting.NewNotifier(js, book{}, alerting.Options{Broker: broker, PublishTimeout: 2 * time.Second})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	select {
	case <-n.Ready():
	case err := <-done:
		t.Fatalf("notifier stopped: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("notifier not ready")
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

// phone is a protected person's device subscribed to its topics.
type phone struct {
	mu   sync.Mutex
	msgs []string // rendered
	ids  []string // warnings' event ids
}

func newPhone(t *testing.T, broker, id string) *phone {
	t.Helper()
	p := &phone{}
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID(id))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("phone connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	tok := c.Subscribe(alerting.TopicPrefix+id+"/+", 1, func(_ mqtt.Client, m mqtt.Message) {
		var s string
		var evID string
		if strings.HasSuffix(m.Topic(), "/warning") {
			var w proxmonv1.Warning
			if err := proto.Unmarshal(m.Payload(), &w); err != nil {
				t.Errorf("warning: %v", err)
				return
			}
			s, evID = fmt.Sprintf("warning %s within=%d", w.GetLevel(), w.GetWithinM()), w.GetEventId()
		} else {
			var c proxmonv1.Command
			if err := proto.Unmarshal(m.Payload(), &c); err != nil {
				t.Errorf("command: %v", err)
				return
			}
			s = fmt.Sprintf("report every %ds", c.GetSetReportInterval().GetIntervalS())
		}
		p.mu.Lock()
		p.msgs, p.ids = append(p.msgs, s), append(p.ids, evID)
		p.mu.Unlock()
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("phone subscribe: %v", tok.Error())
	}
	return p
}

func (p *phone) got() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.msgs...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func contains(msgs []string, want string) bool {
	for _, m := range msgs {
		if m == want {
			return true
		}
	}
	return false
}

// The notifier warns over MQTT and acknowledges an event only once the
// broker acknowledged its messages: without a broker the event stays
// pending, and the next notifier sends it. A restart restores what was open
// and sends nothing acknowledged again but the renewal of what is in force.
func TestNotifier(t *testing.T) {
	e := newEnv(t)
	p := newPhone(t, e.srv.MQTTURL(), "phone-1")
	now := time.Now().UTC()
	open := ev(proxmon.ContactWarning, proxmon.PhaseOpen, "case-1", "tag-1", "phone-1", 0)
	open.Time = now

	// No broker listens: the warning cannot be sent, the event stays
	// unacknowledged.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nowhere := "tcp://" + ln.Addr().String()
	ln.Close()
	stop := run(t, e.js, nowhere)
	e.store(t, open)
	waitFor(t, "the event delivered to the notifier", func() bool { return e.consumer(t).Delivered.Stream == 1 })
	if info := e.consumer(t); info.AckFloor.Stream != 0 || info.NumAckPending != 1 {
		t.Fatalf("event acknowledged without a broker: ack floor %d, pending %d", info.AckFloor.Stream, info.NumAckPending)
	}
	stop()

	stop = run(t, e.js, e.srv.MQTTURL())
	want := []string{"warning WARNING_LEVEL_CAUTION within=1500", "report every 15s"}
	waitFor(t, "the warning and the pursuit command", func() bool { return len(p.got()) >= 2 })
	if got := p.got(); got[0] != want[0] || got[1] != want[1] {
		t.Errorf("phone got %q, want %q first", got, want)
	}
	waitFor(t, "the event acknowledged", func() bool { return e.consumer(t).AckFloor.Stream == 1 })
	stop()

	// Restart: the open warning is renewed, not re-sent as an event; the
	// close that came meanwhile clears it.
	before := len(p.got())
	close := ev(proxmon.ContactWarning, proxmon.PhaseClose, "case-1", "tag-1", "phone-1", time.Second)
	close.Time = now.Add(time.Second)
	e.store(t, close)
	run(t, e.js, e.srv.MQTTURL())
	waitFor(t, "all clear", func() bool { return contains(p.got(), "warning WARNING_LEVEL_ALL_CLEAR within=0") })
	waitFor(t, "the close acknowledged", func() bool { return e.consumer(t).AckFloor.Stream == 2 })
	got := p.got()[before:]
	want = []string{"warning WARNING_LEVEL_CAUTION within=1500", "report every 15s", // renewal
		"warning WARNING_LEVEL_ALL_CLEAR within=0", "report every 60s"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("after the restart the phone got\n%s\nwant\n%s\nall: %q", strings.Join(got, "\n"), strings.Join(want, "\n"), p.got())
	}
	p.mu.Lock()
	ids := p.ids[before:]
	p.mu.Unlock()
	if ids[0] != open.ID || ids[2] != close.ID {
		t.Errorf("event ids %q: want the open's on the renewal, the close's on all clear", ids)
	}
}

// A backlog of old events (alerting away for a while, a first start on a
// long history) is not replayed to the devices one by one: each gets the
// state it ends in, once.
func TestNotifierBacklog(t *testing.T) {
	e := newEnv(t)
	p := newPhone(t, e.srv.MQTTURL(), "phone-1")
	for i, typ := range []proxmon.EventType{proxmon.ContactBreach, proxmon.ContactWarning} {
		e.store(t, ev(typ, proxmon.PhaseOpen, "case-1", "tag-1", "phone-1", time.Duration(i)*time.Second))
	}
	for i, typ := range []proxmon.EventType{proxmon.ContactBreach, proxmon.ContactWarning} {
		e.store(t, ev(typ, proxmon.PhaseClose, "case-1", "tag-1", "phone-1", time.Duration(10+i)*time.Second))
	}
	e.store(t, ev(proxmon.ContactWarning, proxmon.PhaseOpen, "case-1", "tag-1", "phone-1", 20*time.Second))
	n := alerting.NewNotifier(e.js, book{}, alerting.Options{Broker: e.srv.MQTTURL(), StaleAfter: time.Nanosecond})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	<-n.Ready()
	waitFor(t, "the backlog acknowledged", func() bool { return e.consumer(t).AckFloor.Stream == 5 })
	waitFor(t, "the end state", func() bool { return len(p.got()) >= 2 })
	want := []string{"warning WARNING_LEVEL_CAUTION within=1500", "report every 15s"}
	if got := p.got(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("phone got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
