package proxmon_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/proxmon/proxmon"
)

// rfc3339 parses a time of the catalogue; a bad one is a mistake in the
// test.
func rfc3339(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr[T any](v T) *T { return &v }

// recordCase is one NDJSON line of the log and what ParseRecord makes of it.
type recordCase struct {
	name string
	line string
	want proxmon.Record // when err is ""
	err  string         // in the error; "" = the line is accepted
}

// recordCases is the catalogue of log lines shared by the table tests and
// the fuzzer's seed corpus: every kind of record, and every reason to
// reject a line (DESIGN.md "The log (FIXES) and its NDJSON form").
var recordCases = []recordCase{
	// Fixes.
	{
		name: "fix as in DESIGN.md",
		line: `{"device":"tag-17","seq":12,"time":"2026-03-01T10:00:00Z","lat":51.92,"lon":4.47,"accuracy_m":5,"source":"gnss"}`,
		want: proxmon.Record{Kind: proxmon.RecordFix, Fix: proxmon.Fix{
			Device: "tag-17", Seq: 12, Time: rfc3339("2026-03-01T10:00:00Z"),
			Lat: 51.92, Lon: 4.47, AccuracyM: 5, Source: proxmon.SourceGNSS,
		}},
	},
	{
		name: "fix with every field, times in UTC",
		line: `{"source":"wifi","satellites":9,"heading_deg":270.5,"speed_mps":1.4,"accuracy_m":12.5,"lon":151.2093,"lat":-33.8688,` +
			`"received":"2026-03-01T10:00:01.5+01:00","time":"2026-03-01T10:00:00.25+01:00","seq":7,"device":"phone-4"}`,
		want: proxmon.Record{Kind: proxmon.RecordFix, Fix: proxmon.Fix{
			Device: "phone-4", Seq: 7, Time: rfc3339("2026-03-01T09:00:00.25Z"), Received: rfc3339("2026-03-01T09:00:01.5Z"),
			Lat: -33.8688, Lon: 151.2093, AccuracyM: 12.5, SpeedMps: 1.4, HeadingDeg: 270.5,
			Source: proxmon.SourceWiFi, Satellites: 9,
		}},
	},
	{
		name: "fix without accuracy, received absent",
		line: `{"device":"tag-17","seq":0,"time":"2026-03-01T10:00:00Z","lat":0,"lon":0}`,
		want: proxmon.Record{Kind: proxmon.RecordFix, Fix: proxmon.Fix{Device: "tag-17", Time: rfc3339("2026-03-01T10:00:00Z")}},
	},
	{
		name: "fix at the edges of the range",
		line: `{"device":"T_0-z","seq":18446744073709551615,"time":"2026-03-01T10:00:00Z","lat":-90,"lon":180}`,
		want: proxmon.Record{Kind: proxmon.RecordFix, Fix: proxmon.Fix{
			Device: "T_0-z", Seq: 1<<64 - 1, Time: rfc3339("2026-03-01T10:00:00Z"), Lat: -90, Lon: 180,
		}},
	},
	{
		name: "fix with a 64-character id, spaces and CRLF",
		line: " {\"device\": \"" + strings.Repeat("a", 64) + "\", \"seq\": 1, \"time\": \"2026-03-01T10:00:00Z\", \"lat\": 90, \"lon\": -180}\r",
		want: proxmon.Record{Kind: proxmon.RecordFix, Fix: proxmon.Fix{
			Device: strings.Repeat("a", 64), Seq: 1, Time: rfc3339("2026-03-01T10:00:00Z"), Lat: 90, Lon: -180,
		}},
	},
	{name: "fix with an empty device", line: `{"device":"","seq":1,"time":"2026-03-01T10:00:00Z","lat":1,"lon":1}`, err: `fix: invalid device id ""`},
	{name: "fix with a 65-character device", line: `{"device":"` + strings.Repeat("a", 65) + `","seq":1,"time":"2026-03-01T10:00:00Z","lat":1,"lon":1}`, err: "fix: invalid device id"},
	{name: "fix with a topic level in its device", line: `{"device":"tag/17","seq":1,"time":"2026-03-01T10:00:00Z","lat":1,"lon":1}`, err: `fix: invalid device id "tag/17"`},
	{name: "fix with a wildcard in its device", line: `{"device":"tag-#","seq":1,"time":"2026-03-01T10:00:00Z","lat":1,"lon":1}`, err: `fix: invalid device id "tag-#"`},
	{name: "fix with a null device", line: `{"device":null,"seq":1,"time":"2026-03-01T10:00:00Z","lat":1,"lon":1}`, err: "want exactly one of"},
	{name: "fix without seq", line: `{"device":"tag-17","time":"2026-03-01T10:00:00Z","lat":51.9234567,"lon":4.4712345}`, err: "fix of tag-17: seq missing"},
	{name: "fix with a null seq", line: `{"device":"tag-17","seq":null,"time":"2026-03-01T10:00:00Z","lat":51.9234567,"lon":4.4712345}`, err: "fix of tag-17: seq missing"},
	{name: "fix with a negative seq", line: `{"device":"tag-17","seq":-1,"time":"2026-03-01T10:00:00Z","lat":51.9234567,"lon":4.4712345}`, err: "cannot unmarshal number -1"},
	{name: "fix with a fractional seq", line: `{"device":"tag-17","seq":1.5,"time":"2026-03-01T10:00:00Z","lat":51.9234567,"lon":4.4712345}`, err: "cannot unmarshal number 1.5"},
	{name: "fix with a seq in quotes", line: `{"device":"tag-17","seq":"12","time":"2026-03-01T10:00:00Z","lat":51.9234567,"lon":4.4712345}`, err: "cannot unmarshal string"},
	{name: "fix without time", line: `{"device":"tag-17","seq":1,"lat":51.9234567,"lon":4.4712345}`, err: "fix of tag-17: time missing"},
	{name: "fix with a local time", line: `{"device":"tag-17","seq":1,"time":"2026-03-01T10:00:00","lat":51.9234567,"lon":4.4712345}`, err: "parsing time"},
	{name: "fix with a Unix time", line: `{"device":"tag-17","seq":1,"time":1772359200,"lat":51.9234567,"lon":4.4712345}`, err: "not a JSON string"},
	{name: "fix without lat", line: `{"device":"tag-17","seq":1,"time":"2026-03-01T10:00:00Z","lon":4.4712345}`, err: "fix of tag-17: lat or lon missing"},
	{name: "fix without lon", line: `{"device":"tag-17","seq":1,"time":"2026-03-01T10:00:00Z","lat":51.9234567}`, err: "fix of tag-17: lat or lon missing"},
	{name: "fix north of the pole", line: `{"device":"tag-17","seq":1,"time":"2026-03-01T10:00:00Z","lat":90.0000001,"lon":4.4712345}`, err: "fix of tag-17: coordinates out of range"},
	{name: "fix south of the pole", line: `{"device":"tag-17","seq":1,"time":"2026-03-01T10:00:00Z","lat":-91.25,"lon":4.4712345}`, err: "fix of tag-17: coordinates out of range"},
	{name: "fix east of the antimeridian", line: `{"device":"tag-17","seq":1,"time":"2026-03-01T10:00:00Z","lat":51.9234567,"lon":180.5}`, err: "fix of tag-17: coordinates out of range"},
	{name: "fix west of the antimeridian", line: `{"device":"tag-17","seq":1,"time":"2026-03-01T10:00:00Z","lat":51.9234567,"lon":-181.75}`, err: "fix of tag-17: coordinates out of range"},
	{name: "fix with lat in quotes", line: `{"device":"tag-17","seq":1,"time":"2026-03-01T10:00:00Z","lat":"51.9234567","lon":4.4712345}`, err: "cannot unmarshal string"},
	{name: "fix with a negative accuracy", line: `{"device":"tag-17","seq":1,"time":"2026-03-01T10:00:00Z","lat":51.9234567,"lon":4.4712345,"accuracy_m":-5}`, err: "fix of tag-17: accuracy_m must be >= 0"},
	{name: "fix with an infinite accuracy", line: `{"device":"tag-17","seq":1,"time":"2026-03-01T10:00:00Z","lat":51.9234567,"lon":4.4712345,"accuracy_m":1e999}`, err: "cannot unmarshal number 1e999"},

	// Statuses.
	{
		name: "status as in DESIGN.md",
		line: `{"status":{"device":"tag-17","time":"2026-03-01T10:00:00Z","strap":"open","case_tamper":false,"jamming":false,"battery_pct":40}}`,
		want: proxmon.Record{Kind: proxmon.RecordStatus, Status: proxmon.Status{
			Device: "tag-17", Time: rfc3339("2026-03-01T10:00:00Z"), HasBattery: true, BatteryPct: 40,
			StrapOpen: proxmon.FlagOn, CaseTamper: proxmon.FlagOff, Jamming: proxmon.FlagOff,
		}},
	},
	{
		name: "status with every field",
		line: `{"status":{"device":"phone-4","time":"2026-03-01T11:00:00+01:00","received":"2026-03-01T10:00:02Z","battery_pct":0,"strap":"closed","case_tamper":true,"charging":true,"jamming":true}}`,
		want: proxmon.Record{Kind: proxmon.RecordStatus, Status: proxmon.Status{
			Device: "phone-4", Time: rfc3339("2026-03-01T10:00:00Z"), Received: rfc3339("2026-03-01T10:00:02Z"),
			HasBattery: true, StrapOpen: proxmon.FlagOff, CaseTamper: proxmon.FlagOn, Charging: proxmon.FlagOn, Jamming: proxmon.FlagOn,
		}},
	},
	{
		name: "status reporting nothing but itself",
		line: `{"status":{"device":"tag-17","time":"2026-03-01T10:00:00Z"}}`,
		want: proxmon.Record{Kind: proxmon.RecordStatus, Status: proxmon.Status{Device: "tag-17", Time: rfc3339("2026-03-01T10:00:00Z")}},
	},
	{
		name: "status with a full battery",
		line: `{"status":{"device":"tag-17","time":"2026-03-01T10:00:00Z","battery_pct":100,"charging":false}}`,
		want: proxmon.Record{Kind: proxmon.RecordStatus, Status: proxmon.Status{
			Device: "tag-17", Time: rfc3339("2026-03-01T10:00:00Z"), HasBattery: true, BatteryPct: 100, Charging: proxmon.FlagOff,
		}},
	},
	{name: "status with an invalid device", line: `{"status":{"device":"tag 17","time":"2026-03-01T10:00:00Z"}}`, err: `status: invalid device id "tag 17"`},
	{name: "status without device", line: `{"status":{"time":"2026-03-01T10:00:00Z"}}`, err: `status: invalid device id ""`},
	{name: "status without time", line: `{"status":{"device":"tag-17","strap":"open"}}`, err: "status of tag-17: time missing"},
	{name: "status with a strap ajar", line: `{"status":{"device":"tag-17","time":"2026-03-01T10:00:00Z","strap":"ajar"}}`, err: `status of tag-17: strap "ajar" is neither open nor closed`},
	{name: "status with a strap in capitals", line: `{"status":{"device":"tag-17","time":"2026-03-01T10:00:00Z","strap":"OPEN"}}`, err: `strap "OPEN" is neither open nor closed`},
	{name: "status with a negative battery", line: `{"status":{"device":"tag-17","time":"2026-03-01T10:00:00Z","battery_pct":-1}}`, err: "status of tag-17: battery_pct -1 out of 0..100"},
	{name: "status with an overfull battery", line: `{"status":{"device":"tag-17","time":"2026-03-01T10:00:00Z","battery_pct":101}}`, err: "status of tag-17: battery_pct 101 out of 0..100"},
	{name: "status with a fractional battery", line: `{"status":{"device":"tag-17","time":"2026-03-01T10:00:00Z","battery_pct":40.5}}`, err: "cannot unmarshal number 40.5"},
	{name: "status with a flag in words", line: `{"status":{"device":"tag-17","time":"2026-03-01T10:00:00Z","case_tamper":"yes"}}`, err: "cannot unmarshal string"},
	{name: "status with an unknown field", line: `{"status":{"device":"tag-17","time":"2026-03-01T10:00:00Z","temperature_c":31}}`, err: `unknown field "temperature_c"`},
	{name: "status that is not an object", line: `{"status":"open"}`, err: "cannot unmarshal string"},

	// Ticks and heartbeats.
	{name: "tick", line: `{"tick":"2026-03-01T10:05:00Z"}`, want: proxmon.Record{Kind: proxmon.RecordTick, Time: rfc3339("2026-03-01T10:05:00Z")}},
	{name: "tick with an offset and nanoseconds", line: `{"tick":"2026-03-01T11:05:00.123456789+01:00"}`, want: proxmon.Record{Kind: proxmon.RecordTick, Time: rfc3339("2026-03-01T10:05:00.123456789Z")}},
	{name: "heartbeat", line: `{"heartbeat":"2026-03-01T10:05:00Z"}`, want: proxmon.Record{Kind: proxmon.RecordHeartbeat, Time: rfc3339("2026-03-01T10:05:00Z")}},
	{name: "tick without a date", line: `{"tick":"10:05:00"}`, err: `parsing time "10:05:00"`},
	{name: "heartbeat in seconds", line: `{"heartbeat":1772359500}`, err: "not a JSON string"},
	{name: "null tick", line: `{"tick":null}`, err: "want exactly one of"},

	// Case records.
	{
		name: "case with its devices and log time",
		line: `{"case":{"id":"case-2026-0231","risk":"medium","offender":"tag-23","drill":true,` +
			`"contact_bans":[{"protected":"phone-4","alert_m":300,"warn_m":1000,"hysteresis_m":0}],` +
			`"zones":[{"id":"home","kind":"exclusion","circle":{"center":[4.4777,51.9244],"radius_m":250},"buffer_m":300,"hysteresis_m":10},` +
			`{"id":"curfew","kind":"inclusion","geometry":{"type":"Polygon","coordinates":[[[4.47,51.92],[4.48,51.92],[4.48,51.93],[4.47,51.92]]]},` +
			`"schedule":{"from":"2026-01-01T00:00:00+01:00","until":"2027-01-01T00:00:00+01:00","tz":"Europe/Amsterdam","windows":[{"days":["fri","sat"],"start":"23:00","end":"06:30"}]}}]},` +
			`"devices":[{"id":"tag-23","kind":"tag","report_interval_s":30,"default_accuracy_m":20}],` +
			`"time":"2026-03-01T10:00:00Z"}`,
		want: proxmon.Record{
			Kind: proxmon.RecordCase,
			Time: rfc3339("2026-03-01T10:00:00Z"),
			Case: &proxmon.Case{
				ID: "case-2026-0231", Risk: proxmon.RiskMedium, Offender: "tag-23", Drill: true,
				ContactBans: []proxmon.ContactBan{{Protected: "phone-4", AlertM: 300, WarnM: 1000, HysteresisM: ptr(0.0)}},
				Zones: []proxmon.Zone{
					{ID: "home", Kind: proxmon.ZoneExclusion, Circle: &proxmon.Circle{Center: []float64{4.4777, 51.9244}, RadiusM: 250},
						BufferM: 300, HysteresisM: ptr(10.0)},
					{ID: "curfew", Kind: proxmon.ZoneInclusion,
						Geometry: &proxmon.Geometry{Type: "Polygon", Coordinates: json.RawMessage(`[[[4.47,51.92],[4.48,51.92],[4.48,51.93],[4.47,51.92]]]`)},
						Schedule: &proxmon.Schedule{
							From: ptr(rfc3339("2026-01-01T00:00:00+01:00")), Until: ptr(rfc3339("2027-01-01T00:00:00+01:00")), TZ: "Europe/Amsterdam",
							Windows: []proxmon.Window{{Days: []string{"fri", "sat"}, Start: "23:00", End: "06:30"}},
						}},
				},
			},
			Devices: []proxmon.Device{{ID: "tag-23", Kind: proxmon.DeviceTag, ReportIntervalS: 30, DefaultAccuracyM: 20}},
		},
	},
	{
		// ParseRecord decodes a case; the engine validates it against the
		// devices it knows (ValidateCaseRecord).
		name: "case alone, not yet validated",
		line: `{"case":{"id":"case 1","offender":"tag-1"}}`,
		want: proxmon.Record{Kind: proxmon.RecordCase, Case: &proxmon.Case{ID: "case 1", Offender: "tag-1"}},
	},
	{name: "case with an unknown field", line: `{"case":{"id":"case-1","offender":"tag-1","victim":"phone-1"}}`, err: `unknown field "victim"`},
	{name: "case with an unknown zone field", line: `{"case":{"id":"case-1","offender":"tag-1","zones":[{"id":"z","radius_m":5}]}}`, err: `unknown field "radius_m"`},
	{name: "case with devices that are not a list", line: `{"case":{"id":"case-1","offender":"tag-1"},"devices":{"id":"tag-1"}}`, err: "cannot unmarshal object"},
	{name: "null case", line: `{"case":null,"devices":[]}`, err: "want exactly one of"},
	{name: "devices without a case", line: `{"devices":[{"id":"tag-1","kind":"tag"}]}`, err: "want exactly one of"},
	{name: "case_deleted", line: `{"case_deleted":"case-2024-0117"}`, want: proxmon.Record{Kind: proxmon.RecordCaseDeleted, CaseID: "case-2024-0117"}},
	{name: "case_deleted with an invalid id", line: `{"case_deleted":"case 2024"}`, err: `case_deleted: invalid id "case 2024"`},
	{name: "case_deleted with an empty id", line: `{"case_deleted":""}`, err: `case_deleted: invalid id ""`},
	{name: "case_deleted with a number", line: `{"case_deleted":117}`, err: "cannot unmarshal number"},

	// Lines that are no record.
	{name: "empty line", line: ``, err: "EOF"},
	{name: "blank line", line: " \t\r", err: "EOF"},
	{name: "not JSON", line: `tick 2026-03-01T10:05:00Z`, err: "invalid character"},
	{name: "cut short", line: `{"device":"tag-17","seq":12,"time":"2026-03-01T10:00:00Z","lat":51.9`, err: "unexpected EOF"},
	{name: "array", line: `[{"tick":"2026-03-01T10:05:00Z"}]`, err: "cannot unmarshal array"},
	{name: "null", line: `null`, err: "want exactly one of"},
	{name: "empty object", line: `{}`, err: "want exactly one of"},
	{name: "unknown field", line: `{"tick":"2026-03-01T10:05:00Z","tock":true}`, err: `unknown field "tock"`},
	{name: "fix and tick", line: `{"device":"tag-17","seq":1,"time":"2026-03-01T10:00:00Z","lat":1,"lon":1,"tick":"2026-03-01T10:05:00Z"}`, err: "want exactly one of"},
	{name: "status and heartbeat", line: `{"status":{"device":"tag-17","time":"2026-03-01T10:00:00Z"},"heartbeat":"2026-03-01T10:05:00Z"}`, err: "want exactly one of"},
	{name: "tick and heartbeat", line: `{"tick":"2026-03-01T10:05:00Z","heartbeat":"2026-03-01T10:05:00Z"}`, err: "want exactly one of"},
	{name: "case and case_deleted", line: `{"case":{"id":"case-1","offender":"tag-1"},"case_deleted":"case-1"}`, err: "want exactly one of"},
	{name: "two records on a line", line: `{"tick":"2026-03-01T10:05:00Z"}{"tick":"2026-03-01T10:05:01Z"}`, err: "text after the JSON value"},
	{name: "a record and a number", line: `{"tick":"2026-03-01T10:05:00Z"} 1`, err: "text after the JSON value"},
	{name: "a closing brace too many", line: `{"tick":"2026-03-01T10:05:00Z"}}`, err: "text after the JSON value"},
	{name: "a closing bracket after a case", line: `{"CAse":{}}]00000000000`, err: "text after the JSON value"},
	{name: "a year beyond 9999 in UTC", line: `{"device":"tag-17","seq":1,"time":"9999-12-31T23:30:00-01:00","lat":51.9,"lon":4.4}`, err: "outside the years"},
	{name: "a year before 1 in UTC", line: `{"heartbeat":"0000-01-01T00:30:00+01:00"}`, err: "outside the years"},
	{name: "fix fields on a tick", line: `{"tick":"2026-03-01T10:05:00Z","lat":51.9,"lon":4.4,"seq":3}`, err: "fix fields on a record that is not a fix"},
	{name: "devices without a case", line: `{"tick":"2026-03-01T10:05:00Z","devices":[]}`, err: "devices without a case"},
	{name: "unknown source", line: `{"device":"tag-17","seq":1,"time":"2026-03-01T10:00:00Z","lat":51.9,"lon":4.4,"source":"telepathy"}`, err: "is not gnss, wifi or cell"},
	{name: "negative satellites", line: `{"device":"tag-17","seq":1,"time":"2026-03-01T10:00:00Z","lat":51.9,"lon":4.4,"satellites":-4}`, err: "satellites must be >= 0"},
	{name: "heading out of range", line: `{"device":"tag-17","seq":1,"time":"2026-03-01T10:00:00Z","lat":51.9,"lon":4.4,"heading_deg":-720}`, err: "heading_deg must be in [0, 360)"},
	{name: "negative speed", line: `{"device":"tag-17","seq":1,"time":"2026-03-01T10:00:00Z","lat":51.9,"lon":4.4,"speed_mps":-3}`, err: "speed_mps must be >= 0"},
}

// coordinate finds the lat and lon written in a line.
var coordinate = regexp.MustCompile(`"(?:lat|lon)":\s*"?(-?[0-9][0-9.]+)`)

func TestParseRecord(t *testing.T) {
	for _, tc := range recordCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := proxmon.ParseRecord([]byte(tc.line))
			if tc.err != "" {
				if err == nil {
					t.Fatalf("accepted %s as %+v, want an error with %q", tc.line, got, tc.err)
				}
				if !errors.Is(err, proxmon.ErrRecord) {
					t.Errorf("error %q does not match ErrRecord", err)
				}
				if !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %q, want it to contain %q", err, tc.err)
				}
				// The error names the fault, never where someone was.
				for _, m := range coordinate.FindAllStringSubmatch(tc.line, -1) {
					if strings.Contains(err.Error(), m[1]) {
						t.Errorf("error %q reveals the coordinate %s", err, m[1])
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if d := recordDiff(got, tc.want); d != "" {
				t.Errorf("got %+v\nwant %+v\nfirst difference: %s", got, tc.want, d)
			}
		})
	}
}

