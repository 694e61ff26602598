package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/centre"
)

// Dispatcher hands EVENTS to the monitoring centre's dispatch terminals on
// behalf of the api role, so a person at a terminal reads alerts with an
// API token (authenticated, audited) and never holds NATS credentials.
//
// Each terminal has its own durable consumer on EVENTS, dispatch-{terminal}
// (every terminal sees every event; a shared consumer would split them).
// The terminal's cursor is the EVENTS sequence it confirms it has shown:
// an event is acknowledged on the consumer only once the terminal says it
// showed it, so an answer lost on the way, a restarted terminal or a
// restarted api process delays an event, never drops it. Events handed out
// and not yet confirmed are handed out again, first, at the next call
// (marked redelivered); the terminal shows each event id once.
//
// Safe for concurrent use; calls for one terminal are served one at a
// time.
type Dispatcher struct {
	js  jetstream.JetStream
	log *slog.Logger

	mu    sync.Mutex
	terms map[string]*terminal
}

type terminal struct {
	mu   sync.Mutex
	cons jetstream.Consumer
	held []heldMsg // handed out, not confirmed; in stream order
}

type heldMsg struct {
	m jetstream.Msg
	d centre.Delivery
}

// Consumer settings of a terminal. AckWait only matters when the api
// process that handed an event out is gone: another one gets it again
// after it. A terminal unused for DispatchIdle loses its consumer; when
// it comes back it starts with the events stored from then on, and shows
// the open alerts to catch up.
const (
	dispatchAckWait = time.Minute
	DispatchIdle    = 7 * 24 * time.Hour
)

// NewDispatcher returns a dispatcher on EVENTS.
func NewDispatcher(js jetstream.JetStream, log *slog.Logger) *Dispatcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{js: js, log: log, terms: map[string]*terminal{}}
}

// ErrTerminalID is returned for a terminal id that cannot name a consumer.
var ErrTerminalID = errors.New("terminal id: want 1-64 characters of [A-Za-z0-9_-]")

// Next confirms that the terminal showed every event up to EVENTS
// sequence shown, then returns at most max events it has not confirmed:
// those handed out before first, else new ones, waiting up to wait for the
// first. max 0 only confirms.
func (d *Dispatcher) Next(ctx context.Context, term string, shown uint64, max int, wait time.Duration) ([]centre.Delivery, error) {
	if !proxmon.ValidID(term) {
		return nil, ErrTerminalID
	}
	d.mu.Lock()
	t := d.terms[term]
	if t == nil {
		t = &terminal{}
		d.terms[term] = t
	}
	d.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()

	for len(t.held) > 0 && t.held[0].d.Seq <= shown {
		if err := t.held[0].m.DoubleAck(ctx); err != nil {
			return nil, fmt.Errorf("dispatch %s: confirm event %d: %w", term, t.held[0].d.Seq, err)
		}
		t.held = t.held[1:]
	}
	if max <= 0 {
		return nil, nil
	}
	var out []centre.Delivery
	for _, h := range t.held {
		if len(out) == max {
			return out, nil
		}
		h.d.Redelivered = true
		out = append(out, h.d)
	}
	if len(out) > 0 {
		return out, nil
	}
	if t.cons == nil {
		cons, err := d.js.CreateOrUpdateConsumer(ctx, Events, jetstream.ConsumerConfig{
			Durable:           DispatchPrefix + term,
			Description:       "dispatch terminal " + term,
			DeliverPolicy:     jetstream.DeliverNewPolicy,
			AckPolicy:         jetstream.AckExplicitPolicy,
			AckWait:           dispatchAckWait,
			MaxAckPending:     10_000,
			InactiveThreshold: DispatchIdle,
		})
		if err != nil {
			return nil, fmt.Errorf("dispatch %s: consumer: %w", term, err)
		}
		t.cons = cons
	}
	// What is there now; else wait for one event, then take the burst it
	// may have started.
	got, err := t.fetch(d.log, max, 0)
	if err == nil && got == 0 && wait > 0 {
		if got, err = t.fetch(d.log, 1, wait); err == nil && got > 0 && max > 1 {
			_, err = t.fetch(d.log, max-1, 0)
		}
	}
	if err != nil {
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.cons = nil // removed (idle, by an admin): made again at the next call
		}
		if len(t.held) == 0 {
			return nil, fmt.Errorf("dispatch %s: %w", term, err)
		}
	}
	for _, h := range t.held {
		out = append(out, h.d)
	}
	return out, nil
}

// fetch takes up to n events into held, waiting up to wait (0: only what
// is there now); it returns how many came.
func (t *terminal) fetch(log *slog.Logger, n int, wait time.Duration) (int, error) {
	var batch jetstream.MessageBatch
	var err error
	if wait > 0 {
		batch, err = t.cons.Fetch(n, jetstream.FetchMaxWait(wait))
	} else {
		batch, err = t.cons.FetchNoWait(n)
	}
	if err != nil {
		return 0, err
	}
	got := 0
	for m := range batch.Messages() {
		got++
		md, err := m.Metadata()
		if err != nil {
			continue
		}
		var ev proxmon.Event
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			// Not an event: nothing to show; confirm it so it does not
			// block the terminal.
			log.Warn("dispatch: bad event skipped", "seq", md.Sequence.Stream, "err", err)
			_ = m.Ack()
			continue
		}
		h := heldMsg{m: m, d: centre.Delivery{Event: ev, Seq: md.Sequence.Stream, Stored: md.Timestamp.UTC(), Redelivered: md.NumDelivered > 1}}
		t.hold(h)
	}
	return got, batch.Error()
}

// hold adds h in stream order; a redelivery replaces the copy held.
func (t *terminal) hold(h heldMsg) {
	for i := range t.held {
		switch {
		case t.held[i].d.Seq == h.d.Seq:
			t.held[i] = h
			return
		case t.held[i].d.Seq > h.d.Seq:
			t.held = append(t.held[:i], append([]heldMsg{h}, t.held[i:]...)...)
			return
		}
	}
	t.held = append(t.held, h)
}
