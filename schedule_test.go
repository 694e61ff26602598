package proxmon_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/proxmon/proxmon"
)

// MustSchedule validates s, as part of a case file, or fails the test.
func MustSchedule(tb testing.TB, s *proxmon.Schedule) *proxmon.Schedule {
	tb.Helper()
	cf := &proxmon.CaseFile{
		Devices: []proxmon.Device{{ID: "tag", Kind: proxmon.DeviceTag}},
		Cases: []proxmon.Case{{ID: "c", Offender: "tag", Zones: []proxmon.Zone{{
			ID: "z", Kind: proxmon.ZoneExclusion, Circle: &proxmon.Circle{Center: []float64{4.5, 51.9}, RadiusM: 100},
			Schedule: s,
		}}}},
	}
	if err := cf.Validate(); err != nil {
		tb.Fatalf("schedule %+v: %v", s, err)
	}
	return s
}

// weekly returns a validated schedule in tz of windows written like
// "sat,sun 23:00-02:30".
func weekly(tb testing.TB, tz string, windows ...string) *proxmon.Schedule {
	tb.Helper()
	s := &proxmon.Schedule{TZ: tz}
	for _, w := range windows {
		days, times, _ := strings.Cut(w, " ")
		start, end, _ := strings.Cut(times, "-")
		s.Windows = append(s.Windows, proxmon.Window{Days: strings.Split(days, ","), Start: start, End: end})
	}
	return MustSchedule(tb, s)
}

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// check is what a schedule says at an instant: whether it is active, and,
// unless until is empty, the until of State ("never" for a zero one).
type check struct {
	at     string
	active bool
	until  string
}

func runChecks(t *testing.T, s *proxmon.Schedule, checks []check) {
	t.Helper()
	for _, c := range checks {
		at := mustTime(t, c.at)
		if got := s.Active(at); got != c.active {
			t.Errorf("Active(%s) = %v, want %v", c.at, got, c.active)
		}
		active, until := s.State(at)
		if active != c.active {
			t.Errorf("State(%s) active = %v, want %v", c.at, active, c.active)
		}
		switch {
		case c.until == "":
		case c.until == "never":
			if !until.IsZero() {
				t.Errorf("State(%s) until = %s, want never", c.at, until.Format(time.RFC3339Nano))
			}
		case !until.Equal(mustTime(t, c.until)):
			t.Errorf("State(%s) until = %s, want %s", c.at, until.UTC().Format(time.RFC3339Nano), c.until)
		}
	}
}

