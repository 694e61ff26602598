package centre_test

import (
	"errors"
	"testing"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/centre"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func open(id string, typ proxmon.EventType, sev proxmon.Severity, at time.Time) proxmon.Event {
	return proxmon.Event{ID: id, Type: typ, Phase: proxmon.PhaseOpen, Severity: sev, Case: "case-1", Time: at, Device: "tag-1"}
}

func closing(id, openID string, at time.Time) proxmon.Event {
	return proxmon.Event{ID: id, OpenID: openID, Type: proxmon.ContactBreach, Phase: proxmon.PhaseClose,
		Severity: proxmon.SeverityCritical, Case: "case-1", Time: at, Device: "tag-1"}
}

func TestBookActions(t *testing.T) {
	b := centre.NewBook(centre.Options{})
	b.ApplyEvent(open("a1", proxmon.ContactBreach, proxmon.SeverityCritical, t0), 1, t0)
	tests := []struct {
		name string
		act  centre.Action
		want error
	}{
		{"unknown alert", centre.Action{Alert: "nope", Kind: centre.KindAck, Role: centre.Operator}, centre.ErrNotFound},
		{"case manager may not ack", centre.Action{Alert: "a1", Kind: centre.KindAck, Role: centre.CaseManager}, centre.ErrForbidden},
		{"operator acks", centre.Action{Alert: "a1", Kind: centre.KindAck, Role: centre.Operator}, nil},
		{"close without reason", centre.Action{Alert: "a1", Kind: centre.KindClose, Role: centre.Operator}, centre.ErrReasonRequired},
		{"close while the engine holds it", centre.Action{Alert: "a1", Kind: centre.KindClose, Role: centre.Operator, Reason: "x"}, centre.ErrEngineOpen},
		{"operator may not force", centre.Action{Alert: "a1", Kind: centre.KindClose, Role: centre.Operator, Reason: "x", Force: true}, centre.ErrForbidden},
		{"supervisor forces", centre.Action{Alert: "a1", Kind: centre.KindClose, Role: centre.Supervisor, Reason: "tag retired", Force: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := b.Check(&tt.act); !errors.Is(err, tt.want) {
				t.Fatalf("Check = %v, want %v", err, tt.want)
			}
		})
	}
	// After the engine closes it, an operator may close it with a reason.
	b.ApplyEvent(closing("c1", "a1", t0.Add(time.Minute)), 2, t0.Add(time.Minute))
	act := centre.Action{Alert: "a1", Kind: centre.KindClose, Role: centre.Operator, Reason: "handled", Seq: 7, Time: t0.Add(2 * time.Minute)}
	if err := b.Check(&act); err != nil {
		t.Fatal(err)
	}
	b.ApplyAction(act)
	b.ApplyAction(act) // a redelivery changes nothing
	a, _ := b.Get("a1", t0)
	if a.State != centre.StateClosed || a.Engine != centre.EngineClosed || a.Closure.Reason != "handled" {
		t.Fatalf("alert %+v", a)
	}
	if err := b.Check(&centre.Action{Alert: "a1", Kind: centre.KindAck, Role: centre.Operator}); !errors.Is(err, centre.ErrClosed) {
		t.Fatalf("ack of closed alert: %v", err)
	}
	if got := b.List(centre.Filter{Open: true}, t0); len(got) != 0 {
		t.Fatalf("open alerts: %v", got)
	}
}

func TestBookActionBeforeEvent(t *testing.T) {
	b := centre.NewBook(centre.Options{})
	b.ApplyAction(centre.Action{Alert: "a1", Kind: centre.KindAck, Actor: "op", Seq: 1, Time: t0.Add(5 * time.Second)})
	b.ApplyEvent(open("a1", proxmon.ContactBreach, proxmon.SeverityCritical, t0), 1, t0)
	a, ok := b.Get("a1", t0)
	if !ok || a.State != centre.StateAcknowledged {
		t.Fatalf("alert %+v", a)
	}
}

func TestEscalation(t *testing.T) {
	d, err := centre.ParseDeadlines("critical=60s,high/critical=30s")
	if err != nil {
		t.Fatal(err)
	}
	risk := map[string]proxmon.Risk{"case-2": proxmon.RiskHigh}
	b := centre.NewBook(centre.Options{Deadlines: d, Risk: func(c string) proxmon.Risk { return risk[c] }})
	b.ApplyEvent(open("a1", proxmon.ContactBreach, proxmon.SeverityCritical, t0), 1, t0)
	ev2 := open("a2", proxmon.ZoneBreach, proxmon.SeverityCritical, t0)
	ev2.Case = "case-2"
	b.ApplyEvent(ev2, 2, t0)
	b.ApplyEvent(open("a3", proxmon.BatteryLow, proxmon.SeverityInfo, t0), 3, t0)

	if due := b.DueEscalations(t0.Add(29 * time.Second)); len(due) != 0 {
		t.Fatalf("due before any deadline: %v", due)
	}
	due := b.DueEscalations(t0.Add(31 * time.Second))
	if len(due) != 1 || due[0].Alert != "a2" || due[0].Level != 1 || !due[0].Time.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("due at 31 s: %+v", due)
	}
	again := b.DueEscalations(t0.Add(31 * time.Second))
	if again[0].ID != due[0].ID {
		t.Fatal("escalation id not deterministic")
	}
	b.ApplyEvent(due[0], 4, t0.Add(31*time.Second))
	due = b.DueEscalations(t0.Add(61 * time.Second))
	if len(due) != 2 || due[0].Alert != "a1" || due[1].Alert != "a2" || due[1].Level != 2 {
		t.Fatalf("due at 61 s: %+v", due)
	}
	if due[0].Severity != proxmon.SeverityCritical || due[0].Type != proxmon.Escalation {
		t.Fatalf("escalation event %+v", due[0])
	}
	b.ApplyAction(centre.Action{Alert: "a1", Kind: centre.KindAck, Seq: 1, Time: t0.Add(62 * time.Second)})
	b.ApplyAction(centre.Action{Alert: "a2", Kind: centre.KindAck, Seq: 2, Time: t0.Add(62 * time.Second)})
	if due := b.DueEscalations(t0.Add(time.Hour)); len(due) != 0 {
		t.Fatalf("due after acks: %v", due)
	}
}

