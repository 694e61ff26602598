package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/natsd"
	"github.com/proxmon/proxmon/natsd/natsdtest"
	"github.com/proxmon/proxmon/stream"
)

// TestCrashRestart runs the real proxmon binary and kills it with SIGKILL
// five times, at moments drawn from a fixed seed, while three devices
// stream fixes; each time it starts again on the same data directory.
// Afterwards:
//   - every fix the devices published (so every one they got a PUBACK for)
//     is in FIXES, once;
//   - EVENTS holds exactly the events `proxmon evaluate` computes from the
//     stored FIXES log, in the same order: none lost, none duplicated.
//
// With the embedded server, the kill takes the broker down too: the
// devices' clients re-send whatever it had not acknowledged. With mosquitto
// as the broker, only proxmon dies: what ingest had taken but not yet
// acknowledged must come again from its persistent session.
func TestCrashRestart(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		mqttAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
		crashRestart(t, []string{"--mqtt-listen", mqttAddr}, "tcp://"+mqttAddr, nil)
	})
	t.Run("mosquitto", func(t *testing.T) {
		m := startMosquitto(t)
		crashRestart(t, []string{"--mqtt", m.serviceURL()}, m.deviceURL(), m.deviceTLS())
	})
}

func crashRestart(t *testing.T, brokerArgs []string, deviceURL string, deviceTLS *tls.Config) {
	bin := proxmonBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	casesFile := filepath.Join(dir, "cases.yaml")
	if err := os.WriteFile(casesFile, []byte(fleetCases), 0o600); err != nil {
		t.Fatal(err)
	}
	natsAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	// The roles this test is about; the api role would listen on HTTP.
	args := append([]string{"serve", "--roles", "ingest,fence", "--data", data, "--nats-listen", natsAddr,
		// Fixes in flight to ingest at a kill come back after a second,
		// and the engine saves its state often, so kills land before,
		// during and after snapshots.
		"--mqtt-ack-wait", "1s", "--snapshot-every", "200ms"}, brokerArgs...)
	start := func(extra ...string) *process {
		t.Helper()
		began := time.Now()
		p := startProcess(t, "proxmon serve", bin, append(args, extra...)...)
		p.waitOutput(t, "proxmon serving", 30*time.Second)
		t.Logf("proxmon serving after %s", fmtDur(time.Since(began)))
		return p
	}

	p := start("--cases", casesFile)
	fl := connectFleet(t, deviceURL, deviceTLS)
	fl.stream(3 * time.Millisecond)
	rng := rand.New(rand.NewPCG(17, 2026))
	for i := range 5 {
		// Kill after a random number of further fixes, 30 to 400: some
		// kills land right after a start, some after a while.
		target := fl.published() + 30 + rng.IntN(370)
		fl.waitPublished(t, target)
		p.kill()
		t.Logf("kill %d: SIGKILL after %d fixes published", i+1, fl.published())
		p = start()
	}
	fl.waitPublished(t, fl.published()+100)
	fl.stopStreaming()
	fixes, failed := fl.settle(t, 60*time.Second)
	t.Logf("%d fixes published; paho reported %d publishes as failed when the broker died under them", len(fixes), failed)

	// Every fix reaches the log: what the broker holds for ingest comes
	// within the ack wait.
	want := fixIDs(fixes)
	nc := connectChild(t, "nats://"+natsAddr, data)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	lr := &logReader{js: js, name: stream.Fixes, ids: map[string]int{}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		lr.poll(t)
		missing, n := missingFrom(want, lr.has())
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d published fixes are not in FIXES, e.g. %s", n, len(want), strings.Join(missing, " "))
		}
		time.Sleep(50 * time.Millisecond)
	}
	nc.Close()
	if err := p.stop(t, 20*time.Second); err != nil {
		t.Fatalf("proxmon serve after SIGTERM: %v\n%s", err, p.out.tail(4000))
	}

	// Read what the service left on disk.
	js = openData(t, data)
	fixMsgs := messages(t, js, stream.Fixes)
	seen := map[string]uint64{}
	for _, m := range fixMsgs {
		if id := m.Header.Get(jetstream.MsgIDHeader); strings.HasPrefix(m.Subject, "proxmon.fix.") {
			if prev, dup := seen[id]; dup {
				t.Errorf("fix %s stored twice: FIXES %d and %d", id, prev, m.Sequence)
			}
			seen[id] = m.Sequence
		}
	}
	snap := snapshotSeq(t, js)
	for _, id := range want {
		if seq := seen[id]; seq > snap {
			t.Errorf("fix %s (FIXES %d) is beyond the engine's last snapshot (%d): not applied at shutdown", id, seq, snap)
		}
	}
	for _, m := range fixMsgs {
		if m.Sequence > snap && !strings.HasPrefix(m.Subject, "proxmon.tick.") {
			t.Errorf("FIXES %d (%s) was written after the engine drained", m.Sequence, m.Subject)
		}
	}

	got := events(t, js)
	replay := replayEvents(t, fixMsgs, snap)
	if !slices.Equal(ids(got), ids(replay)) {
		t.Errorf("EVENTS (%d) differs from the replay of FIXES up to %d (%d):\n%s",
			len(got), snap, len(replay), firstDifference(ids(got), ids(replay)))
	}
	counts := map[string]int{}
	for _, ev := range got {
		counts[string(ev.Type)+"/"+string(ev.Phase)]++
	}
	t.Logf("FIXES: %d records, engine drained to %d; EVENTS: %d events %v", len(fixMsgs), snap, len(got), counts)
	if counts["contact_breach/open"] == 0 || counts["zone_breach/open"] == 0 {
		t.Errorf("the fleet's motion opened no contact or zone breach: %v", counts)
	}
}

