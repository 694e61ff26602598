package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/api"
	"github.com/proxmon/proxmon/centre"
	"github.com/proxmon/proxmon/natsd"
	"github.com/proxmon/proxmon/natsd/natsdtest"
	"github.com/proxmon/proxmon/stream"
)

// centreStack is the api role on a real embedded NATS server: the centre's
// book, the dispatcher and the dead-man's switch with a short threshold.
type centreStack struct {
	js        jetstream.JetStream
	base      string
	tokenFile string
}

func startCentreStack(t *testing.T, deadManAfter time.Duration) *centreStack {
	t.Helper()
	dir := t.TempDir()
	_, _, js := natsdtest.MustJetStream(t, natsd.Options{Dir: dir})
	if err := stream.Setup(t.Context(), js, stream.Config{}); err != nil {
		t.Fatal(err)
	}
	store, err := stream.OpenAlertStore(t.Context(), js, centre.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const token = "dispatch-operator-token"
	users, err := api.ParseUsers([]byte("users:\n  - {name: op-1, role: operator, token_sha256: " + api.HashToken(token) + "}\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := api.New(api.Options{Addr: "127.0.0.1:0", Centre: store, Users: users, Dispatch: stream.NewDispatcher(js, nil),
		Alarms: func(ctx context.Context) []api.Alarm { return deadMan(ctx, js, deadManAfter, time.Now()) }})
	if err := a.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.Close(ctx)
	})
	tf := filepath.Join(dir, "token")
	if err := os.WriteFile(tf, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &centreStack{js: js, base: "http://" + a.Addr(), tokenFile: tf}
}

// raise stores an event in EVENTS as the engine does (Nats-Msg-Id = its
// id), or under another message id: a copy the deduplication window no
// longer catches.
func (c *centreStack) raise(t *testing.T, ev proxmon.Event, msgID string) {
	t.Helper()
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(stream.EventSubject(&ev))
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, msgID)
	if _, err := c.js.PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}
}

func breachEvent(i int) proxmon.Event {
	d := 100.0 + float64(i)
	return proxmon.Event{ID: fmt.Sprintf("ev%030d", i), Type: proxmon.ContactBreach, Phase: proxmon.PhaseOpen,
		Severity: proxmon.SeverityCritical, Case: "case-1", Time: time.Now().UTC(), Device: "tag-1",
		Protected: "phone-1", DistanceM: &d, Certainty: proxmon.Probable}
}

// terminalRun is one run of `proxmon dispatch`.
type terminalRun struct {
	out    *syncBuffer
	cancel context.CancelFunc
	done   chan int
}

func (c *centreStack) terminal(t *testing.T, id string, extra ...string) *terminalRun {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	tr := &terminalRun{out: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	args := append([]string{"dispatch", "--terminal", id, "--api", c.base, "--token-file", c.tokenFile, "--wait", "500ms"}, extra...)
	go func() { tr.done <- run(ctx, args, nil, tr.out, tr.out) }()
	t.Cleanup(func() { tr.stop(t) })
	return tr
}

// stop ends the run as Ctrl-C does, and waits for it.
func (tr *terminalRun) stop(t *testing.T) {
	t.Helper()
	tr.cancel()
	select {
	case code := <-tr.done:
		if code != exitOK {
			t.Errorf("dispatch exited %d:\n%s", code, tr.out)
		}
		tr.done <- code
	case <-time.After(10 * time.Second):
		t.Fatalf("dispatch did not stop:\n%s", tr.out)
	}
}

// waitConnected waits until n dispatch terminals have a pull waiting.
func (c *centreStack) waitConnected(t *testing.T, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d dispatch terminals", n), func() bool {
		got, err := stream.DispatchTerminals(t.Context(), c.js)
		return err == nil && got.Connected >= n
	})
}

