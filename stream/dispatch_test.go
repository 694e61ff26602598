package stream_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/stream"
)

func raiseEvent(t *testing.T, js jetstream.JetStream, i int) string {
	t.Helper()
	ev := proxmon.Event{ID: fmt.Sprintf("e%031d", i), Type: proxmon.Tamper, Phase: proxmon.PhaseOpen,
		Severity: proxmon.SeverityCritical, Case: "case-1", Time: time.Now().UTC(), Device: "tag-1"}
	data, _ := json.Marshal(ev)
	m := nats.NewMsg(stream.EventSubject(&ev))
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, ev.ID)
	if _, err := js.PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	return ev.ID
}

// Each terminal has its own cursor; what it has not confirmed comes again,
// marked, first; what it confirmed never does.
func TestDispatcherCursor(t *testing.T) {
	js := setup(t)
	d := stream.NewDispatcher(js, nil)
	for _, term := range []string{"a", "b"} { // their consumers start here
		if got, err := d.Next(t.Context(), term, 0, 10, time.Millisecond); err != nil || len(got) != 0 {
			t.Fatalf("%s: %v %v", term, got, err)
		}
	}
	ids := []string{raiseEvent(t, js, 1), raiseEvent(t, js, 2)}
	for _, term := range []string{"a", "b"} {
		got, err := d.Next(t.Context(), term, 0, 10, 5*time.Second)
		if err != nil || len(got) != 2 || got[0].Event.ID != ids[0] || got[1].Event.ID != ids[1] || got[0].Redelivered {
			t.Fatalf("%s: %+v %v", term, got, err)
		}
	}
	// a's answer was lost: it asks again without confirming.
	got, err := d.Next(t.Context(), "a", 0, 10, 5*time.Second)
	if err != nil || len(got) != 2 || !got[0].Redelivered {
		t.Fatalf("again: %+v %v", got, err)
	}
	// a confirms the first only, then both.
	got, err = d.Next(t.Context(), "a", got[0].Seq, 10, 5*time.Second)
	if err != nil || len(got) != 1 || got[0].Event.ID != ids[1] {
		t.Fatalf("after confirming one: %+v %v", got, err)
	}
	if got, err = d.Next(t.Context(), "a", got[0].Seq, 10, 50*time.Millisecond); err != nil || len(got) != 0 {
		t.Fatalf("after confirming both: %+v %v", got, err)
	}
	// A new dispatcher (the api restarted) has nothing more for a.
	d2 := stream.NewDispatcher(js, nil)
	if got, err = d2.Next(t.Context(), "a", 0, 10, 50*time.Millisecond); err != nil || len(got) != 0 {
		t.Fatalf("after a restart: %+v %v", got, err)
	}
	if _, err := d.Next(t.Context(), "no.such", 0, 1, 0); err == nil {
		t.Fatal("a terminal id that is no subject token accepted")
	}
}
