package fence_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/geo"
)

// The tests below take their expectations from DESIGN.md, "Engine
// semantics" and "Event types and severity": each threshold is met a
// centimetre to either side, with points placed by north at an exact
// geodesic distance. The scene checks ids, order, times, severities and the
// pairing of opens and closes on every record.

// home is where the zones and the protected person are.
var home = geo.Point{Lat: 51.92, Lon: 4.47}

const sec = time.Second

// contactCase is a case with a contact ban; tag-1 counts 20 m for a fix
// without accuracy, phone-1 the default 50 m. hysteresis is the ban's
// hysteresis_m line, or "" for the default.
func contactCase(hysteresis string) string {
	return `
devices:
  - {id: tag-1, kind: tag, report_interval_s: 30, default_accuracy_m: 20}
  - {id: phone-1, kind: victim, report_interval_s: 60}
cases:
  - id: case-1
    offender: tag-1
    contact_bans:
      - {protected: phone-1, alert_m: 500, warn_m: 1500` + hysteresis + `}
`
}

func TestContactBanOpens(t *testing.T) {
	const A, W = 500.0, 1500.0
	const tagDefault, phoneDefault = 20.0, 50.0
	type row struct {
		name             string
		d                float64 // distance between the parties
		tagAcc, phoneAcc float64
		want             []string
	}
	u := 5.0 + 3.0
	rows := []row{
		{"d-u just beyond W", W + u + cm, 5, 3, nil},
		{"d-u just within W", W + u - cm, 5, 3, []string{"contact_warning open possible"}},
		{"d just beyond W", W + cm, 5, 3, []string{"contact_warning open possible"}},
		{"d just within W", W - cm, 5, 3, []string{"contact_warning open probable"}},
		{"d+u just beyond W", W - u + cm, 5, 3, []string{"contact_warning open probable"}},
		{"d+u just within W", W - u - cm, 5, 3, []string{"contact_warning open confirmed"}},
		{"d-u just beyond A", A + u + cm, 5, 3, []string{"contact_warning open confirmed"}},
		{"d-u just within A", A + u - cm, 5, 3, []string{"contact_breach open possible", "contact_warning open confirmed"}},
		{"d just beyond A", A + cm, 5, 3, []string{"contact_breach open possible", "contact_warning open confirmed"}},
		{"d just within A", A - cm, 5, 3, []string{"contact_breach open probable", "contact_warning open confirmed"}},
		{"d+u just beyond A", A - u + cm, 5, 3, []string{"contact_breach open probable", "contact_warning open confirmed"}},
		{"d+u just within A", A - u - cm, 5, 3, []string{"contact_breach open confirmed", "contact_warning open confirmed"}},
		// A fix without accuracy counts with its device's default_accuracy_m
		// (50 m when the device has none) and caps the certainty.
		{"tag without accuracy: d-u just beyond A", A + tagDefault + 3 + cm, 0, 3, []string{"contact_warning open possible"}},
		{"tag without accuracy: d-u just within A", A + tagDefault + 3 - cm, 0, 3, []string{"contact_breach open possible", "contact_warning open possible"}},
		{"tag without accuracy: next to her", 10, 0, 3, []string{"contact_breach open possible", "contact_warning open possible"}},
		{"phone without accuracy: d-u just beyond A", A + 5 + phoneDefault + cm, 5, 0, []string{"contact_warning open possible"}},
		{"phone without accuracy: d-u just within A", A + 5 + phoneDefault - cm, 5, 0, []string{"contact_breach open possible", "contact_warning open possible"}},
		{"phone without accuracy: next to her", 10, 5, 0, []string{"contact_breach open possible", "contact_warning open possible"}},
	}
	for _, r := range rows {
		// The ban is evaluated on the fixes of either party: whoever
		// reports second triggers it, and the event is about the offender.
		for _, last := range []string{"tag-1", "phone-1"} {
			t.Run(r.name+"/"+last+" last", func(t *testing.T) {
				s := newScene(t, contactCase(""))
				tagAt := north(home, r.d)
				first, second := func() []proxmon.Event { return s.fix("phone-1", 0, home, r.phoneAcc) },
					func() []proxmon.Event { return s.fix("tag-1", 10*sec, tagAt, r.tagAcc) }
				if last == "phone-1" {
					first, second = func() []proxmon.Event { return s.fix("tag-1", 0, tagAt, r.tagAcc) },
						func() []proxmon.Event { return s.fix("phone-1", 10*sec, home, r.phoneAcc) }
				}
				expect(t, "first fix", first())
				evs := second()
				expect(t, "second fix", evs, r.want...)
				for _, ev := range evs {
					if ev.Device != "tag-1" || ev.Protected != "phone-1" {
						t.Errorf("%s: device %q protected %q, want tag-1 and phone-1", ev.Type, ev.Device, ev.Protected)
					}
					if ev.DistanceM == nil || math.Abs(*ev.DistanceM-r.d) > 0.006 {
						t.Errorf("%s: distance_m %v, want d = %.3f", ev.Type, ev.DistanceM, r.d)
					}
				}
			})
		}
	}
}

func TestContactBanCloses(t *testing.T) {
	const A, W = 500.0, 1500.0
	const u = 5.0 + 3.0
	for _, h := range []struct {
		yaml string
		H    float64
	}{{"", 50}, {", hysteresis_m: 10", 10}} {
		rows := []struct {
			name string
			d    float64
			want []string
		}{
			{"still well within A", 100, nil},
			{"d-u just within A+H", A + h.H + u - cm, nil},
			{"d-u just beyond A+H", A + h.H + u + cm, []string{"contact_breach close"}},
			{"d-u just beyond W: the warning stays", W + u + cm, []string{"contact_breach close"}},
			{"d-u just within W+H", W + h.H + u - cm, []string{"contact_breach close"}},
			{"d-u just beyond W+H", W + h.H + u + cm, []string{"contact_breach close", "contact_warning close"}},
		}
		for _, r := range rows {
			for _, mover := range []string{"tag-1", "phone-1"} {
				t.Run(fmt.Sprintf("H=%g/%s/%s moves", h.H, r.name, mover), func(t *testing.T) {
					s := newScene(t, contactCase(h.yaml))
					s.fix("phone-1", 0, home, 3)
					tagAt := north(home, 100)
					expect(t, "offender 100 m away", s.fix("tag-1", 10*sec, tagAt, 5),
						"contact_breach open confirmed", "contact_warning open confirmed")
					// Within the ban again: nothing re-opens.
					expect(t, "offender 50 m away", s.fix("tag-1", 20*sec, north(home, 50), 5))
					expect(t, "offender back at 100 m", s.fix("tag-1", 30*sec, tagAt, 5))
					var evs []proxmon.Event
					if mover == "tag-1" {
						evs = s.fix("tag-1", 90*sec, north(home, r.d), 5)
					} else {
						evs = s.fix("phone-1", 90*sec, north(tagAt, -r.d), 3)
					}
					expect(t, "after the move", evs, r.want...)
				})
			}
		}
	}
}

// TestContactBanStale: a position older than 3 x its device's
// report_interval_s, relative to the triggering fix, opens and closes
// nothing.
func TestContactBanStale(t *testing.T) {
	rows := []struct {
		name        string
		first       string // who reports first, at 0
		secondAt    time.Duration
		wantsBreach bool
	}{
		// phone-1 reports every 60 s: stale after 180 s.
		{"phone's position 180 s old", "phone-1", 180 * sec, true},
		{"phone's position 180.001 s old", "phone-1", 180*sec + time.Millisecond, false},
		// tag-1 reports every 30 s: stale after 90 s.
		{"tag's position 90 s old", "tag-1", 90 * sec, true},
		{"tag's position 90.001 s old", "tag-1", 90*sec + time.Millisecond, false},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			s := newScene(t, contactCase(""))
			tagAt := north(home, 100)
			var evs []proxmon.Event
			if r.first == "phone-1" {
				s.fix("phone-1", 0, home, 3)
				evs = s.fix("tag-1", r.secondAt, tagAt, 5)
			} else {
				s.fix("tag-1", 0, tagAt, 5)
				evs = s.fix("phone-1", r.secondAt, home, 3)
			}
			var want []string
			if r.wantsBreach {
				want = []string{"contact_breach open confirmed", "contact_warning open confirmed"}
			}
			expect(t, "second fix", evs, want...)
		})
	}

	t.Run("a stale position closes nothing", func(t *testing.T) {
		s := newScene(t, contactCase(""))
		s.fix("phone-1", 0, home, 3)
		expect(t, "offender near", s.fix("tag-1", 10*sec, north(home, 100), 5),
			"contact_breach open confirmed", "contact_warning open confirmed")
		expect(t, "offender still near", s.fix("tag-1", 60*sec, north(home, 150), 5))
		expect(t, "offender still near", s.fix("tag-1", 120*sec, north(home, 150), 5))
		// The phone's position is 181 s old when the offender is far.
		far := north(home, 3000)
		expect(t, "offender far, phone stale", s.fix("tag-1", 181*sec, far, 5))
		expect(t, "offender far, phone stale", s.fix("tag-1", 200*sec, far, 5))
		expect(t, "phone reports again", s.fix("phone-1", 210*sec, home, 3),
			"contact_breach close", "contact_warning close")
	})
}

