package stream_test

import (
	"errors"

	"testing"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/centre"
	"github.com/proxmon/proxmon/stream"
)

// The centre writes to EVENTS (escalations) between the engine's events:
// the engine steps over them, and the book sees both, with the operators'
// actions from ACKS.
func TestAlertStoreWithEngine(t *testing.T) {
	js := setup(t)
	base := time.Now().UTC().Add(-2 * time.Minute).Truncate(time.Millisecond)
	appendFix(t, js, "phone-1", 1, base, 0)
	appendFix(t, js, "tag-1", 1, base.Add(10*time.Second), 400) // breach and warning open
	run := start(t, js)
	waitApplied(t, run.r, 3)

	st, err := stream.OpenAlertStore(t.Context(), js, centre.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var breach centre.Alert
	waitCond(t, "the breach in the book", func() bool {
		found := false
		st.View(func(b *centre.Book) {
			for _, a := range b.List(centre.Filter{Severity: proxmon.SeverityCritical}, time.Now()) {
				breach, found = a, true
			}
		})
		return found
	})
	esc := centre.EscalationEvent(&breach.Event, 1, breach.Stored.Add(time.Minute))
	for range 2 {
		if _, err := st.Raise(t.Context(), &esc); err != nil {
			t.Fatal(err)
		}
	}
	appendFix(t, js, "tag-1", 2, base.Add(110*time.Second), 3000) // both close: the engine publishes after the centre
	waitApplied(t, run.r, 4)
	waitCond(t, "the engine's close", func() bool {
		var a centre.Alert
		st.View(func(b *centre.Book) { a, _ = b.Get(breach.Event.ID, time.Now()) })
		return a.Engine == centre.EngineClosed && a.Escalations == 1
	})
	run.drain(t)
	if ids := eventIDs(t, js); len(ids) != 5 {
		t.Fatalf("EVENTS holds %d events, want 2 opens, 1 escalation, 2 closes", len(ids))
	}

	act := centre.Action{Alert: breach.Event.ID, Kind: centre.KindAck, Actor: "op-1", Role: centre.Operator, Note: "called police"}
	stored, err := st.Act(t.Context(), act)
	if err != nil || stored.Seq != 1 {
		t.Fatalf("ack: %+v, %v", stored, err)
	}
	if _, err := st.Act(t.Context(), centre.Action{Alert: breach.Event.ID, Kind: centre.KindClose, Actor: "op-1", Role: centre.Operator}); !errors.Is(err, centre.ErrReasonRequired) {
		t.Fatalf("close without reason: %v", err)
	}
	// A second store that has not seen the ack yet is refused, not
	// interleaved.
	st2, err := stream.OpenAlertStore(t.Context(), js, centre.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st2.View(func(b *centre.Book) {
		if a, _ := b.Get(breach.Event.ID, time.Now()); a.State != centre.StateAcknowledged {
			t.Errorf("reloaded state %s, want acknowledged", a.State)
		}
	})
	if _, err := st.Act(t.Context(), centre.Action{Alert: breach.Event.ID, Kind: centre.KindClose, Actor: "op-1", Role: centre.Operator, Reason: "handled"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st2.Act(t.Context(), centre.Action{Alert: breach.Event.ID, Kind: centre.KindAck, Actor: "op-2", Role: centre.Operator}); !errors.Is(err, stream.ErrChanged) && !errors.Is(err, centre.ErrClosed) {
		t.Fatalf("stale ack: %v, want ErrChanged", err)
	}

	if err := st.Audit(t.Context(), centre.AuditEntry{Actor: "op-1", Action: "alerts.read", Case: "case-1", Status: 200}); err != nil {
		t.Fatal(err)
	}
	entries, err := stream.AuditEntries(t.Context(), js, time.Time{}, nil, 0)
	if err != nil || len(entries) != 1 || entries[0].Actor != "op-1" {
		t.Fatalf("audit: %+v, %v", entries, err)
	}
}
