package fence_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/proxmon/proxmon"
)

// periodCase is livenessCase's case-1 with the given lines (valid_from,
// valid_until, suspensions) inserted, times as offsets from sceneStart.
func periodCase(lines ...string) string {
	return `
devices:
  - {id: tag-1, kind: tag, report_interval_s: 30}
  - {id: tag-2, kind: tag, report_interval_s: 30}
  - {id: phone-1, kind: victim, report_interval_s: 60}
cases:
  - id: case-1
    offender: tag-1
` + strings.Join(lines, "") + `    contact_bans:
      - {protected: phone-1, alert_m: 500, warn_m: 1500}
    zones:
      - {id: home, kind: exclusion, circle: {center: [4.47, 51.92], radius_m: 200}, buffer_m: 300}
`
}

// stamp writes the instant d after sceneStart as the case file does.
func stamp(d time.Duration) string { return sceneStart.Add(d).Format(time.RFC3339Nano) }

// allOpen is what the offender 100 m from the protected person, inside
// her home's zone, opens (or closes).
func allOpen(phase string) []string {
	c := ""
	if phase == "open" {
		c = " confirmed"
	}
	return []string{"contact_breach " + phase + c, "contact_warning " + phase + c, "zone_approach " + phase + c, "zone_breach " + phase + c}
}

// TestCaseInForce meets every bound of a case's time in force a nanosecond
// to either side, with each kind of record: a case is in force at t when
// within [valid_from, valid_until) and outside every [from, until) of its
// suspensions. The first record at or after a bound judges it: out of
// force, everything open closes; back in force, the rules judge again (a
// tick the zones, a fix everything it concerns). A suspension within the
// validity is case_suspended.
func TestCaseInForce(t *testing.T) {
	const bound = 60 * sec
	near := north(home, 100)
	ns := time.Nanosecond
	type row struct {
		name  string
		lines []string
		// ends: the case was in force with everything open before the
		// bound; otherwise it was out of force and nothing was open.
		ends       bool
		before, at []string // the record's events a ns before, and at the bound or a ns after
		atFix      []string // at the bound, when the record is the offender's fix
	}
	rows := []row{
		{"valid_until", []string{"    valid_until: " + stamp(bound) + "\n"}, true,
			nil, allOpen("close"), allOpen("close")},
		{"suspension from", []string{"    suspensions: [{from: " + stamp(bound) + ", until: " + stamp(time.Hour) + ", reason: custody}]\n"}, true,
			nil, append([]string{"case_suspended open"}, allOpen("close")...), append([]string{"case_suspended open"}, allOpen("close")...)},
		{"open-ended suspension from", []string{"    suspensions: [{from: " + stamp(bound) + ", reason: hospital}]\n"}, true,
			nil, append([]string{"case_suspended open"}, allOpen("close")...), append([]string{"case_suspended open"}, allOpen("close")...)},
		{"valid_from", []string{"    valid_from: " + stamp(bound) + "\n"}, false,
			nil, []string{"zone_approach open confirmed", "zone_breach open confirmed"}, allOpen("open")},
		{"suspension until", []string{"    suspensions: [{from: " + stamp(-time.Hour) + ", until: " + stamp(bound) + ", reason: custody}]\n"}, false,
			nil, []string{"case_suspended close", "zone_approach open confirmed", "zone_breach open confirmed"},
			append([]string{"case_suspended close"}, allOpen("open")...)},
		{"suspension until, valid_until later", []string{"    valid_until: " + stamp(time.Hour) + "\n",
			"    suspensions: [{from: " + stamp(-time.Hour) + ", until: " + stamp(bound) + ", reason: custody}]\n"}, false,
			nil, []string{"case_suspended close", "zone_approach open confirmed", "zone_breach open confirmed"},
			append([]string{"case_suspended close"}, allOpen("open")...)},
	}
	records := map[string]func(s *scene, at time.Duration) []proxmon.Event{
		"tick":      func(s *scene, at time.Duration) []proxmon.Event { return s.tick(at) },
		"heartbeat": func(s *scene, at time.Duration) []proxmon.Event { return s.heartbeat(at) },
		"status":    func(s *scene, at time.Duration) []proxmon.Event { return s.status("phone-1", at, `"battery_pct":80`) },
		"fix":       func(s *scene, at time.Duration) []proxmon.Event { return s.fix("tag-1", at, near, 5) },
	}
	for _, r := range rows {
		for kind, record := range records {
			for _, d := range []time.Duration{-ns, 0, ns} {
				t.Run(fmt.Sprintf("%s/%s at %+dns", r.name, kind, d), func(t *testing.T) {
					s := newScene(t, periodCase(r.lines...))
					evs := s.fix("phone-1", 0, home, 3)
					var want []string
					if r.ends {
						want = allOpen("open")
					} else if strings.HasPrefix(r.name, "suspension") {
						want = []string{"case_suspended open"} // the first record finds it suspended
					}
					evs = append(evs, s.tick(sec)...)
					expect(t, "phone, then offender near", append(evs, s.fix("tag-1", 10*sec, near, 5)...), want...)
					want = r.at
					switch {
					case d < 0:
						want = r.before
					case kind == "fix":
						want = r.atFix
					case kind != "tick" && !r.ends:
						// Zones are judged at ticks and the offender's
						// fixes: back in force, they wait for the next.
						want = nil
						for _, w := range r.at {
							if strings.HasPrefix(w, "case_suspended") {
								want = append(want, w)
							}
						}
					}
					expect(t, kind, record(s, bound+d), want...)
				})
			}
		}
	}
}