// zoneCase is a case whose offender tag-1 (20 m for a fix without accuracy,
// reporting every 30 s) has the zones given, one YAML flow mapping each.
func zoneCase(zones ...string) string {
	return `
devices:
  - {id: tag-1, kind: tag, report_interval_s: 30, default_accuracy_m: 20}
cases:
  - id: case-1
    offender: tag-1
    zones:
      - ` + strings.Join(zones, "\n      - ") + "\n"
}

// zoneShape is an exclusion zone to test and a way to reach a point at a
// given signed distance s from its boundary.
type zoneShape struct {
	name, zone, yaml string
	buffer, H        float64
	place            func(s float64) geo.Point
}

// The polygon's outer ring spans 4.50..4.53 E, 51.95..51.97 N, its hole
// 4.51..4.52 E, 51.955..51.965 N. Along the meridian 4.515 E the nearest
// boundary is the edge of the parallel crossed, so the signed distance is
// the geodesic distance to the foot on that parallel.
var (
	parkOuterFoot = geo.Point{Lat: 51.95, Lon: 4.515}
	parkHoleFoot  = geo.Point{Lat: 51.955, Lon: 4.515}
)

const parkYAML = `{id: park, kind: exclusion, buffer_m: 100, hysteresis_m: 10, geometry: {type: Polygon, coordinates: [` +
	`[[4.50, 51.95], [4.53, 51.95], [4.53, 51.97], [4.50, 51.97], [4.50, 51.95]], ` +
	`[[4.51, 51.955], [4.52, 51.955], [4.52, 51.965], [4.51, 51.965], [4.51, 51.955]]]}}`

var exclusionShapes = []zoneShape{
	{"circle", "home", `{id: home, kind: exclusion, circle: {center: [4.47, 51.92], radius_m: 200}, buffer_m: 300}`,
		300, 25, func(s float64) geo.Point { return north(home, 200+s) }},
	{"polygon, outer ring", "park", parkYAML,
		100, 10, func(s float64) geo.Point { return north(parkOuterFoot, -s) }},
	{"polygon, hole", "park", parkYAML,
		100, 10, func(s float64) geo.Point { return north(parkHoleFoot, s) }},
}

// placeChecked places a point at signed distance s from a zone's boundary
// and checks the construction against the zone's shape.
func placeChecked(t *testing.T, s *scene, zone string, place func(float64) geo.Point, want float64) geo.Point {
	t.Helper()
	p := place(want)
	if got := s.shape("case-1", zone).SignedDistance(p); math.Abs(got-want) > 1e-3 {
		t.Fatalf("construction: signed distance %.4f m, want %.4f m", got, want)
	}
	return p
}

func TestExclusionZoneOpens(t *testing.T) {
	const u, def = 5.0, 20.0
	for _, z := range exclusionShapes {
		b := z.buffer
		rows := []struct {
			name string
			s    float64
			acc  float64
			want []string
		}{
			{"s-u just beyond the buffer", b + u + cm, u, nil},
			{"s-u just within the buffer", b + u - cm, u, []string{"zone_approach open possible"}},
			{"s just beyond the buffer", b + cm, u, []string{"zone_approach open possible"}},
			{"s just within the buffer", b - cm, u, []string{"zone_approach open probable"}},
			{"s+u just beyond the buffer", b - u + cm, u, []string{"zone_approach open probable"}},
			{"s+u just within the buffer", b - u - cm, u, []string{"zone_approach open confirmed"}},
			{"s-u just outside", u + cm, u, []string{"zone_approach open confirmed"}},
			{"s-u just inside", u - cm, u, []string{"zone_approach open confirmed", "zone_breach open possible"}},
			{"s just outside", cm, u, []string{"zone_approach open confirmed", "zone_breach open possible"}},
			{"s just inside", -cm, u, []string{"zone_approach open confirmed", "zone_breach open probable"}},
			{"s+u just outside", -u + cm, u, []string{"zone_approach open confirmed", "zone_breach open probable"}},
			{"s+u just inside", -u - cm, u, []string{"zone_approach open confirmed", "zone_breach open confirmed"}},
			{"no accuracy: s-u just outside", def + cm, 0, []string{"zone_approach open possible"}},
			{"no accuracy: s-u just inside", def - cm, 0, []string{"zone_approach open possible", "zone_breach open possible"}},
			{"no accuracy: deep inside", -100, 0, []string{"zone_approach open possible", "zone_breach open possible"}},
		}
		for _, r := range rows {
			t.Run(z.name+"/"+r.name, func(t *testing.T) {
				s := newScene(t, zoneCase(z.yaml))
				p := placeChecked(t, s, z.zone, z.place, r.s)
				evs := s.fix("tag-1", 0, p, r.acc)
				expect(t, "fix", evs, r.want...)
				for _, ev := range evs {
					if ev.Zone != z.zone || ev.DistanceM == nil || math.Abs(*ev.DistanceM-r.s) > 0.006 {
						t.Errorf("%s: zone %q distance_m %v, want %s and s = %.3f", ev.Type, ev.Zone, ev.DistanceM, z.zone, r.s)
					}
				}
			})
		}
	}
}

func TestExclusionZoneCloses(t *testing.T) {
	const u = 5.0
	for _, z := range exclusionShapes {
		rows := []struct {
			name string
			s    float64
			want []string
		}{
			{"s-u just within H", z.H + u - cm, nil},
			{"s-u just beyond H", z.H + u + cm, []string{"zone_breach close"}},
			{"s-u just within buffer+H", z.buffer + z.H + u - cm, []string{"zone_breach close"}},
			{"s-u just beyond buffer+H", z.buffer + z.H + u + cm, []string{"zone_approach close", "zone_breach close"}},
		}
		for _, r := range rows {
			t.Run(z.name+"/"+r.name, func(t *testing.T) {
				s := newScene(t, zoneCase(z.yaml))
				expect(t, "inside", s.fix("tag-1", 0, placeChecked(t, s, z.zone, z.place, -100), u),
					"zone_approach open confirmed", "zone_breach open confirmed")
				expect(t, "still inside", s.fix("tag-1", 30*sec, placeChecked(t, s, z.zone, z.place, -50), u))
				expect(t, "a tick", s.tick(40*sec))
				expect(t, "moved", s.fix("tag-1", 90*sec, placeChecked(t, s, z.zone, z.place, r.s), u), r.want...)
			})
		}
	}
}

