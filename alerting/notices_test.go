package alerting_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/alerting"
	"github.com/proxmon/proxmon/geo"
	"github.com/proxmon/proxmon/proto/proxmonv1"
)

// book is the Cases of the tests: case-1 protects phone-1 and phone-2 from
// tag-1 (phone-2's ban opts in to pursuit_tag), case-2 protects phone-1
// from tag-2 and is a drill, case-3 protects phone-3 from tag-3 (opting in
// to pursuit_tag), both configured to report faster than pursuit mode.
type book struct{}

var (
	case1 = &proxmon.Case{ID: "case-1", Offender: "tag-1", ContactBans: []proxmon.ContactBan{
		{Protected: "phone-1", AlertM: 500, WarnM: 1500},
		{Protected: "phone-2", AlertM: 200.4, WarnM: 1000, PursuitTag: true},
	}}
	case2 = &proxmon.Case{ID: "case-2", Offender: "tag-2", Drill: true, ContactBans: []proxmon.ContactBan{
		{Protected: "phone-1", AlertM: 300, WarnM: 800},
	}}
	case3 = &proxmon.Case{ID: "case-3", Offender: "tag-3", ContactBans: []proxmon.ContactBan{
		{Protected: "phone-3", AlertM: 500, WarnM: 1500, PursuitTag: true},
	}}
	devices = map[string]proxmon.Device{
		"tag-1":   {ID: "tag-1", Kind: proxmon.DeviceTag, ReportIntervalS: 30},
		"tag-2":   {ID: "tag-2", Kind: proxmon.DeviceTag, ReportIntervalS: 20},
		"phone-1": {ID: "phone-1", Kind: proxmon.DeviceVictim, ReportIntervalS: 60},
		"phone-2": {ID: "phone-2", Kind: proxmon.DeviceVictim, ReportIntervalS: 120},
		"tag-3":   {ID: "tag-3", Kind: proxmon.DeviceTag, ReportIntervalS: 15},
		"phone-3": {ID: "phone-3", Kind: proxmon.DeviceVictim, ReportIntervalS: 5},
	}
)

func (book) Case(id string) (*proxmon.Case, bool) {
	switch id {
	case "case-1":
		return case1, true
	case "case-2":
		return case2, true
	case "case-3":
		return case3, true
	}
	return nil, false
}

func (book) Device(id string) (proxmon.Device, bool) {
	d, ok := devices[id]
	return d, ok
}

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// ev returns an event as the engine writes it, centre-only fields included;
// its id names type and phase so expectations can refer to it.
func ev(typ proxmon.EventType, phase proxmon.Phase, caseID, device, protected string, at time.Duration) proxmon.Event {
	c, _ := book{}.Case(caseID)
	sev := proxmon.SeverityHigh
	if typ == proxmon.ContactBreach || typ == proxmon.ZoneBreach {
		sev = proxmon.SeverityCritical
	}
	e := proxmon.Event{
		ID:   fmt.Sprintf("%s-%s-%s-%s-%d", caseID, protected, typ, phase, at/time.Second),
		Type: typ, Phase: phase, Severity: sev, Case: caseID, Time: t0.Add(at), Device: device, Protected: protected,
		Position: &geo.Point{Lat: 51.9, Lon: 4.4}, Drill: c != nil && c.Drill,
	}
	if protected != "" {
		d := 432.1
		e.DistanceM = &d
		e.ProtectedPosition = &geo.Point{Lat: 51.91, Lon: 4.41}
	}
	return e
}

// render writes a message in one line: device, kind, and what it says.
func render(m alerting.Message, now time.Time) string {
	if w := m.Warning; w != nil {
		s := fmt.Sprintf("%s warning %s within=%d id=%s", m.Device, strings.TrimPrefix(w.GetLevel().String(), "WARNING_LEVEL_"),
			w.GetWithinM(), w.GetEventId())
		if w.GetDrill() {
			s += " drill"
		}
		if got := w.GetExpires().AsTime().Sub(now); got != 3*time.Minute {
			s += fmt.Sprintf(" expires=now+%v", got)
		}
		return s
	}
	c := m.Command
	reason := strings.ToLower(strings.TrimPrefix(c.GetReason().String(), "COMMAND_REASON_"))
	switch {
	case c.GetVibrate() != nil:
		return fmt.Sprintf("%s vibrate %dms reason=%s expires=%s", m.Device, c.GetVibrate().GetDurationMs(), reason,
			c.GetExpires().AsTime().Sub(t0))
	case c.GetSetReportInterval() != nil:
		return fmt.Sprintf("%s report every %ds reason=%s", m.Device, c.GetSetReportInterval().GetIntervalS(), reason)
	}
	return m.Device + " command?"
}

