package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/stream"
)

// replayCases adds an exclusion zone 11.1 km north of the victim to
// serveCases' contact ban.
var replayCases = serveCases + `    zones:
      - {id: school, kind: exclusion, circle: {center: [4.47, 52.02], radius_m: 300}, buffer_m: 500}
`

// session appends records to the live service's log one at a time and
// waits until the engine applied each, so the log order is the test's.
type session struct {
	t    *testing.T
	s    *Service
	last uint64
}

func (ss *session) add(r proxmon.Record) {
	ss.t.Helper()
	seq, err := stream.AppendSync(ss.t.Context(), ss.s.js, &r)
	if err != nil {
		ss.t.Fatal(err)
	}
	ss.last = seq
	waitFor(ss.t, "engine at "+strconv.FormatUint(seq, 10), func() bool { return ss.s.runner.Applied() >= seq })
}

func (ss *session) fix(seq uint64, at time.Time, northM float64) {
	ss.add(proxmon.Record{Kind: proxmon.RecordFix, Fix: tagAt(seq, at, northM)})
}

func (ss *session) status(at time.Time, open bool, battery int, jamming bool) {
	ss.add(proxmon.Record{Kind: proxmon.RecordStatus, Status: proxmon.Status{Device: "tag-1", Time: at,
		StrapOpen: proxmon.FlagOf(open), CaseTamper: proxmon.FlagOf(false), Jamming: proxmon.FlagOf(jamming),
		HasBattery: true, BatteryPct: battery}})
}

// liveEvents returns the events EVENTS holds whose input record was stored
// in [from, to), in order.
func liveEvents(t *testing.T, js jetstream.JetStream, from, to time.Time) []proxmon.Event {
	t.Helper()
	fixes := messages(t, js, stream.Fixes)
	stored := map[uint64]time.Time{}
	for _, m := range fixes {
		stored[m.Sequence] = m.Time
	}
	var out []proxmon.Event
	for _, m := range messages(t, js, stream.Events) {
		in, err := strconv.ParseUint(m.Header.Get(stream.HeaderInputSeq), 10, 64)
		if err != nil {
			continue
		}
		if at := stored[in]; at.Before(from) || !at.Before(to) {
			continue
		}
		var ev proxmon.Event
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

func parseEvents(t *testing.T, out string) []proxmon.Event {
	t.Helper()
	var evs []proxmon.Event
	for line := range strings.Lines(out) {
		var ev proxmon.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		evs = append(evs, ev)
	}
	return evs
}

// A session recorded live through the service (contact, zone, late zone,
// anomaly, tamper, battery and jamming events) is reproduced exactly by
// `proxmon replay` over its period, starting from a history snapshot
// taken before the period; other cases answer what they would have caught.
func TestReplayEqualsLive(t *testing.T) {
	dir := t.TempDir()
	casesFile := filepath.Join(dir, "cases.yaml")
	if err := os.WriteFile(casesFile, []byte(replayCases), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startService(t, dir, casesFile)
	defer closeService(t, s)
	ss := &session{t: t, s: s}
	t0 := time.Now().UTC().Add(-15 * time.Minute).Truncate(time.Millisecond)
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

	// Before the period: the warning opens.
	v := victim
	v.Seq, v.Time = 1, at(0)
	ss.add(proxmon.Record{Kind: proxmon.RecordFix, Fix: v})
	ss.fix(1, at(60), 3000)
	ss.fix(2, at(120), 1200)
	obs, err := s.js.ObjectStore(t.Context(), stream.Snapshots)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a history snapshot", func() bool {
		infos, _ := obs.List(t.Context())
		return slices.ContainsFunc(infos, func(in *jetstream.ObjectInfo) bool {
			return strings.HasPrefix(in.Name, "fence-0.h.")
		})
	})
	from := time.Now()

	ss.fix(3, at(180), 400) // breach
	ss.status(at(185), true, 10, false)
	ss.fix(4, at(240), 3000)    // breach and warning close
	ss.fix(5, at(900), 10_400)  // zone approach
	ss.fix(6, at(960), 11_100)  // zone breach
	ss.fix(7, at(950), 11_050)  // late, inside: late_zone_breach
	ss.fix(8, at(970), 111_000) // 100 km in 10 s: anomaly
	ss.fix(9, at(1700), 3000)   // zone events and anomaly close
	ss.status(at(1710), false, 90, true)
	ss.status(at(1720), false, 90, false)
	to := time.Now()
	ss.fix(10, at(1800), 400) // after the period

	live := liveEvents(t, s.js, from, to)
	t.Logf("%d live events in the period", len(live))
	types := map[proxmon.EventType]bool{}
	for _, ev := range live {
		types[ev.Type] = true
	}
	for _, want := range []proxmon.EventType{proxmon.ContactBreach, proxmon.ContactWarning, proxmon.ZoneApproach,
		proxmon.ZoneBreach, proxmon.LateZoneBreach, proxmon.GPSAnomaly, proxmon.Tamper, proxmon.BatteryLow, proxmon.Jamming} {
		if !types[want] {
			t.Errorf("the live session raised no %s: %v", want, ids(live))
		}
	}

	args := append([]string{"replay", "--from", from.Format(time.RFC3339Nano), "--to", to.Format(time.RFC3339Nano)}, toolArgs(s)...)
	r := runCmd(t, "", args...)
	if r.code != exitOK {
		t.Fatalf("replay: exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "the snapshot of") {
		t.Errorf("replay did not start from a snapshot: %s", r.stderr)
	}
	replayed := parseEvents(t, r.stdout)
	if !slices.EqualFunc(live, replayed, func(a, b proxmon.Event) bool {
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		return string(ja) == string(jb)
	}) {
		t.Errorf("replay differs from live\nlive:   %v\nreplay: %v", ids(live), ids(replayed))
	}

	// A wider ban: it would have caught the tag at 3 km.
	wider := strings.Replace(replayCases, "alert_m: 500, warn_m: 1500", "alert_m: 5000, warn_m: 6000", 1)
	widerFile := filepath.Join(dir, "wider.yaml")
	if err := os.WriteFile(widerFile, []byte(wider), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runCmd(t, "", append(args, "--cases", widerFile, "--case", "case-1")...)
	if r.code != exitOK {
		t.Fatalf("replay --cases: exit %d: %s", r.code, r.stderr)
	}
	caught := parseEvents(t, r.stdout)
	if !slices.ContainsFunc(caught, func(ev proxmon.Event) bool {
		return ev.Type == proxmon.ContactBreach && ev.Phase == proxmon.PhaseOpen && !hasEvent(live, ev.ID)
	}) {
		t.Errorf("the wider ban caught no breach the live one missed: %v", ids(caught))
	}
}
