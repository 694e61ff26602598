package stream

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
)

// ErrClosed is returned by a Log after Close.
var ErrClosed = errors.New("log closed")

// Log appends records to FIXES and rejected payloads to REJECTED. Appends
// are asynchronous: the caller learns in done whether JetStream stored the
// message, which is when ingest may acknowledge it to the MQTT broker.
// A Log is safe for concurrent use.
type Log struct {
	js  jetstream.JetStream
	log *slog.Logger

	mu      sync.RWMutex
	closed  bool
	pending chan pendingAck
	done    chan struct{}
}

type pendingAck struct {
	fut  jetstream.PubAckFuture
	done func(error)
}

// maxPending bounds the appends awaiting JetStream's acknowledgement; more
// block the caller, which holds back MQTT acknowledgements in turn.
const maxPending = 4096

// NewLog returns a Log that publishes with js. Close it to wait for the
// outstanding appends.
func NewLog(js jetstream.JetStream, log *slog.Logger) *Log {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Log{js: js, log: log, pending: make(chan pendingAck, maxPending), done: make(chan struct{})}
	go l.complete()
	return l
}

// complete reports the outcome of each append, in the order of the appends
// (JetStream acknowledges a connection's publishes in order too).
func (l *Log) complete() {
	defer close(l.done)
	for p := range l.pending {
		select {
		case <-p.fut.Ok():
			p.done(nil)
		case err := <-p.fut.Err():
			p.done(storeError(err)) // ErrFull when JetStream has no room
		}
	}
}

// Append stores r in FIXES; done is called once, with nil when JetStream
// has stored it (or already had it: a duplicate), or with the error.
func (l *Log) Append(r *proxmon.Record, done func(error)) error {
	m, err := recordMsg(r)
	if err != nil {
		return fmt.Errorf("append record: %w", err)
	}
	return l.publish(m, done)
}

// Reject stores a rejected payload in REJECTED under its reason, with the
// MQTT topic, the reason and the error (which names no coordinate) in
// headers. Its Nats-Msg-Id is a hash of topic and payload, so a redelivery
// is stored once.
func (l *Log) Reject(reason, topic, detail string, payload []byte, done func(error)) error {
	if !proxmon.ValidID(reason) {
		reason = "other"
	}
	m := nats.NewMsg(subjRejected + reason)
	m.Data = payload
	m.Header.Set(HeaderTopic, topic)
	m.Header.Set(HeaderReason, reason)
	m.Header.Set(HeaderError, detail)
	h := sha256.New()
	h.Write([]byte(topic))
	h.Write([]byte{0})
	h.Write(payload)
	m.Header.Set(jetstream.MsgIDHeader, "rejected:"+hex.EncodeToString(h.Sum(nil)[:16]))
	return l.publish(m, done)
}

func (l *Log) publish(m *nats.Msg, done func(error)) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	fut, err := l.js.PublishMsgAsync(m)
	if err != nil {
		return fmt.Errorf("publish to %s: %w", m.Subject, err)
	}
	l.pending <- pendingAck{fut: fut, done: done}
	return nil
}

// AppendSync stores r in FIXES and returns its sequence.
func AppendSync(ctx context.Context, js jetstream.JetStream, r *proxmon.Record) (uint64, error) {
	m, err := recordMsg(r)
	if err != nil {
		return 0, fmt.Errorf("append record: %w", err)
	}
	ack, err := js.PublishMsg(ctx, m)
	if err != nil {
		return 0, fmt.Errorf("append record to %s: %w", m.Subject, err)
	}
	return ack.Sequence, nil
}

// Close refuses further appends and waits until every outstanding one is
// reported (or ctx ends).
func (l *Log) Close(ctx context.Context) error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.pending)
	}
	l.mu.Unlock()
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