// Two terminals both see every alert, each once, although one alert is
// stored twice (a copy beyond the deduplication window).
func TestDispatchTerminalsSeeEveryAlertOnce(t *testing.T) {
	c := startCentreStack(t, time.Hour)
	a, b := c.terminal(t, "desk-a"), c.terminal(t, "desk-b")
	c.waitConnected(t, 2)
	const n = 5
	for i := range n {
		c.raise(t, breachEvent(i), breachEvent(i).ID)
	}
	c.raise(t, breachEvent(0), "a-later-copy")
	for _, tr := range []*terminalRun{a, b} {
		waitFor(t, "every alert at both terminals", func() bool { return tr.out.contains(breachEvent(n - 1).ID) })
	}
	// Both shown and acknowledged all: nothing behind (the metric
	// proxmon_dispatch_pending_events).
	waitFor(t, "both terminals up to date", func() bool {
		got, err := stream.DispatchTerminals(t.Context(), c.js)
		return err == nil && got.Connected == 2 && got.Behind == 0
	})
	a.stop(t)
	b.stop(t)
	for name, tr := range map[string]*terminalRun{"desk-a": a, "desk-b": b} {
		out := tr.out.String()
		for i := range n {
			ev := breachEvent(i)
			if got := strings.Count(out, ev.ID); got != 1 {
				t.Errorf("%s shows %s %d times:\n%s", name, ev.ID, got, out)
			}
		}
		if !strings.Contains(out, "CRITICAL  case-1  contact_breach  probable  100 m") {
			t.Errorf("%s: no clear line for the breach:\n%s", name, out)
		}
		if strings.Contains(out, "\x1b[") {
			t.Errorf("%s: colours on a non-terminal:\n%s", name, out)
		}
	}
}

// A terminal stopped mid-stream and started again shows every alert
// exactly once: nothing shown before again, nothing stored meanwhile lost.
func TestDispatchRestartShowsEachAlertOnce(t *testing.T) {
	c := startCentreStack(t, time.Hour)
	first := c.terminal(t, "desk-a")
	c.waitConnected(t, 1)
	for i := range 3 {
		c.raise(t, breachEvent(i), breachEvent(i).ID)
	}
	waitFor(t, "the first alerts", func() bool { return first.out.contains(breachEvent(2).ID) })
	first.stop(t)
	for i := 3; i < 6; i++ { // while the terminal is down
		c.raise(t, breachEvent(i), breachEvent(i).ID)
	}
	second := c.terminal(t, "desk-a")
	c.waitConnected(t, 1)
	for i := 6; i < 8; i++ {
		c.raise(t, breachEvent(i), breachEvent(i).ID)
	}
	waitFor(t, "the later alerts", func() bool { return second.out.contains(breachEvent(7).ID) })
	second.stop(t)
	live := func(out string) string { // the lines of alerts as they came, not the open list
		var b strings.Builder
		for l := range strings.Lines(out) {
			if strings.Contains(l, "age ") {
				b.WriteString(l)
			}
		}
		return b.String()
	}
	all := live(first.out.String()) + live(second.out.String())
	for i := range 8 {
		if got := strings.Count(all, breachEvent(i).ID); got != 1 {
			t.Errorf("alert %d shown %d times:\nfirst:\n%s\nsecond:\n%s", i, got, first.out, second.out)
		}
	}
	// The restarted terminal caught up with the open alerts first.
	if !strings.Contains(second.out.String(), "--- open alerts: ") {
		t.Errorf("no open list at start:\n%s", second.out)
	}
}

// The engine's ticks stop: the terminal says so, loudly and again; while
// they come, it does not.
func TestDispatchDeadMan(t *testing.T) {
	c := startCentreStack(t, time.Second)
	ctx, stopTicks := context.WithCancel(t.Context())
	ticking := make(chan struct{})
	go func() { // the engine's ticks, 10 a second
		defer close(ticking)
		for ctx.Err() == nil {
			_, _ = stream.AppendSync(ctx, c.js, &proxmon.Record{Kind: proxmon.RecordTick, Time: time.Now().UTC()})
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	tr := c.terminal(t, "desk-a")
	c.waitConnected(t, 1)
	c.raise(t, breachEvent(1), breachEvent(1).ID)
	waitFor(t, "the alert", func() bool { return tr.out.contains(breachEvent(1).ID) })
	if tr.out.contains("WARNING") {
		t.Fatalf("a warning while the engine ticks:\n%s", tr.out)
	}
	stopTicks()
	<-ticking
	waitFor(t, "the warning, twice", func() bool { return strings.Count(tr.out.String(), "ENGINE SILENT") >= 2 })
	if !tr.out.contains("alerts are NOT being checked") {
		t.Fatalf("a warning without its reason:\n%s", tr.out)
	}
}

// The centre out of reach is a warning too, never silence.
func TestDispatchCentreUnreachable(t *testing.T) {
	c := startCentreStack(t, time.Hour)
	c.base = "http://127.0.0.1:1" // nothing listens there
	tr := c.terminal(t, "desk-a")
	waitFor(t, "the warning", func() bool { return tr.out.contains("CANNOT REACH THE CENTRE") })
	tr.cancel()
	if code := <-tr.done; code != exitFault {
		t.Errorf("exit %d, want %d: the alerts shown could not be confirmed", code, exitFault)
	}
	tr.done <- exitOK
}
