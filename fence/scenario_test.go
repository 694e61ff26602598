package fence_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/fence"
	"github.com/proxmon/proxmon/geo"
)

// sceneStart is when a scene's story begins unless it says otherwise: a
// Monday, 10:00 in Amsterdam.
var sceneStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// scene drives one engine through a story told in offsets from its start,
// and checks on every record what DESIGN.md requires of all events, so each
// test only has to state what its rule implies:
//   - an event's time is the time of the record that caused it, and its id
//     is the SHA-256 of case, rule, type, phase and trigger (cases only;
//     DESIGN.md gives system events no rule);
//   - the events of one record are sorted by (case, rule, type, phase);
//   - a condition opens once and closes once, and a close names the event
//     that opened it in open_id;
//   - contact and zone events are about the case's offender, and an event
//     that opens or stands alone has its type's severity.
//
// The expectations in the tests are written from DESIGN.md, not from the
// engine's code.
type scene struct {
	tb       testing.TB
	cf       *proxmon.CaseFile
	e        *fence.Engine
	start    time.Time
	seq      map[string]uint64
	offender map[string]string            // case -> its offender's tag
	open     map[condition]*proxmon.Event // open conditions -> the event that opened them
	ids      map[string]bool
}

// condition is what one open/close pair is about.
type condition struct {
	Case, Rule string
	Type       proxmon.EventType
}

// newScene starts a scene at sceneStart with the cases of a case file given
// as YAML.
func newScene(tb testing.TB, caseFile string) *scene {
	tb.Helper()
	return newSceneAt(tb, sceneStart, caseFile)
}

// newSceneAt starts a scene whose offsets count from start.
func newSceneAt(tb testing.TB, start time.Time, caseFile string) *scene {
	tb.Helper()
	cf, err := proxmon.ParseCaseFile([]byte(caseFile))
	if err != nil {
		tb.Fatalf("case file: %v", err)
	}
	s := &scene{
		tb: tb, cf: cf, e: MustEngine(tb, cf), start: start,
		seq: map[string]uint64{}, offender: map[string]string{},
		open: map[condition]*proxmon.Event{}, ids: map[string]bool{},
	}
	for _, c := range cf.Cases {
		s.offender[c.ID] = c.Offender
	}
	return s
}

// at returns the instant d after the scene's start.
func (s *scene) at(d time.Duration) time.Time { return s.start.Add(d) }

// shape returns the shape of a zone of the case file.
func (s *scene) shape(caseID, zoneID string) *geo.Shape {
	s.tb.Helper()
	for i := range s.cf.Cases {
		for j := range s.cf.Cases[i].Zones {
			if z := &s.cf.Cases[i].Zones[j]; s.cf.Cases[i].ID == caseID && z.ID == zoneID {
				return z.Shape()
			}
		}
	}
	s.tb.Fatalf("no zone %s in case %s", zoneID, caseID)
	return nil
}

// fix feeds the device's next fix (seq counts up per device), taken at
// offset at and received then. acc 0 means no accuracy reported.
func (s *scene) fix(dev string, at time.Duration, p geo.Point, acc float64) []proxmon.Event {
	s.tb.Helper()
	s.seq[dev]++
	return s.fixRecord(proxmon.Fix{Device: dev, Seq: s.seq[dev], Time: s.at(at),
		Lat: p.Lat, Lon: p.Lon, AccuracyM: acc, Source: proxmon.SourceGNSS})
}

// fixRecord feeds a fix exactly as given.
func (s *scene) fixRecord(f proxmon.Fix) []proxmon.Event {
	s.tb.Helper()
	return s.apply(proxmon.Record{Kind: proxmon.RecordFix, Fix: f})
}

// status feeds a status of dev at offset at; fields are the status's other
// NDJSON fields, e.g. `"strap":"open","battery_pct":40`.
func (s *scene) status(dev string, at time.Duration, fields string) []proxmon.Event {
	s.tb.Helper()
	line := fmt.Sprintf(`{"status":{"device":%q,"time":%q`, dev, s.at(at).Format(time.RFC3339Nano))
	if fields != "" {
		line += "," + fields
	}
	return s.line(line + "}}")
}

// tick feeds a tick at offset at.
func (s *scene) tick(at time.Duration) []proxmon.Event {
	s.tb.Helper()
	return s.apply(proxmon.Record{Kind: proxmon.RecordTick, Time: s.at(at)})
}

// heartbeat feeds an ingest heartbeat at offset at.
func (s *scene) heartbeat(at time.Duration) []proxmon.Event {
	s.tb.Helper()
	return s.apply(proxmon.Record{Kind: proxmon.RecordHeartbeat, Time: s.at(at)})
}

// line feeds one record in its NDJSON form.
func (s *scene) line(ndjson string) []proxmon.Event {
	s.tb.Helper()
	r, err := proxmon.ParseRecord([]byte(ndjson))
	if err != nil {
		s.tb.Fatalf("record %s: %v", ndjson, err)
	}
	return s.apply(r)
}

