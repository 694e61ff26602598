package fence_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/proxmon/proxmon"
)

// TestDueTimes checks that ticks visiting only what is due raise exactly the
// events of ticks visiting every device and zone, on the worked example, the
// rule scenes' kind of input and a random log full of silences, schedule
// switches, outages and late records.
func TestDueTimes(t *testing.T) {
	logs := map[string]func() (*proxmon.CaseFile, []proxmon.Record){
		"rotterdam": func() (*proxmon.CaseFile, []proxmon.Record) {
			return MustCaseFile(t, rotterdam+"cases-valid.yaml"), MustRecords(t, rotterdam+"fixes.ndjson")
		},
	}
	for seed := uint64(1); seed <= 8; seed++ {
		logs[fmt.Sprintf("random %d", seed)] = func() (*proxmon.CaseFile, []proxmon.Record) { return randomLog(t, seed) }
	}
	for name, mk := range logs {
		t.Run(name, func(t *testing.T) {
			cf, recs := mk()
			due := MustEngine(t, cf)
			got := NDJSON(t, Run(t, due, recs))
			cf, _ = mk()
			all := MustEngine(t, cf)
			all.Exhaustive()
			want := NDJSON(t, Run(t, all, recs))
			if !bytes.Equal(got, want) {
				t.Errorf("events differ:\n%s", firstDiff(got, want))
			}
			if len(want) == 0 {
				t.Error("the log raised no event at all")
			}
		})
	}
}

func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return fmt.Sprintf("line %d\n got  %s\n want %s", i+1, a, b)
		}
	}
	return ""
}

