package proxmon

import (
	"time"

	// Schedules name IANA time zones; embed the database so that they
	// resolve the same on a minimal machine as on a workstation.
	_ "time/tzdata"
)

// Schedule semantics (DESIGN.md, "Engine semantics: Schedules"):
//
//   - Validity is [From, Until).
//   - A window is [start, end) in the local time of TZ on each of its days; a
//     window whose end is not after its start runs past midnight and belongs
//     to the day it starts.
//   - Across DST, safety first: a local time that does not exist (spring
//     forward) means the moment of the switch; a local time that occurs
//     twice (fall back) means its first occurrence for a start and its second
//     for an end. Both rules make a window longer, never shorter.
//
// time.Date leaves the result for such local times unspecified, so local
// times are resolved here from the zone's own transitions (resolve).

const (
	secondsPerDay = 24 * 60 * 60
	// maxOffset bounds the UTC offset of any zone, local mean times
	// included: every instant at which a clock reads a given local time lies
	// within maxOffset of that local time read as UTC.
	maxOffset = 26 * 60 * 60
	// quiet is how far from t the zone must not change its offset for Active
	// to do plain arithmetic on local time: it covers every window occurrence
	// that can hold t.
	quiet = 3 * secondsPerDay
)

// window is a validated Window.
type window struct {
	days       uint8 // bit d set: the window starts on time.Weekday(d)
	start, end int32 // seconds since local midnight; end <= start: ends the next day
}

// overnight reports whether the window ends on the day after it starts.
func (w *window) overnight() bool { return w.end <= w.start }

// on reports whether the window starts on local day d (days since
// 1970-01-01, a Thursday).
func (w *window) on(d int64) bool { return w.days&(1<<weekday(d)) != 0 }

// at returns the occurrence of the window that starts on local day d, as
// Unix seconds [start, end).
func (w *window) at(loc *time.Location, d int64) (start, end int64) {
	ed := d
	if w.overnight() {
		ed++
	}
	return resolve(loc, d*secondsPerDay+int64(w.start), false),
		resolve(loc, ed*secondsPerDay+int64(w.end), true)
}

// Active reports whether the schedule is active at t. A nil schedule is
// always active. Active does not allocate; it panics on a schedule with
// windows that was not validated.
func (s *Schedule) Active(t time.Time) bool {
	if s == nil {
		return true
	}
	if !s.valid(t) {
		return false
	}
	if len(s.Windows) == 0 {
		return true
	}
	s.mustResolved()
	u := t.Unix()
	lt := t.In(s.loc)
	_, off := lt.Zone()
	if zs, ze := lt.ZoneBounds(); (zs.IsZero() || zs.Unix() <= u-quiet) && (ze.IsZero() || ze.Unix() > u+quiet) {
		// No transition near t: local time is t plus a fixed offset.
		return s.activeLocal(u + int64(off))
	}
	// A window occurrence that holds t starts within a day of t's local
	// date, give or take a clock set back by less than a day.
	today := floorDiv(u+int64(off), secondsPerDay)
	for _, w := range s.wins {
		for d := today - 2; d <= today+1; d++ {
			if !w.on(d) {
				continue
			}
			if start, end := w.at(s.loc, d); start <= u && u < end {
				return true
			}
		}
	}
	return false
}

// activeLocal reports whether local time l (seconds since 1970-01-01 00:00
// local) lies in a window, for a stretch of time without transitions.
func (s *Schedule) activeLocal(l int64) bool {
	d, sec := floorDiv(l, secondsPerDay), int32(floorMod(l, secondsPerDay))
	for _, w := range s.wins {
		switch {
		case !w.overnight():
			if w.on(d) && w.start <= sec && sec < w.end {
				return true
			}
		case w.on(d) && sec >= w.start, w.on(d-1) && sec < w.end:
			return true
		}
	}
	return false
}

// State returns whether the schedule is active at t, and the next instant
// after t at which that may change: Active is the same at every instant of
// [t, until). A zero until means never. Callers cache the answer until then.
func (s *Schedule) State(t time.Time) (active bool, until time.Time) {
	if s == nil {
		return true, time.Time{}
	}
	if s.From != nil && t.Before(*s.From) {
		return false, *s.From
	}
	if s.Until != nil {
		if !t.Before(*s.Until) {
			return false, time.Time{}
		}
		until = *s.Until
	}
	if len(s.Windows) == 0 {
		return true, until
	}
	s.mustResolved()
	u := t.Unix()
	_, off := t.In(s.loc).Zone()
	today := floorDiv(u+int64(off), secondsPerDay)
	// Every window starts on some day of each week, so an occurrence that
	// starts after t is among the next eight days.
	next := int64(1<<63 - 1)
	for _, w := range s.wins {
		for d := today - 2; d <= today+8; d++ {
			if !w.on(d) {
				continue
			}
			start, end := w.at(s.loc, d)
			if start <= u && u < end {
				active = true
			}
			// Boundaries are whole seconds: b > t exactly when b > u.
			if start > u && start < next {
				next = start
			}
			if end > u && end < next {
				next = end
			}
		}
	}
	if n := time.Unix(next, 0).UTC(); until.IsZero() || n.Before(until) {
		until = n
	}
	return active, until
}

// valid reports whether t lies in the validity [From, Until).
func (s *Schedule) valid(t time.Time) bool {
	return (s.From == nil || !t.Before(*s.From)) && (s.Until == nil || t.Before(*s.Until))
}

func (s *Schedule) mustResolved() {
	if s.loc == nil || len(s.wins) != len(s.Windows) {
		panic("proxmon: schedule with windows used before validation")
	}
}

// resolve returns the instant, in Unix seconds, at which the clock of loc
// reads local time l (seconds since 1970-01-01 00:00 local). When no clock
// reading is l (spring forward) it is the moment of the switch; when two are,
// the first, or the last when last is set.
func resolve(loc *time.Location, l int64, last bool) int64 {
	// Walk the zone's periods of constant offset that can hold l. In each,
	// the clock reads l at l-offset if that instant lies in the period.
	u := l - maxOffset
	var found int64
	have := false
	for {
		t := time.Unix(u, 0).In(loc)
		_, off := t.Zone()
		ps, pe := t.ZoneBounds()
		c := l - int64(off)
		if !ps.IsZero() && c < ps.Unix() {
			// The period begins after l: the clock jumped over l when it
			// began, unless l occurred in an earlier period.
			if have {
				return found
			}
			return ps.Unix()
		}
		if pe.IsZero() || c < pe.Unix() {
			if !last {
				return c
			}
			found, have = c, true
		}
		if pe.IsZero() || pe.Unix() > l+maxOffset {
			// No later period can hold l; this one did.
			return found
		}
		u = pe.Unix()
	}
}

// weekday returns the day of the week of local day d (days since 1970-01-01).
func weekday(d int64) time.Weekday { return time.Weekday(floorMod(d+int64(time.Thursday), 7)) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }
