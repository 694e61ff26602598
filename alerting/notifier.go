// Package alerting acts on the engine's events: it warns protected
// persons' devices, puts them into pursuit mode, and sends commands to
// tags, over MQTT.
//
// Invariants:
//   - Nothing is lost: events come from a durable JetStream consumer on
//     EVENTS, in order, one at a time, and an event is acknowledged only
//     after the broker acknowledged (PUBACK, QoS 1) every message it calls
//     for. A restart sends again at most what was not acknowledged;
//     devices take a message twice without harm (warnings carry the event
//     id, commands an id the device executes once).
//   - Warnings carry a level, the band of the ban's threshold, the event
//     id and an expiry; never a distance, a position or a direction.
//     Warnings and pursuit commands in force are renewed before they
//     expire, so a device that stops hearing from proxmon lets them lapse
//     instead of showing them as current.
//   - Nothing sent to a tag reveals a protected person: see Notices.
package alerting

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
)

// The EVENTS stream (DESIGN.md "NATS") and the event types alerting acts
// on; its subjects are proxmon.event.{severity}.{case}.{type}.
const eventsStream = "EVENTS"

var eventFilters = []string{
	"proxmon.event.*.*." + string(proxmon.ContactBreach),
	"proxmon.event.*.*." + string(proxmon.ContactWarning),
	"proxmon.event.*.*." + string(proxmon.SignalLost),
	"proxmon.event.*.*." + string(proxmon.GPSLost),
	"proxmon.event.*.*." + string(proxmon.ZoneApproach),
}

// Defaults.
const (
	DefaultClientID = "proxmon-alerting-0"
	DefaultConsumer = "alerting-devices"
)

// Options configures a Notifier.
type Options struct {
	// Broker is the MQTT broker's URL, e.g. tcp://127.0.0.1:1883.
	Broker string
	// ClientID identifies alerting's persistent session, in which paho
	// keeps what the broker has not acknowledged; one process per id.
	ClientID           string
	Username, Password string
	// TLSConfig is used with a tls:// (ssl://, mqtts://) broker URL.
	TLSConfig *tls.Config
	// Consumer is the durable consumer's name on EVENTS.
	Consumer string
	Timing
	// StaleAfter: an event stored longer ago than this when alerting takes
	// it is absorbed (see Notices.Absorb); default 2 min.
	StaleAfter time.Duration
	// PublishTimeout is how long a publish waits for its PUBACK before it
	// counts as failing (it keeps waiting, and keeps its event from being
	// redelivered meanwhile); default 10 s.
	PublishTimeout time.Duration
	// Now is the clock of expiries; default time.Now.
	Now     func() time.Time
	Metrics *Metrics
	Log     *slog.Logger
}