// randomLog builds a small fleet around Rotterdam whose devices wander in
// and out of each other's and their zones' reach, fall silent, come back
// late, with zones switching on and off every few minutes, ingest
// stopping now and then, and cases starting, ending, suspended, resumed,
// deleted, added again and given a new tag as the log goes.
func randomLog(t *testing.T, seed uint64) (*proxmon.CaseFile, []proxmon.Record) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	const cases = 12
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) // Monday 10:00 in Amsterdam
	// at is an instant of the hour, not on a tick's second.
	at := func(from, span int) string {
		return start.Add(time.Duration(from+rng.IntN(span))*time.Second + time.Duration(rng.IntN(1e9))).Format(time.RFC3339Nano)
	}
	var y strings.Builder
	y.WriteString("devices:\n")
	for i := range cases {
		fmt.Fprintf(&y, "  - {id: tag-%d, kind: tag, report_interval_s: %d}\n", i, 10+rng.IntN(50))
		fmt.Fprintf(&y, "  - {id: spare-%d, kind: tag, report_interval_s: %d}\n", i, 10+rng.IntN(50))
		fmt.Fprintf(&y, "  - {id: phone-%d, kind: victim, report_interval_s: %d}\n", i, 10+rng.IntN(50))
	}
	y.WriteString("cases:\n")
	for i := range cases {
		lon, lat := 4.40+0.002*float64(i), 51.90
		fmt.Fprintf(&y, "  - id: case-%02d\n    offender: tag-%d\n", i, i)
		if rng.IntN(3) == 0 {
			fmt.Fprintf(&y, "    valid_from: %s\n", at(0, 900))
		}
		if rng.IntN(3) == 0 {
			fmt.Fprintf(&y, "    valid_until: %s\n", at(2400, 1200))
		}
		if rng.IntN(2) == 0 {
			fmt.Fprintf(&y, "    suspensions:\n      - {from: %s, until: %s, reason: custody}\n", at(300, 600), at(1000, 400))
			if rng.IntN(2) == 0 {
				fmt.Fprintf(&y, "      - {from: %s, reason: hospital}\n", at(1800, 1200))
			}
		}
		fmt.Fprintf(&y, "    contact_bans: [{protected: phone-%d, alert_m: 150, warn_m: 400}]\n    zones:\n", i)
		fmt.Fprintf(&y, "      - {id: ex, kind: exclusion, circle: {center: [%f, %f], radius_m: 100}, buffer_m: 100, schedule: {tz: Europe/Amsterdam, windows: [{days: [mon, tue, wed, thu, fri, sat, sun], start: \"%02d:%02d\", end: \"%02d:%02d\"}]}}\n",
			lon, lat, 10, rng.IntN(20), 10, 20+rng.IntN(30))
		fmt.Fprintf(&y, "      - {id: in, kind: inclusion, circle: {center: [%f, %f], radius_m: 150}, schedule: {tz: Europe/Amsterdam, windows: [{days: [mon], start: \"10:%02d\", end: \"10:%02d\"}]}}\n",
			lon, lat+0.001, 5+rng.IntN(10), 30+rng.IntN(20))
		fmt.Fprintf(&y, "      - {id: always, kind: exclusion, circle: {center: [%f, %f], radius_m: 80}, buffer_m: 50}\n", lon+0.001, lat-0.001)
	}
	cf, err := proxmon.ParseCaseFile([]byte(y.String()))
	if err != nil {
		t.Fatal(err)
	}
	// The cases as the log has them now, for the case records to change;
	// nil once deleted.
	cur := make([]*proxmon.Case, cases)
	for i := range cf.Cases {
		c := cf.Cases[i]
		cur[i] = &c
	}
	var recs []proxmon.Record
	line := func(ndjson string) {
		r, err := proxmon.ParseRecord([]byte(ndjson))
		if err != nil {
			t.Fatalf("%s: %v", ndjson, err)
		}
		recs = append(recs, r)
	}
	caseRecord := func(c *proxmon.Case, now time.Time) {
		j, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		devs, err := json.Marshal(cf.Devices)
		if err != nil {
			t.Fatal(err)
		}
		line(fmt.Sprintf(`{"case":%s,"devices":%s,"time":%q}`, j, devs, now.Format(time.RFC3339Nano)))
	}
	seq := map[string]uint64{}
	pos := map[string][2]float64{}
	hbDown := false
	for s := 0; s < 3600; s++ {
		now := start.Add(time.Duration(s) * time.Second)
		if s%600 == 300 {
			hbDown = !hbDown && rng.IntN(2) == 0
		}
		if !hbDown {
			recs = append(recs, proxmon.Record{Kind: proxmon.RecordHeartbeat, Time: now})
		}
		if rng.IntN(60) == 0 {
			k := rng.IntN(cases)
			switch c := cur[k]; {
			case c == nil: // added again
				c := cf.Cases[k]
				cur[k] = &c
				caseRecord(&c, now)
			case rng.IntN(8) == 0:
				cur[k] = nil
				line(fmt.Sprintf(`{"case_deleted":"case-%02d"}`, k))
			case rng.IntN(3) == 0: // the other tag
				n := *c
				n.Offender = map[bool]string{true: fmt.Sprintf("spare-%d", k), false: fmt.Sprintf("tag-%d", k)}[c.Offender == fmt.Sprintf("tag-%d", k)]
				cur[k] = &n
				caseRecord(&n, now)
			default: // suspended from about now, for a while or until further notice, or not at all
				n := *c
				n.Suspensions = nil
				if rng.IntN(3) > 0 {
					from := now.Add(time.Duration(rng.IntN(60e9)) - 20*time.Second)
					sp := proxmon.Suspension{From: from, Reason: "custody"}
					if rng.IntN(2) == 0 {
						until := from.Add(time.Duration(1 + rng.Int64N(300e9)))
						sp.Until = &until
					}
					n.Suspensions = []proxmon.Suspension{sp}
				}
				cur[k] = &n
				caseRecord(&n, now)
			}
		}
		silentAll := s >= 1500 && s < 1700 // a network outage
		for i := range cases {
			for _, dev := range []string{fmt.Sprintf("tag-%d", i), fmt.Sprintf("spare-%d", i), fmt.Sprintf("phone-%d", i)} {
				if silentAll && rng.IntN(10) < 9 || rng.IntN(25) != 0 {
					continue
				}
				p, ok := pos[dev]
				if !ok {
					p = [2]float64{51.90 + 0.004*rng.Float64() - 0.002, 4.40 + 0.002*float64(i) + 0.004*rng.Float64() - 0.002}
				}
				p[0] += (rng.Float64() - 0.5) * 0.0008
				p[1] += (rng.Float64() - 0.5) * 0.0012
				pos[dev] = p
				seq[dev]++
				gps := now.Add(-time.Duration(rng.IntN(3000)) * time.Millisecond)
				if rng.IntN(20) == 0 {
					gps = gps.Add(-time.Duration(30+rng.IntN(200)) * time.Second) // late
				}
				acc := float64(rng.IntN(30))
				recs = append(recs, proxmon.Record{Kind: proxmon.RecordFix, Fix: proxmon.Fix{
					Device: dev, Seq: seq[dev], Time: gps, Received: now, Lat: p[0], Lon: p[1], AccuracyM: acc}})
				if rng.IntN(15) == 0 {
					recs = append(recs, proxmon.Record{Kind: proxmon.RecordStatus, Status: proxmon.Status{
						Device: dev, Time: gps, Received: now, HasBattery: true, BatteryPct: rng.IntN(40)}})
				}
			}
		}
		recs = append(recs, proxmon.Record{Kind: proxmon.RecordTick, Time: now})
	}
	return cf, recs
}