// Times below are UTC. Europe/Amsterdam in 2026: on Sunday 29 March at
// 01:00Z the clock goes from 02:00 CET to 03:00 CEST (02:00-02:59 does not
// exist); on Sunday 25 October at 01:00Z from 03:00 CEST back to 02:00 CET
// (02:00-02:59 occurs twice: 00:00-00:59Z and 01:00-01:59Z).
var scheduleCases = []struct {
	name    string
	tz      string
	windows []string
	checks  []check
}{
	{"spring start in the gap", "Europe/Amsterdam", []string{"sun 02:30-04:00"}, []check{
		{"2026-03-29T00:59:59Z", false, "2026-03-29T01:00:00Z"},
		{"2026-03-29T01:00:00Z", true, "2026-03-29T02:00:00Z"}, // the switch
		{"2026-03-29T01:59:59.999999999Z", true, "2026-03-29T02:00:00Z"},
		{"2026-03-29T02:00:00Z", false, "2026-04-05T00:30:00Z"},
	}},
	{"spring end in the gap", "Europe/Amsterdam", []string{"sun 01:00-02:30"}, []check{
		{"2026-03-28T23:59:59Z", false, "2026-03-29T00:00:00Z"},
		{"2026-03-29T00:00:00Z", true, "2026-03-29T01:00:00Z"},
		{"2026-03-29T00:59:59Z", true, "2026-03-29T01:00:00Z"},
		{"2026-03-29T01:00:00Z", false, "2026-04-04T23:00:00Z"},
	}},
	{"spring window inside the gap", "Europe/Amsterdam", []string{"sun 02:00-02:45"}, []check{
		// Both ends are the switch: empty, yet a boundary.
		{"2026-03-29T00:30:00Z", false, "2026-03-29T01:00:00Z"},
		{"2026-03-29T01:00:00Z", false, "2026-04-05T00:00:00Z"},
		{"2026-03-29T01:30:00Z", false, ""},
	}},
	{"spring overnight ending in the gap", "Europe/Amsterdam", []string{"sat 23:00-02:30"}, []check{
		{"2026-03-28T21:59:59Z", false, "2026-03-28T22:00:00Z"},
		{"2026-03-28T22:00:00Z", true, "2026-03-29T01:00:00Z"},
		{"2026-03-29T00:59:59Z", true, "2026-03-29T01:00:00Z"},
		{"2026-03-29T01:00:00Z", false, "2026-04-04T21:00:00Z"},
	}},
	{"spring overnight ending just after the gap", "Europe/Amsterdam", []string{"sat 22:00-03:00"}, []check{
		{"2026-03-28T21:00:00Z", true, "2026-03-29T01:00:00Z"},
		{"2026-03-29T01:00:00Z", false, "2026-04-04T20:00:00Z"},
	}},
	{"spring start just after the gap", "Europe/Amsterdam", []string{"sun 03:00-04:00"}, []check{
		{"2026-03-29T00:59:59Z", false, "2026-03-29T01:00:00Z"},
		{"2026-03-29T01:00:00Z", true, "2026-03-29T02:00:00Z"},
	}},
	{"spring day across the switch", "Europe/Amsterdam", []string{"sun 00:00-12:00"}, []check{
		{"2026-03-28T22:59:59Z", false, "2026-03-28T23:00:00Z"},
		{"2026-03-28T23:00:00Z", true, "2026-03-29T10:00:00Z"}, // 11 hours
		{"2026-03-29T09:59:59Z", true, "2026-03-29T10:00:00Z"},
		{"2026-03-29T10:00:00Z", false, "2026-04-04T22:00:00Z"},
	}},
	{"autumn start in the repeated hour", "Europe/Amsterdam", []string{"sun 02:30-04:00"}, []check{
		{"2026-10-25T00:29:59Z", false, "2026-10-25T00:30:00Z"},
		{"2026-10-25T00:30:00Z", true, "2026-10-25T03:00:00Z"}, // first 02:30 (CEST)
		{"2026-10-25T01:29:00Z", true, "2026-10-25T03:00:00Z"}, // second 02:29 (CET)
		{"2026-10-25T02:59:59Z", true, "2026-10-25T03:00:00Z"},
		{"2026-10-25T03:00:00Z", false, "2026-11-01T01:30:00Z"},
	}},
	{"autumn end in the repeated hour", "Europe/Amsterdam", []string{"sun 01:00-02:30"}, []check{
		{"2026-10-24T22:59:59Z", false, "2026-10-24T23:00:00Z"},
		{"2026-10-24T23:00:00Z", true, "2026-10-25T01:30:00Z"},
		{"2026-10-25T00:45:00Z", true, "2026-10-25T01:30:00Z"},  // first 02:45
		{"2026-10-25T01:29:59Z", true, "2026-10-25T01:30:00Z"},  // second 02:29
		{"2026-10-25T01:30:00Z", false, "2026-11-01T00:00:00Z"}, // second 02:30 (CET)
	}},
	{"autumn window inside the repeated hour", "Europe/Amsterdam", []string{"sun 02:15-02:45"}, []check{
		{"2026-10-25T00:14:59Z", false, "2026-10-25T00:15:00Z"},
		{"2026-10-25T00:15:00Z", true, "2026-10-25T01:45:00Z"}, // 90 minutes
		{"2026-10-25T00:50:00Z", true, "2026-10-25T01:45:00Z"},
		{"2026-10-25T01:10:00Z", true, "2026-10-25T01:45:00Z"},
		{"2026-10-25T01:45:00Z", false, "2026-11-01T01:15:00Z"},
	}},
	{"autumn overnight ending in the repeated hour", "Europe/Amsterdam", []string{"sat 23:00-02:30"}, []check{
		{"2026-10-24T20:59:59Z", false, "2026-10-24T21:00:00Z"},
		{"2026-10-24T21:00:00Z", true, "2026-10-25T01:30:00Z"},
		{"2026-10-25T01:30:00Z", false, "2026-10-31T22:00:00Z"},
	}},
	{"autumn end at the start of the repeated hour", "Europe/Amsterdam", []string{"sun 01:00-02:00"}, []check{
		{"2026-10-24T23:00:00Z", true, "2026-10-25T01:00:00Z"}, // second 02:00
		{"2026-10-25T00:59:59Z", true, "2026-10-25T01:00:00Z"},
		{"2026-10-25T01:00:00Z", false, ""},
	}},
	{"autumn window over the repeated hour", "Europe/Amsterdam", []string{"sun 02:00-03:00"}, []check{
		{"2026-10-24T23:59:59Z", false, "2026-10-25T00:00:00Z"},
		{"2026-10-25T00:00:00Z", true, "2026-10-25T02:00:00Z"}, // 03:00 is CET only
		{"2026-10-25T02:00:00Z", false, ""},
	}},
	{"autumn start just after the repeated hour", "Europe/Amsterdam", []string{"sun 03:00-04:00"}, []check{
		{"2026-10-25T00:59:59Z", false, "2026-10-25T02:00:00Z"},
		{"2026-10-25T01:59:59Z", false, "2026-10-25T02:00:00Z"},
		{"2026-10-25T02:00:00Z", true, "2026-10-25T03:00:00Z"},
	}},
	{"office hours in summer", "Europe/Amsterdam", []string{"mon,tue,wed,thu,fri 07:00-19:00"}, []check{
		{"2026-06-10T04:59:59Z", false, "2026-06-10T05:00:00Z"},
		{"2026-06-10T05:00:00Z", true, "2026-06-10T17:00:00Z"},
		{"2026-06-10T17:00:00Z", false, "2026-06-11T05:00:00Z"},
		{"2026-06-12T17:00:00Z", false, "2026-06-15T05:00:00Z"}, // Friday evening
		{"2026-06-13T12:00:00Z", false, "2026-06-15T05:00:00Z"},
	}},
	{"weekend curfew", "Europe/Amsterdam", []string{"fri,sat,sun 23:00-06:30"}, []check{
		{"2026-06-12T20:59:59Z", false, "2026-06-12T21:00:00Z"}, // Friday
		{"2026-06-12T21:00:00Z", true, "2026-06-13T04:30:00Z"},
		{"2026-06-13T04:30:00Z", false, "2026-06-13T21:00:00Z"},
		{"2026-06-15T04:29:59Z", true, "2026-06-15T04:30:00Z"}, // Sunday's runs into Monday
		{"2026-06-15T04:30:00Z", false, "2026-06-19T21:00:00Z"},
		{"2026-06-16T01:00:00Z", false, "2026-06-19T21:00:00Z"}, // Monday's night: none
		// Across the spring switch: Saturday 23:00 CET to Sunday 06:30 CEST.
		{"2026-03-28T22:00:00Z", true, "2026-03-29T04:30:00Z"},
		{"2026-03-29T04:30:00Z", false, "2026-03-29T21:00:00Z"},
		// Across the autumn switch: Saturday 23:00 CEST to Sunday 06:30 CET.
		{"2026-10-24T21:00:00Z", true, "2026-10-25T05:30:00Z"},
		{"2026-10-25T05:29:59Z", true, "2026-10-25T05:30:00Z"},
	}},
	{"overlapping windows", "Europe/Amsterdam", []string{"mon 08:00-12:00", "mon 10:00-14:00"}, []check{
		{"2026-06-15T06:00:00Z", true, "2026-06-15T08:00:00Z"},
		{"2026-06-15T08:00:00Z", true, "2026-06-15T10:00:00Z"},
		{"2026-06-15T12:00:00Z", false, "2026-06-22T06:00:00Z"},
	}},
	// New York in 2026: Sunday 8 March 07:00Z 02:00 EST -> 03:00 EDT;
	// Sunday 1 November 06:00Z 02:00 EDT -> 01:00 EST.
	{"new york spring", "America/New_York", []string{"sun 02:30-03:30"}, []check{
		{"2026-03-08T06:59:59Z", false, "2026-03-08T07:00:00Z"},
		{"2026-03-08T07:00:00Z", true, "2026-03-08T07:30:00Z"},
		{"2026-03-08T07:30:00Z", false, "2026-03-15T06:30:00Z"},
	}},
	{"new york autumn", "America/New_York", []string{"sun 01:30-02:30"}, []check{
		{"2026-11-01T05:29:59Z", false, "2026-11-01T05:30:00Z"},
		{"2026-11-01T05:30:00Z", true, "2026-11-01T07:30:00Z"}, // first 01:30 (EDT)
		{"2026-11-01T06:45:00Z", true, "2026-11-01T07:30:00Z"}, // second 01:45 (EST)
		{"2026-11-01T07:30:00Z", false, "2026-11-08T06:30:00Z"},
	}},
	{"new york overnight into the repeated hour", "America/New_York", []string{"sat 22:00-01:30"}, []check{
		{"2026-11-01T01:59:59Z", false, "2026-11-01T02:00:00Z"},
		{"2026-11-01T02:00:00Z", true, "2026-11-01T06:30:00Z"}, // to the second 01:30
		{"2026-11-01T06:30:00Z", false, "2026-11-08T03:00:00Z"},
	}},
	// Santiago switches at midnight: on Sunday 5 April 2026 at 03:00Z from
	// Sunday 00:00 -03 back to Saturday 23:00 -04; on Sunday 6 September at
	// 04:00Z from 00:00 -04 to 01:00 -03.
	{"santiago overnight from the repeated hour", "America/Santiago", []string{"sat 23:30-00:30"}, []check{
		{"2026-04-05T02:29:59Z", false, "2026-04-05T02:30:00Z"},
		{"2026-04-05T02:30:00Z", true, "2026-04-05T04:30:00Z"},
		{"2026-04-05T03:10:00Z", true, "2026-04-05T04:30:00Z"}, // second Saturday 23:10
		{"2026-04-05T04:30:00Z", false, ""},
	}},
	{"santiago end in the repeated hour", "America/Santiago", []string{"sat 22:00-23:30"}, []check{
		{"2026-04-05T01:00:00Z", true, "2026-04-05T03:30:00Z"},
		{"2026-04-05T03:30:00Z", false, ""},
	}},
	{"santiago day from a missing midnight", "America/Santiago", []string{"sun 00:00-06:00"}, []check{
		{"2026-09-06T03:59:59Z", false, "2026-09-06T04:00:00Z"},
		{"2026-09-06T04:00:00Z", true, "2026-09-06T09:00:00Z"},
		{"2026-09-06T09:00:00Z", false, ""},
	}},
	{"santiago overnight into a missing midnight", "America/Santiago", []string{"sat 22:00-00:30"}, []check{
		{"2026-09-06T02:00:00Z", true, "2026-09-06T04:00:00Z"},
		{"2026-09-06T04:00:00Z", false, ""},
	}},
	// Samoa skipped Friday 30 December 2011: 23:59:59 -10 on Thursday was
	// followed by 00:00 +14 on Saturday, at 10:00Z.
	{"apia missing day", "Pacific/Apia", []string{"fri 10:00-12:00"}, []check{
		{"2011-12-29T00:00:00Z", false, "2011-12-30T10:00:00Z"},
		{"2011-12-30T10:00:00Z", false, "2012-01-05T20:00:00Z"},
		{"2011-12-30T21:00:00Z", false, ""},
	}},
	{"apia overnight into the missing day", "Pacific/Apia", []string{"thu 22:00-02:00", "sat 00:00-01:00"}, []check{
		{"2011-12-30T07:59:59Z", false, "2011-12-30T08:00:00Z"},
		{"2011-12-30T08:00:00Z", true, "2011-12-30T10:00:00Z"},
		{"2011-12-30T10:00:00Z", true, "2011-12-30T11:00:00Z"},
		{"2011-12-30T11:00:00Z", false, ""},
	}},
}

