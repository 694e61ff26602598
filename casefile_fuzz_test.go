package proxmon_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/proxmon/proxmon"
)

// FuzzParseCaseFile checks that no input makes the parser panic, and that
// what it accepts is ready for the engine and survives its JSON form (the
// form case records take in the log).
func FuzzParseCaseFile(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, tc := range faultCases {
		f.Add([]byte(tc.file))
	}
	at := []time.Time{
		time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC),
		time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cf, err := proxmon.ParseCaseFile(data)
		if err != nil {
			if cf != nil {
				t.Fatal("a case file returned with an error")
			}
			faults(t, err)
			return
		}
		for _, c := range cf.Cases {
			for _, tm := range append(at, caseBounds(&c)...) {
				state, until := c.State(tm)
				if until.IsZero() {
					continue
				}
				if !until.After(tm) {
					t.Fatalf("case %s at %v: until %v", c.ID, tm, until)
				}
				if last, _ := c.State(until.Add(-time.Nanosecond)); last != state {
					t.Fatalf("case %s: state %d at %v but %d just before until %v", c.ID, state, tm, last, until)
				}
			}
			for _, z := range c.Zones {
				if z.Shape() == nil {
					t.Fatalf("case %s zone %s: no shape", c.ID, z.ID)
				}
				for _, tm := range at {
					active, until := z.Schedule.State(tm)
					if z.Schedule.Active(tm) != active {
						t.Fatalf("case %s zone %s at %v: Active and State disagree", c.ID, z.ID, tm)
					}
					if !until.IsZero() && !until.After(tm) {
						t.Fatalf("case %s zone %s at %v: until %v", c.ID, z.ID, tm, until)
					}
				}
			}
		}
		j, err := json.Marshal(cf)
		if err != nil {
			t.Fatalf("marshal accepted case file: %v", err)
		}
		again, err := proxmon.ParseCaseFile(j)
		if err != nil {
			t.Fatalf("JSON form of an accepted case file: %v\n%s", err, j)
		}
		if j2, _ := json.Marshal(again); string(j2) != string(j) {
			t.Fatalf("JSON round trip changed the case file:\n%s\n%s", j, j2)
		}
		for i := range again.Cases {
			if err := proxmon.ValidateCaseRecord(&again.Cases[i], again.Devices, nil); err != nil {
				t.Fatalf("case %s as a record: %v", again.Cases[i].ID, err)
			}
		}
	})
}

// caseBounds returns the instants at which a case's state may change.
func caseBounds(c *proxmon.Case) []time.Time {
	var ts []time.Time
	for _, t := range []*time.Time{c.ValidFrom, c.ValidUntil} {
		if t != nil {
			ts = append(ts, *t)
		}
	}
	for _, s := range c.Suspensions {
		ts = append(ts, s.From)
		if s.Until != nil {
			ts = append(ts, *s.Until)
		}
	}
	return ts
}
