package proxmon_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/proxmon/proxmon"
)

const goodRecord = `{"case":{"id":"case-1","offender":"tag-1",
  "contact_bans":[{"protected":"phone-1","alert_m":500,"warn_m":1500}],
  "zones":[{"id":"home","kind":"exclusion","circle":{"center":[4.47,51.92],"radius_m":250}}]},
 "devices":[{"id":"tag-1","kind":"tag"},{"id":"phone-1","kind":"victim"}]}`

func TestParseCaseRecord(t *testing.T) {
	c, devs, err := proxmon.ParseCaseRecord([]byte(goodRecord))
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "case-1" || len(devs) != 2 || c.Zones[0].Shape() == nil {
		t.Fatalf("case %+v devices %+v: not decoded or not ready for the engine", c, devs)
	}
	for _, tt := range []struct{ name, data, want string }{
		{"not JSON", `{`, ""},
		{"a list", `[]`, "want a mapping of case and devices, not a list"},
		{"no case", `{"devices":[]}`, "case: missing"},
		{"unknown top-level field", `{"case":{"id":"c","offender":"t"},"devices":[{"id":"t","kind":"tag"}],"x":1}`, `unknown field "x"`},
		{"unknown field in a zone", `{"case":{"id":"c","offender":"t","zones":[{"id":"z","kind":"exclusion","circle":{"center":[4,51],"radius_m":1},"colour":"red"}]},"devices":[{"id":"t","kind":"tag"}]}`,
			`case.zones[0]: unknown field "colour"`},
		{"wrong type", `{"case":{"id":"c","offender":"t","contact_bans":[{"protected":"p","alert_m":"far","warn_m":1}]},"devices":[{"id":"t","kind":"tag"},{"id":"p","kind":"victim"}]}`,
			`case.contact_bans[0].alert_m: want a number, not "far"`},
		{"bad geometry", `{"case":{"id":"c","offender":"t","zones":[{"id":"z","kind":"exclusion","geometry":{"type":"Point","coordinates":[4,51]}}]},"devices":[{"id":"t","kind":"tag"}]}`,
			"case.zones[0].geometry"},
		{"device not brought", `{"case":{"id":"c","offender":"t"},"devices":[]}`, `case.offender: unknown device "t"`},
		{"bad device", `{"case":{"id":"c","offender":"t"},"devices":[{"id":"t","kind":"car"}]}`, "devices[0].kind"},
	} {
		c, devs, err := proxmon.ParseCaseRecord([]byte(tt.data))
		if err == nil || c != nil || devs != nil {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		got := faults(t, err)
		if !slices.ContainsFunc(got, func(f string) bool { return strings.Contains(f, tt.want) }) {
			t.Errorf("%s: faults %q, want one with %q", tt.name, got, tt.want)
		}
	}
}

// FuzzParseCaseRecord: no input panics, a rejection is a *ValidationError,
// and what is accepted passes ValidateCaseRecord.
func FuzzParseCaseRecord(f *testing.F) {
	f.Add([]byte(goodRecord))
	f.Add([]byte(`{"case":null}`))
	f.Add([]byte(`{"case":{"id":"c","offender":"t","zones":[{"id":"z","kind":"inclusion","geometry":{"type":"Polygon","coordinates":[[[4,51],[5,51],[5,52],[4,51]]]}}]},"devices":[{"id":"t","kind":"tag"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, devs, err := proxmon.ParseCaseRecord(data)
		if err != nil {
			faults(t, err)
			return
		}
		if err := proxmon.ValidateCaseRecord(c, devs, nil); err != nil {
			t.Fatalf("accepted %q, but ValidateCaseRecord says %v", data, err)
		}
	})
}
