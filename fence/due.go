package fence

import "math"

// A tick must act on what the passing of time changes: devices falling
// silent or their positions going stale, zone schedules switching, a
// network outage building up. Judging every device and zone at every tick
// would cost time in proportion to the fleet, once a second; instead the
// engine keeps, for each device and each scheduled zone, the earliest time
// at which a tick could change anything, and a tick visits only what is
// due. A due time may be early (the visit then changes nothing and the due
// time moves on) but never late: that is what keeps the ticks' events equal
// to those of judging everything.

const (
	never  = int64(math.MaxInt64)
	always = int64(math.MinInt64) // due at the next tick, whatever its time
)

// deviceDue returns the earliest tick time after which liveness may open
// signal_lost or gps_lost for d (a tick at t acts when t > due).
func (e *Engine) deviceDue(d *device) int64 {
	if !d.counted() {
		return never
	}
	due := never
	if d.nOpen[condSignalLost] < len(d.members) && !e.covered(d) {
		for _, m := range d.members {
			if ref, ok := e.silenceRef(d, m); ok && !m.open[condSignalLost].isOpen() {
				due = min(due, ref+d.staleAfter)
			}
		}
	}
	// gps_lost needs the device heard within staleAfter of the tick, so
	// nothing is due once that window has closed: hearing it again
	// re-arms it.
	if d.everHeard && d.nOpen[condGPSLost] < len(d.members) && d.heard+d.staleAfter >= e.lastTick {
		switch {
		case !d.hasPos || e.lastTick < d.posTime-d.staleAfter:
			due = always
		case d.posTime < d.heard:
			due = min(due, d.posTime+d.staleAfter)
		}
	}
	return due
}

// arm recomputes a device's due time.
func (e *Engine) arm(d *device) { e.due[d.idx] = e.deviceDue(d) }

// armAll makes every device due at the next tick, after a change that can
// bring due times forward for many devices at once (an outage ending, a
// restore).
func (e *Engine) armAll() {
	for i := range e.due {
		e.due[i] = always
	}
}

// alarm is a zone or a case due to be judged at the first record at or
// after due.
type alarm[T any] struct {
	due int64
	v   T
}

// alarms is a min-heap of alarms. A zone or case has at most one live
// alarm, the one whose due equals its armed time; others are skipped when
// popped.
type alarms[T any] []alarm[T]

func (h *alarms[T]) push(a alarm[T]) {
	*h = append(*h, a)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p].due <= s[i].due {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

// dueBy reports whether an alarm is due at t.
func (h alarms[T]) dueBy(t int64) bool { return len(h) > 0 && h[0].due <= t }

func (h *alarms[T]) pop() alarm[T] {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && s[l].due < s[m].due {
			m = l
		}
		if r < n && s[r].due < s[m].due {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// armZone makes z due at a tick at or after due, unless it already is due
// earlier.
func (e *Engine) armZone(z *zoneRule, due int64) {
	if due >= z.armed {
		return
	}
	z.armed = due
	e.zoneAlarms.push(alarm[*zoneRule]{due, z})
}

// armCase makes cs due at the first record at or after due, unless it
// already is due earlier.
func (e *Engine) armCase(cs *caseState, due int64) {
	if due >= cs.armed {
		return
	}
	cs.armed = due
	e.caseAlarms.push(alarm[*caseState]{due, cs})
}

// heardRing counts the devices in a case in force by the second they were
// last heard, for the last ringSize seconds, so that a tick can bound the
// number of silent devices without visiting them. A device no case in
// force uses counts for nothing: it is filed when it joins its first such
// case and taken out when it leaves its last.
type heardRing struct {
	sec    [ringSize]int64
	count  [ringSize]int32
	newest int64 // the latest second filed
}

// ringSize covers the outage window with room to spare; a power of two.
const ringSize = 1024

func floorSec(ns int64) int64 {
	s := ns / 1e9
	if ns%1e9 < 0 {
		s--
	}
	return s
}

// remove takes out a device filed as heard at ns.
func (r *heardRing) remove(ns int64) {
	s := floorSec(ns)
	if i := s & (ringSize - 1); r.sec[i] == s {
		r.count[i]--
	}
}

// add files a device as heard at ns.
func (r *heardRing) add(ns int64) {
	s := floorSec(ns)
	r.newest = max(r.newest, s)
	i := s & (ringSize - 1)
	switch {
	case r.sec[i] == s:
	case r.sec[i] > s:
		return // older than the ring: too old to matter
	default:
		r.sec[i], r.count[i] = s, 0
	}
	r.count[i]++
}

// covers reports whether the ring still holds every device heard in the
// outage window before t: it does unless devices were heard far after t.
func (r *heardRing) covers(t int64) bool {
	return r.newest-floorSec(t) < ringSize-int64(outageWindow/1e9)-2
}

// since returns bounds on the number of devices heard at or after ns.
func (r *heardRing) since(ns int64) (lo, hi int) {
	s0 := floorSec(ns)
	exact := ns == s0*1e9
	for i, s := range r.sec {
		c := int(r.count[i])
		switch {
		case s > s0 || s == s0 && exact:
			lo += c
			hi += c
		case s == s0:
			hi += c
		}
	}
	return lo, hi
}