// TestCaseOutOfForce: out of force, a case raises nothing, its devices
// count for nothing in it, and back in force they count as unheard from
// then.
func TestCaseOutOfForce(t *testing.T) {
	near := north(home, 100)
	suspended := func(from, until time.Duration) string {
		return "    suspensions: [{from: " + stamp(from) + ", until: " + stamp(until) + ", reason: custody}]\n"
	}

	t.Run("nothing opens while suspended", func(t *testing.T) {
		s := newScene(t, periodCase(suspended(0, 600*sec)))
		expect(t, "phone", s.fix("phone-1", 0, home, 3), "case_suspended open")
		expect(t, "offender near", s.fix("tag-1", 10*sec, near, 5))
		expect(t, "strap open", s.status("tag-1", 11*sec, `"strap":"open","battery_pct":3,"jamming":true`))
		expect(t, "tick", s.tick(20*sec))
		for at := 30 * sec; at < 600*sec; at += 30 * sec {
			expect(t, "silent and stale", s.tick(at))
		}
		// Back in force: the next tick judges the zones on the latest
		// position (stale: nothing), the next fix everything.
		expect(t, "tick at the end", s.tick(600*sec), "case_suspended close")
		expect(t, "phone", s.fix("phone-1", 601*sec, home, 3))
		expect(t, "offender near", s.fix("tag-1", 602*sec, near, 5), allOpen("open")...)
	})

	t.Run("devices count as unheard from its return", func(t *testing.T) {
		s := newScene(t, periodCase(suspended(60*sec, 600*sec)))
		s.fix("phone-1", 0, home, 3)
		s.fix("tag-1", 0, north(home, -20_000), 5)
		expect(t, "tick at 60 s", s.tick(60*sec), "case_suspended open")
		expectText(t, "no signal_lost while suspended", lost(s.tick(599*sec)), nil)
		expect(t, "tick at 600 s", s.tick(600*sec), "case_suspended close")
		expectText(t, "tick at 690 s", lost(s.tick(690*sec)), nil)
		expectText(t, "tick at 690.000000001 s", lost(s.tick(690*sec+time.Nanosecond)), []string{"tag-1 open high"})
		expectText(t, "tick at 780 s", lost(s.tick(780*sec)), nil)
		expectText(t, "tick at 780.000000001 s", lost(s.tick(780*sec+time.Nanosecond)), []string{"phone-1 open high"})
	})

	t.Run("device conditions close when it stops", func(t *testing.T) {
		s := newScene(t, periodCase(suspended(120*sec, 600*sec)))
		s.fix("phone-1", 0, north(home, -10_000), 3)
		s.fix("tag-1", 0, north(home, -20_000), 5)
		expect(t, "strap open", s.status("phone-1", 10*sec, `"battery_pct":3`), "battery_low open")
		expectText(t, "tick at 91 s", lost(s.tick(91*sec)), []string{"tag-1 open high"})
		expectText(t, "tick at 120 s", briefCase(s.tick(120*sec)),
			[]string{"case-1 case_suspended open", "case-1 battery_low close", "case-1 signal_lost close"})
	})

	t.Run("a device in another case in force counts there only", func(t *testing.T) {
		s := newScene(t, anomalyCase+`    suspensions: [{from: `+stamp(0)+`, reason: custody}]
`)
		s.fix("tag-1", 0, home, 5)
		expectText(t, "tick at 91 s", briefCase(ofType(s.tick(91*sec), proxmon.SignalLost)), []string{"case-a signal_lost open"})
		expectText(t, "strap open", briefCase(s.status("tag-1", 95*sec, `"strap":"open"`)),
			[]string{"case-a signal_lost close", "case-a tamper open"})
	})

	t.Run("an open-ended suspension lasts until the case is updated", func(t *testing.T) {
		s := newScene(t, periodCase("    suspensions: [{from: "+stamp(30*sec)+", reason: hospital}]\n"))
		s.fix("phone-1", 0, home, 3)
		expect(t, "offender near", s.fix("tag-1", 10*sec, near, 5), allOpen("open")...)
		expect(t, "tick at 30 s", s.tick(30*sec), append([]string{"case_suspended open"}, allOpen("close")...)...)
		expect(t, "tick a day later", s.tick(24*time.Hour))
		// The update ends the suspension; the case has the same
		// suspension open until the next record judges it.
		expect(t, "update", s.line(`{"case":{"id":"case-1","offender":"tag-1",`+
			`"suspensions":[{"from":"`+stamp(30*sec)+`","until":"`+stamp(24*time.Hour+10*sec)+`","reason":"hospital"}],`+
			`"contact_bans":[{"protected":"phone-1","alert_m":500,"warn_m":1500}]},"time":"`+stamp(24*time.Hour+sec)+`"}`))
		expect(t, "tick", s.tick(24*time.Hour+2*sec))
		expect(t, "tick at the new end", s.tick(24*time.Hour+10*sec), "case_suspended close")
	})

	t.Run("a case entering the log suspended", func(t *testing.T) {
		s := newScene(t, livenessCase)
		expect(t, "tag-1 inside", s.fix("tag-1", 0, near, 5), "zone_approach open confirmed", "zone_breach open confirmed")
		expect(t, "case-2", s.line(`{"case":{"id":"case-2","offender":"tag-1",`+
			`"suspensions":[{"from":"`+stamp(-time.Hour)+`","until":"`+stamp(time.Hour)+`","reason":"custody"}],`+
			`"zones":[{"id":"home","kind":"exclusion","circle":{"center":[4.47,51.92],"radius_m":200}}]},"time":"`+stamp(sec)+`"}`))
		expectText(t, "next record", briefCase(s.tick(2*sec)), []string{"case-2 case_suspended open"})
		expect(t, "deleted while suspended", s.line(`{"case_deleted":"case-2"}`))
		for _, ev := range s.tick(time.Hour + sec) {
			if ev.Case == "case-2" {
				t.Errorf("after its end: %s %s in the deleted case-2", ev.Type, ev.Phase)
			}
		}
	})
}