// connectChild connects to a proxmon child's NATS listener, with the
// service's secret from its data directory when it has one.
func connectChild(t *testing.T, url, data string) *nats.Conn {
	t.Helper()
	opts := []nats.Option{nats.Name("proxmon test")}
	if b, err := os.ReadFile(filepath.Join(data, "service-secret")); err == nil {
		opts = append(opts, nats.UserInfo(natsd.UserService, strings.TrimSpace(string(b))))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	return nc
}

// openData starts an embedded server without listeners on a data
// directory a stopped proxmon left, and returns its JetStream.
func openData(t *testing.T, data string) jetstream.JetStream {
	t.Helper()
	_, _, js := natsdtest.MustJetStream(t, natsd.Options{Dir: data})
	return js
}

// snapshotSeq returns the FIXES sequence the engine's snapshot covers.
func snapshotSeq(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	obs, err := js.ObjectStore(t.Context(), stream.Snapshots)
	if err != nil {
		t.Fatal(err)
	}
	b, err := obs.GetBytes(t.Context(), "fence-"+stream.Partition)
	if err != nil {
		t.Fatalf("engine snapshot: %v", err)
	}
	var s struct {
		Seq uint64 `json:"seq"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s.Seq
}

// replayEvents runs `proxmon evaluate` on the FIXES records up to sequence
// last, in the log's NDJSON form (received times from the stored
// timestamps), and returns its events.
func replayEvents(t *testing.T, msgs []*jetstream.RawStreamMsg, last uint64) []proxmon.Event {
	t.Helper()
	var ndjson bytes.Buffer
	for _, m := range msgs {
		if m.Sequence > last {
			break
		}
		rec, err := stream.DecodeRecord(m.Data, m.Time)
		if err != nil {
			t.Fatalf("FIXES %d: %v", m.Sequence, err)
		}
		line, err := rec.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		ndjson.Write(line)
		ndjson.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "fixes.ndjson")
	if err := os.WriteFile(path, ndjson.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"evaluate", "--fixes", path}, nil, &out, &errOut); code != exitOK {
		t.Fatalf("evaluate: exit %d: %s", code, errOut.String())
	}
	var evs []proxmon.Event
	dec := json.NewDecoder(&out)
	for dec.More() {
		var ev proxmon.Event
		if err := dec.Decode(&ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// firstDifference shows where two lists part, with a little context.
func firstDifference(got, want []string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, i-2)
	var b strings.Builder
	b.WriteString("first difference at " + strconv.Itoa(i) + "\nEVENTS:\n")
	for _, s := range got[from:min(len(got), i+5)] {
		b.WriteString("  " + s + "\n")
	}
	b.WriteString("replay:\n")
	for _, s := range want[from:min(len(want), i+5)] {
		b.WriteString("  " + s + "\n")
	}
	return b.String()
}

// logReader follows a stream: each poll reads the messages stored since
// the last one.
type logReader struct {
	js   jetstream.JetStream
	name string
	next uint64
	ids  map[string]int // Nats-Msg-Id -> times stored
	msgs []*jetstream.RawStreamMsg
}

func (r *logReader) poll(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	s, err := r.js.Stream(ctx, r.name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.next == 0 {
		r.next = info.State.FirstSeq
	}
	for ; r.next <= info.State.LastSeq && r.next > 0; r.next++ {
		m, err := s.GetMsg(ctx, r.next)
		if err != nil {
			t.Fatalf("%s %d: %v", r.name, r.next, err)
		}
		if id := m.Header.Get(jetstream.MsgIDHeader); id != "" {
			r.ids[id]++
		}
		r.msgs = append(r.msgs, m)
	}
}

func (r *logReader) has() map[string]bool {
	out := make(map[string]bool, len(r.ids))
	for id := range r.ids {
		out[id] = true
	}
	return out
}