func TestInclusionZone(t *testing.T) {
	const u, def, H = 5.0, 20.0, 25.0
	const curfew = `{id: night, kind: inclusion, circle: {center: [4.47, 51.92], radius_m: 300}}`
	place := func(s float64) geo.Point { return north(home, 300+s) }
	opens := []struct {
		name string
		s    float64
		acc  float64
		want []string
	}{
		{"s+u just inside", -u - cm, u, nil},
		{"s+u just outside", -u + cm, u, []string{"curfew_breach open possible"}},
		{"s just inside", -cm, u, []string{"curfew_breach open possible"}},
		{"s just outside", cm, u, []string{"curfew_breach open probable"}},
		{"s-u just inside", u - cm, u, []string{"curfew_breach open probable"}},
		{"s-u just outside", u + cm, u, []string{"curfew_breach open confirmed"}},
		{"no accuracy: s+u just inside", -def - cm, 0, nil},
		{"no accuracy: s+u just outside", -def + cm, 0, []string{"curfew_breach open possible"}},
		{"no accuracy: far outside", 500, 0, []string{"curfew_breach open possible"}},
	}
	for _, r := range opens {
		t.Run("opens/"+r.name, func(t *testing.T) {
			s := newScene(t, zoneCase(curfew))
			expect(t, "fix", s.fix("tag-1", 0, placeChecked(t, s, "night", place, r.s), r.acc), r.want...)
		})
	}
	closes := []struct {
		name string
		s    float64
		want []string
	}{
		{"s+u just outside -H", -H - u + cm, nil},
		{"s+u just inside -H", -H - u - cm, []string{"curfew_breach close"}},
	}
	for _, r := range closes {
		t.Run("closes/"+r.name, func(t *testing.T) {
			s := newScene(t, zoneCase(curfew))
			expect(t, "outside", s.fix("tag-1", 0, place(100), u), "curfew_breach open confirmed")
			expect(t, "still outside", s.fix("tag-1", 30*sec, place(1), u))
			expect(t, "back", s.fix("tag-1", 60*sec, placeChecked(t, s, "night", place, r.s), u), r.want...)
		})
	}
}

// TestZoneTick: zones are judged on ticks too, on the offender's latest
// position unless it is stale (3 x 30 s). The schedule's start is what
// makes the tick's verdict differ from the fix's.
func TestZoneTick(t *testing.T) {
	const window = `{days: [mon], start: "07:00", end: "19:00"}`
	start := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC) // Monday 07:00 in Amsterdam
	rows := []struct {
		name  string
		fixAt time.Duration // before the window starts
		want  []string
	}{
		{"position 30 s old", -30 * sec, []string{"zone_breach open confirmed"}},
		{"position 90 s old", -90 * sec, []string{"zone_breach open confirmed"}},
		{"position 90.001 s old", -90*sec - time.Millisecond, nil},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			s := newSceneAt(t, start, zoneCase(`{id: home, kind: exclusion, circle: {center: [4.47, 51.92], radius_m: 200}, schedule: {tz: Europe/Amsterdam, windows: [`+window+`]}}`))
			expect(t, "fix inside before the window", s.fix("tag-1", r.fixAt, north(home, 50), 5))
			expect(t, "tick before the window", s.tick(-time.Millisecond))
			expect(t, "tick at the window's start", zoneEvents(s.tick(0)), r.want...)
		})
	}

	t.Run("curfew", func(t *testing.T) {
		s := newSceneAt(t, start, zoneCase(`{id: night, kind: inclusion, circle: {center: [4.47, 51.92], radius_m: 200}, schedule: {tz: Europe/Amsterdam, windows: [`+window+`]}}`))
		expect(t, "fix outside before the window", s.fix("tag-1", -30*sec, north(home, 1000), 5))
		expect(t, "tick at the window's start", s.tick(0), "curfew_breach open confirmed")
	})
}

// TestZoneSchedule checks windows at the engine: nothing opens outside a
// window; inside, a zone opens at the first fix or tick; after the window
// every open event of the zone closes at the offender's first fix or the
// first tick, stale or not. Windows across midnight belong to the day they
// start; across DST a start in the missing hour is the switch, an end in it
// too; in the repeated hour a start is its first occurrence, an end its
// second.
func TestZoneSchedule(t *testing.T) {
	rows := []struct {
		name, schedule string
		boundary       string // UTC
		isEnd          bool
	}{
		{"validity from", `from: "2026-03-02T10:00:00+01:00", until: "2026-03-02T12:00:00+01:00"`, "2026-03-02T09:00:00Z", false},
		{"validity until", `from: "2026-03-02T10:00:00+01:00", until: "2026-03-02T12:00:00+01:00"`, "2026-03-02T11:00:00Z", true},
		{"weekday start", `tz: Europe/Amsterdam, windows: [{days: [mon], start: "07:00", end: "19:00"}]`, "2026-03-02T06:00:00Z", false},
		{"weekday end", `tz: Europe/Amsterdam, windows: [{days: [mon], start: "07:00", end: "19:00"}]`, "2026-03-02T18:00:00Z", true},
		{"overnight start", `tz: Europe/Amsterdam, windows: [{days: [fri], start: "22:00", end: "06:00"}]`, "2026-03-06T21:00:00Z", false},
		{"overnight end, the next morning", `tz: Europe/Amsterdam, windows: [{days: [fri], start: "22:00", end: "06:00"}]`, "2026-03-07T05:00:00Z", true},
		{"spring forward: start in the missing hour is the switch", `tz: Europe/Amsterdam, windows: [{days: [sun], start: "02:30", end: "05:00"}]`, "2026-03-29T01:00:00Z", false},
		{"spring forward: end in the missing hour is the switch", `tz: Europe/Amsterdam, windows: [{days: [sat], start: "22:00", end: "02:30"}]`, "2026-03-29T01:00:00Z", true},
		{"fall back: start in the repeated hour is its first occurrence", `tz: Europe/Amsterdam, windows: [{days: [sun], start: "02:30", end: "05:00"}]`, "2026-10-25T00:30:00Z", false},
		{"fall back: end in the repeated hour is its second occurrence", `tz: Europe/Amsterdam, windows: [{days: [sat], start: "22:00", end: "02:30"}]`, "2026-10-25T01:30:00Z", true},
	}
	inside := north(home, 50)
	for _, r := range rows {
		b, err := time.Parse(time.RFC3339, r.boundary)
		if err != nil {
			t.Fatal(err)
		}
		zone := zoneCase(`{id: home, kind: exclusion, circle: {center: [4.47, 51.92], radius_m: 200}, buffer_m: 100, schedule: {` + r.schedule + `}}`)
		open := []string{"zone_approach open confirmed", "zone_breach open confirmed"}
		closed := []string{"zone_approach close", "zone_breach close"}
		for _, by := range []string{"fix", "tick"} {
			t.Run(r.name+"/by "+by, func(t *testing.T) {
				s := newSceneAt(t, b, zone)
				if !r.isEnd {
					if by == "fix" {
						expect(t, "fix 1 s before the start", zoneEvents(s.fix("tag-1", -sec, inside, 5)))
						expect(t, "fix at the start", zoneEvents(s.fix("tag-1", 0, inside, 5)), open...)
						return
					}
					expect(t, "fix 30 s before the start", zoneEvents(s.fix("tag-1", -30*sec, inside, 5)))
					expect(t, "tick 1 s before the start", zoneEvents(s.tick(-sec)))
					expect(t, "tick at the start", zoneEvents(s.tick(0)), open...)
					return
				}
				expect(t, "fix 65 min before the end", zoneEvents(s.fix("tag-1", -65*time.Minute, inside, 5)), open...)
				for m := 60; m > 0; m -= 10 {
					expect(t, fmt.Sprintf("tick %d min before the end", m), zoneEvents(s.tick(-time.Duration(m)*time.Minute)))
				}
				if by == "fix" {
					expect(t, "fix 1 s before the end", zoneEvents(s.fix("tag-1", -sec, inside, 5)))
					expect(t, "fix at the end", zoneEvents(s.fix("tag-1", 0, inside, 5)), closed...)
				} else {
					// The position is stale by now: the zone closes all
					// the same.
					expect(t, "tick 1 s before the end", zoneEvents(s.tick(-sec)))
					expect(t, "tick at the end", zoneEvents(s.tick(0)), closed...)
				}
				expect(t, "fix inside after the end", zoneEvents(s.fix("tag-1", 10*sec, inside, 5)))
				expect(t, "tick after the end", zoneEvents(s.tick(11*sec)))
			})
		}
	}

	// An overnight window belongs to the day it starts: "fri 22:00-06:00"
	// is not active on Friday morning nor on Saturday night.
	quiet := []struct{ name, at string }{
		{"friday 05:00, the end of a thursday window", "2026-03-06T04:00:00Z"},
		{"saturday 23:00", "2026-03-07T22:00:00Z"},
	}
	for _, q := range quiet {
		t.Run("overnight/"+q.name, func(t *testing.T) {
			at, err := time.Parse(time.RFC3339, q.at)
			if err != nil {
				t.Fatal(err)
			}
			s := newSceneAt(t, at, zoneCase(`{id: home, kind: exclusion, circle: {center: [4.47, 51.92], radius_m: 200}, schedule: {tz: Europe/Amsterdam, windows: [{days: [fri], start: "22:00", end: "06:00"}]}}`))
			expect(t, "fix inside", zoneEvents(s.fix("tag-1", 0, inside, 5)))
			expect(t, "tick", zoneEvents(s.tick(sec)))
		})
	}
}

