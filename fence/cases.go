package fence

import (
	"fmt"
	"slices"
	"strings"

	"github.com/proxmon/proxmon"
)

// caseState is a case of the log and the state of its rules.
type caseState struct {
	c        *proxmon.Case
	offender *device
	contacts []*contactRule
	zones    []*zoneRule
	members  []*member

	// linked: the case is in force, its rules and members are in the
	// devices' lists and the zone index. A case out of force (outside its
	// validity, suspended) or gone from the log is not.
	linked    bool
	suspended openRef // case_suspended
	armed     int64   // due time of the case's live alarm; never if none
}

// breachOpen reports whether any breach of the case is open: a tag that goes
// silent then is critical.
func (cs *caseState) breachOpen() bool {
	for _, r := range cs.contacts {
		if r.breach.isOpen() {
			return true
		}
	}
	for _, z := range cs.zones {
		if z.breach.isOpen() {
			return true
		}
	}
	return false
}

// caseRecord applies a case record from the log: the case replaces any case
// of the same id from this point on.
func (e *Engine) caseRecord(r *proxmon.Record) error {
	if err := proxmon.ValidateCaseRecord(r.Case, r.Devices, e.deviceInfo); err != nil {
		return fmt.Errorf("case record %s: %w", r.Case.ID, err)
	}
	for i := range r.Devices {
		e.upsertDevice(&r.Devices[i])
	}
	var t int64
	if !r.Time.IsZero() {
		t = nanos(r.Time)
	}
	return e.setCase(r.Case, t)
}

// deviceInfo looks up a device the engine knows, for validating a case
// record that refers to devices defined earlier in the log.
func (e *Engine) deviceInfo(id string) (*proxmon.Device, bool) {
	d := e.devices[id]
	if d == nil {
		return nil, false
	}
	return &d.info, true
}

// setCase enters c into the log. Rules that the previous version of the
// case had too keep their open conditions; the conditions of rules that are
// gone stay open in the monitoring centre, which closes them (the engine
// never will). A new offender's tag takes over the open conditions of the
// case's rules, which are judged on it from now on. t is when the case
// entered the log; 0 means at the next record.
//
// The case stays as its previous version was, in force or not (a new case
// is in force), until the first record judges it against its validity and
// suspensions: that record has the time, and a trigger for the events.
func (e *Engine) setCase(c *proxmon.Case, t int64) error {
	off := e.devices[c.Offender]
	if off == nil {
		return fmt.Errorf("case %s: offender %s: %w", c.ID, c.Offender, proxmon.ErrNotFound)
	}
	old := e.cases[c.ID]
	cs := &caseState{c: c, offender: off, armed: never}
	for i := range c.ContactBans {
		b := &c.ContactBans[i]
		p := e.devices[b.Protected]
		if p == nil {
			return fmt.Errorf("case %s: protected %s: %w", c.ID, b.Protected, proxmon.ErrNotFound)
		}
		cs.contacts = append(cs.contacts, &contactRule{cs: cs, protected: p,
			alert: b.AlertM, warn: b.WarnM, hyst: b.Hysteresis()})
	}
	for i := range c.Zones {
		z := &c.Zones[i]
		if z.Shape() == nil {
			return fmt.Errorf("case %s: zone %s: %w: not validated", c.ID, z.ID, proxmon.ErrInvalid)
		}
		cs.zones = append(cs.zones, &zoneRule{cs: cs, zone: z, shape: z.Shape(),
			include: z.Kind == proxmon.ZoneInclusion, buffer: z.BufferM, hyst: z.Hysteresis(), armed: never})
	}
	for _, d := range cs.devices() {
		cs.members = append(cs.members, &member{cs: cs, dev: d, since: always})
	}
	inForce := true
	if old != nil {
		cs.inherit(old)
		inForce = old.linked
		e.unlink(old)
	}
	e.cases[c.ID] = cs
	if inForce {
		e.link(cs, old, t)
	}
	e.armCase(cs, always)
	return nil
}

// devices returns the case's devices: the offender, then the protected ones
// in order of their bans, each once.
func (cs *caseState) devices() []*device {
	ds := []*device{cs.offender}
	for _, r := range cs.contacts {
		if !slices.Contains(ds, r.protected) {
			ds = append(ds, r.protected)
		}
	}
	return ds
}

// inherit carries the open conditions of old's rules and members over to
// the same rules and members of cs.
func (cs *caseState) inherit(old *caseState) {
	cs.suspended = old.suspended
	for _, r := range cs.contacts {
		for _, o := range old.contacts {
			if o.key() == r.key() {
				r.breach, r.warning = o.breach, o.warning
			}
		}
	}
	for _, z := range cs.zones {
		for _, o := range old.zones {
			if o.key() == z.key() && o.include == z.include {
				z.breach, z.approach = o.breach, o.approach
			}
		}
	}
	for _, m := range cs.members {
		for _, o := range old.members {
			if o.dev == m.dev {
				m.open, m.since = o.open, o.since
			}
		}
	}
}

