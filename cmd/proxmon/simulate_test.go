package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/simulator"
)

// TestSimulateScenario runs one episode of every kind, and cases without
// episodes, through the service, in a world at a twentieth of its size so
// that every episode is over in twenty seconds: every event the episodes
// state arrives within its window, and no other. The devices report every
// 2 and 3 s, not every second: on a shared 2-core machine under the race
// detector, this process (service and simulator) stalls for a few seconds
// now and then, and a 3 s stall is a signal_lost at 1 s.
func TestSimulateScenario(t *testing.T) {
	s := startService(t, t.TempDir(), "")
	defer closeService(t, s)
	o := simulator.Options{
		Cases: len(simulator.Kinds) + 4, EpisodeShare: float64(len(simulator.Kinds)) / float64(len(simulator.Kinds)+4),
		Prefix: "sim-test", Duration: 28 * time.Second, Scale: 0.05,
		TagInterval: 2 * time.Second, VictimInterval: 3 * time.Second, StatusEvery: 5 * time.Second,
		FirstEpisodeWithin: 2 * time.Second, EpisodeEvery: time.Hour, Dwell: 3 * time.Second,
		TickEvery: s.cfg.TickEvery, Grace: 10 * time.Second, Slack: 3 * time.Second,
		Broker: s.srv.MQTTURL(),
	}
	if testing.Verbose() {
		o.Log = slogForTest(t)
	}
	casesOut := filepath.Join(t.TempDir(), "cases.yaml")
	var seen []string
	var mu sync.Mutex
	rep, err := runSimulation(t.Context(), s.js, o, casesOut, func(ev *proxmon.Event, e *simulator.Expectation) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, string(ev.Type)+" "+string(ev.Phase))
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	_ = rep.WriteText(&text)
	t.Log("\n" + text.String())
	if !rep.OK() {
		t.Fatalf("missing or unexpected events")
	}
	if rep.Episodes != uint64(len(simulator.Kinds)) {
		t.Errorf("%d episodes, want one of each of %d kinds", rep.Episodes, len(simulator.Kinds))
	}
	for _, typ := range []proxmon.EventType{proxmon.ContactBreach, proxmon.ContactWarning, proxmon.ZoneBreach,
		proxmon.ZoneApproach, proxmon.CurfewBreach, proxmon.SignalLost, proxmon.Tamper, proxmon.BatteryLow,
		proxmon.GPSAnomaly, proxmon.Jamming} {
		c := rep.Events.ByType[string(typ)]
		if c == nil || c.Expected < 2 || c.Matched != c.Expected {
			t.Errorf("%s: %+v, want an open and a close at least, all as expected", typ, c)
		}
	}
	// Alerting told the protected persons and the tags.
	w := rep.Warnings.ByLevel
	if w["danger"] == 0 || w["caution"] == 0 || w["unknown"] == 0 || w["all_clear"] == 0 || rep.Warnings.NotDrill != 0 {
		t.Errorf("warnings %+v", rep.Warnings)
	}
	if rep.Commands["set_report_interval"] == 0 || rep.Commands["vibrate"] == 0 {
		t.Errorf("commands %v", rep.Commands)
	}
	if rep.Latency.Transport.Count == 0 || rep.Latency.Detection.Count == 0 {
		t.Errorf("latencies %+v", rep.Latency)
	}
	if rep.Fixes.Sent == 0 || rep.Fixes.Dropped != 0 || rep.Fixes.SendErrors != 0 {
		t.Errorf("fixes %+v", rep.Fixes)
	}
	// The case file written is the one applied; the cases are gone.
	if cf, err := loadCaseFile(casesOut); err != nil || len(cf.Cases) != o.Cases {
		t.Errorf("--cases-out: %v", err)
	}
	kv, err := s.js.KeyValue(t.Context(), "CASES")
	if err != nil {
		t.Fatal(err)
	}
	if keys, _ := kv.Keys(t.Context()); len(keys) != 0 {
		t.Errorf("cases left in force: %v", keys)
	}
}

// TestSimulateCommand runs `proxmon simulate` against the service: a
// short run without episodes reports and exits 0, and writes its JSON
// report.
func TestSimulateCommand(t *testing.T) {
	s := startService(t, t.TempDir(), "")
	defer closeService(t, s)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(s.sec.secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"simulate", "--nats", s.srv.ClientURL(), "--mqtt", s.srv.MQTTURL(),
		"--secret-file", secret, "--cases", "5", "--episodes", "0", "--duration", "3s",
		"--tag-interval", "1s", "--victim-interval", "1s", "--report", report, "-q"}, nil, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "simulated 5 cases") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	var r simulator.Report
	b, err := os.ReadFile(report)
	if err == nil {
		err = json.Unmarshal(b, &r)
	}
	if err != nil || r.Cases != 5 || r.Fixes.Sent == 0 || r.Events.Received != 0 {
		t.Errorf("report %s: %v", b, err)
	}
}

// TestDemo starts the demo on free ports and waits for its first alert.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- runDemo(ctx, &demoConfig{data: t.TempDir(), mqttListen: "127.0.0.1:0", natsListen: "127.0.0.1:0",
			httpListen: "127.0.0.1:0", cases: 20, seed: 1}, &out, io.Discard)
	}()
	deadline := time.After(45 * time.Second)
	for !strings.Contains(out.String(), "as scripted") {
		select {
		case err := <-done:
			t.Fatalf("demo ended: %v\n%s", err, out.String())
		case <-deadline:
			t.Fatalf("no alert within 45 s:\n%s", out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{"SEVERITY", "drill, as scripted", "events     "} {
		if !strings.Contains(got, want) {
			t.Errorf("demo output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "UNEXPECTED") {
		t.Errorf("unexpected events:\n%s", got)
	}
	// Episodes the interruption cut short are not missing events.
	if !strings.Contains(got, " 0 missing") || strings.Contains(got, "MISSING") {
		t.Errorf("events missing after an interruption:\n%s", got)
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