// zoneEvents returns the events of zone rules.
func zoneEvents(evs []proxmon.Event) []proxmon.Event {
	return ofType(evs, proxmon.ZoneBreach, proxmon.ZoneApproach, proxmon.CurfewBreach, proxmon.LateZoneBreach)
}

// lateCase has an always active zone with an approach band, a scheduled
// zone (Mondays 07:00-19:00 in Amsterdam) and a contact ban.
const lateCase = `
devices:
  - {id: tag-1, kind: tag, report_interval_s: 30, default_accuracy_m: 20}
  - {id: phone-1, kind: victim, report_interval_s: 60}
cases:
  - id: case-1
    offender: tag-1
    contact_bans:
      - {protected: phone-1, alert_m: 500, warn_m: 1000}
    zones:
      - {id: home, kind: exclusion, circle: {center: [4.47, 51.92], radius_m: 200}, buffer_m: 300}
      - {id: school, kind: exclusion, circle: {center: [4.47, 51.95], radius_m: 200}, schedule: {tz: Europe/Amsterdam, windows: [{days: [mon], start: "07:00", end: "19:00"}]}}
`

// TestLateFix: a fix not newer than the position is checked against the
// exclusion zones active at its time (s - u <= 0 gives one
// late_zone_breach, phase point, with its certainty); it changes no
// position and opens or closes nothing else.
func TestLateFix(t *testing.T) {
	school := geo.Point{Lat: 51.95, Lon: 4.47}
	between := north(home, 1500)                                   // 1300 m from home's edge, 1.6 km from school's
	phoneAt := north(home, -3000)                                  // far from both zones
	mondayMorning := sceneStart                                    // 10:00 in Amsterdam: school is active
	mondayEvening := time.Date(2026, 3, 2, 18, 0, 30, 0, time.UTC) // 19:00:30, school just ended
	schoolStarted := time.Date(2026, 3, 2, 6, 0, 10, 0, time.UTC)  // 07:00:10, school just began
	rows := []struct {
		name   string
		start  time.Time
		lateAt time.Duration
		p      geo.Point
		acc    float64
		want   []string
		zone   string
	}{
		{"s+u just inside", mondayMorning, -10 * sec, north(home, 200-5-cm), 5, []string{"late_zone_breach point confirmed"}, "home"},
		{"s just inside", mondayMorning, -10 * sec, north(home, 200-cm), 5, []string{"late_zone_breach point probable"}, "home"},
		{"s-u just inside", mondayMorning, -10 * sec, north(home, 200+5-cm), 5, []string{"late_zone_breach point possible"}, "home"},
		{"s-u just outside", mondayMorning, -10 * sec, north(home, 200+5+cm), 5, nil, ""},
		{"in the approach band", mondayMorning, -10 * sec, north(home, 300), 5, nil, ""},
		{"no accuracy", mondayMorning, -10 * sec, north(home, 100), 0, []string{"late_zone_breach point possible"}, "home"},
		{"no accuracy, s-u just outside", mondayMorning, -10 * sec, north(home, 200+20+cm), 0, nil, ""},
		{"as old as the position", mondayMorning, 0, north(home, 100), 5, []string{"late_zone_breach point confirmed"}, "home"},
		{"next to the protected person", mondayMorning, -10 * sec, phoneAt, 5, nil, ""},
		{"scheduled zone active at its time", mondayMorning, -10 * sec, school, 5, []string{"late_zone_breach point confirmed"}, "school"},
		{"scheduled zone active at its time, not now", mondayEvening, -40 * sec, school, 5, []string{"late_zone_breach point confirmed"}, "school"},
		{"scheduled zone active now, not at its time", schoolStarted, -20 * sec, school, 5, nil, ""},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			s := newSceneAt(t, r.start, lateCase)
			s.fix("phone-1", 0, phoneAt, 3)
			expect(t, "position", s.fix("tag-1", 0, between, 5))
			evs := s.fix("tag-1", r.lateAt, r.p, r.acc)
			expect(t, "late fix", evs, r.want...)
			for _, ev := range evs {
				if ev.Zone != r.zone {
					t.Errorf("late_zone_breach in zone %q, want %q", ev.Zone, r.zone)
				}
			}
			// The position is still the one in between: nothing opens.
			expect(t, "tick", s.tick(10*sec))
			expect(t, "fix where he was", s.fix("tag-1", 20*sec, between, 5))
		})
	}

	t.Run("closes nothing", func(t *testing.T) {
		s := newScene(t, lateCase)
		s.fix("phone-1", 0, home, 3)
		expect(t, "inside home, next to her", s.fix("tag-1", 10*sec, north(home, 100), 5),
			"contact_breach open confirmed", "contact_warning open confirmed", "zone_approach open confirmed", "zone_breach open confirmed")
		expect(t, "late fix far away", s.fix("tag-1", 5*sec, north(home, 3000), 5))
		expect(t, "tick", s.tick(15*sec))
	})
}

// TestDuplicateFix: a repeated (device, seq, time) changes nothing; a
// device that restarts its seq at a new time is not repeating itself.
func TestDuplicateFix(t *testing.T) {
	const homeZone = `{id: home, kind: exclusion, circle: {center: [4.47, 51.92], radius_m: 200}}`
	inside, far := north(home, 100), north(home, 500)
	fix := func(seq uint64, at time.Duration, p geo.Point) proxmon.Fix {
		return proxmon.Fix{Device: "tag-1", Seq: seq, Time: sceneStart.Add(at), Lat: p.Lat, Lon: p.Lon, AccuracyM: 5}
	}

	t.Run("a repeated fix is not a late fix", func(t *testing.T) {
		s := newScene(t, zoneCase(homeZone))
		expect(t, "seq 1 inside", s.fixRecord(fix(1, 10*sec, inside)), "zone_breach open confirmed")
		expect(t, "seq 2 far", s.fixRecord(fix(2, 20*sec, far)), "zone_breach close")
		expect(t, "seq 1 again", s.fixRecord(fix(1, 10*sec, inside)))
		expect(t, "seq 2 again", s.fixRecord(fix(2, 20*sec, far)))
	})

	t.Run("repeated after six newer fixes (duplicates are recognised among a device's last 8)", func(t *testing.T) {
		s := newScene(t, zoneCase(homeZone))
		expect(t, "seq 1 inside", s.fixRecord(fix(1, 0, inside)), "zone_breach open confirmed")
		expect(t, "seq 2 far", s.fixRecord(fix(2, 10*sec, far)), "zone_breach close")
		for seq := uint64(3); seq <= 7; seq++ {
			expect(t, fmt.Sprintf("seq %d far", seq), s.fixRecord(fix(seq, time.Duration(seq-1)*10*sec, far)))
		}
		again := fix(1, 0, inside)
		again.Received = sceneStart.Add(150 * sec)
		expect(t, "seq 1 again, received at 150 s", s.fixRecord(again))
		expectText(t, "tick at 151 s, 91 s after seq 7", lost(s.tick(151*sec)), []string{"tag-1 open high"})
	})

	t.Run("a repeated fix is not heard again", func(t *testing.T) {
		s := newScene(t, zoneCase(homeZone))
		s.fixRecord(fix(1, 0, far))
		again := fix(1, 0, far)
		again.Received = sceneStart.Add(80 * sec)
		expect(t, "seq 1 again, received at 80 s", s.fixRecord(again))
		expect(t, "tick at 90.001 s", ofType(s.tick(90*sec+time.Millisecond), proxmon.SignalLost), "signal_lost open")
	})

	t.Run("a rebooted device starts its seq again", func(t *testing.T) {
		s := newScene(t, zoneCase(homeZone))
		for seq := uint64(1); seq <= 3; seq++ {
			expect(t, fmt.Sprintf("seq %d far", seq), s.fixRecord(fix(seq, time.Duration(seq-1)*10*sec, far)))
		}
		expect(t, "seq 1 after the reboot, inside", s.fixRecord(fix(1, 30*sec, inside)), "zone_breach open confirmed")
		expect(t, "seq 2 after the reboot, far", s.fixRecord(fix(2, 40*sec, far)), "zone_breach close")
	})
}

