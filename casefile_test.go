package proxmon_test

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proxmon/proxmon"
)

// MustParseCaseFile parses and validates a case file or fails the test.
func MustParseCaseFile(tb testing.TB, data string) *proxmon.CaseFile {
	tb.Helper()
	cf, err := proxmon.ParseCaseFile([]byte(data))
	if err != nil {
		tb.Fatalf("ParseCaseFile: %v", err)
	}
	return cf
}

// faults returns the faults of err, one "path: message" a string.
func faults(tb testing.TB, err error) []string {
	tb.Helper()
	if err == nil {
		return nil
	}
	var verr *proxmon.ValidationError
	if !errors.As(err, &verr) {
		tb.Fatalf("error %v (%T) is not a *ValidationError", err, err)
	}
	if !errors.Is(err, proxmon.ErrInvalid) {
		tb.Errorf("errors.Is(%v, ErrInvalid) = false", err)
	}
	var out []string
	for _, f := range verr.Faults {
		out = append(out, f.String())
	}
	if got := strings.Join(out, "\n"); got != err.Error() {
		tb.Errorf("Error() = %q, want the faults one a line %q", err.Error(), got)
	}
	return out
}

// knownFaults are the faults of case files in testdata that are copies of
// files kept elsewhere and are not valid.
var knownFaults = map[string][]string{
	// A copy of the shared example rotterdam-night/cases.yaml: the school
	// of case-01 is a bow tie (its edges 2 and 4 cross), which DESIGN.md's
	// case file rules reject.
	"rotterdam-night.yaml": {"cases[1].zones[1].geometry: ring 0 intersects itself"},
}

func TestParseCaseFileExamples(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no case files in testdata: %v", err)
	}
	for _, name := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if want, ok := knownFaults[filepath.Base(name)]; ok {
				_, err := proxmon.ParseCaseFile(data)
				if got := faults(t, err); !slices.Equal(got, want) {
					t.Fatalf("faults:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				return
			}
			cf := MustParseCaseFile(t, string(data))
			if len(cf.Cases) == 0 {
				t.Fatal("no cases")
			}
			at := time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)
			for _, c := range cf.Cases {
				for _, z := range c.Zones {
					if z.Shape() == nil {
						t.Errorf("case %s zone %s: no shape after validation", c.ID, z.ID)
					}
					z.Schedule.Active(at) // must not panic: validation resolved it
					z.Schedule.State(at)
				}
			}
		})
	}
}

func TestParseCaseFileDesign(t *testing.T) {
	data, err := os.ReadFile("testdata/design.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cf := MustParseCaseFile(t, string(data))
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 3600))
	until := from.AddDate(1, 0, 0)
	hyst := 25.0
	want := &proxmon.CaseFile{
		Devices: []proxmon.Device{
			{ID: "tag-17", Kind: proxmon.DeviceTag, ReportIntervalS: 30},
			{ID: "phone-4", Kind: proxmon.DeviceVictim, ReportIntervalS: 60},
		},
		Cases: []proxmon.Case{{
			ID: "case-2024-0117", Risk: proxmon.RiskHigh, Offender: "tag-17",
			ContactBans: []proxmon.ContactBan{{Protected: "phone-4", AlertM: 500, WarnM: 1500}},
			Zones: []proxmon.Zone{{
				ID: "victim-home", Kind: proxmon.ZoneExclusion,
				Circle:  &proxmon.Circle{Center: []float64{4.4777, 51.9244}, RadiusM: 250},
				BufferM: 300,
				Schedule: &proxmon.Schedule{From: &from, Until: &until, TZ: "Europe/Amsterdam",
					Windows: []proxmon.Window{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "07:00", End: "19:00"}}},
				HysteresisM: &hyst,
			}},
		}},
	}
	// The exported fields are the contract; compare them as JSON.
	got, _ := json.Marshal(cf)
	wantJSON, _ := json.Marshal(want)
	if string(got) != string(wantJSON) {
		t.Errorf("parsed\n%s\nwant\n%s", got, wantJSON)
	}
	if !cf.Cases[0].Zones[0].Schedule.From.Equal(from) {
		t.Errorf("from = %v, want %v", cf.Cases[0].Zones[0].Schedule.From, from)
	}
}