func TestScheduleWindows(t *testing.T) {
	for _, tt := range scheduleCases {
		t.Run(tt.name, func(t *testing.T) {
			runChecks(t, weekly(t, tt.tz, tt.windows...), tt.checks)
		})
	}
}

func TestScheduleValidity(t *testing.T) {
	from := mustTime(t, "2026-01-01T00:00:00+01:00")
	until := mustTime(t, "2027-01-01T00:00:00+01:00")
	t.Run("nil", func(t *testing.T) {
		runChecks(t, nil, []check{{"2026-01-01T00:00:00Z", true, "never"}})
	})
	t.Run("always", func(t *testing.T) {
		runChecks(t, MustSchedule(t, &proxmon.Schedule{TZ: "Europe/Amsterdam"}), []check{{"2026-01-01T00:00:00Z", true, "never"}})
	})
	t.Run("from until", func(t *testing.T) {
		runChecks(t, MustSchedule(t, &proxmon.Schedule{From: &from, Until: &until}), []check{
			{"2025-12-31T22:59:59.999999999Z", false, "2025-12-31T23:00:00Z"},
			{"2025-12-31T23:00:00Z", true, "2026-12-31T23:00:00Z"},
			{"2026-12-31T22:59:59.999999999Z", true, "2026-12-31T23:00:00Z"},
			{"2026-12-31T23:00:00Z", false, "never"},
		})
	})
	t.Run("from only", func(t *testing.T) {
		runChecks(t, MustSchedule(t, &proxmon.Schedule{From: &from}), []check{
			{"2025-01-01T00:00:00Z", false, "2025-12-31T23:00:00Z"},
			{"2030-01-01T00:00:00Z", true, "never"},
		})
	})
	t.Run("until only", func(t *testing.T) {
		runChecks(t, MustSchedule(t, &proxmon.Schedule{Until: &until}), []check{
			{"2000-01-01T00:00:00Z", true, "2026-12-31T23:00:00Z"},
			{"2030-01-01T00:00:00Z", false, "never"},
		})
	})
	t.Run("windows", func(t *testing.T) {
		// Validity that starts and ends inside windows cuts them.
		from, until := mustTime(t, "2026-06-10T12:00:00Z"), mustTime(t, "2026-06-11T10:00:00.5Z")
		s := MustSchedule(t, &proxmon.Schedule{From: &from, Until: &until, TZ: "Europe/Amsterdam",
			Windows: []proxmon.Window{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "07:00", End: "19:00"}}})
		runChecks(t, s, []check{
			{"2026-06-10T11:00:00Z", false, "2026-06-10T12:00:00Z"},
			{"2026-06-10T12:00:00Z", true, "2026-06-10T17:00:00Z"},
			{"2026-06-10T17:00:00Z", false, "2026-06-11T05:00:00Z"},
			{"2026-06-11T05:00:00Z", true, "2026-06-11T10:00:00.5Z"},
			{"2026-06-11T10:00:00.499Z", true, "2026-06-11T10:00:00.5Z"},
			{"2026-06-11T10:00:00.5Z", false, "never"},
		})
	})
}