// TestRecordRoundTrip writes every accepted record of the catalogue in its
// NDJSON form and reads it back.
func TestRecordRoundTrip(t *testing.T) {
	for _, tc := range recordCases {
		if tc.err != "" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			line, err := tc.want.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if viaJSON, err := json.Marshal(tc.want); err != nil || !bytes.Equal(viaJSON, line) {
				t.Errorf("json.Marshal = %s, %v; MarshalJSON = %s", viaJSON, err, line)
			}
			again, err := proxmon.ParseRecord(line)
			if err != nil {
				t.Fatalf("ParseRecord(%s): %v", line, err)
			}
			if d := recordDiff(again, tc.want); d != "" {
				t.Errorf("%s read back differs: %s", line, d)
			}
		})
	}
}

// TestRecordMarshalCanonical checks that the lines of DESIGN.md's example log
// come out of a round trip as they went in.
func TestRecordMarshalCanonical(t *testing.T) {
	for _, line := range []string{
		`{"device":"tag-17","seq":12,"time":"2026-03-01T10:00:00Z","lat":51.92,"lon":4.47,"accuracy_m":5,"source":"gnss"}`,
		`{"device":"tag-17","seq":13,"time":"2026-03-01T10:00:30.5Z","received":"2026-03-01T10:00:31Z","lat":-0.5,"lon":-179.999999}`,
		`{"status":{"device":"tag-17","time":"2026-03-01T10:00:00Z","battery_pct":40,"strap":"open","case_tamper":false,"jamming":false}}`,
		`{"tick":"2026-03-01T10:05:00Z"}`,
		`{"heartbeat":"2026-03-01T10:05:00.000000001Z"}`,
		`{"case":{"id":"case-2024-0117","offender":"tag-17"},"devices":[{"id":"tag-17","kind":"tag"}]}`,
		`{"case_deleted":"case-2024-0117"}`,
	} {
		r, err := proxmon.ParseRecord([]byte(line))
		if err != nil {
			t.Errorf("%s: %v", line, err)
			continue
		}
		if got, err := r.MarshalJSON(); err != nil || string(got) != line {
			t.Errorf("MarshalJSON(ParseRecord(%s)) = %s, %v", line, got, err)
		}
	}
}

