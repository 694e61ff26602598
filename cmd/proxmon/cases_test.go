package main

import (
	"strings"
	"testing"
)

func TestCasesValidate(t *testing.T) {
	const faulty = "testdata/cases-faulty.yaml"
	tests := []struct {
		name   string
		file   string
		code   int
		stdout []string
		stderr string
	}{
		{
			name:   "good",
			file:   scenarioCases,
			code:   exitOK,
			stdout: []string{"ok (2 devices, 1 cases)"},
		},
		{
			name: "every fault",
			file: faulty,
			code: exitFault,
			stdout: []string{
				`cases[0].zones[1]: unknown field "buffer"`,
				`devices[1].id: "phone 4" is not a valid id (1-64 characters of A-Z, a-z, 0-9, _ and -)`,
				`devices[1].report_interval_s: -120 is negative`,
				`devices[2].kind: unknown kind "phone" (want tag or victim)`,
				`cases[0].risk: unknown risk "severe" (want low, medium or high)`,
				`cases[0].contact_bans[0].protected: unknown device "phone-4"`,
				`cases[0].contact_bans[0].warn_m: 500 is less than alert_m 1500`,
				`cases[0].contact_bans[1].protected: device "tag-17" is a tag, not a victim device`,
				`cases[0].contact_bans[1].alert_m: must be more than 0`,
				`cases[0].zones[0].geometry: ring 0 is not closed`,
				`cases[0].zones[1].circle.center: want [lon, lat], not 3 numbers`,
				`cases[0].zones[1].schedule.tz: unknown time zone "Europe/Utrecht"`,
				`cases[0].zones[1].schedule.windows[0].days[5]: duplicate day "fri"`,
				`cases[0].zones[1].schedule.windows[0].end: "8:00" is not a time of day HH:MM (00:00 to 23:59)`,
				`cases[0].zones[2].kind: unknown kind "curfew" (want exclusion or inclusion)`,
				`cases[0].zones[2].circle.center: latitude 92.1169617 out of range [-90, 90]`,
				`cases[0].zones[2].schedule.until: 2026-02-01T00:00:00+01:00 is not after from 2026-08-01T00:00:00+02:00`,
				`cases[0].zones[2].schedule.windows[0].end: equals start 21:00 (a window must not be empty)`,
				`cases[1].id: duplicate id "case-2026-0117"`,
			},
			stderr: faulty + ": 19 fault(s)\n",
		},
		{
			name:   "missing file",
			file:   "testdata/no-such-cases.yaml",
			code:   exitFault,
			stderr: "no-such-cases.yaml: no such file or directory",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, "", "cases", "validate", tt.file)
			if r.code != tt.code {
				t.Errorf("exit status %d, want %d", r.code, tt.code)
			}
			var want string
			for _, line := range tt.stdout {
				want += tt.file + ": " + line + "\n" // every line names the file
			}
			if r.stdout != want {
				t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
			}
			if !strings.Contains(r.stderr, tt.stderr) || tt.stderr == "" && r.stderr != "" {
				t.Errorf("stderr = %q, want %q", r.stderr, tt.stderr)
			}
		})
	}
}
