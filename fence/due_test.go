package fence_test

import (
	"bytes"
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
// late, with zones switching on and off every few minutes and ingest
// stopping now and then.
func randomLog(t *testing.T, seed uint64) (*proxmon.CaseFile, []proxmon.Record) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	const cases = 12
	var y strings.Builder
	y.WriteString("devices:\n")
	for i := range cases {
		fmt.Fprintf(&y, "  - {id: tag-%d, kind: tag, report_interval_s: %d}\n", i, 10+rng.IntN(50))
		fmt.Fprintf(&y, "  - {id: phone-%d, kind: victim, report_interval_s: %d}\n", i, 10+rng.IntN(50))
	}
	y.WriteString("cases:\n")
	for i := range cases {
		lon, lat := 4.40+0.002*float64(i), 51.90
		fmt.Fprintf(&y, "  - id: case-%02d\n    offender: tag-%d\n    contact_bans: [{protected: phone-%d, alert_m: 150, warn_m: 400}]\n    zones:\n", i, i, i)
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
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) // Monday 10:00 in Amsterdam
	var recs []proxmon.Record
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
		silentAll := s >= 1500 && s < 1700 // a network outage
		for i := range cases {
			for _, dev := range []string{fmt.Sprintf("tag-%d", i), fmt.Sprintf("phone-%d", i)} {
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
