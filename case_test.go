package proxmon_test

import (
	"slices"
	"testing"

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