// livenessCase: tag-1 reports every 30 s (silent after 90 s), phone-1 every
// 60 s (silent after 180 s); home has an approach band; phone-1 is
// protected by a ban.
const livenessCase = `
devices:
  - {id: tag-1, kind: tag, report_interval_s: 30}
  - {id: phone-1, kind: victim, report_interval_s: 60}
cases:
  - id: case-1
    offender: tag-1
    contact_bans:
      - {protected: phone-1, alert_m: 500, warn_m: 1500}
    zones:
      - {id: home, kind: exclusion, circle: {center: [4.47, 51.92], radius_m: 200}, buffer_m: 300}
`

// lost renders the signal_lost events as "device phase severity".
func lost(evs []proxmon.Event) []string {
	out := []string{}
	for _, ev := range ofType(evs, proxmon.SignalLost) {
		s := ev.Device + " " + string(ev.Phase)
		if ev.Phase == proxmon.PhaseOpen {
			s += " " + string(ev.Severity)
		}
		out = append(out, s)
	}
	return out
}

func TestSignalLost(t *testing.T) {
	away := north(home, -20_000) // far from home and from the phone unless placed near it
	phoneAt := north(home, -10_000)

	t.Run("silent for more than 3 report intervals", func(t *testing.T) {
		s := newScene(t, livenessCase)
		s.fix("phone-1", 0, phoneAt, 3)
		s.fix("tag-1", 0, away, 5)
		expectText(t, "tick at 90 s", lost(s.tick(90*sec)), nil)
		expectText(t, "tick at 90.001 s", lost(s.tick(90*sec+time.Millisecond)), []string{"tag-1 open high"})
		expectText(t, "tick at 180 s", lost(s.tick(180*sec)), nil)
		expectText(t, "tick at 180.001 s", lost(s.tick(180*sec+time.Millisecond)), []string{"phone-1 open high"})
		expectText(t, "tag heard again", lost(s.fix("tag-1", 200*sec, away, 5)), []string{"tag-1 close"})
		expectText(t, "phone heard again, by a status", lost(s.status("phone-1", 201*sec, `"battery_pct":80`)), []string{"phone-1 close"})
	})

	t.Run("liveness uses received", func(t *testing.T) {
		s := newScene(t, livenessCase)
		s.fix("phone-1", 0, phoneAt, 3)
		s.fixRecord(proxmon.Fix{Device: "tag-1", Seq: 1, Time: s.at(0), Received: s.at(60 * sec), Lat: away.Lat, Lon: away.Lon, AccuracyM: 5})
		expectText(t, "tick at 150 s", lost(s.tick(150*sec)), nil)
		expectText(t, "tick at 150.001 s", lost(s.tick(150*sec+time.Millisecond)), []string{"tag-1 open high"})
	})

	t.Run("a status counts as heard", func(t *testing.T) {
		s := newScene(t, livenessCase)
		s.fix("phone-1", 0, phoneAt, 3)
		s.fix("tag-1", 0, away, 5)
		s.status("tag-1", 80*sec, `"strap":"closed"`)
		expectText(t, "tick at 170 s", lost(s.tick(170*sec)), nil)
		expectText(t, "tick at 170.001 s", lost(s.tick(170*sec+time.Millisecond)), []string{"tag-1 open high"})
	})

	t.Run("a late fix counts as heard", func(t *testing.T) {
		s := newScene(t, livenessCase)
		s.fix("phone-1", 0, phoneAt, 3)
		s.fix("tag-1", 0, away, 5)
		s.fixRecord(proxmon.Fix{Device: "tag-1", Seq: 2, Time: s.at(-100 * sec), Received: s.at(80 * sec), Lat: away.Lat, Lon: away.Lon, AccuracyM: 5})
		expectText(t, "tick at 170 s", lost(s.tick(170*sec)), nil)
		expectText(t, "tick at 170.001 s", lost(s.tick(170*sec+time.Millisecond)), []string{"tag-1 open high"})
	})

	for _, first := range []string{"fix", "tick"} {
		t.Run("never heard: counts from the first record, a "+first, func(t *testing.T) {
			s := newScene(t, livenessCase)
			if first == "fix" {
				s.fix("phone-1", 0, phoneAt, 3)
			} else {
				s.tick(0)
				s.fix("phone-1", 30*sec, phoneAt, 3)
			}
			expectText(t, "tick at 90 s", lost(s.tick(90*sec)), nil)
			expectText(t, "tick at 90.001 s", lost(s.tick(90*sec+time.Millisecond)), []string{"tag-1 open high"})
		})
	}

	t.Run("one event per case of the device", func(t *testing.T) {
		s := newScene(t, anomalyCase)
		s.fix("tag-1", 0, away, 5)
		expectText(t, "tick at 91 s", briefCase(ofType(s.tick(91*sec), proxmon.SignalLost)),
			[]string{"case-a signal_lost open", "case-b signal_lost open"})
		expectText(t, "heard again", briefCase(ofType(s.status("tag-1", 95*sec, ""), proxmon.SignalLost)),
			[]string{"case-a signal_lost close", "case-b signal_lost close"})
	})

	t.Run("never heard: counts from the first record, a case record", func(t *testing.T) {
		s := newScene(t, livenessCase)
		expect(t, "case-2", s.line(`{"case":{"id":"case-2","offender":"tag-2"},`+
			`"devices":[{"id":"tag-2","kind":"tag","report_interval_s":30}],"time":"`+s.at(0).Format(time.RFC3339)+`"}`))
		expectText(t, "tick at 90 s", lost(s.tick(90*sec)), nil)
		expectText(t, "tick at 90.001 s", lost(s.tick(90*sec+time.Millisecond)), []string{"tag-1 open high", "tag-2 open high"})
	})

	// signal_lost is critical for a tag whose case has a breach open.
	rows := []struct {
		name string
		tag  geo.Point
		open []string
		want string
	}{
		{"nothing open", away, nil, "tag-1 open high"},
		{"zone_approach open", north(home, 250), []string{"zone_approach open confirmed"}, "tag-1 open high"},
		{"zone_breach open", north(home, 100), []string{"zone_approach open confirmed", "zone_breach open confirmed"}, "tag-1 open critical"},
		{"contact_warning open", north(phoneAt, 1000), []string{"contact_warning open confirmed"}, "tag-1 open high"},
		{"contact_breach open", north(phoneAt, 300), []string{"contact_breach open confirmed", "contact_warning open confirmed"}, "tag-1 open critical"},
	}
	for _, r := range rows {
		t.Run("severity with "+r.name, func(t *testing.T) {
			s := newScene(t, livenessCase)
			s.fix("phone-1", 0, phoneAt, 3)
			expect(t, "tag's fix", s.fix("tag-1", 0, r.tag, 5), r.open...)
			expectText(t, "tick at 91 s", lost(s.tick(91*sec)), []string{r.want})
			// The phone is not a tag: high whatever is open.
			expectText(t, "tick at 181 s", lost(s.tick(181*sec)), []string{"phone-1 open high"})
		})
	}
}

func TestGPSLost(t *testing.T) {
	away := north(home, -20_000)

	t.Run("heard, never a position", func(t *testing.T) {
		s := newScene(t, livenessCase)
		expect(t, "status", s.status("tag-1", 0, `"battery_pct":80`))
		expect(t, "tick", ofType(s.tick(sec), proxmon.GPSLost), "gps_lost open")
		expect(t, "first fix", ofType(s.fix("tag-1", 5*sec, away, 5), proxmon.GPSLost), "gps_lost close")
	})

	t.Run("heard, position stale", func(t *testing.T) {
		s := newScene(t, livenessCase)
		s.fix("tag-1", 0, away, 5)
		s.status("tag-1", 60*sec, `"battery_pct":80`)
		expect(t, "tick at 90 s", ofType(s.tick(90*sec), proxmon.GPSLost, proxmon.SignalLost))
		expect(t, "tick at 90.001 s", ofType(s.tick(90*sec+time.Millisecond), proxmon.GPSLost, proxmon.SignalLost), "gps_lost open")
		// A late fix is no valid position; an impossible jump neither.
		expect(t, "late fix", ofType(s.fix("tag-1", -10*sec, away, 5), proxmon.GPSLost))
		expect(t, "jump of 50 km", s.fix("tag-1", 100*sec, north(away, 50_000), 5), "gps_anomaly open")
		expect(t, "next valid fix", s.fix("tag-1", 110*sec, away, 5), "gps_anomaly close", "gps_lost close")
	})
}