// link enters the case into the devices' lists and the zone index. Devices
// new to the case count as unheard from t (or the next record).
func (e *Engine) link(cs *caseState, old *caseState, t int64) {
	cs.linked = true
	cs.offender.offenderOf = insertByCase(cs.offender.offenderOf, cs, func(x *caseState) string { return x.c.ID })
	for _, r := range cs.contacts {
		r.protected.protectedBy = insertByCase(r.protected.protectedBy, r, func(x *contactRule) string { return x.cs.c.ID + "\x00" + x.protected.id })
	}
	for _, m := range cs.members {
		m.dev.members = insertByCase(m.dev.members, m, func(x *member) string { return x.cs.c.ID })
		if len(m.dev.members) == 1 && m.dev.everHeard {
			e.heard.add(m.dev.heard) // it counts again
		}
		m.dev.recount()
		e.due[m.dev.idx] = always
		if old != nil && slices.ContainsFunc(old.members, func(o *member) bool { return o.dev == m.dev }) {
			continue
		}
		e.enter(m.dev, t)
	}
	for _, z := range cs.zones {
		if !z.include {
			z.rects = z.shape.Bounds(z.buffer + z.hyst)
			e.zones.Insert(z.rects, z)
		}
		e.armZone(z, always) // judge the offender's position at the next tick
	}
}

// enter starts the liveness clock of a device that joins a case and was
// never heard.
func (e *Engine) enter(d *device, t int64) {
	if d.everHeard || d.sinceSet {
		return
	}
	if t != 0 {
		d.since, d.sinceSet = t, true
		return
	}
	if !d.pending {
		d.pending = true
		e.pending = append(e.pending, d)
	}
}

// unlink removes a case from the devices' lists and the zone index; its
// zones' pending alarms are void. A case not linked stays as it is.
func (e *Engine) unlink(cs *caseState) {
	if !cs.linked {
		return
	}
	cs.linked = false
	off := cs.offender
	off.offenderOf = slices.DeleteFunc(off.offenderOf, func(x *caseState) bool { return x == cs })
	for _, r := range cs.contacts {
		r.protected.protectedBy = slices.DeleteFunc(r.protected.protectedBy, func(x *contactRule) bool { return x.cs == cs })
	}
	for _, m := range cs.members {
		m.dev.members = slices.DeleteFunc(m.dev.members, func(x *member) bool { return x.cs == cs })
		if len(m.dev.members) == 0 && m.dev.everHeard {
			e.heard.remove(m.dev.heard) // it counts for nothing now
		}
		m.dev.recount()
	}
	for _, z := range cs.zones {
		if z.rects != nil {
			e.zones.Delete(z.rects, z)
		}
	}
}

// deleteCase ends a case. Its open conditions stay open in the monitoring
// centre, which closes them.
func (e *Engine) deleteCase(id string) {
	if cs := e.cases[id]; cs != nil {
		e.unlink(cs)
		delete(e.cases, id)
	}
}

// judgeCases judges the cases due at t against their validity and
// suspensions. Every record with a time and a trigger (fix, status, tick,
// heartbeat) calls it first, so that a case out of force judges nothing
// from the instant it stops being in force.
func (e *Engine) judgeCases(t int64, trig proxmon.Trigger) {
	for e.caseAlarms.dueBy(t) {
		a := e.caseAlarms.pop()
		if cs := a.v; cs.armed == a.due && e.cases[cs.c.ID] == cs {
			e.judgeCase(cs, t, trig)
		}
	}
}

// judgeCase puts a case in or out of force as its state at t says. Out of
// force, every open event of the case closes (as a zone's do at the end of
// its window) and its devices count for nothing in it; back in force, they
// count as unheard from t, as when a case enters the log. A suspension
// within the validity is an event of its own, case_suspended.
func (e *Engine) judgeCase(cs *caseState, t int64, trig proxmon.Trigger) {
	state, until := cs.c.State(timeOf(t))
	cs.armed = never
	if !until.IsZero() {
		e.armCase(cs, deadline(until))
	}
	ev := proxmon.Event{Type: proxmon.CaseSuspended, Severity: proxmon.SeverityInfo, Case: cs.c.ID, Time: timeOf(t), Drill: cs.c.Drill}
	e.step(&cs.suspended, ev, state == proxmon.Suspended, state != proxmon.Suspended, "", trig)
	switch inForce := state == proxmon.InForce; {
	case inForce && !cs.linked:
		for _, m := range cs.members {
			m.since = t
		}
		e.link(cs, nil, t)
	case !inForce && cs.linked:
		e.closeCase(cs, t, trig)
		e.unlink(cs)
	}
}

// closeCase closes every open event of a case that goes out of force.
func (e *Engine) closeCase(cs *caseState, t int64, trig proxmon.Trigger) {
	for _, r := range cs.contacts {
		r.end(e, t, trig)
	}
	for _, z := range cs.zones {
		e.endZone(z, t, trig)
	}
	for _, m := range cs.members {
		for c := range m.open {
			if m.open[c].isOpen() {
				e.close(&m.open[c], deviceEvent(m, c, t), trig)
			}
		}
	}
}

// insertByCase inserts v into s, kept sorted by key, so iteration order (and
// so the output) does not depend on the order cases arrived in.
func insertByCase[T any](s []T, v T, key func(T) string) []T {
	k := key(v)
	i, _ := slices.BinarySearchFunc(s, k, func(x T, k string) int { return strings.Compare(key(x), k) })
	return slices.Insert(s, i, v)
}
