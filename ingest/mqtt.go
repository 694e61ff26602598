package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/proxmon/proxmon"
)

// Topics (DESIGN.md "MQTT").
const (
	TopicPrefix  = "proxmon/v1/devices/"
	FixFilter    = TopicPrefix + "+/fix"
	StatusFilter = TopicPrefix + "+/status"
)

// Log is where ingest puts what the devices send: the FIXES stream and,
// for what it rejects, the REJECTED stream. Both calls return without
// waiting for the store; done is called once, with nil when the log has
// stored the message (or already held it), else with the error. Only then
// does ingest acknowledge the message to the broker. Ingest calls them one
// message at a time, in the broker's order, and the log must store the
// appends in the order of the calls.
type Log interface {
	Append(r *proxmon.Record, done func(error)) error
	Reject(reason, topic, detail string, payload []byte, done func(error)) error
}

// Options configures a Subscriber.
type Options struct {
	// Broker is the MQTT broker's URL, e.g. tcp://127.0.0.1:1883.
	Broker string
	// ClientID identifies ingest's persistent session; it must be stable
	// across restarts, or the broker forgets what it kept for ingest.
	ClientID           string
	Username, Password string
	// TLSConfig is used with a tls:// (ssl://, mqtts://) broker URL.
	TLSConfig *tls.Config
	// Known reports whether a device is in a case in force; nil accepts
	// every device.
	Known func(device string) bool
	// HeartbeatEvery is how often a heartbeat record goes into the log
	// while the MQTT connection is up; default 1 s, negative: never.
	HeartbeatEvery time.Duration
	// Now is the receipt clock, against which device times are checked;
	// default time.Now.
	Now func() time.Time
	// Metrics, when set, counts what ingest receives, rejects and stores.
	Metrics *Metrics
	Log     *slog.Logger
}

// DefaultClientID is ingest's client id unless configured otherwise.
const DefaultClientID = "proxmon-ingest-0"

func (o *Options) ensureDefaults() {
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.HeartbeatEvery == 0 {
		o.HeartbeatEvery = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// clientOptions returns paho's options for ingest's persistent session:
// QoS 1 messages that arrive while ingest is away are kept by the broker
// for it, and acknowledged only once the log holds them.
func (o *Options) clientOptions() *mqtt.ClientOptions {
	return mqtt.NewClientOptions().
		AddBroker(o.Broker).
		SetClientID(o.ClientID).
		SetUsername(o.Username).
		SetPassword(o.Password).
		SetTLSConfig(o.TLSConfig).
		SetCleanSession(false).
		SetAutoAckDisabled(true).
		// Handlers run one at a time, in the order the broker delivered
		// the messages, so each device's records go to the log in that
		// order: a fix appended after a later one of its device would be
		// late to the engine. A handler only decodes and hands the record
		// to the log, which returns without waiting for the store; the
		// acknowledgement, sent from the log's completion, does not go
		// through the handlers and needs no order. What can hold a
		// handler up is a log with no room for more pending appends (its
		// publisher's bounded stall), and that holds back every device
		// alike: ordered lanes per device would stall together.
		SetOrderMatters(true).
		SetResumeSubs(true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(500 * time.Millisecond).
		SetMaxReconnectInterval(5 * time.Second).
		SetKeepAlive(10 * time.Second).
		SetConnectTimeout(5 * time.Second)
}

// Stats counts what a Subscriber did.
type Stats struct {
	Received, Appended, Rejected, Failed uint64
}

// Subscriber is ingest: it takes the devices' fixes and statuses from the
// MQTT broker, decodes and validates them, appends them to the log, and
// acknowledges each only once the log stored it (or stored its rejection).
type Subscriber struct {
	log Log
	o   Options

	stopped  atomic.Bool    // intake stopped: leave messages to the broker
	inflight sync.WaitGroup // messages handed to the log, not yet reported
	ready    chan struct{}
	once     sync.Once

	received, appended, rejected, failed atomic.Uint64
}

// NewSubscriber returns ingest appending to log.
func NewSubscriber(log Log, o Options) *Subscriber {
	o.ensureDefaults()
	return &Subscriber{log: log, o: o, ready: make(chan struct{})}
}

// Ready is closed once ingest's subscriptions are in place.
func (s *Subscriber) Ready() <-chan struct{} { return s.ready }

// Stats returns the counts so far.
func (s *Subscriber) Stats() Stats {
	return Stats{Received: s.received.Load(), Appended: s.appended.Load(),
		Rejected: s.rejected.Load(), Failed: s.failed.Load()}
}

// Run connects and takes messages until ctx ends. It then stops intake
// (messages not yet handled stay with the broker, unacknowledged, for the
// next session), waits until the log has reported on every message it was
// handed so they are acknowledged, and disconnects.
func (s *Subscriber) Run(ctx context.Context) error {
	log := s.o.Log.With("client_id", s.o.ClientID)
	opts := s.o.clientOptions()
	// Handlers are registered before Connect (here and below): a
	// persistent session delivers what the broker kept right after
	// CONNACK, before any SUBSCRIBE of this connection.
	opts.SetDefaultPublishHandler(s.handle)
	opts.SetOnConnectHandler(func(c mqtt.Client) {
		log.Info("mqtt connected")
		s.o.Metrics.setConnected(true)
		tok := c.SubscribeMultiple(map[string]byte{FixFilter: 1, StatusFilter: 1}, nil)
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			log.Error("mqtt subscribe failed", "err", tok.Error())
			return
		}
		s.once.Do(func() { close(s.ready) })
	})
	opts.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		log.Warn("mqtt connection lost", "err", err)
		s.o.Metrics.setConnected(false)
	})
	c := mqtt.NewClient(opts)
	c.AddRoute(FixFilter, s.handle)
	c.AddRoute(StatusFilter, s.handle)
	c.Connect() // retries in the background until connected
	if s.o.HeartbeatEvery > 0 {
		go s.heartbeat(ctx, c)
	}
	<-ctx.Done()
	s.stopped.Store(true)
	s.inflight.Wait()
	c.Disconnect(250)
	s.o.Metrics.setConnected(false)
	log.Info("ingest stopped", "received", s.received.Load(), "appended", s.appended.Load(),
		"rejected", s.rejected.Load(), "failed", s.failed.Load())
	return nil
}

