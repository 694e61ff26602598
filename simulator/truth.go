package simulator

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/geo"
)

// Ground truth. The script knows where it put everyone: the true track of
// every device, and the positions each fix reports within its accuracy of
// the track. From the tracks alone it states which events the engine must
// raise and when, without a second copy of the engine's rules: a threshold
// rule (DESIGN.md "Engine semantics") holds a value of the true positions
// (a distance, a signed distance to a zone's edge) against a level, and
// since every reported position is within its accuracy of the truth, the
// value the engine measures is within the accuracies of the true one. So
// for a level L with hysteresis H and a band b of twice the accuracies
// involved:
//
//   - the condition opens at the latest at the first evaluation after the
//     true value reached L, and not before it came within L + b;
//   - it closes at the latest at the first evaluation after the true value
//     passed L + H + b, and not before it passed L + H.
//
// An evaluation comes with each fix of the offender, so "the first
// evaluation after" is within one report interval of the tag. A journey
// must cross each band cleanly (in, then on to L; out, then on past
// L + H + b) or its events would be a matter of chance; the script refuses
// an episode that does not, and b <= H (good fixes only) guarantees that a
// condition does not flap while its threshold is crossed. Background
// movement never comes within L + b of any level.

// truthRule is one threshold rule of a case, as the script sees it.
type truthRule struct {
	rule   string // as proxmon.Event.Rule
	levels []truthLevel
	hyst   float64
	band   float64
	value  func(t float64) float64 // of the true positions at t; the condition holds at or below a level
}

type truthLevel struct {
	typ   proxmon.EventType
	level float64
}

// truthRules returns the threshold rules of a case.
func truthRules(cs *simCase, fr frame) []*truthRule {
	tag := cs.tag
	pos := func(d *device, t float64) geo.Point {
		p, _ := d.path.at(t)
		return fr.point(p)
	}
	var rules []*truthRule
	for i := range cs.c.ContactBans {
		b := &cs.c.ContactBans[i]
		var v *device
		for _, d := range cs.victims {
			if d.id == b.Protected {
				v = d
			}
		}
		rules = append(rules, &truthRule{
			rule:   proxmon.RuleContact + b.Protected,
			levels: []truthLevel{{proxmon.ContactBreach, b.AlertM}, {proxmon.ContactWarning, b.WarnM}},
			hyst:   b.Hysteresis(),
			band:   2 * (tag.q.maxAccuracy() + v.q.maxAccuracy()),
			value:  func(t float64) float64 { return geo.Distance(pos(tag, t), pos(v, t)) },
		})
	}
	for i := range cs.c.Zones {
		z := &cs.c.Zones[i]
		shape := z.Shape()
		r := &truthRule{rule: proxmon.RuleZone + z.ID, hyst: z.Hysteresis(), band: 2 * tag.q.maxAccuracy()}
		if z.Kind == proxmon.ZoneInclusion {
			// Outside is the breach: the value is the distance outside,
			// negated, so that the breach holds at or below 0.
			r.levels = []truthLevel{{proxmon.CurfewBreach, 0}}
			r.value = func(t float64) float64 { return -shape.SignedDistance(pos(tag, t)) }
		} else {
			r.levels = []truthLevel{{proxmon.ZoneBreach, 0}}
			if z.BufferM > 0 {
				r.levels = append(r.levels, truthLevel{proxmon.ZoneApproach, z.BufferM})
			}
			r.value = func(t float64) float64 { return shape.SignedDistance(pos(tag, t)) }
		}
		rules = append(rules, r)
	}
	return rules
}

// errAmbiguous: a journey lingers in a threshold's band, so whether the
// engine raises an event is a matter of chance.
var errAmbiguous = errors.New("ambiguous threshold crossing")

// crossing is one event a rule's threshold must raise: its window on the
// event's time and the true crossing, in seconds since the epoch.
type crossing struct {
	typ               proxmon.EventType
	phase             proxmon.Phase
	from, truth, till float64
}

// crossings samples the rule every dt over [t0, t1] and returns the events
// its thresholds must raise; interval is the tag's report interval and
// slack the lateness allowed on top (seconds).
func (tr *truthRule) crossings(t0, t1, dt, interval, slack float64) ([]crossing, error) {
	n := int(math.Ceil((t1-t0)/dt)) + 1
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = tr.value(t0 + float64(i)*dt)
	}
	at := func(i int) float64 { return t0 + float64(i)*dt }
	// cross interpolates where the samples i-1, i cross level y.
	cross := func(i int, y float64) float64 {
		if i == 0 || xs[i] == xs[i-1] {
			return at(i)
		}
		return at(i-1) + dt*(y-xs[i-1])/(xs[i]-xs[i-1])
	}
	var out []crossing
	for _, lv := range tr.levels {
		L, H, b := lv.level, tr.hyst, tr.band
		open, early, earlyTruth := false, math.NaN(), 0.0
		for i, x := range xs {
			switch {
			case !open && x <= L:
				if math.IsNaN(early) {
					early = at(max(i-1, 0))
				}
				t := cross(i, L)
				out = append(out, crossing{lv.typ, proxmon.PhaseOpen, early, t, t + interval + slack})
				open, early = true, math.NaN()
			case !open && x <= L+b:
				if math.IsNaN(early) {
					if i == 0 {
						return nil, fmt.Errorf("%w: %s %s within its band at the start", errAmbiguous, tr.rule, lv.typ)
					}
					early = at(i - 1)
				}
			case !open && !math.IsNaN(early):
				return nil, fmt.Errorf("%w: %s %s: into the band and out again at %.1f s", errAmbiguous, tr.rule, lv.typ, at(i))
			case open && x > L+H+b:
				if math.IsNaN(early) {
					early, earlyTruth = at(i-1), cross(i, L+H)
				}
				out = append(out, crossing{lv.typ, proxmon.PhaseClose, early, earlyTruth, cross(i, L+H+b) + interval + slack})
				open, early = false, math.NaN()
			case open && x > L+H:
				if math.IsNaN(early) {
					early, earlyTruth = at(i-1), cross(i, L+H)
				}
			case open && !math.IsNaN(early):
				return nil, fmt.Errorf("%w: %s %s: out of the band and back at %.1f s", errAmbiguous, tr.rule, lv.typ, at(i))
			}
		}
		if open || !math.IsNaN(early) {
			return nil, fmt.Errorf("%w: %s %s still open or in its band at the end", errAmbiguous, tr.rule, lv.typ)
		}
	}
	return out, nil
}

