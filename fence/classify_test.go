package fence_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/fence"
)

// The classifier takes as positions exactly the fixes the engine takes, on
// a random walk with jumps, repeats and late fixes (fixed seed).
func TestClassifierAgreesWithEngine(t *testing.T) {
	cf, err := proxmon.ParseCaseFile([]byte(`devices:
  - {id: tag-1, kind: tag, report_interval_s: 30, default_accuracy_m: 20}
cases:
  - id: case-1
    offender: tag-1
    zones:
      - {id: z, kind: exclusion, circle: {center: [4.47, 51.92], radius_m: 100}}
`))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := fence.New(cf)
	if err != nil {
		t.Fatal(err)
	}
	cl := fence.NewClassifier(20)
	rng := rand.New(rand.NewPCG(5, 5))
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var prev []proxmon.Fix
	counts := map[fence.FixClass]int{}
	lat, lon := 51.92, 4.47
	for i := range 5000 {
		f := proxmon.Fix{Device: "tag-1", Seq: uint64(i), Time: t0.Add(time.Duration(i) * 10 * time.Second),
			Lat: lat, Lon: lon, AccuracyM: float64(rng.IntN(3) * 10)}
		switch r := rng.IntN(20); {
		case r == 0 && len(prev) > 0: // a repeat
			f = prev[rng.IntN(len(prev))]
		case r == 1: // a late fix
			f.Time = f.Time.Add(-time.Duration(rng.IntN(100)) * time.Second)
		case r <= 3: // a jump
			f.Lat += (rng.Float64() - 0.5) * 0.5
		default:
			lat += (rng.Float64() - 0.5) * 0.002
			lon += (rng.Float64() - 0.5) * 0.002
			f.Lat, f.Lon = lat, lon
		}
		prev = append(prev, f)
		if len(prev) > 6 {
			prev = prev[1:]
		}
		_, before, _ := eng.Position("tag-1")
		rec := proxmon.Record{Kind: proxmon.RecordFix, Fix: f}
		if _, err := eng.Apply(&rec, nil); err != nil {
			t.Fatal(err)
		}
		_, after, _ := eng.Position("tag-1")
		c := cl.Classify(&f)
		counts[c]++
		if moved := !after.Equal(before); moved != (c == fence.FixPosition) {
			t.Fatalf("fix %d: classifier says %v, engine moved=%v", i, c, moved)
		}
	}
	for _, c := range []fence.FixClass{fence.FixPosition, fence.FixDuplicate, fence.FixLate, fence.FixAnomaly} {
		if counts[c] == 0 {
			t.Errorf("no %v fix in the walk: the test does not exercise it", c)
		}
	}
}