// apply feeds one record to the engine, checks the events it caused and
// returns them.
func (s *scene) apply(r proxmon.Record) []proxmon.Event {
	s.tb.Helper()
	evs, err := s.e.Apply(&r, nil)
	if err != nil {
		s.tb.Fatalf("apply %s: %v", recordName(&r), err)
	}
	if r.Kind == proxmon.RecordCase {
		s.offender[r.Case.ID] = r.Case.Offender
	}
	s.check(&r, evs)
	return evs
}

// check verifies what DESIGN.md requires of every event.
func (s *scene) check(r *proxmon.Record, evs []proxmon.Event) {
	s.tb.Helper()
	name := recordName(r)
	trig, at, ok := triggerOf(r)
	if !ok {
		if len(evs) > 0 {
			s.tb.Errorf("%s: a case record caused events (DESIGN.md gives them no trigger): %v", name, brief(evs))
		}
		return
	}
	for i := range evs {
		ev := &evs[i]
		what := fmt.Sprintf("%s: %s %s %s", name, ev.Case, ev.Type, ev.Phase)
		rule := ruleOf(ev)
		if i > 0 {
			prev := &evs[i-1]
			if k, p := sortKey(ev), sortKey(prev); strings.Compare(k, p) < 0 {
				s.tb.Errorf("%s: events not sorted by (case, rule, type, phase): %q after %q", name, k, p)
			}
		}
		if !ev.Time.Equal(at) {
			s.tb.Errorf("%s: time %s, want the record's time %s", what, ev.Time.Format(time.RFC3339Nano), at.Format(time.RFC3339Nano))
		}
		if ev.Case != proxmon.SystemCase {
			if want := eventID(ev.Case, rule, string(ev.Type), string(ev.Phase), trig); ev.ID != want {
				s.tb.Errorf("%s: id %s, want %s (trigger %s)", what, ev.ID, want, trig)
			}
		} else if ev.ID == "" {
			s.tb.Errorf("%s: no id", what)
		}
		if s.ids[ev.ID] {
			s.tb.Errorf("%s: id %s given twice", what, ev.ID)
		}
		s.ids[ev.ID] = true
		if rule == "" {
			s.tb.Errorf("%s: event lacks the protected device, zone or device of its rule", what)
		}
		switch ev.Type {
		case proxmon.ContactBreach, proxmon.ContactWarning, proxmon.ZoneBreach, proxmon.ZoneApproach,
			proxmon.CurfewBreach, proxmon.LateZoneBreach:
			if off := s.offender[ev.Case]; ev.Device != off {
				s.tb.Errorf("%s: device %q, want the offender %q", what, ev.Device, off)
			}
		}
		if ev.Phase != proxmon.PhaseClose {
			want := severities[ev.Type]
			if ev.Type == proxmon.SignalLost && ev.Severity == proxmon.SeverityCritical {
				want = proxmon.SeverityCritical // a tag whose case has a breach open
			}
			if ev.Severity != want {
				s.tb.Errorf("%s: severity %s, want %s", what, ev.Severity, want)
			}
		}
		k := condition{ev.Case, rule, ev.Type}
		switch ev.Phase {
		case proxmon.PhaseOpen:
			if first := s.open[k]; first != nil {
				s.tb.Errorf("%s: opened again while open since %s", what, first.Time.Format(time.RFC3339Nano))
			}
			s.open[k] = ev
		case proxmon.PhaseClose:
			first := s.open[k]
			switch {
			case first == nil:
				s.tb.Errorf("%s: closes a condition that is not open", what)
			case ev.OpenID != first.ID:
				s.tb.Errorf("%s: open_id %s, want the opening event's id %s", what, ev.OpenID, first.ID)
			}
			delete(s.open, k)
		case proxmon.PhasePoint:
			if ev.Type != proxmon.LateZoneBreach {
				s.tb.Errorf("%s: only late_zone_breach is a point event", what)
			}
		default:
			s.tb.Errorf("%s: unknown phase", what)
		}
	}
}

// severities is DESIGN.md's table "Event types and severity"; signal_lost
// is critical instead for a tag whose case has a breach open.
var severities = map[proxmon.EventType]proxmon.Severity{
	proxmon.ContactBreach:  proxmon.SeverityCritical,
	proxmon.ContactWarning: proxmon.SeverityHigh,
	proxmon.ZoneBreach:     proxmon.SeverityCritical,
	proxmon.ZoneApproach:   proxmon.SeverityInfo,
	proxmon.CurfewBreach:   proxmon.SeverityCritical,
	proxmon.LateZoneBreach: proxmon.SeverityHigh,
	proxmon.SignalLost:     proxmon.SeverityHigh,
	proxmon.GPSLost:        proxmon.SeverityHigh,
	proxmon.Tamper:         proxmon.SeverityCritical,
	proxmon.Jamming:        proxmon.SeverityHigh,
	proxmon.BatteryLow:     proxmon.SeverityInfo,
	proxmon.GPSAnomaly:     proxmon.SeverityInfo,
	proxmon.IngestDown:     proxmon.SeverityCritical,
	proxmon.NetworkOutage:  proxmon.SeverityCritical,
	proxmon.CaseSuspended:  proxmon.SeverityInfo,
}

