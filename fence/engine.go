// Package fence is proxmon's geofence engine: it turns the log of fixes,
// statuses, ticks, heartbeats and case records into events, following
// DESIGN.md "Engine semantics" exactly.
//
// Invariants:
//   - Deterministic and clock-free. The engine's "now" is the time carried by
//     the records; it never reads a clock, never starts a goroutine and does
//     no I/O. The same log yields byte-identical events, and a snapshot taken
//     after any record, restored into a new engine, continues with exactly the
//     events a single run would have produced.
//   - Exact decisions. Every threshold is decided on WGS84 geodesic
//     distances. A fast approximation decides only when its proven error
//     bound is below the margin to every threshold involved; otherwise the
//     exact computation does.
//   - One open and one close per condition: the engine remembers what it
//     opened, so a condition does not re-open on every fix.
//   - Events are sorted per record by (case, rule, type, phase).
//   - Only a case in force (within its validity, outside its suspensions)
//     judges anything, and only its devices count, for liveness and for
//     network_outage; its state changes at the first record at or after a
//     bound (cases.go, docs/cases.md).
//
// An Engine is not safe for concurrent use.
package fence

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/geo"
)

// Semantics constants (DESIGN.md "Engine semantics").
const (
	staleFactor       = 3                       // a position is stale after 3 report intervals
	maxSpeed          = 300 / 3.6               // m/s; faster is a GPS anomaly
	anomalyChain      = 3                       // consistent anomalous fixes that re-anchor a position
	ingestTimeout     = int64(30 * time.Second) // heartbeat silence that opens ingest_down
	outageWindow      = int64(10 * time.Minute)
	outageSilence     = int64(60 * time.Second)
	outageMinDevices  = 10
	outageFraction    = 0.2
	batteryLowBelow   = 20
	batteryOkFrom     = 25
	recentFixes       = 8 // fixes remembered per device to drop duplicates
	distanceRoundingM = 100
)

// ErrUnknownRecord is returned for a record of a kind the engine does not know.
var ErrUnknownRecord = errors.New("unknown record kind")

// Engine holds the state of every device, case and open condition.
type Engine struct {
	devices map[string]*device
	cases   map[string]*caseState
	zones   geo.BoxIndex[*zoneRule] // exclusion zones of all cases, for ZonesNear
	where   geo.PositionIndex

	begun   bool      // a record with a time has been seen
	pending []*device // devices whose "since" is the next record's time

	ingest ingestState
	outage outageState

	// What ticks must visit (due.go): devices by index with their due
	// times, scheduled zones by due time, and devices by when last heard.
	devList    []*device
	due        []int64
	lastTick   int64
	zoneAlarms alarms[*zoneRule]
	caseAlarms alarms[*caseState] // cases by when their validity or a suspension starts or ends
	heard      heardRing

	// Per-record scratch, reused so a fix allocates nothing.
	out  []proxmon.Event
	near []geo.Rect

	exhaustive bool // ticks visit everything (tests check due times against it)
}

// New returns an engine that starts with the cases of cf in force. cf must
// have been validated.
func New(cf *proxmon.CaseFile) (*Engine, error) {
	e := &Engine{
		devices: make(map[string]*device),
		cases:   make(map[string]*caseState),
	}
	if cf != nil {
		for i := range cf.Devices {
			e.upsertDevice(&cf.Devices[i])
		}
		for i := range cf.Cases {
			if err := e.setCase(&cf.Cases[i], 0); err != nil {
				return nil, err
			}
		}
	}
	return e, nil
}

// Apply feeds one log record to the engine and appends the events it causes
// to out, sorted by (case, rule, type, phase).
func (e *Engine) Apply(r *proxmon.Record, out []proxmon.Event) ([]proxmon.Event, error) {
	e.out = out
	start := len(out)
	var err error
	switch r.Kind {
	case proxmon.RecordFix:
		e.begin(nanos(r.Fix.ReceivedOrTime()))
		e.fix(&r.Fix)
	case proxmon.RecordStatus:
		e.begin(nanos(r.Status.ReceivedOrTime()))
		e.status(&r.Status)
	case proxmon.RecordTick:
		e.begin(nanos(r.Time))
		e.tick(nanos(r.Time))
	case proxmon.RecordHeartbeat:
		e.begin(nanos(r.Time))
		e.heartbeat(nanos(r.Time))
	case proxmon.RecordCase:
		if !r.Time.IsZero() {
			e.begin(nanos(r.Time))
		}
		err = e.caseRecord(r)
	case proxmon.RecordCaseDeleted:
		e.deleteCase(r.CaseID)
	default:
		err = fmt.Errorf("%w %d", ErrUnknownRecord, r.Kind)
	}
	out = e.out
	e.out = nil
	if len(out)-start > 1 {
		slices.SortStableFunc(out[start:], func(a, b proxmon.Event) int { return proxmon.CompareEvents(&a, &b) })
	}
	return out, err
}

