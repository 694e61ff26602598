package proxmon

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/proxmon/proxmon/geo"
)

// EventType names what happened.
type EventType string

// Event types (DESIGN.md "Event types and severity").
const (
	ContactBreach  EventType = "contact_breach"
	ContactWarning EventType = "contact_warning"
	ZoneBreach     EventType = "zone_breach"
	ZoneApproach   EventType = "zone_approach"
	CurfewBreach   EventType = "curfew_breach"
	LateZoneBreach EventType = "late_zone_breach"
	SignalLost     EventType = "signal_lost"
	GPSLost        EventType = "gps_lost"
	Tamper         EventType = "tamper"
	Jamming        EventType = "jamming"
	BatteryLow     EventType = "battery_low"
	GPSAnomaly     EventType = "gps_anomaly"
	IngestDown     EventType = "ingest_down"
	NetworkOutage  EventType = "network_outage"
	CaseSuspended  EventType = "case_suspended"
	Escalation     EventType = "escalation"
	Pattern        EventType = "pattern"
)

// Phase says whether an event opens or closes a condition, or stands alone.
type Phase string

// Phases.
const (
	PhaseOpen  Phase = "open"
	PhaseClose Phase = "close"
	PhasePoint Phase = "point"
)

// Severity orders events by urgency.
type Severity string

// Severities.
const (
	SeverityCritical Severity = "critical"
	SeverityHigh     Severity = "high"
	SeverityInfo     Severity = "info"
)

// Certainty says how sure a threshold decision is, given the accuracy of the
// fixes involved.
type Certainty string

// Certainties, from most to least certain.
const (
	Confirmed Certainty = "confirmed" // holds even at the far edge of the uncertainty
	Probable  Certainty = "probable"  // holds at the measured position
	Possible  Certainty = "possible"  // holds within the uncertainty only
)

// SystemCase is the case of events about the system rather than a case.
const SystemCase = "_system"

// Rule prefixes that, with an id, name the rule an event belongs to.
const (
	RuleContact = "contact:" // + protected device
	RuleZone    = "zone:"    // + zone id
	RuleDevice  = "device:"  // + device id
	RuleSystem  = "system"   // ingest_down, network_outage
	RuleCase    = "case"     // the case as a whole: case_suspended
	RuleAlert   = "alert:"   // + alert id: escalations
)

// Event is something the engine (or the monitoring centre) raised. Fields
// tagged audience:"centre" reveal where a protected person is or was and are
// for the monitoring centre only: OffenderView removes them.
type Event struct {
	ID        string    `json:"id"`
	OpenID    string    `json:"open_id,omitempty"`
	Type      EventType `json:"type"`
	Phase     Phase     `json:"phase"`
	Severity  Severity  `json:"severity"`
	Case      string    `json:"case"`
	Time      time.Time `json:"time"`
	Device    string    `json:"device,omitempty"`
	Protected string    `json:"protected,omitempty" audience:"centre"`
	Zone      string    `json:"zone,omitempty"`
	// DistanceM is the measured distance d (contact) or the signed distance
	// s to the zone boundary (zones).
	DistanceM *float64  `json:"distance_m,omitempty" audience:"centre"`
	Certainty Certainty `json:"certainty,omitempty"`
	// Position is the device's position the event was decided on.
	Position *geo.Point `json:"position,omitempty"`
	// ProtectedPosition is the protected person's position for a contact
	// event.
	ProtectedPosition *geo.Point `json:"protected_position,omitempty" audience:"centre"`
	// Devices lists the devices a network_outage covers.
	Devices []string `json:"devices,omitempty"`
	Drill   bool     `json:"drill,omitempty"`
	// Alert is the id of the alert an escalation is about, and Level its
	// count: the n-th deadline the alert passed unacknowledged.
	Alert string `json:"alert,omitempty"`
	Level int    `json:"level,omitempty"`
	// Incidents are the ids of the openings a pattern is made of.
	Incidents []string `json:"incidents,omitempty"`
}

// OffenderView returns the event without the fields meant for the
// monitoring centre only: what may reach a tag or anything its wearer sees.
func (e Event) OffenderView() Event {
	e.Protected = ""
	e.DistanceM = nil
	e.ProtectedPosition = nil
	return e
}

// Rule returns the rule the event belongs to, as used in its id.
func (e *Event) Rule() string {
	switch {
	case e.Alert != "":
		return RuleAlert + e.Alert
	case e.Type == CaseSuspended:
		return RuleCase
	case e.Protected != "":
		return RuleContact + e.Protected
	case e.Zone != "":
		return RuleZone + e.Zone
	case e.Device != "":
		return RuleDevice + e.Device
	default:
		return RuleSystem
	}
}

// Trigger names the log record that caused an event; it is part of the
// event's id, so a replay of the same log yields the same ids.
type Trigger struct {
	Kind   string // "fix", "status", "tick", "heartbeat"
	Device string // fix and status
	Seq    uint64 // fix
	Time   time.Time
}

// AppendTo appends the trigger's canonical form, e.g.
// "fix:tag-17:12:2026-03-01T10:00:00Z".
func (t Trigger) AppendTo(b []byte) []byte {
	b = append(b, t.Kind...)
	b = append(b, ':')
	if t.Device != "" {
		b = append(b, t.Device...)
		b = append(b, ':')
	}
	if t.Kind == "fix" {
		b = strconv.AppendUint(b, t.Seq, 10)
		b = append(b, ':')
	}
	return t.Time.UTC().AppendFormat(b, time.RFC3339Nano)
}

// String returns the trigger's canonical form.
func (t Trigger) String() string { return string(t.AppendTo(nil)) }

// EventID returns the id of an event: hex of the first 16 bytes of SHA-256
// over the NUL-joined case, rule, type, phase and trigger.
func EventID(caseID, rule string, typ EventType, phase Phase, trigger Trigger) string {
	var buf [256]byte
	b := buf[:0]
	for _, s := range [...]string{caseID, rule, string(typ), string(phase)} {
		b = append(b, s...)
		b = append(b, 0)
	}
	b = trigger.AppendTo(b)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// CompareEvents orders the events caused by one record: by case, rule, type
// and phase.
func CompareEvents(a, b *Event) int {
	if c := strings.Compare(a.Case, b.Case); c != 0 {
		return c
	}
	if c := strings.Compare(a.Rule(), b.Rule()); c != 0 {
		return c
	}
	if c := strings.Compare(string(a.Type), string(b.Type)); c != 0 {
		return c
	}
	return strings.Compare(string(a.Phase), string(b.Phase))
}