// header is a valid start of a case file that the fault cases build on.
const header = `
devices:
  - {id: tag-1, kind: tag}
  - {id: phone-1, kind: victim}
`

var faultCases = []struct {
	name   string
	file   string
	faults []string
}{
	{"empty", ``, []string{"empty case file"}},
	{"comments only", "# nothing\n", []string{"empty case file"}},
	{"not a mapping", "- 1\n- 2\n", []string{"want a mapping of devices and cases, not a list"}},
	{"syntax", "devices: [\n", []string{"yaml: line 1: did not find expected node content"}},
	{"two documents", header + "---\n" + header, []string{"more than one YAML document (---): a case file is one document"}},
	{"duplicate key", "devices: []\ndevices: []\n", []string{`line 2: key "devices" already set in map`}},
	{"NaN", header + "cases: [{id: c, offender: tag-1, contact_bans: [{protected: phone-1, alert_m: .nan, warn_m: 1}]}]\n",
		[]string{"NaN is not allowed: numbers must be finite"}},
	{"unknown fields", header + `
cases:
  - id: c
    offender: tag-1
    contact_bans: [{protected: phone-1, alert: 500, alert_m: 500, warn_m: 1500}]
    Zones: []
extra: 1
`, []string{
		`unknown field "extra"`,
		`cases[0]: unknown field "Zones"`,
		`cases[0].contact_bans[0]: unknown field "alert"`,
	}},
	{"wrong types", header + `
cases:
  - id: 17
    offender: tag-1
    drill: "yes"
    contact_bans: [{protected: phone-1, alert_m: 500m, warn_m: 1500}]
    zones:
      - id: z
        kind: exclusion
        circle: {center: 4.5, radius_m: 100}
        schedule: {from: 2026-01-01, until: 5}
  - zones: {}
  - "case-3"
`, []string{
		"cases[0].id: want a string, not 17 (quote it)",
		"cases[0].drill: want true or false, not \"yes\"",
		"cases[0].contact_bans[0].alert_m: want a number, not \"500m\"",
		"cases[0].zones[0].circle.center: want a list, not 4.5",
		`cases[0].zones[0].schedule.from: "2026-01-01" is not an RFC 3339 time like 2026-01-01T00:00:00+01:00`,
		"cases[0].zones[0].schedule.until: want an RFC 3339 time, not 5",
		"cases[1].zones: want a list, not a mapping",
		`cases[2]: want a mapping, not "case-3"`,
		// What did decode is still validated; what did not has had
		// its say.
		"cases[1].id: missing",
		"cases[1].offender: missing",
	}},
	{"yaml booleans", `
devices:
  - {id: no, kind: tag}
  - {id: on, kind: tag}
`, []string{
		"devices[0].id: want a string, not false (quote it: YAML reads no, n and off as false)",
		"devices[1].id: want a string, not true (quote it: YAML reads yes, y and on as true)",
	}},
	{"devices", `
devices:
  - {id: tag-17, kind: tag, report_interval_s: -30}
  - {id: tag-17, kind: tag, default_accuracy_m: -1}
  - {id: "tag 18", kind: bracelet}
  - {kind: victim}
  - {id: phone-1, mqtt_password_bcrypt: hunter2}
  - id: x0123456789012345678901234567890123456789012345678901234567890123
    kind: victim
  - id: x012345678901234567890123456789012345678901234567890123456789012
    kind: victim
    mqtt_password_bcrypt: $2b$12$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy
`, []string{
		"devices[0].report_interval_s: -30 is negative",
		`devices[1].id: duplicate id "tag-17"`,
		"devices[1].default_accuracy_m: -1 is negative",
		`devices[2].id: "tag 18" is not a valid id (1-64 characters of A-Z, a-z, 0-9, _ and -)`,
		`devices[2].kind: unknown kind "bracelet" (want tag or victim)`,
		"devices[3].id: missing",
		"devices[4].kind: missing (want tag or victim)",
		"devices[4].mqtt_password_bcrypt: not a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters)",
		`devices[5].id: "x0123456789012345678901234567890123456789012345678901234567890123" is not a valid id (1-64 characters of A-Z, a-z, 0-9, _ and -)`,
	}},
	{"cases", header + `
  - {id: tag-2, kind: tag}
  - {id: odd, kind: bracelet}
cases:
  - {id: c1, risk: extreme, offender: phone-1}
  - {id: c1, offender: tag-9}
  - {id: "c 3"}
  - offender: odd
    contact_bans:
      - {protected: tag-2, alert_m: 500, warn_m: 100, hysteresis_m: -1}
      - {protected: phone-1, alert_m: 0, warn_m: -5}
      - {protected: phone-1, alert_m: -500, warn_m: 100}
      - {protected: ghost, alert_m: 100, warn_m: 100}
      - {alert_m: 100, warn_m: 100}
`, []string{
		`devices[3].kind: unknown kind "bracelet" (want tag or victim)`,
		`cases[0].risk: unknown risk "extreme" (want low, medium or high)`,
		`cases[0].offender: device "phone-1" is a victim device, not a tag`,
		`cases[1].id: duplicate id "c1"`,
		`cases[1].offender: unknown device "tag-9"`,
		`cases[2].id: "c 3" is not a valid id (1-64 characters of A-Z, a-z, 0-9, _ and -)`,
		"cases[2].offender: missing",
		"cases[3].id: missing",
		`cases[3].contact_bans[0].protected: device "tag-2" is a tag, not a victim device`,
		"cases[3].contact_bans[0].warn_m: 100 is less than alert_m 500",
		"cases[3].contact_bans[0].hysteresis_m: -1 is negative",
		"cases[3].contact_bans[1].alert_m: must be more than 0",
		"cases[3].contact_bans[1].warn_m: -5 is negative",
		`cases[3].contact_bans[2].protected: duplicate contact ban on "phone-1"`,
		"cases[3].contact_bans[2].alert_m: -500 is negative",
		`cases[3].contact_bans[3].protected: unknown device "ghost"`,
		"cases[3].contact_bans[4].protected: missing",
	}},
	{"zones", header + `
cases:
  - id: c
    offender: tag-1
    zones:
      - {id: a, kind: exclusion, circle: {center: [4.5, 51.9], radius_m: 100}, buffer_m: -1, hysteresis_m: -2}
      - {id: a, kind: curfew, circle: {center: [4.5, 51.9], radius_m: 100}}
      - {id: "b/c", circle: {center: [4.5, 51.9], radius_m: 100}}
      - id: d
        kind: inclusion
        circle: {center: [4.5, 51.9], radius_m: 100}
        geometry: {type: Polygon, coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
      - {id: e, kind: inclusion}
      - {id: f, kind: exclusion, circle: {center: [4.5, 51.9, 0], radius_m: 100}}
      - {id: g, kind: exclusion, circle: {center: [200, 91], radius_m: 0}}
      - {id: h, kind: exclusion, circle: {center: [4.5, 51.9], radius_m: -10}}
`, []string{
		"cases[0].zones[0].buffer_m: -1 is negative",
		"cases[0].zones[0].hysteresis_m: -2 is negative",
		`cases[0].zones[1].id: duplicate id "a"`,
		`cases[0].zones[1].kind: unknown kind "curfew" (want exclusion or inclusion)`,
		`cases[0].zones[2].id: "b/c" is not a valid id (1-64 characters of A-Z, a-z, 0-9, _ and -)`,
		"cases[0].zones[2].kind: missing (want exclusion or inclusion)",
		"cases[0].zones[3]: has both circle and geometry (want exactly one)",
		"cases[0].zones[4]: has neither circle nor geometry (want exactly one)",
		"cases[0].zones[5].circle.center: want [lon, lat], not 3 numbers",
		"cases[0].zones[6].circle.center: longitude 200 out of range [-180, 180]",
		"cases[0].zones[6].circle.center: latitude 91 out of range [-90, 90]",
		"cases[0].zones[6].circle.radius_m: must be more than 0",
		"cases[0].zones[7].circle.radius_m: -10 is negative",
	}},
	{"geometry", header + `
cases:
  - id: c
    offender: tag-1
    zones:
      - {id: a, kind: exclusion, geometry: {type: Point, coordinates: [4.5, 51.9]}}
      - {id: b, kind: exclusion, geometry: {coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}
      - {id: c, kind: exclusion, geometry: {type: Polygon}}
      - {id: d, kind: exclusion, geometry: {type: Polygon, coordinates: []}}
      - {id: e, kind: exclusion, geometry: {type: Polygon, coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0.5]]]}}
      - {id: f, kind: exclusion, geometry: {type: Polygon, coordinates: [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}}
      - {id: g, kind: exclusion, geometry: {type: Polygon, coordinates: [[[0, 0], [1, 0], [0, 0]]]}}
      - {id: h, kind: exclusion, geometry: {type: Polygon, coordinates: [[[0, 0], [1, 0], [1, 95], [-181, 0], [0, 0]]]}}
      - {id: i, kind: exclusion, geometry: {type: Polygon, coordinates: [[[0, 0], [1], "x", [1, 1], [0, 0]], 7]}}
      - id: j
        kind: exclusion
        geometry:
          type: MultiPolygon
          coordinates:
            - [[[0, 0], [1, 0], [1, 1], [0, 0]]]
            - [[[2, 0], [3, 0], [3, 1], [2, 0.5]]]
      - {id: k, kind: exclusion, geometry: {type: MultiPolygon, coordinates: [[]]}}
      - {id: l, kind: exclusion, geometry: {type: MultiPolygon, coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}
      - {id: m, kind: exclusion, geometry: {type: MultiPolygon, coordinates: []}}
      - id: hole
        kind: exclusion
        geometry:
          type: Polygon
          coordinates:
            - [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]
            - [[2, 0], [3, 0], [3, 1], [2, 0]]
`, []string{
		`cases[0].zones[0].geometry.type: unknown type "Point" (want Polygon or MultiPolygon)`,
		"cases[0].zones[1].geometry.type: missing (want Polygon or MultiPolygon)",
		"cases[0].zones[2].geometry.coordinates: missing",
		"cases[0].zones[3].geometry.coordinates: no rings",
		"cases[0].zones[4].geometry: ring 0 is not closed",
		"cases[0].zones[5].geometry: ring 0 intersects itself",
		"cases[0].zones[6].geometry: ring 0 has fewer than 4 points",
		"cases[0].zones[7].geometry.coordinates[0][2]: latitude 95 out of range [-90, 90]",
		"cases[0].zones[7].geometry.coordinates[0][3]: longitude -181 out of range [-180, 180]",
		"cases[0].zones[8].geometry.coordinates[0][1]: want a position [lon, lat], not a list",
		`cases[0].zones[8].geometry.coordinates[0][2]: want a position [lon, lat], not "x"`,
		"cases[0].zones[8].geometry.coordinates[1]: want a list, not 7",
		"cases[0].zones[9].geometry: polygon 1 ring 0 is not closed",
		"cases[0].zones[10].geometry.coordinates[0]: no rings",
		"cases[0].zones[11].geometry.coordinates[0][0][0]: want a position [lon, lat], not 0",
		"cases[0].zones[11].geometry.coordinates[0][0][1]: want a position [lon, lat], not 0",
		"cases[0].zones[11].geometry.coordinates[0][1][0]: want a position [lon, lat], not 1",
		"cases[0].zones[11].geometry.coordinates[0][1][1]: want a position [lon, lat], not 0",
		"cases[0].zones[11].geometry.coordinates[0][2][0]: want a position [lon, lat], not 1",
		"cases[0].zones[11].geometry.coordinates[0][2][1]: want a position [lon, lat], not 1",
		"cases[0].zones[11].geometry.coordinates[0][3][0]: want a position [lon, lat], not 0",
		"cases[0].zones[11].geometry.coordinates[0][3][1]: want a position [lon, lat], not 0",
		"cases[0].zones[12].geometry.coordinates: no polygons",
		"cases[0].zones[13].geometry: ring 1 is a hole outside its outer ring",
	}},
	{"validity and suspensions", header + `
cases:
  - id: c
    offender: tag-1
    valid_from: 2026-02-01T00:00:00+01:00
    valid_until: 2026-01-31T23:00:00Z
    suspensions:
      - {from: 2026-03-01T00:00:00Z, until: 2026-03-02T00:00:00Z, reason: custody}
      - {from: 2026-03-01T23:59:59.999999999Z, until: 2026-03-03T00:00:00Z, reason: hospital}
      - {from: 2026-03-02T00:00:00Z, reason: hospital}
      - {until: 2026-04-01T00:00:00Z, reason: "  "}
      - {from: 2026-04-02T00:00:00Z, until: 2026-04-02T00:00:00Z}
      - {from: 2026-03-02T00:00:00Z, until: 2026-03-03T00:00:00Z, reason: custody, why: x}
  - id: d
    offender: tag-1
    suspensions: [{from: 2026-01-01T00:00:00Z, reason: custody}, {from: 2025-01-01T00:00:00Z, until: 2026-01-01T00:00:01Z, reason: custody}]
`, []string{
		`cases[0].suspensions[5]: unknown field "why"`,
		"cases[0].valid_until: 2026-01-31T23:00:00Z is not after valid_from 2026-02-01T00:00:00+01:00",
		"cases[0].suspensions[1]: overlaps suspensions[0] (a case is suspended for one reason at a time)",
		"cases[0].suspensions[2]: overlaps suspensions[1] (a case is suspended for one reason at a time)",
		"cases[0].suspensions[3].from: missing",
		"cases[0].suspensions[3].reason: missing (say why, like custody or hospital)",
		"cases[0].suspensions[4].until: 2026-04-02T00:00:00Z is not after from 2026-04-02T00:00:00Z",
		"cases[0].suspensions[4].reason: missing (say why, like custody or hospital)",
		"cases[0].suspensions[5]: overlaps suspensions[1] (a case is suspended for one reason at a time)",
		"cases[1].suspensions[1]: overlaps suspensions[0] (a case is suspended for one reason at a time)",
	}},
	{"schedules", header + `
cases:
  - id: c
    offender: tag-1
    zones:
      - id: a
        kind: exclusion
        circle: {center: [4.5, 51.9], radius_m: 100}
        schedule:
          from: 2026-02-01T00:00:00+01:00
          until: 2026-01-31T23:00:00Z
          windows: [{days: [mon], start: "07:00", end: "19:00"}]
      - id: b
        kind: exclusion
        circle: {center: [4.5, 51.9], radius_m: 100}
        schedule:
          from: 2026-02-01T00:00:00+01:00
          until: 2026-02-01T00:00:00+01:00
          tz: Europe/Amsterdm
      - id: c
        kind: exclusion
        circle: {center: [4.5, 51.9], radius_m: 100}
        schedule:
          tz: Local
          windows:
            - {days: [], start: "07:00", end: "19:00"}
            - {days: [mon, Tue, monday, mon], start: "7:00", end: "24:00"}
            - {days: [fri], start: "23:00", end: "23:00"}
            - {days: [sat], start: "12:60", end: "1200"}
            - {}
`, []string{
		"cases[0].zones[0].schedule.until: 2026-01-31T23:00:00Z is not after from 2026-02-01T00:00:00+01:00",
		"cases[0].zones[0].schedule.tz: missing (windows need a time zone, like Europe/Amsterdam)",
		"cases[0].zones[1].schedule.until: 2026-02-01T00:00:00+01:00 is not after from 2026-02-01T00:00:00+01:00",
		`cases[0].zones[1].schedule.tz: unknown time zone "Europe/Amsterdm"`,
		`cases[0].zones[2].schedule.tz: "Local" is not a time zone name (want one like Europe/Amsterdam)`,
		"cases[0].zones[2].schedule.windows[0].days: missing",
		`cases[0].zones[2].schedule.windows[1].days[1]: unknown day "Tue" (want mon, tue, wed, thu, fri, sat or sun)`,
		`cases[0].zones[2].schedule.windows[1].days[2]: unknown day "monday" (want mon, tue, wed, thu, fri, sat or sun)`,
		`cases[0].zones[2].schedule.windows[1].days[3]: duplicate day "mon"`,
		`cases[0].zones[2].schedule.windows[1].start: "7:00" is not a time of day HH:MM (00:00 to 23:59)`,
		`cases[0].zones[2].schedule.windows[1].end: "24:00" is not a time of day HH:MM (00:00 to 23:59)`,
		"cases[0].zones[2].schedule.windows[2].end: equals start 23:00 (a window must not be empty)",
		`cases[0].zones[2].schedule.windows[3].start: "12:60" is not a time of day HH:MM (00:00 to 23:59)`,
		`cases[0].zones[2].schedule.windows[3].end: "1200" is not a time of day HH:MM (00:00 to 23:59)`,
		"cases[0].zones[2].schedule.windows[4].days: missing",
		`cases[0].zones[2].schedule.windows[4].start: "" is not a time of day HH:MM (00:00 to 23:59)`,
		`cases[0].zones[2].schedule.windows[4].end: "" is not a time of day HH:MM (00:00 to 23:59)`,
	}},
}

