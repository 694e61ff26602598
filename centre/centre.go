// Package centre holds the monitoring centre's rules: the state of each
// alert, derived from the events the engine (and the centre) raised and
// the operators' acknowledgements and closures; who may do what
// (roles); when an unacknowledged alert escalates; when a pile of small
// incidents becomes a pattern; and the report that shows the deadlines
// were kept.
//
// Invariants: no I/O and no clock. An alert's state is a function of the
// EVENTS and ACKS records applied to a Book, in any interleaving of the two
// streams (an action that arrives before its event waits for it), never
// edited in place: acknowledgements and closures are immutable records.
// Deadlines count from when EVENTS stored the event, so a restart that
// replays both streams reproduces every deadline and every escalation id.
package centre

import (
	"errors"
	"time"

	"github.com/proxmon/proxmon"
)

// Sentinel errors of the centre's rules.
var (
	ErrNotFound       = errors.New("no such alert")
	ErrReasonRequired = errors.New("a reason is required")
	ErrNoteRequired   = errors.New("a note is required")
	ErrEngineOpen     = errors.New("the engine still has this condition open")
	ErrClosed         = errors.New("the alert is closed")
	ErrForbidden      = errors.New("not allowed for this role")
	// ErrChanged: another action on the alert was stored first; look again.
	ErrChanged = errors.New("the alert changed meanwhile")
)

// Kind of an operator's action on an alert.
type Kind string

// Kinds of action.
const (
	KindAck   Kind = "ack"
	KindClose Kind = "close"
)

// Action is one record of the ACKS stream (proxmon.ack.{alert id}): an
// operator acknowledged or closed an alert. Immutable once stored.
type Action struct {
	Alert  string `json:"alert"`
	Kind   Kind   `json:"kind"`
	Actor  string `json:"actor"`
	Role   Role   `json:"role"`
	Note   string `json:"note,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Force: a supervisor closed an alert the engine still has open, one
	// it will never close itself (device retired, case ended).
	Force bool      `json:"force,omitempty"`
	Time  time.Time `json:"time"` // when ACKS stored it
	Seq   uint64    `json:"seq"`  // its ACKS sequence
}

// AuditEntry is one record of the AUDIT stream (proxmon.audit.{actor}):
// a read of location data or a change, allowed or refused.
type AuditEntry struct {
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Role   Role      `json:"role,omitempty"`
	Action string    `json:"action"` // e.g. "alerts.read", "alerts.ack"
	Method string    `json:"method"`
	Path   string    `json:"path"`
	Case   string    `json:"case,omitempty"`
	Alert  string    `json:"alert,omitempty"`
	Reason string    `json:"reason,omitempty"` // the X-Reason header, if given
	Status int       `json:"status"`
	// Revision is the CASES bucket revision a change of the case made:
	// the bucket keeps no author, this entry does.
	Revision uint64 `json:"revision,omitempty"`

	// Devices are the devices whose location data the answer gave (a
	// track, who passed a place).
	Devices []string `json:"devices,omitempty"`
}

// Anonymous is the actor of a request without a valid token.
const Anonymous = "_anonymous"

// EngineState says where the engine stands on an alert's condition.
type EngineState string

// Engine states.
const (
	EngineOpen   EngineState = "open"   // the condition holds (or is not known to have ended)
	EngineClosed EngineState = "closed" // the engine closed it
	EnginePoint  EngineState = "point"  // a point event: nothing to close
)

// State of an alert at the centre.
type State string

// States.
const (
	StateNew          State = "new"          // nobody acknowledged it yet
	StateAcknowledged State = "acknowledged" // someone did; not closed
	StateClosed       State = "closed"       // closed by the centre
)

// Alert is an event that opened a condition (or a point event) and what
// the centre did about it.
type Alert struct {
	Event  proxmon.Event `json:"event"`
	Stored time.Time     `json:"stored"` // when EVENTS stored it: deadlines count from here
	Seq    uint64        `json:"seq"`    // its EVENTS sequence
	Engine EngineState   `json:"engine"`
	// EngineClose is the engine's close event, once it came.
	EngineClose *proxmon.Event `json:"engine_close,omitempty"`
	State       State          `json:"state"`
	Acks        []Action       `json:"acks,omitempty"`
	Closure     *Action        `json:"closure,omitempty"`
	// Escalations is how many escalation events EVENTS holds for it.
	Escalations int `json:"escalations,omitempty"`
	// Deadline is when the next escalation is due, while one can be.
	Deadline *time.Time `json:"deadline,omitempty"`
}

// Open reports whether the centre has not closed the alert.
func (a *Alert) Open() bool { return a.Closure == nil }

// AckTime returns the time of the first acknowledgement (a closure counts
// as one).
func (a *Alert) AckTime() (time.Time, bool) {
	if len(a.Acks) > 0 {
		return a.Acks[0].Time, true
	}
	if a.Closure != nil {
		return a.Closure.Time, true
	}
	return time.Time{}, false
}

func (a *Alert) state() State {
	switch {
	case a.Closure != nil:
		return StateClosed
	case len(a.Acks) > 0:
		return StateAcknowledged
	}
	return StateNew
}

// IsAlert reports whether an event starts an alert: every opening or
// point event, but not the centre's escalations (they are about an alert).
func IsAlert(ev *proxmon.Event) bool {
	return ev.Phase != proxmon.PhaseClose && ev.Type != proxmon.Escalation
}

// SeverityRank orders severities, most urgent first.
func SeverityRank(s proxmon.Severity) int {
	switch s {
	case proxmon.SeverityCritical:
		return 0
	case proxmon.SeverityHigh:
		return 1
	case proxmon.SeverityInfo:
		return 2
	}
	return 3
}