func TestIngestDown(t *testing.T) {
	t.Run("not before a heartbeat was seen", func(t *testing.T) {
		s := newScene(t, livenessCase)
		for at := time.Duration(0); at <= time.Hour; at += 10 * time.Minute {
			expect(t, "tick", ofType(s.tick(at), proxmon.IngestDown))
		}
	})

	t.Run("more than 30 s after the last heartbeat", func(t *testing.T) {
		s := newScene(t, livenessCase)
		s.heartbeat(0)
		s.heartbeat(10 * sec)
		expect(t, "tick at 40 s", ofType(s.tick(40*sec), proxmon.IngestDown))
		evs := ofType(s.tick(40*sec+time.Millisecond), proxmon.IngestDown)
		expect(t, "tick at 40.001 s", evs, "ingest_down open")
		if len(evs) == 1 && evs[0].Case != proxmon.SystemCase {
			t.Errorf("ingest_down in case %q, want %s", evs[0].Case, proxmon.SystemCase)
		}
		expect(t, "tick at 60 s", ofType(s.tick(60*sec), proxmon.IngestDown))
		expect(t, "next heartbeat", s.heartbeat(61*sec), "ingest_down close")
	})

	t.Run("no signal_lost while open, nor a storm after", func(t *testing.T) {
		s := newScene(t, livenessCase)
		away := north(home, -20_000)
		s.heartbeat(0)
		s.fix("phone-1", 0, north(away, -10_000), 3)
		s.fix("tag-1", 0, away, 5)
		s.heartbeat(20 * sec)
		expect(t, "tick at 51 s", ofType(s.tick(51*sec), proxmon.IngestDown), "ingest_down open")
		expectText(t, "tick at 200 s", lost(s.tick(200*sec)), nil)
		expect(t, "heartbeat at 300 s", s.heartbeat(300*sec), "ingest_down close")
		// Silence counts from the moment ingest recovered.
		for at := 301 * sec; at <= 480*sec; at += 20 * sec {
			s.heartbeat(at)
		}
		expectText(t, "tick at 390 s", lost(s.tick(390*sec)), nil)
		expectText(t, "tick at 390.001 s", lost(s.tick(390*sec+time.Millisecond)), []string{"tag-1 open high"})
		expectText(t, "tick at 480 s", lost(s.tick(480*sec)), nil)
		expectText(t, "tick at 480.001 s", lost(s.tick(480*sec+time.Millisecond)), []string{"phone-1 open high"})
	})

	t.Run("no storm of gps_lost after it either", func(t *testing.T) {
		s := newScene(t, livenessCase)
		away := north(home, -20_000)
		s.heartbeat(0)
		s.fix("phone-1", 0, north(away, -10_000), 3)
		s.fix("tag-1", 0, away, 5)
		s.heartbeat(20 * sec)
		expect(t, "tick at 51 s", ofType(s.tick(51*sec), proxmon.IngestDown), "ingest_down open")
		expect(t, "heartbeat at 300 s", s.heartbeat(300*sec), "ingest_down close")
		expect(t, "tick at 301 s", s.tick(301*sec))
		// Heard again, with a stale position: that is gps_lost.
		s.heartbeat(310 * sec)
		s.status("tag-1", 310*sec, `"battery_pct":80`)
		expect(t, "tick at 311 s", s.tick(311*sec), "gps_lost open")
	})
}

// outageCase is n tags, each the offender of its own case.
func outageCase(n int) string {
	var b strings.Builder
	b.WriteString("devices:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {id: tag-%02d, kind: tag, report_interval_s: 30}\n", i)
	}
	b.WriteString("cases:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {id: case-%02d, offender: tag-%02d}\n", i, i)
	}
	return b.String()
}

// TestNetworkOutage: at one tick, more than 20 % of the devices heard in the
// previous 10 minutes, and at least 10, unheard for more than 60 s.
func TestNetworkOutage(t *testing.T) {
	rows := []struct {
		name                 string
		silent, talking, old int
		opens                bool
	}{
		{"10 of 40 (25 %)", 10, 30, 0, true},
		{"9 of 40: fewer than 10", 9, 31, 0, false},
		{"10 of 50: not more than 20 %", 10, 40, 0, false},
		{"11 of 50 (22 %)", 11, 39, 0, true},
		{"10 of 40 heard in 10 min, 20 more heard 11 min ago", 10, 30, 20, true},
		{"10 of 40 heard in 10 min, 20 more heard 11 min ago, 45 talking", 10, 45, 20, false},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			n := r.old + r.silent + r.talking
			s := newScene(t, outageCase(n))
			name := func(i int) string { return fmt.Sprintf("tag-%02d", i) }
			// Devices 0..old-1 are heard at 0 only, the silent ones at 600 s
			// only, the talking ones at 600 s and 650 s.
			var old, silent []string
			for i := range r.old {
				s.fix(name(i), 0, home, 5)
				old = append(old, name(i))
			}
			for i := r.old; i < n; i++ {
				s.fix(name(i), 600*sec, home, 5)
				if i < r.old+r.silent {
					silent = append(silent, name(i))
				}
			}
			for i := r.old + r.silent; i < n; i++ {
				s.fix(name(i), 650*sec, home, 5)
			}
			evs := s.tick(661 * sec)
			outage := ofType(evs, proxmon.NetworkOutage)
			var lostOld []string
			for _, ev := range ofType(evs, proxmon.SignalLost) {
				lostOld = append(lostOld, ev.Device)
			}
			// Devices silent for 11 minutes are not covered: their own
			// signal_lost opens at this first tick.
			expectText(t, "signal_lost at 661 s", lostOld, old)
			if !r.opens {
				expect(t, "network_outage at 661 s", outage)
				return
			}
			expect(t, "network_outage at 661 s", outage, "network_outage open")
			if len(outage) == 1 {
				if outage[0].Case != proxmon.SystemCase {
					t.Errorf("network_outage in case %q, want %s", outage[0].Case, proxmon.SystemCase)
				}
				expectText(t, "devices listed", outage[0].Devices, silent)
			}
			// Covered devices get no signal_lost of their own.
			expectText(t, "signal_lost at 700 s", lost(s.tick(700*sec)), nil)
			// It closes once fewer than half of them are still unheard.
			heard := 0
			for i, dev := range silent {
				at := 701*sec + time.Duration(i)*sec/2
				evs := ofType(s.fix(dev, at, home, 5), proxmon.NetworkOutage)
				evs = append(evs, ofType(s.tick(at+time.Millisecond), proxmon.NetworkOutage)...)
				heard++
				var want []string
				if 2*(len(silent)-heard) < len(silent) && 2*(len(silent)-heard+1) >= len(silent) {
					want = []string{"network_outage close"}
				}
				expect(t, fmt.Sprintf("%d of %d heard again", heard, len(silent)), evs, want...)
			}
		})
	}
}

