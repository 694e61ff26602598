package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/proxmon/proxmon"
)

var update = flag.Bool("update", false, "rewrite testdata/scenario/expected.ndjson with the current output")

// The scenario: a hand-written evening of one case, told in its README.md.
const (
	scenarioCases    = "testdata/scenario/cases.yaml"
	scenarioFixes    = "testdata/scenario/fixes.ndjson"
	scenarioExpected = "testdata/scenario/expected.ndjson"
)

// mustRead returns a file's content.
func mustRead(tb testing.TB, path string) string {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return string(data)
}

// evaluateScenario runs evaluate on the scenario's case file and fixes.
func evaluateScenario(tb testing.TB, fixes string) result {
	tb.Helper()
	return runCmd(tb, "", "evaluate", "--cases", scenarioCases, "--fixes", fixes)
}

// diffLines reports the first line where got and want differ.
func diffLines(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got: %s\nwant: %s", i+1, gl, wl)
		}
	}
	return "no difference"
}

func TestEvaluateScenario(t *testing.T) {
	r := evaluateScenario(t, scenarioFixes)
	if r.code != exitOK || r.stderr != "" {
		t.Fatalf("exit status %d, stderr:\n%s", r.code, r.stderr)
	}
	if *update {
		if err := os.WriteFile(scenarioExpected, []byte(r.stdout), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote %s: read every event against DESIGN.md before committing it", scenarioExpected)
		return
	}
	if want := mustRead(t, scenarioExpected); r.stdout != want {
		t.Errorf("events differ from %s (go test -run Scenario -update rewrites it), first at %s",
			scenarioExpected, diffLines(r.stdout, want))
	}
}

// TestEvaluateDeterministic runs the scenario twice: the output must be the
// same to the byte, event ids included.
func TestEvaluateDeterministic(t *testing.T) {
	first := evaluateScenario(t, scenarioFixes)
	second := evaluateScenario(t, scenarioFixes)
	if first.code != exitOK || second.code != exitOK {
		t.Fatalf("exit status %d and %d", first.code, second.code)
	}
	if first.stdout != second.stdout {
		t.Errorf("two runs differ at %s", diffLines(second.stdout, first.stdout))
	}
}

// severities is DESIGN.md's table "Event types and severity" for the
// events the engine raises.
var severities = map[proxmon.EventType][]proxmon.Severity{
	proxmon.ContactBreach:  {proxmon.SeverityCritical},
	proxmon.ContactWarning: {proxmon.SeverityHigh},
	proxmon.ZoneBreach:     {proxmon.SeverityCritical},
	proxmon.ZoneApproach:   {proxmon.SeverityInfo},
	proxmon.CurfewBreach:   {proxmon.SeverityCritical},
	proxmon.LateZoneBreach: {proxmon.SeverityHigh},
	proxmon.SignalLost:     {proxmon.SeverityHigh, proxmon.SeverityCritical},
	proxmon.GPSLost:        {proxmon.SeverityHigh},
	proxmon.Tamper:         {proxmon.SeverityCritical},
	proxmon.Jamming:        {proxmon.SeverityHigh},
	proxmon.BatteryLow:     {proxmon.SeverityInfo},
	proxmon.GPSAnomaly:     {proxmon.SeverityInfo},
	proxmon.IngestDown:     {proxmon.SeverityCritical},
	proxmon.NetworkOutage:  {proxmon.SeverityCritical},
	proxmon.CaseSuspended:  {proxmon.SeverityInfo},
}

// TestScenarioEvents checks the golden events against the contract, so that
// an -update can neither slip in an event that breaks it nor drop a part of
// the story: every type the scenario exercises is there, each condition
// opens once and closes once, every close names the event it closes, and
// no field that reaches the offender tells where the victim is.
func TestScenarioEvents(t *testing.T) {
	offenders := map[string]string{"case-2026-0117": "tag-17", "case-2026-0231": "tag-23"}
	victims := map[string]bool{"phone-4": true}
	type key struct {
		caseID, rule string
		typ          proxmon.EventType
	}
	open := map[key]proxmon.Event{}
	ids := map[string]bool{}
	seen := map[proxmon.EventType]bool{}
	sc := bufio.NewScanner(strings.NewReader(mustRead(t, scenarioExpected)))
	for n := 1; sc.Scan(); n++ {
		var e proxmon.Event
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		at := fmt.Sprintf("line %d (%s %s %s)", n, e.Case, e.Type, e.Phase)
		seen[e.Type] = true
		if len(e.ID) != 32 || ids[e.ID] {
			t.Errorf("%s: id %q is not 32 hex digits or not unique", at, e.ID)
		}
		ids[e.ID] = true
		if sevs, ok := severities[e.Type]; !ok {
			t.Errorf("%s: the engine does not raise this type", at)
		} else if !slices.Contains(sevs, e.Severity) {
			t.Errorf("%s: severity %s, want one of %v", at, e.Severity, sevs)
		}
		// What reaches the offender (OffenderView) must not say where
		// the protected person is: her device's position travels only in
		// the centre's fields.
		if victims[e.Device] && e.Position != nil {
			t.Errorf("%s: the position of victim device %s is in position, not protected_position", at, e.Device)
		}
		if loc := e.Time.Location(); loc.String() != "UTC" {
			t.Errorf("%s: time %v is not in UTC", at, e.Time)
		}
		switch e.Type {
		case proxmon.ContactBreach, proxmon.ContactWarning:
			if e.Device != offenders[e.Case] || e.Protected == "" || e.Zone != "" {
				t.Errorf("%s: device %q protected %q zone %q, want the offender's tag and the protected device", at, e.Device, e.Protected, e.Zone)
			}
		case proxmon.ZoneBreach, proxmon.ZoneApproach, proxmon.CurfewBreach, proxmon.LateZoneBreach:
			if e.Device != offenders[e.Case] || e.Zone == "" || e.Protected != "" {
				t.Errorf("%s: device %q zone %q protected %q, want the offender's tag and the zone", at, e.Device, e.Zone, e.Protected)
			}
		case proxmon.IngestDown, proxmon.NetworkOutage:
			if e.Case != proxmon.SystemCase || e.Device != "" {
				t.Errorf("%s: case %q device %q, want case %s and no device", at, e.Case, e.Device, proxmon.SystemCase)
			}
		case proxmon.CaseSuspended:
			if e.Device != "" || e.Zone != "" || e.Protected != "" || e.Rule() != proxmon.RuleCase {
				t.Errorf("%s: device %q zone %q protected %q rule %q, want the case alone", at, e.Device, e.Zone, e.Protected, e.Rule())
			}
		default:
			if e.Device == "" || e.Zone != "" || e.Protected != "" {
				t.Errorf("%s: device %q zone %q protected %q, want the device alone", at, e.Device, e.Zone, e.Protected)
			}
		}
		k := key{e.Case, e.Rule(), e.Type}
		switch e.Phase {
		case proxmon.PhasePoint:
			if e.Type != proxmon.LateZoneBreach || e.Certainty == "" {
				t.Errorf("%s: a point event must be a late_zone_breach with a certainty", at)
			}
		case proxmon.PhaseOpen:
			if e.Type == proxmon.LateZoneBreach || e.OpenID != "" {
				t.Errorf("%s: a late_zone_breach is a point, and an open has no open_id (%q)", at, e.OpenID)
			}
			if prev, ok := open[k]; ok {
				t.Errorf("%s: opens again while %s is open", at, prev.ID)
			}
			open[k] = e
		case proxmon.PhaseClose:
			prev, ok := open[k]
			switch {
			case !ok:
				t.Errorf("%s: closes nothing", at)
			case e.OpenID != prev.ID:
				t.Errorf("%s: open_id %s, want %s", at, e.OpenID, prev.ID)
			case e.Severity != prev.Severity:
				t.Errorf("%s: severity %s, the open had %s", at, e.Severity, prev.Severity)
			case e.Certainty != "":
				t.Errorf("%s: a close has certainty %s", at, e.Certainty)
			}
			delete(open, k)
		default:
			t.Errorf("%s: unknown phase", at)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, e := range open {
		t.Errorf("%s %s %s (%s) is still open at the end of the story", e.Case, e.Type, e.Rule(), e.ID)
	}
	for typ := range severities {
		// A network outage needs at least 10 devices; the story has three.
		if !seen[typ] && typ != proxmon.NetworkOutage {
			t.Errorf("the scenario raises no %s", typ)
		}
	}
}

// TestEvaluateSkipsMalformedLines puts bad lines into the scenario's log: each
// is reported with its line number and skipped, the run goes on and exits 0,
// and the events are exactly those of the clean log.
func TestEvaluateSkipsMalformedLines(t *testing.T) {
	bad := []struct {
		after int    // scenario lines before it
		line  string // without its newline
		err   string // in the report; "" = skipped without one
	}{
		{0, `{"heartbeat":"2026-03-12T17:31:00Z"`, "unexpected EOF"},
		{0, `{"tick":"2026-03-12T17:31:30Z","tock":true}`, `unknown field "tock"`},
		// Inside Anna's district while Mark is 2 km north of it: read as a
		// fix, it would open a zone_breach.
		{41, `{"device":"tag-17","time":"2026-03-12T17:40:45Z","lat":52.0921234,"lon":5.1301234,"accuracy_m":5}`, "fix of tag-17: seq missing"},
		{41, ``, ""},
		{41, " \t", ""},
		{300, `{"device":"phone-4","seq":1000,"time":"2026-03-12T18:37:10Z","lat":152.0954321,"lon":5.1244321,"accuracy_m":10}`, "fix of phone-4: coordinates out of range"},
		{453, `{"case":{"id":"case-2026-0999","offender":"tag-99"}}`, `case record case-2026-0999: case.offender: unknown device "tag-99"`},
		// During the ingest outage: read as a heartbeat, either would close
		// ingest_down early.
		{614, `{"tick":"2026-03-12T19:42:30Z","heartbeat":"2026-03-12T19:42:30Z"}`, "want exactly one of"},
		{614, `{"heartbeat":"19:43:00"}`, `parsing time "19:43:00"`},
		{614, `{"heartbeat":"2026-03-12T19:43:30Z"} {"heartbeat":"2026-03-12T19:44:00Z"}`, "text after the JSON value"},
		{1154, `{"case_deleted":"case 2026 0117"}`, `case_deleted: invalid id "case 2026 0117"`},
	}
	clean := strings.SplitAfter(mustRead(t, scenarioFixes), "\n")
	if clean[len(clean)-1] == "" {
		clean = clean[:len(clean)-1]
	}
	if len(clean) != 1154 {
		t.Fatalf("the scenario has %d lines; the bad lines' places assume 1154", len(clean))
	}
	var log strings.Builder
	lineNo := map[int]int{} // index in bad -> line number in the log
	n, next := 0, 0
	for i := 0; i <= len(clean); i++ {
		for next < len(bad) && bad[next].after == i {
			n++
			lineNo[next] = n
			log.WriteString(bad[next].line)
			if next < len(bad)-1 || i < len(clean) {
				log.WriteString("\n") // the last line of the log has no newline
			}
			next++
		}
		if i < len(clean) {
			n++
			log.WriteString(clean[i])
		}
	}
	path := filepath.Join(t.TempDir(), "fixes.ndjson")
	if err := os.WriteFile(path, []byte(log.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	r := evaluateScenario(t, path)
	if r.code != exitOK {
		t.Errorf("exit status %d, want %d", r.code, exitOK)
	}
	if want := mustRead(t, scenarioExpected); r.stdout != want {
		t.Errorf("the bad lines changed the events, first at %s", diffLines(r.stdout, want))
	}
	reports := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	var want []string
	for i, b := range bad {
		if b.err != "" {
			want = append(want, fmt.Sprintf("%s:%d: %s", path, lineNo[i], b.err))
		}
	}
	if len(reports) != len(want)+1 {
		t.Fatalf("stderr has %d lines, want %d reports and a summary:\n%s", len(reports), len(want), r.stderr)
	}
	for i, w := range want {
		prefix, msg, _ := strings.Cut(w, ": ")
		if !strings.HasPrefix(reports[i], prefix+": ") || !strings.Contains(reports[i], msg) {
			t.Errorf("report %d = %q, want %q", i+1, reports[i], w)
		}
	}
	if got, want := reports[len(want)], fmt.Sprintf("proxmon evaluate: %d malformed line(s) skipped", len(want)); got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
	// A report names the fault, never where someone was.
	for _, coord := range []string{"52.0921234", "5.1301234", "152.0954321", "5.1244321"} {
		if strings.Contains(r.stderr, coord) {
			t.Errorf("stderr reveals the coordinate %s:\n%s", coord, r.stderr)
		}
	}
}

func TestEvaluateFaults(t *testing.T) {
	dir := t.TempDir()
	faulty := filepath.Join(dir, "cases.yaml")
	if err := os.WriteFile(faulty, []byte("devices: [{id: tag-17, kind: anklet}]\ncases: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.ndjson")
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"case file missing", []string{"--cases", filepath.Join(dir, "missing.yaml"), "--fixes", scenarioFixes}, "missing.yaml: no such file"},
		{"case file with a fault", []string{"--cases", faulty, "--fixes", scenarioFixes}, `devices[0].kind: unknown kind "anklet"`},
		{"log missing", []string{"--cases", scenarioCases, "--fixes", missing}, "missing.ndjson: no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, "", append([]string{"evaluate"}, tt.args...)...)
			if r.code != exitFault {
				t.Errorf("exit status %d, want %d", r.code, exitFault)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			if !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("stderr = %q, want it to contain %q", r.stderr, tt.stderr)
			}
		})
	}
}

// TestEvaluateStdin reads the log from standard input with --fixes -.
func TestEvaluateStdin(t *testing.T) {
	r := runCmd(t, mustRead(t, scenarioFixes), "evaluate", "--cases", scenarioCases, "--fixes", "-")
	if r.code != exitOK {
		t.Fatalf("exit status %d: %s", r.code, r.stderr)
	}
	if want := mustRead(t, scenarioExpected); r.stdout != want {
		t.Errorf("events from stdin differ, first at %s", diffLines(r.stdout, want))
	}
}