func TestNotices(t *testing.T) {
	const (
		open  = proxmon.PhaseOpen
		close = proxmon.PhaseClose
	)
	type step struct {
		ev   proxmon.Event
		want []string
	}
	W, B := proxmon.ContactWarning, proxmon.ContactBreach
	cases := []struct {
		name  string
		steps []step
	}{{
		name: "warning, breach, and back: levels with the ban's band; pursuit while open",
		steps: []step{
			{ev(W, open, "case-1", "tag-1", "phone-1", 0), []string{
				"phone-1 warning CAUTION within=1500 id=case-1-phone-1-contact_warning-open-0",
				"phone-1 report every 15s reason=pursuit"}},
			{ev(B, open, "case-1", "tag-1", "phone-1", 10*time.Second), []string{
				"phone-1 warning DANGER within=500 id=case-1-phone-1-contact_breach-open-10"}},
			{ev(B, close, "case-1", "tag-1", "phone-1", 20*time.Second), []string{
				"phone-1 warning CAUTION within=1500 id=case-1-phone-1-contact_breach-close-20"}},
			{ev(W, close, "case-1", "tag-1", "phone-1", 30*time.Second), []string{
				"phone-1 warning ALL_CLEAR within=0 id=case-1-phone-1-contact_warning-close-30",
				"phone-1 report every 60s reason=pursuit"}},
		},
	}, {
		name: "a breach and a warning opened by one fix",
		steps: []step{
			{ev(B, open, "case-1", "tag-1", "phone-1", 0), []string{
				"phone-1 warning DANGER within=500 id=case-1-phone-1-contact_breach-open-0",
				"phone-1 report every 15s reason=pursuit"}},
			{ev(W, open, "case-1", "tag-1", "phone-1", 0), []string{
				"phone-1 warning DANGER within=500 id=case-1-phone-1-contact_warning-open-0"}},
		},
	}, {
		name: "a band rounds up; the tag of a ban that opts in reports faster, without a reason",
		steps: []step{
			{ev(B, open, "case-1", "tag-1", "phone-2", 0), []string{
				"phone-2 warning DANGER within=201 id=case-1-phone-2-contact_breach-open-0",
				"phone-2 report every 15s reason=pursuit",
				"tag-1 report every 15s reason=unspecified"}},
			{ev(B, close, "case-1", "tag-1", "phone-2", time.Minute), []string{
				"phone-2 warning ALL_CLEAR within=0 id=case-1-phone-2-contact_breach-close-60",
				"phone-2 report every 120s reason=pursuit",
				"tag-1 report every 30s reason=unspecified"}},
		},
	}, {
		name: "pursuit never slows a device down: one configured faster keeps its interval, and gets it back",
		steps: []step{
			{ev(W, open, "case-3", "tag-3", "phone-3", 0), []string{
				"phone-3 warning CAUTION within=1500 id=case-3-phone-3-contact_warning-open-0",
				"phone-3 report every 5s reason=pursuit",
				"tag-3 report every 15s reason=unspecified"}},
			{ev(W, close, "case-3", "tag-3", "phone-3", time.Minute), []string{
				"phone-3 warning ALL_CLEAR within=0 id=case-3-phone-3-contact_warning-close-60",
				"phone-3 report every 5s reason=pursuit",
				"tag-3 report every 15s reason=unspecified"}},
		},
	}, {
		name: "the offender's signal lost: unknown for every protected person of the case",
		steps: []step{
			{ev(proxmon.SignalLost, open, "case-1", "tag-1", "", 0), []string{
				"phone-1 warning UNKNOWN within=0 id=case-1--signal_lost-open-0",
				"phone-2 warning UNKNOWN within=0 id=case-1--signal_lost-open-0"}},
			{ev(proxmon.GPSLost, open, "case-1", "tag-1", "", time.Second), []string{
				"phone-1 warning UNKNOWN within=0 id=case-1--gps_lost-open-1",
				"phone-2 warning UNKNOWN within=0 id=case-1--gps_lost-open-1"}},
			{ev(proxmon.SignalLost, close, "case-1", "tag-1", "", 2*time.Second), []string{
				"phone-1 warning UNKNOWN within=0 id=case-1--signal_lost-close-2",
				"phone-2 warning UNKNOWN within=0 id=case-1--signal_lost-close-2"}},
			{ev(proxmon.GPSLost, close, "case-1", "tag-1", "", 3*time.Second), []string{
				"phone-1 warning ALL_CLEAR within=0 id=case-1--gps_lost-close-3",
				"phone-2 warning ALL_CLEAR within=0 id=case-1--gps_lost-close-3"}},
		},
	}, {
		name: "a protected person's own device lost, another device event: nothing",
		steps: []step{
			{ev(proxmon.SignalLost, open, "case-1", "phone-1", "", 0), nil},
			{ev(proxmon.Tamper, open, "case-1", "tag-1", "", 0), nil},
			{ev(proxmon.ZoneBreach, open, "case-1", "tag-1", "", 0), nil},
			{ev(proxmon.SignalLost, open, "case-9", "tag-9", "", 0), nil},
		},
	}, {
		name: "caution outranks unknown; unknown stays when the contact closes",
		steps: []step{
			{ev(W, open, "case-1", "tag-1", "phone-1", 0), []string{
				"phone-1 warning CAUTION within=1500 id=case-1-phone-1-contact_warning-open-0",
				"phone-1 report every 15s reason=pursuit"}},
			{ev(proxmon.SignalLost, open, "case-1", "tag-1", "", time.Minute), []string{
				"phone-1 warning CAUTION within=1500 id=case-1--signal_lost-open-60",
				"phone-2 warning UNKNOWN within=0 id=case-1--signal_lost-open-60"}},
			{ev(W, close, "case-1", "tag-1", "phone-1", 2*time.Minute), []string{
				"phone-1 warning UNKNOWN within=0 id=case-1-phone-1-contact_warning-close-120",
				"phone-1 report every 60s reason=pursuit"}},
		},
	}, {
		name: "two offenders: a drill never hides a real warning; pursuit until both close",
		steps: []step{
			{ev(B, open, "case-2", "tag-2", "phone-1", 0), []string{
				"phone-1 warning DANGER within=300 id=case-2-phone-1-contact_breach-open-0 drill",
				"phone-1 report every 15s reason=pursuit"}},
			{ev(W, open, "case-1", "tag-1", "phone-1", time.Second), []string{
				"phone-1 warning CAUTION within=1500 id=case-1-phone-1-contact_warning-open-1"}},
			{ev(W, close, "case-1", "tag-1", "phone-1", 2*time.Second), []string{
				"phone-1 warning DANGER within=300 id=case-1-phone-1-contact_warning-close-2 drill"}},
			{ev(B, close, "case-2", "tag-2", "phone-1", 3*time.Second), []string{
				"phone-1 warning ALL_CLEAR within=0 id=case-2-phone-1-contact_breach-close-3 drill",
				"phone-1 report every 60s reason=pursuit"}},
		},
	}, {
		name: "zone approach: the tag vibrates on the open only, while it is recent",
		steps: []step{
			{ev(proxmon.ZoneApproach, open, "case-1", "tag-1", "", 0), []string{
				"tag-1 vibrate 2000ms reason=zone_approach expires=1m0s"}},
			{ev(proxmon.ZoneApproach, close, "case-1", "tag-1", "", time.Second), nil},
			{ev(proxmon.ZoneApproach, open, "case-1", "tag-1", "", -2*time.Minute), nil},
		},
	}, {
		name: "an open delivered twice changes nothing but sends again; a close without its open clears",
		steps: []step{
			{ev(W, open, "case-1", "tag-1", "phone-2", 0), []string{
				"phone-2 warning CAUTION within=1000 id=case-1-phone-2-contact_warning-open-0",
				"phone-2 report every 15s reason=pursuit",
				"tag-1 report every 15s reason=unspecified"}},
			{ev(W, open, "case-1", "tag-1", "phone-2", 0), []string{
				"phone-2 warning CAUTION within=1000 id=case-1-phone-2-contact_warning-open-0"}},
			{ev(B, close, "case-1", "tag-1", "phone-1", time.Second), []string{
				"phone-1 warning ALL_CLEAR within=0 id=case-1-phone-1-contact_breach-close-1"}},
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := alerting.NewNotices(book{}, alerting.Timing{})
			now := t0.Add(30 * time.Second)
			for i, s := range c.steps {
				var got []string
				for _, m := range n.Apply(&s.ev, now) {
					got = append(got, render(m, now))
				}
				if !slices.Equal(got, s.want) {
					t.Errorf("step %d (%s %s):\n got %q\nwant %q", i, s.ev.Type, s.ev.Phase, got, s.want)
				}
			}
		})
	}
}