// TestDeviceStates: tamper (strap open or case tamper; closes when both are
// reported closed; a flag not reported changes nothing), jamming and
// battery_low (below 20 opens, 25 or more closes).
func TestDeviceStates(t *testing.T) {
	type step struct {
		fields string
		want   []string
	}
	rows := []struct {
		name  string
		steps []step
	}{
		{"strap open, then both closed", []step{
			{`"strap":"closed","case_tamper":false`, nil},
			{`"strap":"open"`, []string{"tamper open"}},
			{`"strap":"open","case_tamper":false`, nil},
			{`"strap":"closed","case_tamper":false`, []string{"tamper close"}},
		}},
		{"case tamper, then both closed", []step{
			{`"strap":"closed","case_tamper":true`, []string{"tamper open"}},
			{`"strap":"closed","case_tamper":false`, []string{"tamper close"}},
		}},
		{"strap open, case never reported, then both closed", []step{
			{`"strap":"open"`, []string{"tamper open"}},
			{`"battery_pct":80`, nil},
			{`"strap":"closed","case_tamper":false`, []string{"tamper close"}},
		}},
		{"case tamper, then only the strap reported closed", []step{
			{`"strap":"closed","case_tamper":true`, []string{"tamper open"}},
			{`"strap":"closed"`, nil},
			{`"strap":"closed","case_tamper":false`, []string{"tamper close"}},
		}},
		{"strap open, then only the case reported closed", []step{
			{`"strap":"open","case_tamper":false`, []string{"tamper open"}},
			{`"case_tamper":false`, nil},
			{`"strap":"closed","case_tamper":false`, []string{"tamper close"}},
		}},
		{"jamming", []step{
			{`"jamming":false`, nil},
			{`"jamming":true`, []string{"jamming open"}},
			{`"battery_pct":80`, nil},
			{`"jamming":true`, nil},
			{`"jamming":false`, []string{"jamming close"}},
		}},
		{"battery", []step{
			{`"battery_pct":20`, nil},
			{`"battery_pct":19`, []string{"battery_low open"}},
			{`"battery_pct":0`, nil},
			{`"battery_pct":24`, nil},
			{`"strap":"closed"`, nil},
			{`"battery_pct":20`, nil},
			{`"battery_pct":25`, []string{"battery_low close"}},
			{`"battery_pct":24`, nil},
		}},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			s := newScene(t, livenessCase)
			for i, st := range r.steps {
				expect(t, fmt.Sprintf("status %d {%s}", i, st.fields), s.status("tag-1", time.Duration(i)*10*sec, st.fields), st.want...)
			}
		})
	}

	t.Run("an older status is ignored", func(t *testing.T) {
		s := newScene(t, livenessCase)
		expect(t, "status at 20 s", s.status("tag-1", 20*sec, `"strap":"open","jamming":true,"battery_pct":5`),
			"battery_low open", "jamming open", "tamper open")
		expect(t, "status at 10 s", s.status("tag-1", 10*sec, `"strap":"closed","case_tamper":false,"jamming":false,"battery_pct":90`))
	})
}

// anomalyCase: tag-1 is the offender of two cases; case-a has a zone
// around there, 5 km north of home.
const anomalyCase = `
devices:
  - {id: tag-1, kind: tag, report_interval_s: 30}
cases:
  - id: case-a
    offender: tag-1
    zones:
      - {id: there, kind: exclusion, circle: {center: [4.47, 51.965], radius_m: 100}}
  - id: case-b
    offender: tag-1
`

// TestGPSAnomaly: a fix implying more than 300 km/h, counting both
// accuracies in its favour, opens gps_anomaly (once per case of the device)
// and is not used; the next valid fix closes it; three consecutive
// anomalous fixes consistent with each other replace the position.
func TestGPSAnomaly(t *testing.T) {
	const v = 300 / 3.6 // m/s
	there := geo.Point{Lat: 51.965, Lon: 4.47}
	opened := []string{"case-a gps_anomaly open", "case-b gps_anomaly open"}
	closed := []string{"case-a gps_anomaly close", "case-b gps_anomaly close"}
	rows := []struct {
		name string
		dt   time.Duration
		d    float64
		acc  float64
		want []string
	}{
		{"10 s: just within", 10 * sec, 5 + 5 + 10*v - cm, 5, nil},
		{"10 s: just beyond", 10 * sec, 5 + 5 + 10*v + cm, 5, opened},
		{"60 s: just within", 60 * sec, 5 + 5 + 60*v - cm, 5, nil},
		{"60 s: just beyond", 60 * sec, 5 + 5 + 60*v + cm, 5, opened},
		{"no accuracy counts 50 m: just within", 10 * sec, 5 + 50 + 10*v - cm, 0, nil},
		{"no accuracy counts 50 m: just beyond", 10 * sec, 5 + 50 + 10*v + cm, 0, opened},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			s := newScene(t, anomalyCase)
			expect(t, "first fix", s.fix("tag-1", 0, home, 5))
			expectText(t, "jump", briefCase(s.fix("tag-1", r.dt, north(home, -r.d), r.acc)), r.want)
		})
	}

	t.Run("the jump is not used; the next valid fix closes it", func(t *testing.T) {
		s := newScene(t, anomalyCase)
		s.fix("tag-1", 0, home, 5)
		expectText(t, "jump into a zone", briefCase(s.fix("tag-1", 10*sec, there, 5)), opened)
		expect(t, "tick", s.tick(15*sec))
		expectText(t, "back near home", briefCase(s.fix("tag-1", 20*sec, north(home, 10), 5)), closed)
	})

	t.Run("three consistent jumps replace the position", func(t *testing.T) {
		s := newScene(t, anomalyCase)
		s.fix("tag-1", 0, home, 5)
		expectText(t, "jump 1", briefCase(s.fix("tag-1", 10*sec, there, 5)), opened)
		expectText(t, "jump 2", briefCase(s.fix("tag-1", 20*sec, north(there, 10), 5)), nil)
		expectText(t, "jump 3", briefCase(s.fix("tag-1", 30*sec, there, 5)),
			[]string{"case-a gps_anomaly close", "case-a zone_breach open confirmed", "case-b gps_anomaly close"})
		expectText(t, "still there", briefCase(s.fix("tag-1", 40*sec, there, 5)), nil)
	})

	t.Run("inconsistent jumps do not", func(t *testing.T) {
		s := newScene(t, anomalyCase)
		s.fix("tag-1", 0, home, 5)
		elsewhere := north(home, -5000)
		expectText(t, "jump 1", briefCase(s.fix("tag-1", 10*sec, there, 5)), opened)
		expectText(t, "jump 2, the other way", briefCase(s.fix("tag-1", 20*sec, elsewhere, 5)), nil)
		expectText(t, "jump 3", briefCase(s.fix("tag-1", 30*sec, there, 5)), nil)
		expectText(t, "jump 4", briefCase(s.fix("tag-1", 40*sec, there, 5)), nil)
		expectText(t, "jump 5: the last three agree", briefCase(s.fix("tag-1", 50*sec, there, 5)),
			[]string{"case-a gps_anomaly close", "case-a zone_breach open confirmed", "case-b gps_anomaly close"})
	})
}

// caseOneJSON is livenessCase's case-1, now of medium risk, as the case of
// a case record; extraZones are appended to its zones.
func caseOneJSON(extraZones string) string {
	return `{"id":"case-1","offender":"tag-1","risk":"medium",` +
		`"contact_bans":[{"protected":"phone-1","alert_m":500,"warn_m":1500}],` +
		`"zones":[{"id":"home","kind":"exclusion","circle":{"center":[4.47,51.92],"radius_m":200},"buffer_m":300}` + extraZones + `]}`
}