// Expectation is an event the script says must come: of a type and phase,
// for a case and rule, with a time (the event's, which is the time of the
// record that triggered it) within [From, Until]. Truth is when the true
// state changed: the true position crossed the threshold, the strap
// opened; detection latency counts from it.
type Expectation struct {
	Case    string            `json:"case"`
	Rule    string            `json:"rule"`
	Type    proxmon.EventType `json:"type"`
	Phase   proxmon.Phase     `json:"phase"`
	Episode string            `json:"episode"`
	From    time.Time         `json:"from"`
	Until   time.Time         `json:"until"`
	Truth   time.Time         `json:"truth"`
	// Optional: the event may come within the window, any number of
	// times, or not at all; it is neither missing nor unexpected.
	Optional bool `json:"optional,omitempty"`

	// Set when an event matched.
	EventID  string    `json:"event_id,omitempty"`
	Received time.Time `json:"received,omitzero"`
}

func (e *Expectation) key() expKey { return expKey{e.Case, e.Rule, e.Type, e.Phase} }

type expKey struct {
	cs, rule string
	typ      proxmon.EventType
	phase    proxmon.Phase
}

// ledger matches the events received against the expectations.
type ledger struct {
	mu         sync.Mutex
	pending    map[expKey][]*Expectation // unmatched, by key, in order of From
	all        []*Expectation
	unexpected []Unexpected
	types      map[proxmon.EventType]*TypeCount
	detection  []float64 // ms, matched opens
	transport  []float64 // ms, events triggered by a record the simulator sent
	received   int
}

// Unexpected is an event of the simulator's cases that no expectation
// accounts for.
type Unexpected struct {
	Event    proxmon.Event `json:"event"`
	Received time.Time     `json:"received"`
}

func newLedger() *ledger {
	return &ledger{pending: map[expKey][]*Expectation{}, types: map[proxmon.EventType]*TypeCount{}}
}

func (l *ledger) count(t proxmon.EventType) *TypeCount {
	c := l.types[t]
	if c == nil {
		c = &TypeCount{}
		l.types[t] = c
	}
	return c
}

// expect records an expectation.
func (l *ledger) expect(e *Expectation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := e.key()
	l.pending[k] = append(l.pending[k], e)
	slices.SortStableFunc(l.pending[k], func(a, b *Expectation) int { return a.From.Compare(b.From) })
	l.all = append(l.all, e)
	if !e.Optional {
		l.count(e.Type).Expected++
	}
}

// setTruth corrects an expectation's truth once the device knows it (the
// last fix before a silence, the fix that jumped).
func (l *ledger) setTruth(e *Expectation, t time.Time) {
	l.mu.Lock()
	e.Truth = t
	l.mu.Unlock()
}

// tolerance absorbs the rounding of times to the event's JSON form.
const tolerance = time.Millisecond

// observe matches an event received at received; transport is the time
// from the publication of the record that triggered it, when known.
func (l *ledger) observe(ev *proxmon.Event, received time.Time, transport time.Duration, hasTransport bool) *Expectation {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.received++
	c := l.count(ev.Type)
	c.Received++
	if hasTransport {
		l.transport = append(l.transport, ms(transport))
	}
	k := expKey{ev.Case, ev.Rule(), ev.Type, ev.Phase}
	for i, e := range l.pending[k] {
		if ev.Time.Before(e.From.Add(-tolerance)) || ev.Time.After(e.Until.Add(tolerance)) {
			continue
		}
		if e.Optional {
			e.EventID, e.Received = ev.ID, received
			c.Optional++
			return e
		}
		l.pending[k] = slices.Delete(l.pending[k], i, i+1)
		e.EventID, e.Received = ev.ID, received
		c.Matched++
		if e.Phase == proxmon.PhaseOpen && !e.Truth.IsZero() {
			l.detection = append(l.detection, ms(received.Sub(e.Truth)))
		}
		return e
	}
	c.Unexpected++
	if len(l.unexpected) < maxListed {
		l.unexpected = append(l.unexpected, Unexpected{Event: *ev, Received: received})
	}
	return nil
}

// maxListed bounds the missing and unexpected events a report lists.
const maxListed = 100

// due returns how many unmatched expectations have windows that end after
// now, and the latest such end.
func (l *ledger) due(now time.Time) (n int, last time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, es := range l.pending {
		for _, e := range es {
			if !e.Optional && e.Until.After(now) {
				n++
				last = maxTime(last, e.Until)
			}
		}
	}
	return n, last
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
