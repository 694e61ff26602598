package fence

import (
	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/geo"
)

// zoneRule is one zone of a case: an exclusion zone with its approach band,
// or an inclusion zone (curfew).
type zoneRule struct {
	cs       *caseState
	zone     *proxmon.Zone
	shape    *geo.Shape
	rects    []geo.Rect // boxes in the zone index (exclusion zones only)
	include  bool
	buffer   float64
	hyst     float64
	breach   openRef // zone_breach or curfew_breach
	approach openRef // zone_approach

	// Caches that never change a decision: the schedule's state until it may
	// change, and the position last judged, so a tick does not judge an
	// unchanged position again.
	schedFrom, schedUntil int64
	schedOK, schedActive  bool
	judgedVer             uint64
	armed                 int64 // due time of the zone's live alarm; never if none
}

func (z *zoneRule) key() string { return proxmon.RuleZone + z.zone.ID }

func (z *zoneRule) anyOpen() bool { return z.breach.isOpen() || z.approach.isOpen() }

// active reports whether the zone's schedule is active at t, and makes the
// zone due at the tick when that may change.
func (e *Engine) active(z *zoneRule, t int64) bool {
	s := z.zone.Schedule
	if s == nil {
		return true
	}
	if !z.schedOK || t < z.schedFrom || t >= z.schedUntil {
		on, until := s.State(timeOf(t))
		z.schedFrom, z.schedActive, z.schedOK = t, on, true
		z.schedUntil = never
		if !until.IsZero() {
			z.schedUntil = deadline(until)
			e.armZone(z, z.schedUntil)
		}
	}
	return z.schedActive
}

// moved evaluates every rule that involves a device whose position changed.
func (e *Engine) moved(d *device, fc *fixCtx) {
	for _, cs := range d.offenderOf {
		for _, r := range cs.contacts {
			e.evalContact(r, fc)
		}
	}
	for _, r := range d.protectedBy {
		e.evalContact(r, fc)
	}
	if len(d.offenderOf) == 0 {
		return
	}
	// An exclusion zone whose box (widened by its approach band and
	// hysteresis) misses the box of the fix's accuracy is more than
	// buffer + hysteresis + accuracy away: nothing opens, and only a
	// condition already open needs judging (it closes). Inclusion zones
	// are always judged: being far from them is the breach.
	e.near = geo.AppendRectsAround(e.near[:0], fc.p, fc.acc)
	for _, cs := range d.offenderOf {
		for _, z := range cs.zones {
			if z.include || z.anyOpen() || z.meets(e.near) {
				e.evalZone(z, fc.t, fc.trig, true)
			}
		}
	}
}

// meets reports whether one of the zone's boxes meets one of rs.
func (z *zoneRule) meets(rs []geo.Rect) bool {
	for _, a := range z.rects {
		for _, b := range rs {
			if a.Intersects(b) {
				return true
			}
		}
	}
	return false
}

// evalZone judges the offender's latest position against a zone at t: on
// his fix, or at a tick when the position is not stale. Outside the zone's
// schedule every open condition of the zone closes, stale or not.
func (e *Engine) evalZone(z *zoneRule, t int64, trig proxmon.Trigger, onFix bool) {
	if !e.active(z, t) {
		e.endZone(z, t, trig)
		return
	}
	o := z.cs.offender
	if !o.hasPos || o.stale(t) {
		return
	}
	if !onFix && z.judgedVer == o.posVer {
		return // same position, same schedule state: same verdict
	}
	z.judgedVer = o.posVer
	e.zoneStep(z, o.pos, t, trig, z.judge(o.pos, o.posAcc, !o.posKnown, false))
}

// endZone closes every open condition of a zone, whatever the position:
// its window or its case's time in force has ended.
func (e *Engine) endZone(z *zoneRule, t int64, trig proxmon.Trigger) {
	z.judgedVer = 0
	if z.anyOpen() {
		e.zoneStep(z, z.cs.offender.pos, t, trig, zoneVerdict{closeBreach: true, closeApproach: true})
	}
}

