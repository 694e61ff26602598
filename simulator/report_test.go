package simulator_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/simulator"
)

// eventFor returns the event an expectation asks for, at time at.
func eventFor(e *simulator.Expectation, at time.Time) proxmon.Event {
	ev := proxmon.Event{ID: "ev-" + e.Case + string(e.Type) + string(e.Phase) + e.Rule, Type: e.Type, Phase: e.Phase,
		Case: e.Case, Time: at, Drill: true, Severity: proxmon.SeverityHigh}
	kind, id, _ := strings.Cut(e.Rule, ":")
	switch kind + ":" {
	case proxmon.RuleContact:
		ev.Protected = id
	case proxmon.RuleZone:
		ev.Zone = id
	case proxmon.RuleDevice:
		ev.Device = id
	}
	return ev
}

func TestObserveAndReport(t *testing.T) {
	s := newSim(t, simulator.Options{Cases: 16, EpisodeShare: 1, Prefix: "sim-rep", Scale: 0.1,
		TagInterval: 2 * time.Second, VictimInterval: 4 * time.Second})
	exps, err := s.PlanEpisodes(time.Now().Add(-time.Hour)) // every window has passed
	if err != nil {
		t.Fatal(err)
	}
	var skipped *simulator.Expectation
	n, opens, optional := 0, 0, 0
	for _, es := range exps {
		for _, e := range es {
			if e.Optional {
				// Allowed, not required: half of them come.
				if optional%2 == 0 {
					ev := eventFor(e, e.From)
					if got, _ := s.Observe(&ev, e.Until); got != e {
						t.Errorf("optional event %+v met %+v", ev, got)
					}
				}
				optional++
				continue
			}
			if skipped == nil && e.Phase == proxmon.PhaseOpen {
				skipped = e // never comes: missing
				continue
			}
			ev := eventFor(e, e.From.Add(e.Until.Sub(e.From)/2))
			if got, ours := s.Observe(&ev, e.Until.Add(40*time.Millisecond)); !ours || got != e {
				t.Fatalf("event %+v met %+v (ours %v), want %+v", ev, got, ours, e)
			}
			n++
			if e.Phase == proxmon.PhaseOpen {
				opens++
			}
		}
	}
	// The same event again is no longer expected; one too late neither;
	// another service's case is none of the simulator's business.
	late := *skipped
	ev := eventFor(&late, late.Until.Add(time.Second))
	if got, ours := s.Observe(&ev, time.Now()); got != nil || !ours {
		t.Errorf("a late event met %+v (ours %v)", got, ours)
	}
	other := proxmon.Event{ID: "x", Type: proxmon.Tamper, Phase: proxmon.PhaseOpen, Case: "case-1", Device: "tag-1", Time: time.Now()}
	if _, ours := s.Observe(&other, time.Now()); ours {
		t.Error("another case's event counted as the simulator's")
	}

	r := s.Report()
	if r.Events.Expected != n+1 || r.Events.Matched != n || r.Events.Optional != (optional+1)/2 ||
		r.Events.Missing != 1 || r.Events.Unexpected != 1 || r.OK() {
		t.Errorf("events %+v; want %d expected, %d matched, %d allowed, 1 missing, 1 unexpected", r.Events, n+1, n, (optional+1)/2)
	}
	if len(r.Missing) != 1 || r.Missing[0] != skipped || len(r.Unexpected) != 1 {
		t.Errorf("missing %v, unexpected %v", r.Missing, r.Unexpected)
	}
	if r.Latency.Detection.Count != opens {
		t.Errorf("detection latency of %d events, want the %d opens", r.Latency.Detection.Count, opens)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"16 cases", "MISSING    " + skipped.Case, "UNEXPECTED " + skipped.Case, "as expected"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, text.String())
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back simulator.Report
	if err := json.Unmarshal(b, &back); err != nil || back.Events.Missing != 1 || back.Events.ByType[string(skipped.Type)] == nil {
		t.Errorf("JSON report %s: %v", b, err)
	}
}

func TestPercentiles(t *testing.T) {
	xs := make([]float64, 1000)
	for i := range xs {
		xs[i] = float64(1000 - i) // 1..1000, unsorted
	}
	got := simulator.PercentilesOf(xs)
	want := simulator.Percentiles{Count: 1000, P50: 500, P95: 950, P99: 990, Max: 1000}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := simulator.PercentilesOf(nil); got != (simulator.Percentiles{}) {
		t.Errorf("of nothing: %+v", got)
	}
}

func TestHistogram(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 10_000; i++ {
		ds = append(ds, time.Duration(i)*10*time.Microsecond) // 10 µs .. 100 ms
	}
	p := simulator.HistogramOf(ds)
	check := func(name string, got, want float64) {
		if got < want || got > want*1.03 {
			t.Errorf("%s = %.3f ms, want %.3f ms to 3 %% above", name, got, want)
		}
	}
	check("p50", p.P50, 50)
	check("p99", p.P99, 99)
	if p.Count != 10_000 || p.Max != 100 {
		t.Errorf("%+v", p)
	}
}
