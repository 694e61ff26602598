package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
)

// eventPublisher publishes the engine's events to EVENTS in order.
type eventPublisher struct {
	js jetstream.JetStream
	// lastSeq is EVENTS' last sequence, the expected one of the next
	// publish.
	lastSeq uint64
	// inputSeq is the FIXES sequence of the last event EVENTS holds, and
	// done how many of that record's events it holds: on a restart, those
	// are skipped, whatever the deduplication window.
	inputSeq uint64
	done     int

	// The record whose events are being published, for the metrics.
	metrics *RunnerMetrics
	recKind proxmon.RecordKind
	recTime time.Time
}

// resume reads where EVENTS ends: its last sequence, the input sequence of
// its last event and how many events of that input it holds.
func (r *Runner) resume(ctx context.Context) (*eventPublisher, error) {
	p := &eventPublisher{js: r.js}
	s, err := r.js.Stream(ctx, Events)
	if err != nil {
		return nil, fmt.Errorf("engine: stream %s: %w", Events, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("engine: stream %s: %w", Events, err)
	}
	p.lastSeq = info.State.LastSeq
	for seq := p.lastSeq; seq >= info.State.FirstSeq && seq > 0; seq-- {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // deleted
		}
		if err != nil {
			return nil, fmt.Errorf("engine: read %s %d: %w", Events, seq, err)
		}
		in, err := strconv.ParseUint(m.Header.Get(HeaderInputSeq), 10, 64)
		if err != nil {
			continue // not an engine event
		}
		if p.inputSeq != 0 && in != p.inputSeq {
			break
		}
		p.inputSeq = in
		p.done++
	}
	return p, nil
}

// publish stores the events of the FIXES record seq, skipping those EVENTS
// holds already.
func (p *eventPublisher) publish(ctx context.Context, seq uint64, events []proxmon.Event) error {
	skip := 0
	switch {
	case seq < p.inputSeq:
		return nil
	case seq == p.inputSeq:
		skip = p.done
	}
	for i := skip; i < len(events); i++ {
		if err := p.publishOne(ctx, seq, &events[i]); err != nil {
			return err
		}
	}
	return nil
}

func (p *eventPublisher) publishOne(ctx context.Context, seq uint64, ev *proxmon.Event) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("engine: event %s: %w", ev.ID, err)
	}
	m := nats.NewMsg(EventSubject(ev))
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, ev.ID)
	m.Header.Set(HeaderInputSeq, strconv.FormatUint(seq, 10))
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		ack, err := p.js.PublishMsg(ctx, m, jetstream.WithExpectLastSequence(p.lastSeq))
		if err == nil {
			if !ack.Duplicate {
				p.lastSeq = ack.Sequence
				p.metrics.eventStored(ev, p.recKind, p.recTime)
			}
			return nil
		}
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
			// JetStream checks the expected sequence before duplicates:
			// a retry of a publish whose ack was lost lands here, and is
			// fine if the event is among the messages since. The centre's
			// events (escalations, patterns) are the other writer EVENTS
			// has: they carry no input sequence, and are stepped over.
			last, stored, err := p.since(ctx, ev.ID)
			if err != nil {
				return fmt.Errorf("engine: event %s: %w", ev.ID, err)
			}
			p.lastSeq = last
			if stored {
				return nil
			}
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The broker is unreachable or slow: the event must not be lost,
		// so retry (a stored copy is recognised by its id).
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// since reads EVENTS from after lastSeq to its end: its last sequence, and
// whether the event id is among them. A message from another engine (one
// with an input sequence) is a conflict.
func (p *eventPublisher) since(ctx context.Context, id string) (last uint64, stored bool, err error) {
	s, err := p.js.Stream(ctx, Events)
	if err != nil {
		return p.lastSeq, false, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return p.lastSeq, false, err
	}
	for seq := p.lastSeq + 1; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return p.lastSeq, false, err
		}
		switch {
		case m.Header.Get(jetstream.MsgIDHeader) == id:
			stored = true
		case m.Header.Get(HeaderInputSeq) != "":
			return p.lastSeq, false, fmt.Errorf("%w: message %d", ErrConflict, seq)
		}
	}
	return info.State.LastSeq, stored, nil
}

// EventSubject returns the subject of an event:
// proxmon.event.{severity}.{case}.{type}.
func EventSubject(ev *proxmon.Event) string {
	return subjEvent + string(ev.Severity) + "." + ev.Case + "." + string(ev.Type)
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
