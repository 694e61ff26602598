package simulator

import (
	"math"
	"math/rand/v2"
)

// Mode is how a person moves.
type Mode uint8

// Modes.
const (
	Still Mode = iota
	Walk
	Cycle
	Drive
)

var modeNames = [...]string{Still: "still", Walk: "walk", Cycle: "cycle", Drive: "drive"}

func (m Mode) String() string { return modeNames[m] }

// MaxSpeed is the fastest a mode ever goes, in m/s: a brisk walk, a fast
// cyclist, a car on an urban through road (80 km/h).
func (m Mode) MaxSpeed() float64 {
	switch m {
	case Walk:
		return 2.0
	case Cycle:
		return 8.0
	case Drive:
		return 22.0
	}
	return 0
}

// peakSpeed draws the top speed of one journey in mode: a person walks,
// cycles or drives at their own pace, always under MaxSpeed.
func peakSpeed(r *rand.Rand, m Mode) float64 {
	switch m {
	case Walk:
		return 1.3 + 0.6*r.Float64()
	case Cycle:
		return 5 + 2.5*r.Float64()
	case Drive:
		return 12 + 9*r.Float64()
	}
	return 0
}

// modeFor picks how a person covers a distance.
func modeFor(r *rand.Rand, dist float64) Mode {
	switch {
	case dist < 800:
		return Walk
	case dist < 1500:
		if r.IntN(2) == 0 {
			return Walk
		}
		return Cycle
	case dist < 4000:
		return Cycle
	}
	return Drive
}

// leg is a stretch of a path: a stay (a == c == b) or a journey along a
// quadratic Bézier curve from a to b, bent by c. A journey starts and ends
// at rest: the curve is followed with a smoothstep in time, so the speed
// rises and falls smoothly and peaks at 1.5 times the mean half-way.
type leg struct {
	t0, t1  float64 // seconds since the simulation's epoch
	a, c, b vec
	mode    Mode
}

// at returns the position and velocity at t, for t0 <= t <= t1.
func (l *leg) at(t float64) (p, v vec) {
	if l.mode == Still {
		return l.a, vec{}
	}
	T := l.t1 - l.t0
	tau := min(max((t-l.t0)/T, 0), 1)
	u := tau * tau * (3 - 2*tau)
	du := 6 * tau * (1 - tau) / T
	w := 1 - u
	p = l.a.scale(w * w).add(l.c.scale(2 * w * u)).add(l.b.scale(u * u))
	d := l.c.sub(l.a).scale(2 * w).add(l.b.sub(l.c).scale(2 * u)) // dB/du
	return p, d.scale(du)
}

// stay is a leg at rest at p from t0 to t1.
func stay(t0, t1 float64, p vec) leg { return leg{t0: t0, t1: t1, a: p, b: p, c: p} }

// journey returns a leg from a to b starting at t0 in mode, bent sideways
// by bend times its length, whose speed peaks at peak (at most the mode's
// MaxSpeed). The speed along the curve is |B'(u)| du/dt; |B'| is largest
// at an end of a quadratic Bézier and du/dt at most 1.5/T, so a duration
// of 1.5 max|B'| / peak keeps every instant at or under peak.
func journey(t0 float64, a, b vec, mode Mode, bend, peak float64) leg {
	peak = min(peak, mode.MaxSpeed())
	c := lerp(a, b, 0.5).add(b.sub(a).perp().scale(bend))
	m := max(2*c.sub(a).len(), 2*b.sub(c).len())
	T := max(1.5*m/peak, 1)
	return leg{t0: t0, t1: t0 + T, a: a, b: b, c: c, mode: mode}
}

// path is a person's true track: legs back to back in time, extended on
// demand by a planner. Not safe for concurrent use.
type path struct {
	legs []leg
	i    int // the leg of the last lookup
	plan func(p *path, t float64)
}

// end returns the time the path is planned to.
func (p *path) end() float64 {
	if len(p.legs) == 0 {
		return math.Inf(-1)
	}
	return p.legs[len(p.legs)-1].t1
}

// last returns where the path ends.
func (p *path) last() vec { return p.legs[len(p.legs)-1].b }

func (p *path) add(l leg) { p.legs = append(p.legs, l) }

// at returns the position and velocity at t, planning the path up to t
// if need be.
func (p *path) at(t float64) (vec, vec) {
	for p.end() < t {
		p.plan(p, t)
	}
	if p.i >= len(p.legs) || p.legs[p.i].t0 > t {
		p.i = 0
	}
	for p.i < len(p.legs)-1 && p.legs[p.i].t1 < t {
		p.i++
	}
	return p.legs[p.i].at(t)
}

// trim drops the legs that ended before t.
func (p *path) trim(t float64) {
	k := 0
	for k < len(p.legs)-1 && p.legs[k].t1 < t {
		k++
	}
	if k > 16 {
		p.legs = append(p.legs[:0], p.legs[k:]...)
		p.i = 0
	}
}

// cut ends the path at t, which must fall in a stay or after the end: a
// stay running past t is shortened, later legs dropped.
func (p *path) cut(t float64) {
	for len(p.legs) > 0 && p.legs[len(p.legs)-1].t0 >= t {
		p.legs = p.legs[:len(p.legs)-1]
	}
	if n := len(p.legs); n > 0 && p.legs[n-1].t1 > t {
		if p.legs[n-1].mode != Still {
			panic("simulator: path cut in a journey")
		}
		p.legs[n-1].t1 = t
	}
	p.i = 0
}

// disc is a round region a person's journeys stay in.
type disc struct {
	c vec
	r float64
}

func (d disc) holds(v vec) bool { return v.sub(d.c).len() <= d.r }

// routine plans a person's ordinary days inside a disc: stays at home, at
// work and at a few other places, and journeys between them on foot, by
// bike or by car. Every leg lies in the disc (a Bézier curve lies in the
// hull of its three points, and all three are kept inside).
type routine struct {
	r       *rand.Rand
	area    disc
	places  []vec // home first
	at      int   // the place the person is at
	stayMin float64
	stayMax float64
}

func (rt *routine) plan(p *path, t float64) {
	if len(p.legs) == 0 {
		// The first stay is part-way through: people are not all
		// about to leave at once.
		p.add(stay(t, t+rt.stayMin+rt.r.Float64()*(rt.stayMax-rt.stayMin)*0.5, rt.places[rt.at]))
		return
	}
	from := p.last()
	next := rt.r.IntN(len(rt.places) - 1)
	if next >= rt.at {
		next++
	}
	to := rt.places[next]
	dist := to.sub(from).len()
	mode := modeFor(rt.r, dist)
	peak := peakSpeed(rt.r, mode)
	l := journey(p.end(), from, to, mode, 0.4*(rt.r.Float64()-0.5), peak)
	if !rt.area.holds(l.c) {
		// A straight journey's bend point is its middle, in the disc.
		l = journey(l.t0, from, to, mode, 0, peak)
	}
	p.add(l)
	rt.at = next
	p.add(stay(l.t1, l.t1+rt.stayMin+rt.r.Float64()*(rt.stayMax-rt.stayMin), to))
}

// parked plans a person who stays at one place except when an episode
// takes him elsewhere.
func parked(at vec) func(p *path, t float64) {
	return func(p *path, t float64) {
		start := t
		if len(p.legs) > 0 {
			start, at = p.end(), p.last()
		}
		p.add(stay(start, max(start, t)+600, at))
	}
}