// zoneVerdict is what a position means for a zone.
type zoneVerdict struct {
	hasS, exact              bool
	s                        float64 // signed distance to the boundary
	openBreach, closeBreach  bool
	openApproach             bool
	closeApproach            bool
	breachCert, approachCert proxmon.Certainty
}

// judge decides a position against the zone's thresholds; exact forces the
// exact signed distance.
func (z *zoneRule) judge(p geo.Point, u float64, capped, exact bool) zoneVerdict {
	v := zoneVerdict{hasS: true, exact: exact}
	if !exact {
		b := z.shape.ApproxSignedDistance(p)
		v.s = b.D
		v.exact = !z.decides(b, u)
	}
	if v.exact {
		v.s = z.shape.SignedDistance(p)
	}
	s := v.s
	if z.include {
		// Outside an active inclusion zone is the breach: opens when
		// s + u > 0, closes when s + u <= -H.
		v.openBreach = s > -u
		v.closeBreach = s <= -z.hyst-u
		switch {
		case capped || s <= 0:
			v.breachCert = proxmon.Possible
		case s > u:
			v.breachCert = proxmon.Confirmed
		default:
			v.breachCert = proxmon.Probable
		}
		return v
	}
	v.openBreach, v.closeBreach, v.breachCert = threshold(s, u, 0, z.hyst, capped)
	if z.buffer > 0 {
		v.openApproach, v.closeApproach, v.approachCert = threshold(s, u, z.buffer, z.hyst, capped)
	} else {
		v.closeApproach = true
	}
	return v
}

// decides reports whether the approximate signed distance decides every
// threshold of the zone.
func (z *zoneRule) decides(b geo.Bounded, u float64) bool {
	if z.include {
		return decidesAll(b, -u, -z.hyst-u, u, 0)
	}
	return decidesAll(b, u, z.hyst+u, -u, 0, z.buffer+u, z.buffer+z.hyst+u, z.buffer-u, z.buffer)
}

// zoneStep opens and closes the zone's conditions as the verdict says.
func (e *Engine) zoneStep(z *zoneRule, p geo.Point, t int64, trig proxmon.Trigger, v zoneVerdict) {
	changes := v.openBreach && !z.breach.isOpen() || v.closeBreach && z.breach.isOpen() ||
		v.openApproach && !z.approach.isOpen() || v.closeApproach && z.approach.isOpen()
	if !changes {
		return
	}
	if v.hasS && !v.exact {
		v.s = z.shape.SignedDistance(p) // events report the exact distance
	}
	breachType := proxmon.ZoneBreach
	if z.include {
		breachType = proxmon.CurfewBreach
	}
	e.step(&z.breach, z.event(breachType, proxmon.SeverityCritical, p, t, v), v.openBreach, v.closeBreach, v.breachCert, trig)
	e.step(&z.approach, z.event(proxmon.ZoneApproach, proxmon.SeverityInfo, p, t, v), v.openApproach, v.closeApproach, v.approachCert, trig)
}

func (z *zoneRule) event(typ proxmon.EventType, sev proxmon.Severity, p geo.Point, t int64, v zoneVerdict) proxmon.Event {
	ev := proxmon.Event{
		Type: typ, Severity: sev, Case: z.cs.c.ID, Time: timeOf(t),
		Device: z.cs.offender.id, Zone: z.zone.ID, Drill: z.cs.c.Drill,
	}
	if v.hasS {
		ev.DistanceM = metres(v.s)
		ev.Position = &p
	}
	return ev
}

// lateFix checks a late fix of an offender against the exclusion zones that
// were active at its time: inside one, it is a late_zone_breach. It changes
// no position and opens or closes nothing.
func (e *Engine) lateFix(d *device, fc *fixCtx) {
	for _, cs := range d.offenderOf {
		for _, z := range cs.zones {
			if z.include || !z.zone.Schedule.Active(timeOf(fc.t)) {
				continue
			}
			v := z.judge(fc.p, fc.acc, !fc.known, true)
			if !v.openBreach {
				continue
			}
			ev := z.event(proxmon.LateZoneBreach, proxmon.SeverityHigh, fc.p, fc.t, v)
			ev.Certainty = v.breachCert
			e.point(ev, fc.trig)
		}
	}
}
