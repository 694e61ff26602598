package centre

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/proxmon/proxmon"
)

// Options configures a Book.
type Options struct {
	Deadlines Deadlines
	// Risk returns a case's risk level, for deadlines by risk; nil: none.
	Risk func(caseID string) proxmon.Risk
	// PatternCount openings of contact_warning or zone_approach within
	// PatternWindow make a pattern; defaults 3 and 7 days.
	PatternCount  int
	PatternWindow time.Duration
}

func (o *Options) ensureDefaults() {
	if o.Deadlines.BySeverity == nil {
		o.Deadlines = DefaultDeadlines()
	}
	if o.Risk == nil {
		o.Risk = func(string) proxmon.Risk { return "" }
	}
	if o.PatternCount == 0 {
		o.PatternCount = 3
	}
	if o.PatternWindow == 0 {
		o.PatternWindow = 7 * 24 * time.Hour
	}
}

// Book is the centre's view of every alert: EVENTS and ACKS folded
// together. Not safe for concurrent use.
type Book struct {
	o      Options
	alerts map[string]*Alert
	order  []*Alert          // by EVENTS sequence
	byOpen map[string]string // engine close: open id -> alert id (same)
	// early holds actions whose alert is not in the book yet.
	early map[string][]Action
	// lastAct is the ACKS sequence of each alert's last action.
	lastAct map[string]uint64
	// Pattern bookkeeping per case: openings of small incidents, and the
	// event time of the case's last pattern.
	approaches  map[string][]*Alert
	lastPattern map[string]time.Time
	eventsSeq   uint64
}

// NewBook returns an empty book.
func NewBook(o Options) *Book {
	o.ensureDefaults()
	return &Book{o: o, alerts: map[string]*Alert{}, byOpen: map[string]string{},
		early: map[string][]Action{}, lastAct: map[string]uint64{},
		approaches: map[string][]*Alert{}, lastPattern: map[string]time.Time{}}
}

// EventsSeq returns the EVENTS sequence of the last event applied.
func (b *Book) EventsSeq() uint64 { return b.eventsSeq }

// ApplyEvent takes the next EVENTS record: its sequence and when it was
// stored. Records already applied (by sequence) change nothing.
func (b *Book) ApplyEvent(ev proxmon.Event, seq uint64, stored time.Time) {
	if seq <= b.eventsSeq {
		return
	}
	b.eventsSeq = seq
	switch {
	case ev.Type == proxmon.Escalation:
		if a := b.alerts[ev.Alert]; a != nil && ev.Level > a.Escalations {
			a.Escalations = ev.Level
		}
	case ev.Phase == proxmon.PhaseClose:
		if a := b.alerts[ev.OpenID]; a != nil && a.Engine == EngineOpen {
			a.Engine = EngineClosed
			c := ev
			a.EngineClose = &c
		}
	default:
		if _, dup := b.alerts[ev.ID]; dup {
			return
		}
		a := &Alert{Event: ev, Seq: seq, Stored: stored, Engine: EngineOpen, State: StateNew}
		if ev.Phase == proxmon.PhasePoint {
			a.Engine = EnginePoint
		}
		b.alerts[ev.ID] = a
		b.order = append(b.order, a)
		for _, act := range b.early[ev.ID] {
			b.apply(a, act)
		}
		delete(b.early, ev.ID)
		switch ev.Type {
		case proxmon.ContactWarning, proxmon.ZoneApproach:
			b.approaches[ev.Case] = append(b.approaches[ev.Case], a)
		case proxmon.Pattern:
			if ev.Time.After(b.lastPattern[ev.Case]) {
				b.lastPattern[ev.Case] = ev.Time
			}
		}
	}
}

// ApplyAction takes an ACKS record. Records already applied (by sequence)
// change nothing.
func (b *Book) ApplyAction(act Action) {
	if act.Seq != 0 && act.Seq <= b.lastAct[act.Alert] {
		return
	}
	b.lastAct[act.Alert] = act.Seq
	a := b.alerts[act.Alert]
	if a == nil {
		b.early[act.Alert] = append(b.early[act.Alert], act)
		return
	}
	b.apply(a, act)
}

func (b *Book) apply(a *Alert, act Action) {
	switch act.Kind {
	case KindAck:
		a.Acks = append(a.Acks, act)
	case KindClose:
		if a.Closure == nil {
			c := act
			a.Closure = &c
		}
	}
	a.State = a.state()
}

// LastActionSeq returns the ACKS sequence of the alert's last action (0:
// none), for a writer's expected-last-subject-sequence check.
func (b *Book) LastActionSeq(id string) uint64 { return b.lastAct[id] }

// Check says whether act may be stored now: the alert exists and is not
// closed, the role may do it, a close has a reason, and a close of a
// condition the engine still holds is a supervisor's forced close.
func (b *Book) Check(act *Action) error {
	a := b.alerts[act.Alert]
	if a == nil {
		return ErrNotFound
	}
	if a.Closure != nil {
		return ErrClosed
	}
	switch act.Kind {
	case KindAck:
		if !act.Role.Can(AckAlerts) {
			return ErrForbidden
		}
	case KindClose:
		if !act.Role.Can(CloseAlerts) {
			return ErrForbidden
		}
		if act.Reason == "" {
			return ErrReasonRequired
		}
		if a.Engine == EngineOpen {
			if !act.Force {
				return fmt.Errorf("%w: it closes by itself when the condition ends; a supervisor may close one the engine never will (force)", ErrEngineOpen)
			}
			if !act.Role.Can(ForceClose) {
				return fmt.Errorf("%w: only a supervisor may close it (force)", ErrForbidden)
			}
		}
		act.Force = act.Force && a.Engine == EngineOpen
	default:
		return fmt.Errorf("unknown action %q", act.Kind)
	}
	return nil
}