// heartbeat appends a heartbeat record every HeartbeatEvery while the MQTT
// connection is up: its absence is what the engine's ingest_down reports.
func (s *Subscriber) heartbeat(ctx context.Context, c mqtt.Client) {
	t := time.NewTicker(s.o.HeartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if !c.IsConnectionOpen() || s.stopped.Load() {
				continue
			}
			rec := proxmon.Record{Kind: proxmon.RecordHeartbeat, Time: now.UTC()}
			if err := s.log.Append(&rec, func(err error) {
				s.o.Metrics.storeResult("heartbeat", err)
				if err != nil {
					s.o.Log.Warn("heartbeat not stored", "err", err)
				}
			}); err != nil {
				s.o.Log.Warn("heartbeat not stored", "err", err)
			}
		}
	}
}

// handle turns one MQTT message into a log record or a rejection.
func (s *Subscriber) handle(_ mqtt.Client, m mqtt.Message) {
	if s.stopped.Load() {
		return // not acked: the broker keeps it for the next session
	}
	s.received.Add(1)
	topic := m.Topic()
	kind := "other"
	if _, k, ok := splitTopic(topic); ok {
		kind = k
	}
	s.o.Metrics.receivedOn(kind)
	rec, err := s.decode(topic, m.Payload())
	s.inflight.Add(1)
	if err != nil {
		reason := Reason(err)
		s.o.Metrics.rejectedFor(reason)
		// The error names device and fault, never a coordinate.
		s.o.Log.Info("payload rejected", "topic", topic, "reason", reason, "err", err)
		if perr := s.log.Reject(reason, topic, err.Error(), m.Payload(), func(err error) {
			s.done(m, "rejection", err, &s.rejected)
		}); perr != nil {
			s.done(m, "rejection", perr, &s.rejected)
		}
		return
	}
	if perr := s.log.Append(&rec, func(err error) { s.done(m, kind, err, &s.appended) }); perr != nil {
		s.done(m, kind, perr, &s.appended)
	}
}

// done acknowledges m once the log stored it. On failure it leaves m
// unacknowledged, so the broker delivers it again.
func (s *Subscriber) done(m mqtt.Message, kind string, err error, count *atomic.Uint64) {
	defer s.inflight.Done()
	s.o.Metrics.storeResult(kind, err)
	if err != nil {
		s.failed.Add(1)
		s.o.Log.Warn("log did not store message; left to the broker", "topic", m.Topic(), "err", err)
		return
	}
	count.Add(1)
	m.Ack()
}

// errTopic is the reason of a message on a topic ingest does not serve.
var errTopic = fmt.Errorf("unexpected topic: %w", ErrUndecodable)

// decode decodes and validates the payload received on topic.
func (s *Subscriber) decode(topic string, payload []byte) (proxmon.Record, error) {
	device, kind, ok := splitTopic(topic)
	if !ok {
		return proxmon.Record{}, errTopic
	}
	now := s.o.Now()
	var rec proxmon.Record
	switch kind {
	case "fix":
		f, err := DecodeFix(device, payload)
		if err == nil {
			err = ValidateFix(f, now)
		}
		if err != nil {
			return rec, err
		}
		rec = proxmon.Record{Kind: proxmon.RecordFix, Fix: f}
	default:
		st, err := DecodeStatus(device, payload)
		if err == nil {
			err = ValidateStatus(st, now)
		}
		if err != nil {
			return rec, err
		}
		rec = proxmon.Record{Kind: proxmon.RecordStatus, Status: st}
	}
	if s.o.Known != nil && !s.o.Known(device) {
		return proxmon.Record{}, fmt.Errorf("device %s: %w", device, ErrUnknownDevice)
	}
	return rec, nil
}

// splitTopic splits proxmon/v1/devices/{device}/{fix|status}.
func splitTopic(topic string) (device, kind string, ok bool) {
	rest, ok := strings.CutPrefix(topic, TopicPrefix)
	if !ok {
		return "", "", false
	}
	device, kind, ok = strings.Cut(rest, "/")
	if !ok || (kind != "fix" && kind != "status") {
		return "", "", false
	}
	return device, kind, true
}

// Subscribe creates ingest's persistent session and its subscriptions on
// the broker, then disconnects. The broker keeps, from then on, every QoS 1
// message of the devices for ingest, even before ingest runs: NATS's MQTT
// listener drops QoS 1 messages no session is subscribed to.
func Subscribe(ctx context.Context, o Options) error {
	o.ensureDefaults()
	opts := o.clientOptions().SetConnectRetry(false).SetAutoReconnect(false)
	c := mqtt.NewClient(opts)
	if err := wait(ctx, c.Connect()); err != nil {
		return fmt.Errorf("ingest session: connect %s: %w", o.Broker, err)
	}
	defer c.Disconnect(250)
	if err := wait(ctx, c.SubscribeMultiple(map[string]byte{FixFilter: 1, StatusFilter: 1}, nil)); err != nil {
		return fmt.Errorf("ingest session: subscribe: %w", err)
	}
	return nil
}

func wait(ctx context.Context, t mqtt.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return errors.Join(ctx.Err(), t.Error())
	}
}