// zones for the property test: DST at 02:00 or 03:00 local, at midnight, a
// half-hour DST (Lord Howe), a skipped day, and none.
var propertyZones = []string{
	"Europe/Amsterdam", "America/New_York", "America/Santiago", "Australia/Lord_Howe",
	"Pacific/Apia", "Asia/Kolkata", "UTC",
}

// TestScheduleProperties checks Active and State against a reference that
// resolves local times by scanning the clock minute by minute, and checks
// that Active keeps its value from t until State's until.
func TestScheduleProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	days := []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	hhmm := func() string {
		// Favour the hours that DST switches touch.
		h := []int{0, 1, 2, 3, 23, rng.IntN(24)}[rng.IntN(6)]
		return fmt.Sprintf("%02d:%02d", h, []int{0, 15, 30, 45, rng.IntN(60)}[rng.IntN(5)])
	}
	n := 300
	if testing.Short() {
		n = 50
	}
	for i := range n {
		tz := propertyZones[rng.IntN(len(propertyZones))]
		loc, err := time.LoadLocation(tz)
		if err != nil {
			t.Fatal(err)
		}
		s := &proxmon.Schedule{TZ: tz}
		for range 1 + rng.IntN(3) {
			w := proxmon.Window{Start: hhmm(), End: hhmm()}
			for w.End == w.Start {
				w.End = hhmm()
			}
			for j, d := range days {
				if rng.IntN(3) == 0 || j == 6 && len(w.Days) == 0 {
					w.Days = append(w.Days, d)
				}
			}
			s.Windows = append(s.Windows, w)
		}
		MustSchedule(t, s)

		// Near a transition of the zone, or anywhere.
		at := time.Unix(mustTime(t, "2011-01-01T00:00:00Z").Unix()+rng.Int64N(20*365*86400), 0)
		if _, end := at.In(loc).ZoneBounds(); !end.IsZero() && rng.IntN(4) != 0 {
			at = end.Add(time.Duration(rng.Int64N(int64(72*time.Hour))) - 36*time.Hour)
		}
		at = at.Add(time.Duration(rng.Int64N(int64(time.Second))))

		name := fmt.Sprintf("#%d %s %v at %s", i, tz, s.Windows, at.UTC().Format(time.RFC3339Nano))
		ref := &reference{s: s, loc: loc, clock: map[refKey]time.Time{}}
		want := ref.active(at)
		if got := s.Active(at); got != want {
			t.Errorf("%s: Active = %v, reference %v", name, got, want)
			continue
		}
		active, until := s.State(at)
		if active != want {
			t.Errorf("%s: State active = %v, reference %v", name, active, want)
		}
		if !until.After(at) || until.Sub(at) > 8*24*time.Hour {
			t.Errorf("%s: State until = %s", name, until.UTC().Format(time.RFC3339Nano))
			continue
		}
		for _, p := range []time.Time{
			until.Add(-time.Nanosecond), until.Add(-time.Second), until.Add(-time.Minute),
			at.Add(time.Duration(rng.Int64N(int64(until.Sub(at))))),
		} {
			if p.Before(at) {
				continue
			}
			if got := ref.active(p); got != active {
				t.Errorf("%s: until %s, but the reference says %v at %s", name,
					until.UTC().Format(time.RFC3339Nano), got, p.UTC().Format(time.RFC3339Nano))
			}
			if got := s.Active(p); got != active {
				t.Errorf("%s: until %s, but Active is %v at %s", name,
					until.UTC().Format(time.RFC3339Nano), got, p.UTC().Format(time.RFC3339Nano))
			}
		}
	}
}