func (o *Options) ensureDefaults() {
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.Consumer == "" {
		o.Consumer = DefaultConsumer
	}
	o.Timing.ensureDefaults()
	if o.StaleAfter == 0 {
		o.StaleAfter = 2 * time.Minute
	}
	if o.PublishTimeout == 0 {
		o.PublishTimeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// ackWait is the consumer's AckWait; a publish that waits longer tells the
// server it is still in progress.
const ackWait = 30 * time.Second

// Notifier is the alerting role: it takes events from EVENTS and sends
// what Notices decides to the devices.
type Notifier struct {
	js      jetstream.JetStream
	o       Options
	log     *slog.Logger
	notices *Notices
	client  mqtt.Client
	ready   chan struct{}
}

// NewNotifier returns the alerting role reading EVENTS through js and
// looking up cases in cases.
func NewNotifier(js jetstream.JetStream, cases Cases, o Options) *Notifier {
	o.ensureDefaults()
	return &Notifier{js: js, o: o, log: o.Log.With("client_id", o.ClientID),
		notices: NewNotices(cases, o.Timing), ready: make(chan struct{})}
}

// Ready is closed once the notifier has restored its state and takes
// events.
func (n *Notifier) Ready() <-chan struct{} { return n.ready }

// Run takes events until ctx ends, then returns nil; an event being sent
// then is left to the next run.
func (n *Notifier) Run(ctx context.Context) error {
	opts := mqtt.NewClientOptions().
		AddBroker(n.o.Broker).
		SetClientID(n.o.ClientID).
		SetUsername(n.o.Username).
		SetPassword(n.o.Password).
		SetTLSConfig(n.o.TLSConfig).
		// A persistent session: paho sends its unacknowledged publishes
		// again after a reconnect (with a clean session it drops them,
		// and their tokens never complete).
		SetCleanSession(false).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(500 * time.Millisecond).
		SetMaxReconnectInterval(5 * time.Second).
		SetKeepAlive(10 * time.Second).
		SetConnectTimeout(5 * time.Second).
		SetOnConnectHandler(func(mqtt.Client) {
			n.log.Info("mqtt connected")
			n.o.Metrics.setConnected(true)
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			n.log.Warn("mqtt connection lost", "err", err)
			n.o.Metrics.setConnected(false)
		})
	n.client = mqtt.NewClient(opts)
	n.client.Connect() // retries in the background; publishes wait for it
	defer func() {
		n.client.Disconnect(250)
		n.o.Metrics.setConnected(false)
	}()

	cons, err := n.js.CreateOrUpdateConsumer(ctx, eventsStream, jetstream.ConsumerConfig{
		Durable:        n.o.Consumer,
		Description:    "proxmon alerting: warnings and commands to devices",
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        ackWait,
		MaxDeliver:     -1, // never give up on an event
		MaxAckPending:  1,  // in order, even across redeliveries
		FilterSubjects: eventFilters,
	})
	if err != nil {
		return fmt.Errorf("alerting: consumer on %s: %w", eventsStream, err)
	}
	if err := n.restore(ctx, cons.CachedInfo().AckFloor.Stream); err != nil {
		return err
	}
	// What the devices were told may have lapsed while alerting was away.
	n.sendAll(ctx, n.notices.Renew(n.o.Now()), nil)
	n.o.Metrics.setActive(n.notices.Active())
	n.o.Metrics.watchPending(func() (uint64, bool) {
		ictx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		info, err := cons.Info(ictx)
		if err != nil {
			return 0, false
		}
		return info.NumPending + uint64(info.NumAckPending), true
	})

	close(n.ready)
	n.log.Info("alerting takes events", "consumer", n.o.Consumer)

	// One pull of one event at a time, from this goroutine: when Run
	// returns no pull is outstanding, so an event given back (Nak) goes
	// to the next run at once rather than to a pull of this one.
	lastRenew := time.Now()
	for {
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(lastRenew) >= n.o.RenewEvery {
			n.sendAll(ctx, n.notices.Renew(n.o.Now()), nil)
			lastRenew = time.Now()
		}
		m, err := cons.Next(jetstream.FetchMaxWait(pullWait))
		if err != nil {
			if errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			if ctx.Err() != nil {
				return nil
			}
			n.log.Warn("reading events", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(pullWait):
			}
			continue
		}
		if err := n.handle(ctx, m); err != nil {
			_ = m.Nak() // for the next run, at once
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// pullWait bounds a pull for the next event, and so how late a renewal or
// the end of Run can be.
const pullWait = 500 * time.Millisecond

// restore rebuilds the open conditions from the events the consumer has
// acknowledged, up to its ack floor: their messages were sent.
func (n *Notifier) restore(ctx context.Context, floor uint64) error {
	if floor == 0 {
		return nil
	}
	oc, err := n.js.OrderedConsumer(ctx, eventsStream, jetstream.OrderedConsumerConfig{FilterSubjects: eventFilters})
	if err != nil {
		return fmt.Errorf("alerting: restore: %w", err)
	}
	it, err := oc.Messages()
	if err != nil {
		return fmt.Errorf("alerting: restore: %w", err)
	}
	defer it.Stop()
	k := 0
	for {
		m, err := it.Next(jetstream.NextMaxWait(5 * time.Second))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// EVENTS lost messages below the floor (purged by hand):
			// go on with what there was.
			n.log.Warn("alerting state restored short of the acknowledged events", "floor", floor, "err", err)
			break
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("alerting: restore: %w", err)
		}
		if md.Sequence.Stream > floor {
			break
		}
		var ev proxmon.Event
		if json.Unmarshal(m.Data(), &ev) == nil && ev.ID != "" {
			n.notices.Apply(&ev, n.o.Now()) // sent before the restart
			k++
		}
		if md.Sequence.Stream == floor || md.NumPending == 0 {
			break
		}
	}
	n.log.Info("alerting state restored", "events", k, "ack_floor", floor, "warnings_active", n.notices.Active())
	return nil
}

// handle sends what the event calls for and acknowledges it once the
// broker acknowledged every message. It returns an error only when ctx
// ended before.
func (n *Notifier) handle(ctx context.Context, m jetstream.Msg) error {
	md, err := m.Metadata()
	if err != nil {
		return fmt.Errorf("alerting: %w", err)
	}
	var ev proxmon.Event
	if err := json.Unmarshal(m.Data(), &ev); err != nil || ev.ID == "" {
		// A bad message is dropped, never a reason to stop warning
		// everyone else.
		n.log.Warn("event dropped", "seq", md.Sequence.Stream, "subject", m.Subject(), "err", err)
		n.o.Metrics.event("dropped")
		if err := m.TermWithReason("undecodable event"); err != nil {
			n.log.Warn("dropped event not terminated; it may come again", "seq", md.Sequence.Stream, "err", err)
		}
		return nil
	}
	now := n.o.Now()
	if now.Sub(md.Timestamp) > n.o.StaleAfter {
		n.notices.Absorb(&ev, now)
	} else {
		if n.notices.Pending() {
			if err := n.sendAll(ctx, n.notices.Flush(now), m); err != nil {
				return err
			}
		}
		if err := n.sendAll(ctx, n.notices.Apply(&ev, now), m); err != nil {
			return err
		}
	}
	if md.NumPending == 0 && n.notices.Pending() { // caught up: the end state of a backlog
		if err := n.sendAll(ctx, n.notices.Flush(now), m); err != nil {
			return err
		}
	}
	// Acknowledge even when ctx just ended: what was sent need not be
	// sent again.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := m.DoubleAck(actx); err != nil {
		n.log.Warn("event acknowledgement not confirmed; it may come again", "id", ev.ID, "err", err)
	}
	n.o.Metrics.event("handled")
	n.o.Metrics.setActive(n.notices.Active())
	return nil
}

// sendAll publishes msgs in order. For an event (m set) each is retried
// until the broker acknowledges it or ctx ends; renewals (m nil) are tried
// once and left to the next renewal.
func (n *Notifier) sendAll(ctx context.Context, msgs []Message, m jetstream.Msg) error {
	for i := range msgs {
		if err := n.send(ctx, &msgs[i], m); err != nil {
			if m != nil {
				return err
			}
			n.log.Warn("renewal not sent", "topic", msgs[i].Topic(), "err", err)
		}
	}
	return nil
}

func (n *Notifier) send(ctx context.Context, msg *Message, m jetstream.Msg) error {
	payload, err := msg.Payload()
	if err != nil {
		return fmt.Errorf("alerting: encode for %s: %w", msg.Topic(), err) // unreachable: our own messages
	}
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		err := n.await(ctx, n.client.Publish(msg.Topic(), 1, false, payload), m)
		if err == nil {
			n.o.Metrics.sent(msg)
			return nil
		}
		n.o.Metrics.failed()
		if ctx.Err() != nil || m == nil {
			return err
		}
		_ = m.InProgress()
		n.log.Warn("publish to device failed; retrying", "topic", msg.Topic(), "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// errNoPuback: the broker did not acknowledge a publish in time.
var errNoPuback = errors.New("no PUBACK")

// await waits for the publish's PUBACK. For an event it waits while the
// connection is down (paho sends the message again once it is back),
// telling JetStream the event is in progress, and gives up after
// PublishTimeout on an open connection, for send to publish again. A
// renewal gives up after PublishTimeout (paho still sends it).
func (n *Notifier) await(ctx context.Context, tok mqtt.Token, m jetstream.Msg) error {
	t := time.NewTicker(min(n.o.PublishTimeout, ackWait/3))
	defer t.Stop()
	for {
		select {
		case <-tok.Done():
			return tok.Error()
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if m == nil || n.client.IsConnectionOpen() {
				return errNoPuback
			}
			_ = m.InProgress()
		}
	}
}