func TestCaseRecords(t *testing.T) {
	away := north(home, -20_000)

	t.Run("a case added mid-log counts from its record", func(t *testing.T) {
		s := newScene(t, livenessCase)
		s.fix("tag-1", 0, away, 5)
		s.fix("phone-1", 0, north(away, -5000), 3)
		expect(t, "tag-2 inside home before its case", s.fix("tag-2", 10*sec, north(home, 100), 5))
		expect(t, "case-2", s.line(`{"case":{"id":"case-2","offender":"tag-2",`+
			`"contact_bans":[{"protected":"phone-2","alert_m":500,"warn_m":1000}],`+
			`"zones":[{"id":"home","kind":"exclusion","circle":{"center":[4.47,51.92],"radius_m":200}}]},`+
			`"devices":[{"id":"tag-2","kind":"tag","report_interval_s":30},{"id":"phone-2","kind":"victim","report_interval_s":60}],`+
			`"time":"`+s.at(30*sec).Format(time.RFC3339)+`"}`))
		expectText(t, "tag-2 inside home", briefCase(s.fix("tag-2", 40*sec, north(home, 100), 5)), []string{"case-2 zone_breach open confirmed"})
		// phone-2, never heard, counts from the case record.
		s.fix("tag-2", 200*sec, north(home, 100), 5)
		s.fix("tag-1", 200*sec, away, 5)
		s.fix("phone-1", 200*sec, north(away, -5000), 3)
		expectText(t, "tick at 210 s", lost(s.tick(210*sec)), nil)
		expectText(t, "tick at 210.001 s", lost(s.tick(210*sec+time.Millisecond)), []string{"phone-2 open high"})
	})

	t.Run("a replaced case keeps what is open", func(t *testing.T) {
		s := newScene(t, livenessCase)
		s.fix("phone-1", 0, home, 3)
		expect(t, "inside, next to her", s.fix("tag-1", 10*sec, north(home, 100), 5),
			"contact_breach open confirmed", "contact_warning open confirmed", "zone_approach open confirmed", "zone_breach open confirmed")
		expect(t, "strap open", s.status("tag-1", 11*sec, `"strap":"open"`), "tamper open")
		expect(t, "replace case-1", s.line(`{"case":`+caseOneJSON(
			`,{"id":"park","kind":"exclusion","circle":{"center":[4.60,52.00],"radius_m":100}}`)+`}`))
		expect(t, "still inside", s.fix("tag-1", 20*sec, north(home, 110), 5))
		expect(t, "strap still open", s.status("tag-1", 21*sec, `"strap":"open"`))
		expect(t, "tick", s.tick(22*sec))
		expect(t, "gone", s.fix("tag-1", 80*sec, north(home, 2000), 5),
			"contact_breach close", "contact_warning close", "zone_approach close", "zone_breach close")
		expect(t, "strap closed", s.status("tag-1", 81*sec, `"strap":"closed","case_tamper":false`), "tamper close")
	})

	t.Run("case_deleted stops evaluation", func(t *testing.T) {
		s := newScene(t, livenessCase)
		s.fix("phone-1", 0, home, 3)
		expect(t, "inside, next to her", s.fix("tag-1", 10*sec, north(home, 100), 5),
			"contact_breach open confirmed", "contact_warning open confirmed", "zone_approach open confirmed", "zone_breach open confirmed")
		expect(t, "delete case-1", s.line(`{"case_deleted":"case-1"}`))
		expect(t, "gone", s.fix("tag-1", 80*sec, north(home, 2000), 5))
		expect(t, "back", s.fix("tag-1", 140*sec, north(home, 100), 5))
		expect(t, "strap open", s.status("tag-1", 141*sec, `"strap":"open","battery_pct":3`))
		expect(t, "tick an hour later", s.tick(time.Hour))
	})
}

// TestEventID recomputes ids by hand from DESIGN.md: hex of the first 16
// bytes of SHA-256 over case, rule, type, phase and trigger, NUL-joined,
// times in RFC 3339 with nanoseconds, UTC.
func TestEventID(t *testing.T) {
	byHand := func(fields string) string {
		sum := sha256.Sum256([]byte(fields))
		return hex.EncodeToString(sum[:16])
	}
	s := newScene(t, zoneCase(`{id: home, kind: exclusion, circle: {center: [4.47, 51.92], radius_m: 200}}`))
	inside, far := north(home, 100), north(home, 1000)
	opened := s.fixRecord(proxmon.Fix{Device: "tag-1", Seq: 7, Time: s.at(10*sec + 250*time.Millisecond),
		Lat: inside.Lat, Lon: inside.Lon, AccuracyM: 5})
	tamper := s.status("tag-1", 20*sec, `"strap":"open"`)
	closed := s.fixRecord(proxmon.Fix{Device: "tag-1", Seq: 8, Time: s.at(30 * sec), Lat: far.Lat, Lon: far.Lon, AccuracyM: 5})
	rows := []struct {
		name   string
		evs    []proxmon.Event
		fields string
	}{
		{"zone_breach open", opened, "case-1\x00zone:home\x00zone_breach\x00open\x00fix:tag-1:7:2026-03-02T09:00:10.25Z"},
		{"tamper open", tamper, "case-1\x00device:tag-1\x00tamper\x00open\x00status:tag-1:2026-03-02T09:00:20Z"},
		{"zone_breach close", closed, "case-1\x00zone:home\x00zone_breach\x00close\x00fix:tag-1:8:2026-03-02T09:00:30Z"},
	}
	for _, r := range rows {
		if len(r.evs) != 1 {
			t.Errorf("%s: got %v, want one event", r.name, brief(r.evs))
			continue
		}
		if want := byHand(r.fields); r.evs[0].ID != want {
			t.Errorf("%s: id %s, want %s", r.name, r.evs[0].ID, want)
		}
	}
	if len(opened) == 1 && len(closed) == 1 && closed[0].OpenID != opened[0].ID {
		t.Errorf("open_id %s, want the opening id %s", closed[0].OpenID, opened[0].ID)
	}
}

// TestOffenderView: every field tagged audience:"centre" is removed, every
// other field kept; the tags are read by reflection so that a new tagged
// field cannot be forgotten.
func TestOffenderView(t *testing.T) {
	var ev proxmon.Event
	fill(reflect.ValueOf(&ev).Elem())
	view := ev.OffenderView()
	typ := reflect.TypeFor[proxmon.Event]()
	centre := 0
	for i := range typ.NumField() {
		f := typ.Field(i)
		got, orig := reflect.ValueOf(view).Field(i), reflect.ValueOf(ev).Field(i)
		if orig.IsZero() {
			t.Fatalf("field %s could not be filled", f.Name)
		}
		switch f.Tag.Get("audience") {
		case "centre":
			centre++
			if !got.IsZero() {
				t.Errorf("%s is for the monitoring centre only, OffenderView kept %v", f.Name, got.Interface())
			}
		case "":
			if !reflect.DeepEqual(got.Interface(), orig.Interface()) {
				t.Errorf("%s: OffenderView changed %v to %v", f.Name, orig.Interface(), got.Interface())
			}
		default:
			t.Errorf("%s: unknown audience %q", f.Name, f.Tag.Get("audience"))
		}
	}
	if centre == 0 {
		t.Error(`no field is tagged audience:"centre"`)
	}
}

// TestOffenderViewHidesVictim: DESIGN.md's third rule, the victim's
// location never reaches the offender. The offender view of every event the
// engine raises, about any device of the case, holds no position of the
// protected person's device.
func TestOffenderViewHidesVictim(t *testing.T) {
	s := newScene(t, livenessCase)
	phoneAt, far := north(home, -10_000), north(home, -30_000)
	var evs []proxmon.Event
	evs = append(evs, s.fix("phone-1", 0, phoneAt, 3)...)
	evs = append(evs, s.fix("tag-1", 0, north(phoneAt, 300), 5)...)
	evs = append(evs, s.status("phone-1", 10*sec, `"battery_pct":5,"jamming":true`)...)
	evs = append(evs, s.fix("phone-1", 20*sec, far, 3)...) // 20 km in 20 s: an anomaly
	evs = append(evs, s.tick(200*sec)...)
	victim := []geo.Point{phoneAt, far}
	if len(ofType(evs, proxmon.ContactBreach, proxmon.BatteryLow, proxmon.Jamming, proxmon.GPSAnomaly, proxmon.SignalLost)) < 5 {
		t.Fatalf("the story raised too little: %v", brief(evs))
	}
	for _, ev := range evs {
		for _, p := range pointsOf(reflect.ValueOf(ev.OffenderView())) {
			if slices.Contains(victim, p) {
				t.Errorf("%s %s about %s: the offender view holds the victim's position %v", ev.Type, ev.Phase, ev.Device, p)
			}
		}
	}
}

// pointsOf returns every geo.Point held in v.
func pointsOf(v reflect.Value) []geo.Point {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return pointsOf(v.Elem())
	case reflect.Slice:
		var ps []geo.Point
		for i := range v.Len() {
			ps = append(ps, pointsOf(v.Index(i))...)
		}
		return ps
	case reflect.Struct:
		if p, ok := v.Interface().(geo.Point); ok {
			return []geo.Point{p}
		}
		var ps []geo.Point
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				ps = append(ps, pointsOf(v.Field(i))...)
			}
		}
		return ps
	}
	return nil
}

// fill sets every field of v to a value that is not zero.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		v.SetUint(7)
	case reflect.Float64, reflect.Float32:
		v.SetFloat(1.5)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(sceneStart))
			return
		}
		for i := range v.NumField() {
			fill(v.Field(i))
		}
	}
}