// ruleOf names an event's rule as DESIGN.md's "Event id" does:
// contact:{protected}, zone:{zone}, device:{device} or case (the case as a
// whole: case_suspended); "system" for system events, which DESIGN.md
// leaves unnamed.
func ruleOf(ev *proxmon.Event) string {
	switch ev.Type {
	case proxmon.ContactBreach, proxmon.ContactWarning:
		if ev.Protected == "" {
			return ""
		}
		return "contact:" + ev.Protected
	case proxmon.ZoneBreach, proxmon.ZoneApproach, proxmon.CurfewBreach, proxmon.LateZoneBreach:
		if ev.Zone == "" {
			return ""
		}
		return "zone:" + ev.Zone
	case proxmon.IngestDown, proxmon.NetworkOutage:
		return "system"
	case proxmon.CaseSuspended:
		return "case"
	}
	if ev.Device == "" {
		return ""
	}
	return "device:" + ev.Device
}

func sortKey(ev *proxmon.Event) string {
	return strings.Join([]string{ev.Case, ruleOf(ev), string(ev.Type), string(ev.Phase)}, "\x00")
}

// eventID computes an event id as DESIGN.md defines it: hex of the first 16
// bytes of SHA-256 over the NUL-joined case, rule, type, phase and trigger.
func eventID(fields ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(fields, "\x00")))
	return hex.EncodeToString(sum[:16])
}

// triggerOf returns the trigger of a record as DESIGN.md writes it, and the
// time its events carry; false for case records, which have none.
func triggerOf(r *proxmon.Record) (string, time.Time, bool) {
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	switch r.Kind {
	case proxmon.RecordFix:
		return fmt.Sprintf("fix:%s:%d:%s", r.Fix.Device, r.Fix.Seq, ts(r.Fix.Time)), r.Fix.Time, true
	case proxmon.RecordStatus:
		return fmt.Sprintf("status:%s:%s", r.Status.Device, ts(r.Status.Time)), r.Status.Time, true
	case proxmon.RecordTick:
		return "tick:" + ts(r.Time), r.Time, true
	case proxmon.RecordHeartbeat:
		return "heartbeat:" + ts(r.Time), r.Time, true
	}
	return "", time.Time{}, false
}

func recordName(r *proxmon.Record) string {
	if trig, _, ok := triggerOf(r); ok {
		return trig
	}
	if r.Kind == proxmon.RecordCase {
		return "case " + r.Case.ID
	}
	return "case_deleted " + r.CaseID
}

// brief renders events for comparison with expectations: "type phase",
// followed by the certainty when there is one.
func brief(evs []proxmon.Event) []string {
	out := make([]string, 0, len(evs))
	for _, ev := range evs {
		s := string(ev.Type) + " " + string(ev.Phase)
		if ev.Certainty != "" {
			s += " " + string(ev.Certainty)
		}
		out = append(out, s)
	}
	return out
}

// briefCase is brief with each event's case first.
func briefCase(evs []proxmon.Event) []string {
	out := brief(evs)
	for i := range out {
		out[i] = evs[i].Case + " " + out[i]
	}
	return out
}

// expect reports when the events, rendered by brief, differ from want.
func expect(tb testing.TB, what string, evs []proxmon.Event, want ...string) {
	tb.Helper()
	expectText(tb, what, brief(evs), want)
}

func expectText(tb testing.TB, what string, got, want []string) {
	tb.Helper()
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		tb.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// ofType returns the events of the given types.
func ofType(evs []proxmon.Event, types ...proxmon.EventType) []proxmon.Event {
	var out []proxmon.Event
	for _, ev := range evs {
		if slices.Contains(types, ev.Type) {
			out = append(out, ev)
		}
	}
	return out
}

// north returns the point m metres (geodesic, WGS84) due north of p, or due
// south for a negative m, to within 0.1 mm: bisection on geo.Distance along
// p's meridian, on which the distance grows with the latitude. Thresholds
// can so be met to the centimetre on either side.
func north(p geo.Point, m float64) geo.Point {
	sign := 1.0
	if m < 0 {
		sign, m = -1, -m
	}
	at := func(dlat float64) geo.Point { return geo.Point{Lat: p.Lat + sign*dlat, Lon: p.Lon} }
	// A degree of latitude is at least 110.5 km long.
	lo, hi := 0.0, m/110_000+1e-9
	for range 200 {
		mid := (lo + hi) / 2
		if mid == lo || mid == hi {
			break
		}
		if geo.Distance(p, at(mid)) < m {
			lo = mid
		} else {
			hi = mid
		}
	}
	q := at((lo + hi) / 2)
	if miss := math.Abs(geo.Distance(p, q) - m); miss > 1e-4 {
		panic(fmt.Sprintf("north(%v, %g): %g m off", p, sign*m, miss))
	}
	return q
}

// cm is a centimetre, the margin by which tests step over a threshold.
const cm = 0.01
