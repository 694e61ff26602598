package stream_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/natsd"
	"github.com/proxmon/proxmon/natsd/natsdtest"
	"github.com/proxmon/proxmon/stream"
)

const cases = `devices:
  - {id: tag-1, kind: tag, report_interval_s: 600}
  - {id: phone-1, kind: victim, report_interval_s: 600}
cases:
  - id: case-1
    offender: tag-1
    contact_bans:
      - {protected: phone-1, alert_m: 500, warn_m: 1500}
`

// dedupe is a short deduplication window, so the tests can show that the
// runner does not rely on it.
const dedupe = 200 * time.Millisecond

func setup(t *testing.T) jetstream.JetStream {
	t.Helper()
	_, _, js := natsdtest.MustJetStream(t, natsd.Options{Dir: t.TempDir()})
	for range 2 { // idempotent
		if err := stream.Setup(t.Context(), js, stream.Config{Duplicates: dedupe}); err != nil {
			t.Fatal(err)
		}
	}
	cf, err := proxmon.ParseCaseFile([]byte(cases))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.ApplyCases(t.Context(), js, cf); err != nil {
		t.Fatal(err)
	}
	return js
}

func appendFix(t *testing.T, js jetstream.JetStream, dev string, seq uint64, at time.Time, northM float64) {
	t.Helper()
	r := proxmon.Record{Kind: proxmon.RecordFix, Fix: proxmon.Fix{Device: dev, Seq: seq, Time: at,
		Lat: 51.92 + northM/111_200, Lon: 4.47, AccuracyM: 5}}
	if _, err := stream.AppendSync(t.Context(), js, &r); err != nil {
		t.Fatal(err)
	}
}

type running struct {
	r    *stream.Runner
	done chan error
}

func start(t *testing.T, js jetstream.JetStream) *running {
	t.Helper()
	r := stream.NewRunner(js, stream.RunnerOptions{TickEvery: -1})
	run := &running{r: r, done: make(chan error, 1)}
	go func() { run.done <- r.Run(t.Context()) }()
	return run
}

// drain waits until the runner applied the whole log and stopped.
func (run *running) drain(t *testing.T) {
	t.Helper()
	if err := run.r.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-run.done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("runner did not drain")
	}
}

func eventIDs(t *testing.T, js jetstream.JetStream) []string {
	t.Helper()
	s, err := js.Stream(t.Context(), stream.Events)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(t.Context(), seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var ev proxmon.Event
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	return ids
}

// waitDedupeExpired waits until a message id published now is forgotten by
// JetStream's deduplication: every id published before is forgotten too.
func waitDedupeExpired(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	start := time.Now()
	for {
		m := nats.NewMsg("proxmon.rejected.probe")
		m.Header.Set(jetstream.MsgIDHeader, "probe")
		ack, err := js.PublishMsg(t.Context(), m)
		if err != nil {
			t.Fatal(err)
		}
		if since := time.Since(start); !ack.Duplicate && since > dedupe {
			return
		} else if since > 10*time.Second {
			t.Fatal("deduplication window did not pass")
		}
		time.Sleep(dedupe / 4) // the window is a duration: polled, not waited out
	}
}

// A runner that starts over without its snapshot (or after a crash before
// it saved one) publishes no event twice, even once the deduplication
// window is long past: it skips what EVENTS holds.
func TestRunnerResumesWithoutDuplicates(t *testing.T) {
	js := setup(t)
	base := time.Now().UTC().Add(-2 * time.Minute).Truncate(time.Millisecond)
	appendFix(t, js, "phone-1", 1, base, 0)
	appendFix(t, js, "tag-1", 1, base.Add(10*time.Second), 3000)
	appendFix(t, js, "tag-1", 2, base.Add(40*time.Second), 1200) // warning opens
	appendFix(t, js, "tag-1", 3, base.Add(60*time.Second), 400)  // breach opens

	run := start(t, js)
	run.drain(t)
	first := eventIDs(t, js)
	if len(first) != 2 {
		t.Fatalf("%d events, want the warning and the breach", len(first))
	}
	obs, err := js.ObjectStore(t.Context(), stream.Snapshots)
	if err != nil {
		t.Fatal(err)
	}
	if err := obs.Delete(t.Context(), "fence-0"); err != nil {
		t.Fatal(err)
	}
	waitDedupeExpired(t, js)

	appendFix(t, js, "tag-1", 4, base.Add(120*time.Second), 3000) // both close
	run = start(t, js)
	run.drain(t)
	got := eventIDs(t, js)
	if len(got) != 4 {
		t.Fatalf("events %v, want the two of the first run and two closes", got)
	}
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Errorf("event %s published twice", id)
		}
		seen[id] = true
	}
}

// A second engine on the same log is refused: EVENTS moved under it.
func TestRunnerRefusesSecondWriter(t *testing.T) {
	js := setup(t)
	base := time.Now().UTC().Add(-2 * time.Minute).Truncate(time.Millisecond)
	appendFix(t, js, "phone-1", 1, base, 0)
	run := start(t, js)
	waitApplied(t, run.r, 2) // the case record and the fix

	// Another engine appends to EVENTS (its events carry their input).
	m := nats.NewMsg("proxmon.event.info.case-1.battery_low")
	m.Data = []byte(`{}`)
	m.Header.Set(stream.HeaderInputSeq, "1")
	if _, err := js.PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	appendFix(t, js, "tag-1", 1, base.Add(10*time.Second), 400) // breach and warning
	select {
	case err := <-run.done:
		if !errors.Is(err, stream.ErrConflict) {
			t.Fatalf("runner returned %v, want ErrConflict", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("runner went on writing to EVENTS")
	}
}

func waitApplied(t *testing.T, r *stream.Runner, seq uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	for r.Applied() < seq {
		select {
		case <-ctx.Done():
			t.Fatalf("runner applied %d, want %d", r.Applied(), seq)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