// Get returns a copy of the alert, with its next deadline as of now.
func (b *Book) Get(id string, now time.Time) (Alert, bool) {
	a := b.alerts[id]
	if a == nil {
		return Alert{}, false
	}
	return b.view(a, now), true
}

func (b *Book) view(a *Alert, now time.Time) Alert {
	v := *a
	v.Acks = slices.Clone(a.Acks)
	if due, ok := b.nextDeadline(a, now); ok {
		v.Deadline = &due
	}
	return v
}

// Filter selects alerts; zero values select all.
type Filter struct {
	Open     bool // only those the centre has not closed
	Case     string
	Cases    func(string) bool // only these cases (a case manager's own)
	Severity proxmon.Severity
	Since    time.Time // stored at or after
	Limit    int       // the newest this many; 0: all
}

// List returns the alerts f selects, in EVENTS order.
func (b *Book) List(f Filter, now time.Time) []Alert {
	var out []Alert
	for _, a := range b.order {
		switch {
		case f.Open && !a.Open(),
			f.Case != "" && a.Event.Case != f.Case,
			f.Cases != nil && !f.Cases(a.Event.Case),
			f.Severity != "" && a.Event.Severity != f.Severity,
			!f.Since.IsZero() && a.Stored.Before(f.Since):
			continue
		}
		out = append(out, b.view(a, now))
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[len(out)-f.Limit:]
	}
	return out
}

// SortBySeverity sorts alerts most urgent first, then oldest first.
func SortBySeverity(alerts []Alert) {
	slices.SortStableFunc(alerts, func(x, y Alert) int {
		if c := cmp.Compare(SeverityRank(x.Event.Severity), SeverityRank(y.Event.Severity)); c != 0 {
			return c
		}
		return x.Stored.Compare(y.Stored)
	})
}

// deadline returns the alert's acknowledgement deadline, if it has one.
func (b *Book) deadline(a *Alert) (time.Duration, bool) {
	return b.o.Deadlines.For(a.Event.Severity, b.o.Risk(a.Event.Case))
}

// nextDeadline is when the alert escalates next, while unacknowledged.
func (b *Book) nextDeadline(a *Alert, now time.Time) (time.Time, bool) {
	d, ok := b.deadline(a)
	if !ok || a.State != StateNew {
		return time.Time{}, false
	}
	n := max(a.Escalations, int(now.Sub(a.Stored)/d))
	return a.Stored.Add(time.Duration(n+1) * d), true
}

// DueEscalations returns the escalation events due at now: one for every
// unacknowledged alert whose deadline passed since its last escalation
// (after an outage, only the latest level: a burst helps nobody).
func (b *Book) DueEscalations(now time.Time) []proxmon.Event {
	var out []proxmon.Event
	for _, a := range b.order {
		if a.State != StateNew {
			continue
		}
		d, ok := b.deadline(a)
		if !ok {
			continue
		}
		level := int(now.Sub(a.Stored) / d)
		if level <= a.Escalations {
			continue
		}
		out = append(out, EscalationEvent(&a.Event, level, a.Stored.Add(time.Duration(level)*d)))
	}
	return out
}

// EscalationEvent is the level-th escalation of alert ev, due at due. Its
// id depends only on the alert and the deadline, so a restart raises the
// same one again and JetStream's deduplication keeps one copy.
func EscalationEvent(ev *proxmon.Event, level int, due time.Time) proxmon.Event {
	due = due.UTC()
	e := proxmon.Event{Type: proxmon.Escalation, Phase: proxmon.PhasePoint,
		Severity: proxmon.SeverityCritical, Case: ev.Case, Time: due, Device: ev.Device,
		Zone: ev.Zone, Alert: ev.ID, Level: level, Drill: ev.Drill}
	e.ID = proxmon.EventID(e.Case, e.Rule(), e.Type, e.Phase, proxmon.Trigger{Kind: "deadline", Time: due})
	return e
}

// DuePatterns returns the pattern events due: for a case, PatternCount
// openings of contact_warning or zone_approach within PatternWindow, all
// after its last pattern. The pattern's time is the last opening's.
func (b *Book) DuePatterns() []proxmon.Event {
	var out []proxmon.Event
	for _, c := range sortedKeys(b.approaches) {
		opens := b.approaches[c]
		last := opens[len(opens)-1]
		from := last.Event.Time.Add(-b.o.PatternWindow)
		if lp, ok := b.lastPattern[c]; ok && !lp.Before(from) {
			from = lp
		}
		var ids []string
		drill := true
		for _, a := range opens {
			if a.Event.Time.After(from) {
				ids = append(ids, a.Event.ID)
				drill = drill && a.Event.Drill
			}
		}
		if len(ids) < b.o.PatternCount {
			continue
		}
		e := proxmon.Event{Type: proxmon.Pattern, Phase: proxmon.PhasePoint, Severity: proxmon.SeverityHigh,
			Case: c, Time: last.Event.Time.UTC(), Device: last.Event.Device, Incidents: ids, Drill: drill}
		e.ID = proxmon.EventID(c, e.Rule(), e.Type, e.Phase, proxmon.Trigger{Kind: "event", Device: last.Event.ID, Time: e.Time})
		out = append(out, e)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
