package simulator

import (
	"fmt"
	"math"
	"time"

	"github.com/proxmon/proxmon"
)

// episode is one planned episode: the events it must raise and the
// actions that make it happen.
type episode struct {
	name string
	end  float64 // when the case is back to its state between episodes
	exps []*Expectation
	acts []dueItem
}

// rest is the least time between two episodes of a case, on top of the
// slack.
const rest = 5.0

// plan plans a case's next episode, records what it must raise, and plans
// the one after.
func (sh *shard) plan(cs *simCase, now time.Time) {
	s := sh.sim
	if s.stopPlanning.Load() {
		return
	}
	if !s.rampedUp.Load() {
		// Episodes start once the whole fleet is live, and end before
		// the run does.
		sh.push(dueItem{at: sh.at(now) + int64(time.Second), kind: duePlan, cs: cs})
		return
	}
	t0 := max(cs.nextEp, s.seconds(now)+lookahead)
	ep, err := sh.build(cs, t0)
	if err != nil || ep == nil {
		if err != nil {
			s.stats.episodesRefused.Add(1)
			s.o.Log.Warn("episode refused", "case", cs.c.ID, "kind", cs.kind, "err", err)
		}
		cs.nextEp = t0 + 60
		sh.push(dueItem{at: sh.ns(cs.nextEp - lookahead), kind: duePlan, cs: cs})
		return
	}
	last := t0
	for _, e := range ep.exps {
		last = max(last, s.seconds(e.Until))
	}
	if last > s.runEnd {
		// It would not be over when the run ends: no more episodes for
		// this case. Its path goes on as planned between episodes.
		cs.tag.path.cut(t0)
		return
	}
	for _, e := range ep.exps {
		s.ledger.expect(e)
	}
	for _, a := range ep.acts {
		sh.push(a)
	}
	cs.episode++
	s.stats.episodes.Add(1)
	cs.nextEp = max(t0+s.o.EpisodeEvery.Seconds(), ep.end+rest+s.o.Slack.Seconds())
	sh.push(dueItem{at: sh.ns(cs.nextEp - lookahead), kind: duePlan, cs: cs})
}

