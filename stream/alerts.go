package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/centre"
)

// ErrChanged is returned by AlertStore.Act when another action on the same
// alert was stored first: the caller should look again.
var ErrChanged = centre.ErrChanged

// AlertStore is the centre's alert state: a centre.Book that follows
// EVENTS and ACKS, and the writer of acknowledgements and closures (to
// ACKS), of the centre's events (escalations, patterns: to EVENTS) and of
// audit entries (to AUDIT). Safe for concurrent use.
type AlertStore struct {
	js  jetstream.JetStream
	log *slog.Logger
	now func() time.Time

	mu    sync.RWMutex
	book  *centre.Book
	ready chan struct{}
}

// OpenAlertStore loads EVENTS and ACKS into a book made with o and keeps
// following them until ctx ends. It returns once the book holds every
// record the streams had when it was called.
func OpenAlertStore(ctx context.Context, js jetstream.JetStream, o centre.Options, log *slog.Logger) (*AlertStore, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &AlertStore{js: js, log: log, now: time.Now, book: centre.NewBook(o), ready: make(chan struct{})}
	var targets [2]uint64
	for i, name := range []string{Events, Acks} {
		st, err := js.Stream(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("alerts: stream %s: %w", name, err)
		}
		targets[i] = st.CachedInfo().State.LastSeq
	}
	evDone, ackDone := make(chan struct{}), make(chan struct{})
	if err := s.follow(ctx, Events, targets[0], evDone, s.applyEvent); err != nil {
		return nil, err
	}
	if err := s.follow(ctx, Acks, targets[1], ackDone, s.applyAction); err != nil {
		return nil, err
	}
	for _, ch := range []chan struct{}{evDone, ackDone} {
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	close(s.ready)
	return s, nil
}

// follow reads stream name from its start until ctx ends, closing caught
// once the record target (its last at the start) is applied.
func (s *AlertStore) follow(ctx context.Context, name string, target uint64, caught chan struct{}, apply func(jetstream.Msg, *jetstream.MsgMetadata)) error {
	cons, err := s.js.OrderedConsumer(ctx, name, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return fmt.Errorf("alerts: consumer on %s: %w", name, err)
	}
	if target == 0 {
		close(caught)
		caught = nil
	}
	go func() {
		it, err := cons.Messages()
		if err != nil {
			s.log.Error("alerts: read failed", "stream", name, "err", err)
			return
		}
		go func() { <-ctx.Done(); it.Stop() }()
		for {
			m, err := it.Next()
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					s.log.Error("alerts: read failed", "stream", name, "err", err)
				}
				return
			}
			md, err := m.Metadata()
			if err != nil {
				continue
			}
			apply(m, md)
			if caught != nil && md.Sequence.Stream >= target {
				close(caught)
				caught = nil
			}
		}
	}()
	return nil
}

func (s *AlertStore) applyEvent(m jetstream.Msg, md *jetstream.MsgMetadata) {
	var ev proxmon.Event
	if err := json.Unmarshal(m.Data(), &ev); err != nil {
		s.log.Warn("alerts: bad event skipped", "seq", md.Sequence.Stream, "err", err)
		return
	}
	s.mu.Lock()
	s.book.ApplyEvent(ev, md.Sequence.Stream, md.Timestamp)
	s.mu.Unlock()
}

func (s *AlertStore) applyAction(m jetstream.Msg, md *jetstream.MsgMetadata) {
	var a centre.Action
	if err := json.Unmarshal(m.Data(), &a); err != nil {
		s.log.Warn("alerts: bad action skipped", "seq", md.Sequence.Stream, "err", err)
		return
	}
	a.Seq, a.Time = md.Sequence.Stream, md.Timestamp
	s.mu.Lock()
	s.book.ApplyAction(a)
	s.mu.Unlock()
}

// View calls f with the book, read-only, under the store's lock.
func (s *AlertStore) View(f func(*centre.Book)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f(s.book)
}

// Act checks act against the alert's state and stores it in ACKS, unless
// another action on that alert was stored since the book last saw one
// (ErrChanged). It returns the action as stored.
func (s *AlertStore) Act(ctx context.Context, act centre.Action) (centre.Action, error) {
	if !proxmon.ValidID(act.Alert) {
		return act, centre.ErrNotFound
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.book.Check(&act); err != nil {
		return act, err
	}
	act.Time, act.Seq = s.now().UTC(), 0
	data, err := json.Marshal(act)
	if err != nil {
		return act, err
	}
	m := nats.NewMsg(subjAck + act.Alert)
	m.Data = data
	ack, err := s.js.PublishMsg(ctx, m, jetstream.WithExpectLastSequencePerSubject(s.book.LastActionSeq(act.Alert)))
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			return act, ErrChanged
		}
		return act, fmt.Errorf("store %s of alert %s: %w", act.Kind, act.Alert, err)
	}
	act.Seq = ack.Sequence
	s.book.ApplyAction(act) // the follower brings the stored time; same sequence, applied once
	return act, nil
}