func TestRecordMarshalUnknownKind(t *testing.T) {
	for _, r := range []proxmon.Record{{}, {Kind: proxmon.RecordCaseDeleted + 1}} {
		if j, err := r.MarshalJSON(); !errors.Is(err, proxmon.ErrRecord) {
			t.Errorf("kind %d: MarshalJSON = %s, %v; want an error matching ErrRecord", r.Kind, j, err)
		}
	}
}

var (
	recordTimeType = reflect.TypeFor[time.Time]()
	rawJSONType    = reflect.TypeFor[json.RawMessage]()
)

// recordDiff describes the first difference between two records, or returns
// "" when they mean the same: times are compared by instant and offset, an
// empty list equals an absent one, and raw JSON (zone coordinates) is
// compared by value. Unexported fields are built by validation, which
// ParseRecord does not do, and are not compared.
func recordDiff(a, b proxmon.Record) string {
	return valueDiff("Record", reflect.ValueOf(a), reflect.ValueOf(b))
}

func valueDiff(path string, a, b reflect.Value) string {
	switch a.Type() {
	case recordTimeType:
		ta, tb := a.Interface().(time.Time), b.Interface().(time.Time)
		_, offA := ta.Zone()
		_, offB := tb.Zone()
		if !ta.Equal(tb) || offA != offB {
			return fmt.Sprintf("%s: %s != %s", path, ta.Format(time.RFC3339Nano), tb.Format(time.RFC3339Nano))
		}
		return ""
	case rawJSONType:
		va, errA := jsonValue(a.Bytes())
		vb, errB := jsonValue(b.Bytes())
		if errA != nil || errB != nil || !reflect.DeepEqual(va, vb) {
			return fmt.Sprintf("%s: %s != %s", path, a.Bytes(), b.Bytes())
		}
		return ""
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return fmt.Sprintf("%s: one is nil", path)
			}
			return ""
		}
		return valueDiff(path, a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if f := a.Type().Field(i); f.IsExported() {
				if d := valueDiff(path+"."+f.Name, a.Field(i), b.Field(i)); d != "" {
					return d
				}
			}
		}
		return ""
	case reflect.Slice:
		if a.Len() != b.Len() {
			return fmt.Sprintf("%s: %d elements != %d", path, a.Len(), b.Len())
		}
		for i := range a.Len() {
			if d := valueDiff(fmt.Sprintf("%s[%d]", path, i), a.Index(i), b.Index(i)); d != "" {
				return d
			}
		}
		return ""
	default:
		if !a.Equal(b) {
			return fmt.Sprintf("%s: %v != %v", path, a, b)
		}
		return ""
	}
}

// jsonValue decodes raw JSON keeping numbers as written; absent is null.
func jsonValue(raw []byte) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}
