package stream_test

import (
	"strings"
	"testing"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/stream"
)

// The case book has the cases of the bucket and follows their changes.
func TestCaseBook(t *testing.T) {
	js := setup(t)
	b, err := stream.WatchCaseBook(t.Context(), js, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := b.Case("case-1")
	if !ok || c.Offender != "tag-1" || len(c.ContactBans) != 1 || c.ContactBans[0].AlertM != 500 {
		t.Fatalf("case-1: %+v, %v", c, ok)
	}
	if d, ok := b.Device("phone-1"); !ok || d.ReportIntervalS != 600 || d.Kind != proxmon.DeviceVictim {
		t.Errorf("phone-1: %+v, %v", d, ok)
	}
	if _, ok := b.Case("case-2"); ok {
		t.Error("case-2 before it was applied")
	}
	cf, err := proxmon.ParseCaseFile([]byte(strings.Replace(cases, "alert_m: 500", "alert_m: 400, pursuit_tag: true", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.ApplyCases(t.Context(), js, cf); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "the change", func() bool {
		c, _ := b.Case("case-1")
		return c.ContactBans[0].AlertM == 400 && c.ContactBans[0].PursuitTag
	})
}