// build lays out the case's episode starting at t0. It returns nil when
// the episode cannot happen now (a curfew not in force).
func (sh *shard) build(cs *simCase, t0 float64) (*episode, error) {
	s := sh.sim
	tag := cs.tag
	ep := &episode{name: fmt.Sprintf("%s#%d", cs.kind, cs.episode+1)}
	iv := tag.interval.Seconds()
	slack := s.o.Slack.Seconds()
	tick := s.o.TickEvery.Seconds()
	exp := func(rule string, typ proxmon.EventType, phase proxmon.Phase, from, truth, until float64) *Expectation {
		e := &Expectation{Case: cs.c.ID, Rule: rule, Type: typ, Phase: phase, Episode: ep.name,
			From: s.time(from), Until: s.time(until)}
		if !math.IsNaN(truth) {
			e.Truth = s.time(truth)
		}
		ep.exps = append(ep.exps, e)
		return e
	}
	act := func(at float64, fn func(now time.Time)) {
		ep.acts = append(ep.acts, dueItem{at: sh.ns(at), kind: dueAct, act: fn})
	}
	device := proxmon.RuleDevice + tag.id
	dwell := s.o.Dwell.Seconds()
	switch cs.kind {
	case Approach, EnterZone, Curfew:
		tag.path.at(t0)
		tag.path.cut(t0)
		r := tag.rng
		bend := 0.1 * (r.Float64() - 0.5)
		out := journey(t0, cs.park, cs.goal, cs.mode, bend, peakSpeed(r, cs.mode))
		back := journey(out.t1+dwell, cs.goal, cs.park, cs.mode, -bend, peakSpeed(r, cs.mode))
		tag.path.add(out)
		tag.path.add(stay(out.t1, back.t0, cs.goal))
		tag.path.add(back)
		ep.end = back.t1
		if cs.kind == Curfew {
			z := cs.zone(zoneCurfew)
			on, until := z.Schedule.State(s.time(t0))
			if !on || !until.IsZero() && s.seconds(until) < ep.end+iv+slack+rest {
				tag.path.cut(t0)
				return nil, nil
			}
		}
		band := math.Inf(1)
		for _, r := range cs.rules {
			band = min(band, r.band)
		}
		dt := min(max(band/(4*cs.mode.MaxSpeed()), 0.005), 0.1)
		for _, r := range cs.rules {
			cr, err := r.crossings(t0, ep.end+1, dt, iv, slack)
			if err != nil {
				tag.path.cut(t0)
				return nil, err
			}
			for _, c := range cr {
				exp(r.rule, c.typ, c.phase, c.from, c.truth, c.till)
			}
			// Ingest appends a device's fixes concurrently: under load
			// two of them may reach the log out of order, and the older
			// one is late. A late fix inside the zone is a
			// late_zone_breach (DESIGN.md "Late fixes"): allowed while
			// the tag may be inside.
			for i := 0; i+1 < len(cr); i++ {
				if cr[i].typ == proxmon.ZoneBreach && cr[i].phase == proxmon.PhaseOpen && cr[i+1].phase == proxmon.PhaseClose {
					late := exp(r.rule, proxmon.LateZoneBreach, proxmon.PhasePoint, cr[i].from, math.NaN(), cr[i+1].till)
					late.Optional = true
				}
			}
		}
		if len(ep.exps) == 0 {
			tag.path.cut(t0)
			return nil, fmt.Errorf("%s crosses no threshold", ep.name)
		}
	case Strap, Jamming:
		typ := proxmon.Tamper
		set := func(on bool) { tag.strapOpen = on }
		if cs.kind == Jamming {
			typ, set = proxmon.Jamming, func(on bool) { tag.jamming = on }
		}
		off := t0 + dwell
		exp(device, typ, proxmon.PhaseOpen, t0, t0, t0+slack)
		exp(device, typ, proxmon.PhaseClose, off, off, off+slack)
		act(t0, func(now time.Time) { set(true); tag.sendStatus(now) })
		act(off, func(now time.Time) { set(false); tag.sendStatus(now) })
		ep.end = off
	case Battery:
		const step = 2.0
		low, full := t0+2*step, t0+3*step+dwell
		exp(device, proxmon.BatteryLow, proxmon.PhaseOpen, low, low, low+slack)
		exp(device, proxmon.BatteryLow, proxmon.PhaseClose, full, full, full+slack)
		for _, st := range []struct {
			at       float64
			pct      int
			charging bool
		}{{t0, 28, false}, {t0 + step, 23, false}, {low, 19, false}, {full - step, 22, true}, {full, 27, true}} {
			act(st.at, func(now time.Time) {
				tag.batteryHeld, tag.battery, tag.charging = true, st.pct, st.charging
				tag.sendStatus(now)
			})
		}
		act(full+step, func(time.Time) { tag.batteryHeld = false })
		ep.end = full + step
	case Silent:
		// The tag sends a fix at t0 and then nothing: signal_lost opens at
		// the first tick more than 3 intervals after the log stored that
		// fix, and closes when the tag is heard again.
		//
		// Its position goes stale (3 intervals after the fix's own time)
		// a transport delay before the tag counts as unheard: a tick that
		// falls in between finds the tag heard with a stale position and
		// opens gps_lost, which the next fix closes. It may come or not.
		back := t0 + 3*iv + 2*tick + slack + 1
		open := exp(device, proxmon.SignalLost, proxmon.PhaseOpen, t0+3*iv, t0+3*iv, t0+3*iv+tick+slack)
		closed := exp(device, proxmon.SignalLost, proxmon.PhaseClose, back, back, back+slack)
		gpsOpen := exp(device, proxmon.GPSLost, proxmon.PhaseOpen, t0+3*iv, math.NaN(), t0+3*iv+tick+slack)
		gpsClosed := exp(device, proxmon.GPSLost, proxmon.PhaseClose, back, math.NaN(), back+slack)
		gpsOpen.Optional, gpsClosed.Optional = true, true
		act(t0, func(now time.Time) {
			tag.sendFix(now)
			tag.silent = true
			s.ledger.setTruth(open, now.Add(3*tag.interval))
		})
		act(back, func(now time.Time) {
			tag.silent = false
			tag.sendFix(now)
			s.ledger.setTruth(closed, now)
		})
		ep.end = back
	case GPSJump:
		open := exp(device, proxmon.GPSAnomaly, proxmon.PhaseOpen, t0, t0, t0+iv+slack)
		closed := exp(device, proxmon.GPSAnomaly, proxmon.PhaseClose, t0, math.NaN(), t0+2*iv+slack)
		act(t0, func(time.Time) {
			tag.jumping = true
			tag.jump = cs.away.rotate(0.5 * (tag.rng.Float64() - 0.5)).scale(cs.jumpM)
			tag.onFix = func(at time.Time) {
				s.ledger.setTruth(open, at)
				tag.onFix = func(at time.Time) { s.ledger.setTruth(closed, at) }
			}
		})
		ep.end = t0 + 2*iv
	default:
		return nil, fmt.Errorf("no episode of kind %q", cs.kind)
	}
	return ep, nil
}

// zone returns the case's zone of that id.
func (cs *simCase) zone(id string) *proxmon.Zone {
	for i := range cs.c.Zones {
		if cs.c.Zones[i].ID == id {
			return &cs.c.Zones[i]
		}
	}
	return nil
}