// TestDeviceSwap: a case record that gives the offender a new tag monitors
// the new tag from that record on, without a gap: its latest position
// counts at once, and the rules keep what they have open, judged on it
// now. The old tag's own events stay open for the centre; no longer in a
// case, it raises nothing more.
func TestDeviceSwap(t *testing.T) {
	swap := func(s *scene, at time.Duration) []proxmon.Event {
		return s.line(`{"case":{"id":"case-1","offender":"tag-2",` +
			`"contact_bans":[{"protected":"phone-1","alert_m":500,"warn_m":1500}],` +
			`"zones":[{"id":"home","kind":"exclusion","circle":{"center":[4.47,51.92],"radius_m":200},"buffer_m":300}]},` +
			`"devices":[{"id":"tag-1","kind":"tag","report_interval_s":30},{"id":"tag-2","kind":"tag","report_interval_s":30}],` +
			`"time":"` + stamp(at) + `"}`)
	}
	far := north(home, 3000)

	t.Run("a breach open across the swap", func(t *testing.T) {
		s := newScene(t, periodCase())
		s.fix("phone-1", 0, home, 3)
		expect(t, "tag-1 near", s.fix("tag-1", 10*sec, north(home, 100), 5), allOpen("open")...)
		expect(t, "tag-1's strap open", s.status("tag-1", 11*sec, `"strap":"open"`), "tamper open")
		expect(t, "tag-2 fitted, heard", s.fix("tag-2", 20*sec, north(home, 120), 5))
		expect(t, "swap", swap(s, 30*sec))
		expect(t, "tick: tag-2 still inside", s.tick(31*sec))
		expect(t, "phone: tag-2 still near", s.fix("phone-1", 40*sec, home, 3))
		expect(t, "tag-1 left behind, far away", s.fix("tag-1", 50*sec, far, 5))
		expect(t, "tag-1's strap closed: the centre closes its tamper", s.status("tag-1", 51*sec, `"strap":"closed","case_tamper":false`))
		expect(t, "tag-2 near", s.fix("tag-2", 60*sec, north(home, 150), 5))
		evs := s.fix("tag-2", 100*sec, north(home, 2000), 5)
		expect(t, "tag-2 leaves", evs, allOpen("close")...)
		for _, ev := range evs {
			if ev.Device != "tag-2" {
				t.Errorf("%s close about %s, want tag-2", ev.Type, ev.Device)
			}
		}
		// tag-1 is in no case: silent, it raises nothing; tag-2 does.
		s.fix("phone-1", 105*sec, home, 3)
		expectText(t, "tick at 190 s", lost(s.tick(190*sec)), nil)
		expectText(t, "tick at 190.000000001 s", lost(s.tick(190*sec+time.Nanosecond)), []string{"tag-2 open high"})
		expectText(t, "tick an hour later", lost(s.tick(time.Hour)), []string{"phone-1 open high"})
		if got := s.e.Stats().Tracked; got != 2 {
			t.Errorf("tracked %d devices, want 2 (tag-2, phone-1)", got)
		}
	})

	t.Run("the new tag's position counts at once", func(t *testing.T) {
		s := newScene(t, periodCase())
		s.fix("phone-1", 0, home, 3)
		expect(t, "tag-1 near", s.fix("tag-1", 10*sec, north(home, 100), 5), allOpen("open")...)
		s.fix("tag-2", 20*sec, far, 5)
		expect(t, "swap", swap(s, 30*sec))
		expect(t, "tick: tag-2 outside", s.tick(31*sec), "zone_approach close", "zone_breach close")
		expect(t, "phone: tag-2 far", s.fix("phone-1", 40*sec, home, 3), "contact_breach close", "contact_warning close")
	})

	t.Run("a new tag never heard counts from the record", func(t *testing.T) {
		s := newScene(t, periodCase())
		s.fix("phone-1", 0, home, 3)
		s.fix("tag-1", 10*sec, north(home, 100), 5)
		expect(t, "swap", swap(s, 30*sec))
		expectText(t, "tick at 120 s", lost(s.tick(120*sec)), nil)
		expectText(t, "tick at 120.000000001 s", lost(s.tick(120*sec+time.Nanosecond)), []string{"tag-2 open critical"})
	})
}