func TestParseCaseFileFaults(t *testing.T) {
	for _, tt := range faultCases {
		t.Run(tt.name, func(t *testing.T) {
			cf, err := proxmon.ParseCaseFile([]byte(tt.file))
			if err == nil {
				t.Fatalf("ParseCaseFile accepted it: %+v", cf)
			}
			if cf != nil {
				t.Errorf("ParseCaseFile returned a case file with its error")
			}
			got := faults(t, err)
			if !slices.Equal(got, tt.faults) {
				t.Errorf("faults:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.faults, "\n"))
			}
		})
	}
}

// TestValidateGoValues covers what a YAML or JSON file cannot express but a
// case built in Go can.
func TestValidateGoValues(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	cf := &proxmon.CaseFile{
		Devices: []proxmon.Device{
			{ID: "tag-1", Kind: proxmon.DeviceTag, ReportIntervalS: nan},
			{ID: "phone-1", Kind: proxmon.DeviceVictim, DefaultAccuracyM: inf},
		},
		Cases: []proxmon.Case{{
			ID: "c", Offender: "tag-1",
			ContactBans: []proxmon.ContactBan{{Protected: "phone-1", AlertM: nan, WarnM: inf}},
			Zones: []proxmon.Zone{
				{ID: "a", Kind: proxmon.ZoneExclusion, Circle: &proxmon.Circle{Center: []float64{nan, 51.9}, RadiusM: 10}},
				{ID: "b", Kind: proxmon.ZoneExclusion, Geometry: &proxmon.Geometry{Type: "Polygon", Coordinates: json.RawMessage(`[[[0,0],`)}},
			},
		}},
	}
	want := []string{
		"devices[0].report_interval_s: NaN is not a number",
		"devices[1].default_accuracy_m: +Inf is not finite",
		"cases[0].contact_bans[0].alert_m: NaN is not a number",
		"cases[0].contact_bans[0].warn_m: +Inf is not finite",
		"cases[0].zones[0].circle.center: longitude NaN out of range [-180, 180]",
		"cases[0].zones[1].geometry.coordinates: unexpected end of JSON input",
	}
	if got := faults(t, cf.Validate()); !slices.Equal(got, want) {
		t.Errorf("faults:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestValidateBuildsShapes(t *testing.T) {
	cf := &proxmon.CaseFile{
		Devices: []proxmon.Device{{ID: "tag-1", Kind: proxmon.DeviceTag}},
		Cases: []proxmon.Case{{ID: "c", Offender: "tag-1", Zones: []proxmon.Zone{{
			ID: "a", Kind: proxmon.ZoneExclusion,
			Circle:   &proxmon.Circle{Center: []float64{4.5, 51.9}, RadiusM: 100},
			Schedule: &proxmon.Schedule{TZ: "Europe/Amsterdam", Windows: []proxmon.Window{{Days: []string{"mon"}, Start: "07:00", End: "08:00"}}},
		}}}},
	}
	z := &cf.Cases[0].Zones[0]
	if z.Shape() != nil {
		t.Fatal("shape before validation")
	}
	if err := cf.Validate(); err != nil {
		t.Fatal(err)
	}
	if z.Shape() == nil {
		t.Fatal("no shape after validation")
	}
	monday := time.Date(2026, 6, 1, 7, 30, 0, 0, time.FixedZone("CEST", 2*3600))
	if !z.Schedule.Active(monday) {
		t.Errorf("Active(%v) = false", monday)
	}
	// A fault undoes what an earlier validation built.
	z.Circle.RadiusM = -1
	if err := cf.Validate(); err == nil {
		t.Fatal("negative radius accepted")
	}
	if z.Shape() != nil {
		t.Error("shape kept after a failed validation")
	}
}

func TestScheduleUnvalidatedPanics(t *testing.T) {
	s := &proxmon.Schedule{TZ: "UTC", Windows: []proxmon.Window{{Days: []string{"mon"}, Start: "07:00", End: "08:00"}}}
	defer func() {
		if recover() == nil {
			t.Error("Active on an unvalidated schedule did not panic")
		}
	}()
	s.Active(time.Now())
}

func TestValidateCaseRecord(t *testing.T) {
	earlier := map[string]*proxmon.Device{
		"tag-1":   {ID: "tag-1", Kind: proxmon.DeviceTag},
		"phone-9": {ID: "phone-9", Kind: proxmon.DeviceVictim},
	}
	known := func(id string) (*proxmon.Device, bool) { d, ok := earlier[id]; return d, ok }
	c := proxmon.Case{ID: "c", Offender: "tag-1", ContactBans: []proxmon.ContactBan{
		{Protected: "phone-1", AlertM: 100, WarnM: 200},
		{Protected: "phone-9", AlertM: 100, WarnM: 200},
	}, Zones: []proxmon.Zone{{ID: "z", Kind: proxmon.ZoneInclusion, Circle: &proxmon.Circle{Center: []float64{4.5, 51.9}, RadiusM: 100}}}}
	devices := []proxmon.Device{{ID: "phone-1", Kind: proxmon.DeviceVictim}}

	if err := proxmon.ValidateCaseRecord(&c, devices, known); err != nil {
		t.Fatalf("ValidateCaseRecord: %v", err)
	}
	if c.Zones[0].Shape() == nil {
		t.Error("no shape after validation")
	}

	// Without the devices of earlier records, the references fail.
	want := []string{
		`case.offender: unknown device "tag-1"`,
		`case.contact_bans[1].protected: unknown device "phone-9"`,
	}
	if got := faults(t, proxmon.ValidateCaseRecord(&c, devices, nil)); !slices.Equal(got, want) {
		t.Errorf("faults:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The record's own devices come first and are checked as in a file.
	devices = append(devices, proxmon.Device{ID: "tag-1", Kind: proxmon.DeviceVictim}, proxmon.Device{ID: "phone-1", Kind: proxmon.DeviceVictim})
	c.Zones[0].Kind = "inside"
	want = []string{
		`devices[2].id: duplicate id "phone-1"`,
		`case.offender: device "tag-1" is a victim device, not a tag`,
		`case.zones[0].kind: unknown kind "inside" (want exclusion or inclusion)`,
	}
	if got := faults(t, proxmon.ValidateCaseRecord(&c, devices, known)); !slices.Equal(got, want) {
		t.Errorf("faults:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCaseRecordMatchesFile checks that a case of a valid file, sent alone as
// a case record with its devices, is valid too, and that the JSON form of a
// parsed case file parses to the same thing.
func TestCaseRecordMatchesFile(t *testing.T) {
	data, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cf := MustParseCaseFile(t, string(data))
	j, err := json.Marshal(cf)
	if err != nil {
		t.Fatal(err)
	}
	again := MustParseCaseFile(t, string(j))
	j2, _ := json.Marshal(again)
	if string(j) != string(j2) {
		t.Errorf("JSON round trip changed the case file:\n%s\n%s", j, j2)
	}
	for i := range cf.Cases {
		if err := proxmon.ValidateCaseRecord(&again.Cases[i], again.Devices, nil); err != nil {
			t.Errorf("case %s as a record: %v", again.Cases[i].ID, err)
		}
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"tag-17": true, "case_2024-0117": true, "A": true, strings.Repeat("x", 64): true,
		"": false, strings.Repeat("x", 65): false, "a b": false, "a.b": false, "a/b": false,
		"a*": false, "a>": false, "é": false, "tag\x00": false,
	} {
		if got := proxmon.ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}