// reference is the schedule semantics written down directly: each window
// occurrence resolved by looking at the clock of loc minute by minute.
type reference struct {
	s     *proxmon.Schedule
	loc   *time.Location
	clock map[refKey]time.Time // resolved local times
}

type refKey struct {
	day  time.Time
	min  int
	last bool
}

func (r *reference) active(t time.Time) bool {
	local := t.In(r.loc)
	for _, w := range r.s.Windows {
		start, end := refClock(w.Start), refClock(w.End)
		for dd := -2; dd <= 2; dd++ {
			y, m, d := local.Date()
			day := time.Date(y, m, d+dd, 0, 0, 0, 0, time.UTC)
			if !strings.Contains(strings.Join(w.Days, ","), strings.ToLower(day.Weekday().String()[:3])) {
				continue
			}
			endDay := day
			if end <= start {
				endDay = day.AddDate(0, 0, 1)
			}
			if !t.Before(r.resolve(day, start, false)) && t.Before(r.resolve(endDay, end, true)) {
				return true
			}
		}
	}
	return false
}

func refClock(hhmm string) int {
	var h, m int
	fmt.Sscanf(hhmm, "%d:%d", &h, &m)
	return h*60 + m
}

// resolve returns the instant at which the clock reads minute min of day:
// the first or the last time it does, or, if it never does, when it jumps
// past it.
func (r *reference) resolve(day time.Time, min int, last bool) time.Time {
	k := refKey{day, min, last}
	if u, ok := r.clock[k]; ok {
		return u
	}
	want := day.Add(time.Duration(min) * time.Minute) // the reading, as UTC
	var first, final, past time.Time
	// UTC offsets lie within -12h and +14h.
	for u := want.Add(-15 * time.Hour); u.Before(want.Add(15 * time.Hour)); u = u.Add(time.Minute) {
		l := u.In(r.loc)
		reading := time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), 0, 0, time.UTC)
		switch {
		case reading.Equal(want):
			if first.IsZero() {
				first = u
			}
			final = u
		case reading.After(want) && past.IsZero():
			past = u
		}
	}
	u := past
	switch {
	case !first.IsZero() && last:
		u = final
	case !first.IsZero():
		u = first
	}
	r.clock[k] = u
	return u
}

