package fence

import (
	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/geo"
)

// contactRule is a contact ban: a zone that moves with the protected person.
type contactRule struct {
	cs        *caseState
	protected *device
	alert     float64 // A
	warn      float64 // W
	hyst      float64 // H
	breach    openRef
	warning   openRef
}

func (r *contactRule) key() string { return proxmon.RuleContact + r.protected.id }

// evalContact evaluates a contact ban on a fix of either party, when neither
// position is stale.
func (e *Engine) evalContact(r *contactRule, fc *fixCtx) {
	o, p := r.cs.offender, r.protected
	if !o.hasPos || !p.hasPos || o.stale(fc.t) || p.stale(fc.t) {
		return
	}
	u := o.posAcc + p.posAcc
	capped := !o.posKnown || !p.posKnown
	A, W, H := r.alert, r.warn, r.hyst
	approx := geo.ApproxDistance(o.pos, p.pos)
	exact := false
	d := approx.D
	if !decidesAll(approx, A+u, A+H+u, A, A-u, W+u, W+H+u, W, W-u) {
		d, exact = geo.Distance(o.pos, p.pos), true
	}
	bOpen, bClose, bCert := threshold(d, u, A, H, capped)
	wOpen, wClose, wCert := threshold(d, u, W, H, capped)
	if !(bOpen && !r.breach.isOpen() || bClose && r.breach.isOpen() ||
		wOpen && !r.warning.isOpen() || wClose && r.warning.isOpen()) {
		return
	}
	if !exact {
		d = geo.Distance(o.pos, p.pos) // events report the exact distance
	}
	e.step(&r.breach, r.event(proxmon.ContactBreach, proxmon.SeverityCritical, d, fc.t), bOpen, bClose, bCert, fc.trig)
	e.step(&r.warning, r.event(proxmon.ContactWarning, proxmon.SeverityHigh, d, fc.t), wOpen, wClose, wCert, fc.trig)
}

func (r *contactRule) event(typ proxmon.EventType, sev proxmon.Severity, d float64, t int64) proxmon.Event {
	o, p := r.cs.offender.pos, r.protected.pos
	return proxmon.Event{
		Type: typ, Severity: sev, Case: r.cs.c.ID, Time: timeOf(t),
		Device: r.cs.offender.id, Protected: r.protected.id, DistanceM: metres(d),
		Position: &o, ProtectedPosition: &p, Drill: r.cs.c.Drill,
	}
}

// end closes the ban's open conditions, wherever the parties are: its case
// is no longer in force.
func (r *contactRule) end(e *Engine, t int64, trig proxmon.Trigger) {
	ev := proxmon.Event{Type: proxmon.ContactBreach, Case: r.cs.c.ID, Time: timeOf(t),
		Device: r.cs.offender.id, Protected: r.protected.id, Drill: r.cs.c.Drill}
	e.step(&r.breach, ev, false, true, "", trig)
	ev.Type = proxmon.ContactWarning
	e.step(&r.warning, ev, false, true, "", trig)
}

// threshold decides a "within limit" condition on a measured value x with
// uncertainty u: it opens when x - u <= limit (safety first: possibly
// within), closes when x - u > limit + h, and is confirmed when x + u <= limit
// (within even at the far edge), probable when x <= limit.
func threshold(x, u, limit, h float64, capped bool) (open, close bool, c proxmon.Certainty) {
	open = x <= limit+u
	close = x > limit+h+u
	switch {
	case capped || x > limit:
		c = proxmon.Possible
	case x <= limit-u:
		c = proxmon.Confirmed
	default:
		c = proxmon.Probable
	}
	return open, close, c
}

// step opens or closes one condition.
func (e *Engine) step(ref *openRef, ev proxmon.Event, open, close bool, c proxmon.Certainty, trig proxmon.Trigger) {
	switch {
	case open && !ref.isOpen():
		ev.Certainty = c
		e.open(ref, ev, trig)
	case close && ref.isOpen():
		e.close(ref, ev, trig)
	}
}

// decidesAll reports whether the approximation decides every threshold.
func decidesAll(b geo.Bounded, ts ...float64) bool {
	for _, t := range ts {
		if !b.Decides(t) {
			return false
		}
	}
	return true
}