func TestPattern(t *testing.T) {
	b := centre.NewBook(centre.Options{})
	day := 24 * time.Hour
	seq := uint64(0)
	add := func(id string, at time.Time) {
		seq++
		b.ApplyEvent(open(id, proxmon.ContactWarning, proxmon.SeverityHigh, at), seq, at)
	}
	add("w1", t0)
	add("w2", t0.Add(3*day))
	if p := b.DuePatterns(); len(p) != 0 {
		t.Fatalf("pattern after 2: %v", p)
	}
	add("w3", t0.Add(8*day)) // w1 is out of the window
	if p := b.DuePatterns(); len(p) != 0 {
		t.Fatalf("pattern over 8 days: %v", p)
	}
	add("w4", t0.Add(9*day))
	p := b.DuePatterns()
	if len(p) != 1 || len(p[0].Incidents) != 3 || p[0].Severity != proxmon.SeverityHigh || p[0].Incidents[0] != "w2" {
		t.Fatalf("pattern: %+v", p)
	}
	seq++
	b.ApplyEvent(p[0], seq, t0.Add(9*day))
	if p := b.DuePatterns(); len(p) != 0 {
		t.Fatalf("pattern raised twice: %v", p)
	}
	if a, ok := b.Get(p[0].ID, t0); !ok || a.Event.Type != proxmon.Pattern {
		t.Fatal("a pattern is an alert of its own")
	}
}

func TestReport(t *testing.T) {
	b := centre.NewBook(centre.Options{})
	for i, ackAfter := range []time.Duration{10 * time.Second, 20 * time.Second, 90 * time.Second, -1} {
		id := string(rune('a' + i))
		b.ApplyEvent(open(id, proxmon.ContactBreach, proxmon.SeverityCritical, t0), uint64(i+1), t0)
		if ackAfter >= 0 {
			b.ApplyAction(centre.Action{Alert: id, Kind: centre.KindAck, Seq: 1, Time: t0.Add(ackAfter)})
		}
	}
	drill := open("drill-1", proxmon.ContactBreach, proxmon.SeverityCritical, t0)
	drill.Drill = true
	b.ApplyEvent(drill, 9, t0)
	r := b.Report(t0.Add(-time.Hour), t0.Add(10*time.Minute))
	c := r.Severities[0]
	if c.Count != 4 || c.Acknowledged != 3 || c.AckP50S != 20 || c.AckMaxS != 90 || len(c.OverDeadline) != 2 || r.Drills != 1 {
		t.Fatalf("report %+v", r)
	}
	if c.OverDeadline[0].AckS == nil || *c.OverDeadline[0].AckS != 90 || c.OverDeadline[1].AckS != nil {
		t.Fatalf("over deadline %+v", c.OverDeadline)
	}
}

func TestParseDeadlines(t *testing.T) {
	for _, bad := range []string{"critical", "critical=x", "urgent=5s", "extreme/critical=5s", "high=-1s"} {
		if _, err := centre.ParseDeadlines(bad); err == nil {
			t.Errorf("ParseDeadlines(%q) accepted", bad)
		}
	}
	d, err := centre.ParseDeadlines("high=0")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.For(proxmon.SeverityHigh, ""); ok {
		t.Fatal("high=0 should turn the deadline off")
	}
}

// A breach the engine closed before anyone acknowledged it still escalates:
// a breach that lasted ten seconds is no less an alert nobody saw.
func TestEscalationAfterEngineClose(t *testing.T) {
	b := centre.NewBook(centre.Options{})
	b.ApplyEvent(open("a1", proxmon.ContactBreach, proxmon.SeverityCritical, t0), 1, t0)
	b.ApplyEvent(closing("c1", "a1", t0.Add(10*time.Second)), 2, t0.Add(10*time.Second))
	due := b.DueEscalations(t0.Add(61 * time.Second))
	if len(due) != 1 || due[0].Alert != "a1" || due[0].Level != 1 {
		t.Fatalf("due after the engine closed it: %+v", due)
	}
	b.ApplyAction(centre.Action{Alert: "a1", Kind: centre.KindAck, Seq: 1, Time: t0.Add(70 * time.Second)})
	if due := b.DueEscalations(t0.Add(time.Hour)); len(due) != 0 {
		t.Fatalf("due after the ack: %+v", due)
	}
}
