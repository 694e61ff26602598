package proxmon_test

import (
	"slices"
	"testing"
	"time"

	"github.com/proxmon/proxmon"
)

// pursuit_tag is an opt-in of a contact ban: off unless given, a boolean.
func TestContactBanPursuitTag(t *testing.T) {
	const file = `
devices:
  - {id: tag-1, kind: tag}
  - {id: phone-1, kind: victim}
  - {id: phone-2, kind: victim}
cases:
  - id: case-1
    offender: tag-1
    contact_bans:
      - {protected: phone-1, alert_m: 500, warn_m: 1500, pursuit_tag: true}
      - {protected: phone-2, alert_m: 500, warn_m: 1500}
`
	cf := MustParseCaseFile(t, file)
	if b := cf.Cases[0].ContactBans; !b[0].PursuitTag || b[1].PursuitTag {
		t.Errorf("pursuit_tag: %v, %v; want true, false", b[0].PursuitTag, b[1].PursuitTag)
	}
	_, err := proxmon.ParseCaseFile([]byte(`
devices:
  - {id: tag-1, kind: tag}
  - {id: phone-1, kind: victim}
cases:
  - id: case-1
    offender: tag-1
    contact_bans:
      - {protected: phone-1, alert_m: 500, warn_m: 1500, pursuit_tag: "yes"}
`))
	want := []string{`cases[0].contact_bans[0].pursuit_tag: want true or false, not "yes"`}
	if got := faults(t, err); !slices.Equal(got, want) {
		t.Errorf("faults %q, want %q", got, want)
	}
}

// TestCaseState: a case is in force within [valid_from, valid_until) and
// outside every [from, until) of its suspensions; State names the next
// instant its state may change, a nanosecond to either side of each bound.
func TestCaseState(t *testing.T) {
	cf := MustParseCaseFile(t, `
devices:
  - {id: tag-1, kind: tag}
cases:
  - id: c
    offender: tag-1
    valid_from: 2026-01-01T00:00:00Z
    valid_until: 2026-12-01T00:00:00Z
    suspensions:
      - {from: 2026-03-01T00:00:00Z, until: 2026-03-02T00:00:00Z, reason: custody}
      - {from: 2026-03-02T00:00:00Z, until: 2026-03-03T00:00:00Z, reason: hospital}
      - {from: 2026-11-01T00:00:00Z, reason: custody}
  - id: unbounded
    offender: tag-1
`)
	c, unbounded := &cf.Cases[0], &cf.Cases[1]
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, time.UTC) }
	ns := time.Nanosecond
	rows := []struct {
		at    time.Time
		state proxmon.CaseState
		until time.Time
	}{
		{day(1, 1).Add(-ns), proxmon.Inactive, day(1, 1)},
		{day(1, 1), proxmon.InForce, day(3, 1)},
		{day(3, 1).Add(-ns), proxmon.InForce, day(3, 1)},
		{day(3, 1), proxmon.Suspended, day(3, 2)},
		{day(3, 2).Add(-ns), proxmon.Suspended, day(3, 2)},
		{day(3, 2), proxmon.Suspended, day(3, 3)}, // the next one, adjacent
		{day(3, 3).Add(-ns), proxmon.Suspended, day(3, 3)},
		{day(3, 3), proxmon.InForce, day(11, 1)},
		{day(11, 1).Add(-ns), proxmon.InForce, day(11, 1)},
		{day(11, 1), proxmon.Suspended, day(12, 1)}, // open-ended, but the validity ends
		{day(12, 1).Add(-ns), proxmon.Suspended, day(12, 1)},
		{day(12, 1), proxmon.Inactive, time.Time{}},
	}
	for _, r := range rows {
		state, until := c.State(r.at)
		if state != r.state || !until.Equal(r.until) {
			t.Errorf("State(%s) = %d, %s; want %d, %s", r.at.Format(time.RFC3339Nano), state, until, r.state, r.until)
		}
	}
	if state, until := unbounded.State(day(1, 1)); state != proxmon.InForce || !until.IsZero() {
		t.Errorf("a case without periods: %d until %s, want in force for ever", state, until)
	}
}