// Raise stores a centre event (escalation, pattern) in EVENTS with its id
// as Nats-Msg-Id; it carries no input sequence, so the engine steps over
// it (see eventPublisher.since).
func (s *AlertStore) Raise(ctx context.Context, ev *proxmon.Event) (dup bool, err error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return false, err
	}
	m := nats.NewMsg(EventSubject(ev))
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, ev.ID)
	ack, err := s.js.PublishMsg(ctx, m)
	if err != nil {
		return false, fmt.Errorf("raise %s %s: %w", ev.Type, ev.ID, err)
	}
	return ack.Duplicate, nil
}

// Audit appends an entry to AUDIT under its actor.
func (s *AlertStore) Audit(ctx context.Context, e centre.AuditEntry) error {
	if e.Time.IsZero() {
		e.Time = s.now().UTC()
	}
	if !proxmon.ValidID(e.Actor) {
		e.Actor = centre.Anonymous
	}
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := s.js.Publish(ctx, subjAudit+e.Actor, data); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// AuditEntries returns the audit entries of AUDIT; see AuditEntries.
func (s *AlertStore) AuditEntries(ctx context.Context, since time.Time, keep func(*centre.AuditEntry) bool, limit int) ([]centre.AuditEntry, error) {
	return AuditEntries(ctx, s.js, since, keep, limit)
}

// AuditEntries returns the audit entries stored since since, oldest first,
// those for which keep returns true, at most limit of the newest.
func AuditEntries(ctx context.Context, js jetstream.JetStream, since time.Time, keep func(*centre.AuditEntry) bool, limit int) ([]centre.AuditEntry, error) {
	st, err := js.Stream(ctx, Audit)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	last := st.CachedInfo().State.LastSeq
	if last == 0 {
		return nil, nil
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if !since.IsZero() {
		cfg = jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &since}
	}
	cons, err := js.OrderedConsumer(ctx, Audit, cfg)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	var out []centre.AuditEntry
	for {
		batch, err := cons.Fetch(256, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				continue
			}
			var e centre.AuditEntry
			if json.Unmarshal(m.Data(), &e) == nil && (keep == nil || keep(&e)) {
				out = append(out, e)
			}
			if md.Sequence.Stream >= last || md.NumPending == 0 {
				if limit > 0 && len(out) > limit {
					out = out[len(out)-limit:]
				}
				return out, nil
			}
		}
		if n == 0 {
			return out, batch.Error()
		}
	}
}

// DispatchPrefix starts the name of every dispatch terminal's durable
// consumer on EVENTS.
const DispatchPrefix = "dispatch-"

// TickAge returns how long ago FIXES stored the engine's last tick; false
// when it holds none.
func TickAge(ctx context.Context, js jetstream.JetStream, now time.Time) (time.Duration, bool, error) {
	st, err := js.Stream(ctx, Fixes)
	if err != nil {
		return 0, false, err
	}
	m, err := st.GetLastMsgForSubject(ctx, subjTick+Partition)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return now.Sub(m.Time), true, nil
}

// Terminals is what the dispatch terminals' consumers on EVENTS say.
type Terminals struct {
	// Connected counts the terminals connected now: their consumers have
	// a pull waiting.
	Connected int
	// Behind is how many events the most up-to-date connected terminal
	// has still to show: above 0 for long, the centre sees alerts late.
	Behind uint64
}

// DispatchTerminals reads the dispatch terminals' consumers on EVENTS.
func DispatchTerminals(ctx context.Context, js jetstream.JetStream) (Terminals, error) {
	var t Terminals
	st, err := js.Stream(ctx, Events)
	if err != nil {
		return t, err
	}
	lister := st.ListConsumers(ctx)
	for info := range lister.Info() {
		if !strings.HasPrefix(info.Name, DispatchPrefix) || len(info.Name) == len(DispatchPrefix) || info.NumWaiting == 0 {
			continue
		}
		behind := info.NumPending + uint64(info.NumAckPending)
		if t.Connected == 0 || behind < t.Behind {
			t.Behind = behind
		}
		t.Connected++
	}
	return t, lister.Err()
}