// TestOutageCountsCasesInForce: devices no case in force uses (deleted or
// suspended cases' tags) count for nothing in network_outage, neither as
// silent nor as heard.
func TestOutageCountsCasesInForce(t *testing.T) {
	name := func(i int) string { return fmt.Sprintf("tag-%02d", i) }
	for _, how := range []string{"deleted", "suspended"} {
		end := func(s *scene, i int, at time.Duration) {
			if how == "deleted" {
				s.line(fmt.Sprintf(`{"case_deleted":"case-%02d"}`, i))
				return
			}
			s.line(fmt.Sprintf(`{"case":{"id":"case-%02d","offender":%q,"suspensions":[{"from":%q,"reason":"custody"}]},"time":%q}`,
				i, name(i), stamp(at), stamp(at)))
		}

		// n tags heard at 600 s; the cases of the first k end at 610 s.
		heardThenEnd := func(t *testing.T, n, k int) *scene {
			s := newScene(t, outageCase(n))
			for i := range n {
				s.fix(name(i), 600*sec, home, 5)
			}
			for i := range k {
				end(s, i, 610*sec)
			}
			s.tick(611 * sec)
			return s
		}

		t.Run(how+" cases' tags fall silent: no outage", func(t *testing.T) {
			s := heardThenEnd(t, 40, 20)
			for i := 20; i < 40; i++ {
				s.fix(name(i), 650*sec, home, 5)
			}
			for at := 661 * sec; at <= 700*sec; at += sec {
				expect(t, "tick", ofType(s.tick(at), proxmon.NetworkOutage, proxmon.SignalLost))
			}
		})

		t.Run(how+" cases' tags still talking: an outage of the rest", func(t *testing.T) {
			// 10 of 40 tags in force silent is an outage (25 %); 30 more
			// talking tags in no case would make it 10 of 70.
			s := heardThenEnd(t, 70, 30)
			for i := range 70 {
				if i < 30 || i >= 40 {
					s.fix(name(i), 650*sec, home, 5)
				}
			}
			evs := ofType(s.tick(661*sec), proxmon.NetworkOutage)
			expect(t, "tick at 661 s", evs, "network_outage open")
			if len(evs) == 1 {
				var want []string
				for i := 30; i < 40; i++ {
					want = append(want, name(i))
				}
				expectText(t, "devices listed", evs[0].Devices, want)
			}
		})
	}
}

// TestSnapshotRestoreCases takes random logs full of cases starting,
// ending, suspended, resumed, deleted and given new tags through a
// snapshot and a restore at many split points: the events equal one run's,
// and the restored engine's snapshot equals the one it came from.
func TestSnapshotRestoreCases(t *testing.T) {
	seeds, n := uint64(2), 7
	if testing.Short() {
		seeds, n = 1, 3
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			_, recs := randomLog(t, seed)
			var splits []int
			for split := 0; split <= len(recs); split += len(recs)/n + 1 {
				splits = append(splits, split)
			}
			checkSplits(t, func() *proxmon.CaseFile { cf, _ := randomLog(t, seed); return cf }, recs, splits)
		})
	}
}