// Renew sends the warnings and pursuit commands in force with a new
// expiry; Absorb takes events silently and Flush sends each device's end
// state once.
func TestNoticesRenewAndFlush(t *testing.T) {
	n := alerting.NewNotices(book{}, alerting.Timing{})
	n.Apply(ptr(ev(proxmon.ContactWarning, proxmon.PhaseOpen, "case-1", "tag-1", "phone-2", 0)), t0)
	later := t0.Add(time.Minute)
	var got []string
	for _, m := range n.Renew(later) {
		got = append(got, render(m, later))
	}
	want := []string{
		"phone-2 warning CAUTION within=1000 id=case-1-phone-2-contact_warning-open-0",
		"phone-2 report every 15s reason=pursuit",
		"tag-1 report every 15s reason=unspecified",
	}
	if !slices.Equal(got, want) {
		t.Errorf("renew:\n got %q\nwant %q", got, want)
	}

	for _, e := range []proxmon.Event{
		ev(proxmon.ContactBreach, proxmon.PhaseOpen, "case-1", "tag-1", "phone-1", 0),
		ev(proxmon.ContactBreach, proxmon.PhaseClose, "case-1", "tag-1", "phone-1", time.Second),
		ev(proxmon.ContactWarning, proxmon.PhaseClose, "case-1", "tag-1", "phone-2", 2*time.Second),
		ev(proxmon.ZoneApproach, proxmon.PhaseOpen, "case-1", "tag-1", "", 3*time.Second),
	} {
		n.Absorb(&e, later)
	}
	if !n.Pending() {
		t.Fatal("nothing pending after Absorb")
	}
	got = nil
	for _, m := range n.Flush(later) {
		got = append(got, render(m, later))
	}
	want = []string{
		"phone-1 warning ALL_CLEAR within=0 id=case-1-phone-1-contact_breach-close-1",
		"phone-1 report every 60s reason=pursuit",
		"phone-2 warning ALL_CLEAR within=0 id=case-1-phone-2-contact_warning-close-2",
		"phone-2 report every 120s reason=pursuit",
		"tag-1 report every 30s reason=unspecified",
	}
	if !slices.Equal(got, want) {
		t.Errorf("flush:\n got %q\nwant %q", got, want)
	}
	if n.Pending() || len(n.Flush(later)) != 0 || len(n.Renew(later)) != 0 {
		t.Error("something left after everything closed and was flushed")
	}
}