// begin resolves the "since" of devices that entered without a time: they
// count as unheard from the first record after they entered.
func (e *Engine) begin(t int64) {
	e.begun = true
	for _, d := range e.pending {
		d.since, d.sinceSet, d.pending = t, true, false
		e.due[d.idx] = always
	}
	e.pending = e.pending[:0]
}

// Near calls fn for every device within radiusM of p, nearest first, with
// its latest position and exact distance, until fn returns false.
func (e *Engine) Near(p geo.Point, radiusM float64, fn func(device string, at geo.Point, distM float64) bool) {
	e.where.Near(p, radiusM, fn)
}

// ZonesNear calls fn for every exclusion zone (with its case) whose box,
// widened by its approach band and hysteresis, comes within radiusM of p,
// until fn returns false: which bans cover the place of an incident.
func (e *Engine) ZonesNear(p geo.Point, radiusM float64, fn func(caseID, zoneID string) bool) {
	e.zones.Search(p, radiusM, func(z *zoneRule) bool { return fn(z.cs.c.ID, z.zone.ID) })
}

// Position returns a device's latest valid position and its GPS time.
func (e *Engine) Position(device string) (geo.Point, time.Time, bool) {
	d := e.devices[device]
	if d == nil || !d.hasPos {
		return geo.Point{}, time.Time{}, false
	}
	return d.pos, timeOf(d.posTime), true
}

// Devices returns the number of devices the engine knows.
func (e *Engine) Devices() int { return len(e.devices) }

// openRef remembers an open condition: the id and severity of the event that
// opened it; id is empty while the condition is closed.
type openRef struct {
	ID  string           `json:"id,omitempty"`
	Sev proxmon.Severity `json:"sev,omitempty"`
}

func (r *openRef) isOpen() bool { return r.ID != "" }

// open appends the open event ev and remembers it in ref.
func (e *Engine) open(ref *openRef, ev proxmon.Event, trig proxmon.Trigger) {
	ev.Phase = proxmon.PhaseOpen
	ev.ID = proxmon.EventID(ev.Case, ev.Rule(), ev.Type, ev.Phase, trig)
	ref.ID, ref.Sev = ev.ID, ev.Severity
	e.out = append(e.out, ev)
}

// close appends the event that closes ref.
func (e *Engine) close(ref *openRef, ev proxmon.Event, trig proxmon.Trigger) {
	ev.Phase = proxmon.PhaseClose
	ev.Severity = ref.Sev
	ev.OpenID = ref.ID
	ev.Certainty = ""
	ev.ID = proxmon.EventID(ev.Case, ev.Rule(), ev.Type, ev.Phase, trig)
	*ref = openRef{}
	e.out = append(e.out, ev)
}

// point appends an event that opens and closes nothing.
func (e *Engine) point(ev proxmon.Event, trig proxmon.Trigger) {
	ev.Phase = proxmon.PhasePoint
	ev.ID = proxmon.EventID(ev.Case, ev.Rule(), ev.Type, ev.Phase, trig)
	e.out = append(e.out, ev)
}

func nanos(t time.Time) int64 { return t.UnixNano() }

// deadline returns a time at which something is due, in nanoseconds; a
// time beyond what they can hold (after 2262) is never.
func deadline(t time.Time) int64 {
	if t.After(latest) {
		return never
	}
	return nanos(t)
}

var latest = time.Unix(0, math.MaxInt64)

func timeOf(n int64) time.Time { return time.Unix(0, n).UTC() }

func trigger(kind, device string, seq uint64, t int64) proxmon.Trigger {
	return proxmon.Trigger{Kind: kind, Device: device, Seq: seq, Time: timeOf(t)}
}

// metres rounds a distance for an event to centimetres.
func metres(d float64) *float64 {
	r := float64(int64(d*distanceRoundingM+copysignHalf(d))) / distanceRoundingM
	return &r
}

func copysignHalf(d float64) float64 {
	if d < 0 {
		return -0.5
	}
	return 0.5
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