func TestScheduleActiveAllocs(t *testing.T) {
	s := weekly(t, "Europe/Amsterdam", "fri,sat,sun 23:00-06:30", "mon 07:00-19:00")
	for _, at := range []string{"2026-06-13T01:00:00Z", "2026-03-29T01:30:00Z"} {
		tm := mustTime(t, at)
		if n := testing.AllocsPerRun(100, func() { s.Active(tm) }); n != 0 {
			t.Errorf("Active(%s) allocates %v times", at, n)
		}
		if n := testing.AllocsPerRun(100, func() { s.State(tm) }); n != 0 {
			t.Errorf("State(%s) allocates %v times", at, n)
		}
	}
}

func BenchmarkScheduleActive(b *testing.B) {
	s := weekly(b, "Europe/Amsterdam", "fri,sat,sun 23:00-06:30", "mon,tue,wed,thu,fri 07:00-19:00")
	for _, bc := range []struct{ name, at string }{
		{"quiet", "2026-06-13T01:00:00Z"},
		{"near switch", "2026-03-29T01:30:00Z"},
	} {
		at := mustTime(b, bc.at)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Active(at)
			}
		})
	}
}

func BenchmarkScheduleState(b *testing.B) {
	s := weekly(b, "Europe/Amsterdam", "fri,sat,sun 23:00-06:30", "mon,tue,wed,thu,fri 07:00-19:00")
	at := mustTime(b, "2026-06-13T01:00:00Z")
	b.ReportAllocs()
	for b.Loop() {
		s.State(at)
	}
}