// Renewals and a flushed backlog keep a device configured faster than
// pursuit mode at its own interval too.
func TestNoticesPursuitKeepsFasterInterval(t *testing.T) {
	n := alerting.NewNotices(book{}, alerting.Timing{PursuitInterval: 20 * time.Second})
	n.Apply(ptr(ev(proxmon.ContactBreach, proxmon.PhaseOpen, "case-3", "tag-3", "phone-3", 0)), t0)
	n.Absorb(ptr(ev(proxmon.ContactBreach, proxmon.PhaseOpen, "case-1", "tag-1", "phone-2", 0)), t0)
	later := t0.Add(time.Minute)
	var got []string
	for _, m := range append(n.Flush(later), n.Renew(later)...) {
		if m.Command != nil {
			got = append(got, render(m, later))
		}
	}
	want := []string{
		"phone-2 report every 20s reason=pursuit",
		"tag-1 report every 20s reason=unspecified",
		"phone-2 report every 20s reason=pursuit",
		"phone-3 report every 5s reason=pursuit",
		"tag-1 report every 20s reason=unspecified",
		"tag-3 report every 15s reason=unspecified",
	}
	if !slices.Equal(got, want) {
		t.Errorf("flush and renew:\n got %q\nwant %q", got, want)
	}
}

// Nothing sent to a tag reveals a protected person: whatever the events,
// a tag gets no warning; a vibration only for a zone; a report interval
// only where the ban opts in, with no reason, a random id and the time of
// sending; and no message to a tag carries a protected person's id, a
// contact event's id or anything derived from it.
func TestNoticesTagLearnsNothingOfVictims(t *testing.T) {
	types := []proxmon.EventType{proxmon.ContactBreach, proxmon.ContactWarning, proxmon.ZoneBreach,
		proxmon.ZoneApproach, proxmon.CurfewBreach, proxmon.SignalLost, proxmon.GPSLost, proxmon.Tamper}
	var evs []proxmon.Event
	at := time.Duration(0)
	for _, phase := range []proxmon.Phase{proxmon.PhaseOpen, proxmon.PhaseClose} {
		for _, typ := range types {
			for _, cs := range []struct{ id, tag string }{{"case-1", "tag-1"}, {"case-2", "tag-2"}} {
				for _, p := range []string{"phone-1", "phone-2", ""} {
					at += time.Second
					evs = append(evs, ev(typ, phase, cs.id, cs.tag, p, at))
				}
			}
		}
	}
	now := t0.Add(at)
	run := func() []alerting.Message {
		n := alerting.NewNotices(book{}, alerting.Timing{})
		var out []alerting.Message
		for i := range evs {
			out = append(out, n.Apply(&evs[i], now)...)
		}
		return append(out, n.Renew(now)...)
	}
	first, second := run(), run()
	var contactIDs []string
	for _, e := range evs {
		if e.Protected != "" {
			contactIDs = append(contactIDs, e.ID)
		}
	}
	intervals := 0
	for i, m := range first {
		if !strings.HasPrefix(m.Device, "tag-") {
			continue
		}
		if m.Warning != nil {
			t.Errorf("tag %s got a warning", m.Device)
			continue
		}
		c := m.Command
		switch {
		case c.GetVibrate() != nil:
			if c.GetReason() != proxmonv1.CommandReason_COMMAND_REASON_ZONE_APPROACH {
				t.Errorf("tag %s vibrates for %v", m.Device, c.GetReason())
			}
		case c.GetSetReportInterval() != nil:
			intervals++
			if m.Device != "tag-1" {
				t.Errorf("%s, whose case does not opt in, told to report every %ds", m.Device, c.GetSetReportInterval().GetIntervalS())
			}
			if c.GetReason() != proxmonv1.CommandReason_COMMAND_REASON_UNSPECIFIED {
				t.Errorf("tag %s told its report interval with reason %v", m.Device, c.GetReason())
			}
			if !c.GetTime().AsTime().Equal(now) {
				t.Errorf("tag %s command at %v, not at sending", m.Device, c.GetTime().AsTime())
			}
			if c.GetId() == second[i].Command.GetId() {
				t.Errorf("tag %s command id %s repeats in another run: derived, not random", m.Device, c.GetId())
			}
		default:
			t.Errorf("tag %s got command %v", m.Device, c)
		}
		payload, err := m.Payload()
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range append([]string{"phone-1", "phone-2"}, contactIDs...) {
			if bytes.Contains(payload, []byte(secret)) || strings.Contains(c.GetId(), secret) {
				t.Errorf("message to %s carries %q", m.Device, secret)
			}
		}
	}
	if intervals == 0 {
		t.Error("the opted-in tag was never raised: the test shows nothing")
	}
}

func ptr[T any](v T) *T { return &v }
