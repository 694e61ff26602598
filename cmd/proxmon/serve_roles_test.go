package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/ingest"
	"github.com/proxmon/proxmon/natsd"
	"github.com/proxmon/proxmon/proto/proxmonv1"
	"github.com/proxmon/proxmon/stream"
)

// rolesCases is serveCases with an exclusion zone 5 km east of the
// protected person: a depot the offender must keep away from.
var rolesCases = serveCases + `    zones:
      - id: depot
        kind: exclusion
        circle: {center: [` + strconv.FormatFloat(victim.Lon+depotEastM/metresPerLonDegree, 'f', 7, 64) + `, 51.92], radius_m: 100}
        buffer_m: 300
`

const (
	depotEastM         = 5000.0
	metresPerLonDegree = 68_700.0 // at 51.92° N, near enough for placing a fix
)

// tagEast places tag-1 eastM east of the protected person.
func tagEast(seq uint64, t time.Time, eastM float64) proxmon.Fix {
	f := tagAt(seq, t, 0)
	f.Lon += eastM / metresPerLonDegree
	return f
}

// startRoles opens the service with every role on dir, free ports, fast
// clocks and a short MQTT redelivery wait.
func startRoles(t *testing.T, dir, cases string) *Service {
	t.Helper()
	s := &Service{cfg: &serveConfig{
		Data: dir, MQTTListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0", rolesConfig: rolesConfig{HTTPListen: "127.0.0.1:0"},
		Roles: availableRoles, Cases: cases, ClientID: ingest.DefaultClientID,
		TickEvery: 100 * time.Millisecond, HeartbeatEvery: 100 * time.Millisecond,
		SnapshotEvery: 500 * time.Millisecond,
	}}
	s.cfg.MQTTAckWait = 300 * time.Millisecond
	if testing.Verbose() {
		s.cfg.Log = slogForTest(t)
	}
	if err := s.cfg.validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { closeService(t, s) })
	return s
}

// inbox collects what a device receives on its warning and command topics.
type inbox struct {
	mu       sync.Mutex
	warnings []*proxmonv1.Warning
	commands []*proxmonv1.Command
	payloads [][]byte
}

func subscribe(t *testing.T, c mqtt.Client, id string) *inbox {
	t.Helper()
	in := &inbox{}
	handle := func(_ mqtt.Client, m mqtt.Message) {
		in.mu.Lock()
		defer in.mu.Unlock()
		in.payloads = append(in.payloads, m.Payload())
		if strings.HasSuffix(m.Topic(), "/warning") {
			w := &proxmonv1.Warning{}
			if err := proto.Unmarshal(m.Payload(), w); err != nil {
				t.Errorf("%s: %v", m.Topic(), err)
			}
			in.warnings = append(in.warnings, w)
			return
		}
		cmd := &proxmonv1.Command{}
		if err := proto.Unmarshal(m.Payload(), cmd); err != nil {
			t.Errorf("%s: %v", m.Topic(), err)
		}
		in.commands = append(in.commands, cmd)
	}
	for _, topic := range []string{ingest.TopicPrefix + id + "/warning", ingest.TopicPrefix + id + "/command"} {
		if tok := c.Subscribe(topic, 1, handle); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("%s subscribes to %s: %v", id, topic, tok.Error())
		}
	}
	return in
}

func (in *inbox) counts() (warnings, commands int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.warnings), len(in.commands)
}

// scrape returns the api role's metrics, series (name{labels}) -> value.
func scrape(t *testing.T, s *Service) map[string]float64 {
	t.Helper()
	code, body := httpGet(t, "http://"+s.roles.api.Addr()+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func float64Bytes(x float64) []byte {
	return binary.LittleEndian.AppendUint64(nil, math.Float64bits(x))
}

// TestServeRoles runs every role end to end: the protected person's device
// receives the warnings of an approach (level and band, never where the
// offender is) and the pursuit commands, the tag a vibration on approaching
// its exclusion zone and nothing about her; /metrics counts what happened;
// a full log stops acceptance visibly and loses nothing.
func TestServeRoles(t *testing.T) {
	dir := t.TempDir()
	casesFile := filepath.Join(dir, "cases.yaml")
	if err := os.WriteFile(casesFile, []byte(rolesCases), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startRoles(t, filepath.Join(dir, "data"), casesFile)
	devs := devices(t, s)
	phone := subscribe(t, devs["phone-1"], "phone-1")
	tag := subscribe(t, devs["tag-1"], "tag-1")

	base := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Millisecond)
	v := victim
	v.Seq, v.Time = 1, base
	far := tagAt(1, base.Add(10*time.Second), 3000)
	warn := tagAt(2, base.Add(60*time.Second), 1200)
	breach := tagAt(3, base.Add(90*time.Second), 400)
	away := tagAt(4, base.Add(150*time.Second), 3000)
	// 250 m west of the depot's centre: 150 m from its edge, in its
	// 300 m approach band. Recent, so vibrating still makes sense.
	depot := tagEast(5, time.Now().UTC().Add(-5*time.Second).Truncate(time.Millisecond), depotEastM-250)
	fixes := []proxmon.Fix{v, far, warn, breach, away, depot}
	for _, f := range fixes {
		publishStored(t, s, devs[f.Device], f)
	}

	t.Run("victim warned", func(t *testing.T) {
		waitFor(t, "four warnings and two commands at the phone", func() bool {
			w, c := phone.counts()
			return w >= 4 && c >= 2
		})
		phone.mu.Lock()
		defer phone.mu.Unlock()
		type warning struct {
			id     string
			level  proxmonv1.WarningLevel
			within uint32
		}
		want := []warning{
			{contactID(proxmon.ContactWarning, proxmon.PhaseOpen, warn), proxmonv1.WarningLevel_WARNING_LEVEL_CAUTION, 1500},
			{contactID(proxmon.ContactBreach, proxmon.PhaseOpen, breach), proxmonv1.WarningLevel_WARNING_LEVEL_DANGER, 500},
			{contactID(proxmon.ContactBreach, proxmon.PhaseClose, away), proxmonv1.WarningLevel_WARNING_LEVEL_CAUTION, 1500},
			{contactID(proxmon.ContactWarning, proxmon.PhaseClose, away), proxmonv1.WarningLevel_WARNING_LEVEL_ALL_CLEAR, 0},
		}
		now := time.Now()
		for i, w := range phone.warnings {
			if i >= len(want) {
				t.Errorf("extra warning %v", w)
				continue
			}
			got := warning{w.GetEventId(), w.GetLevel(), w.GetWithinM()}
			if got != want[i] {
				t.Errorf("warning %d: %+v, want %+v", i, got, want[i])
			}
			if !w.GetExpires().AsTime().After(now) || w.GetDrill() {
				t.Errorf("warning %d: expires %v, drill %v", i, w.GetExpires().AsTime(), w.GetDrill())
			}
			if len(w.ProtoReflect().GetUnknown()) != 0 {
				t.Errorf("warning %d carries fields the contract does not have", i)
			}
		}
		for i, p := range phone.payloads {
			for _, f := range fixes[1:] {
				if bytes.Contains(p, float64Bytes(f.Lat)) || bytes.Contains(p, float64Bytes(f.Lon)) {
					t.Errorf("message %d to the phone carries the tag's position", i)
				}
			}
			if bytes.Contains(p, []byte("tag-1")) {
				t.Errorf("message %d to the phone names the tag", i)
			}
		}
		var intervals []uint32
		for _, c := range phone.commands {
			if c.GetReason() != proxmonv1.CommandReason_COMMAND_REASON_PURSUIT || c.GetSetReportInterval() == nil {
				t.Errorf("phone command %v", c)
			}
			intervals = append(intervals, c.GetSetReportInterval().GetIntervalS())
		}
		if fmt.Sprint(intervals) != "[15 600]" {
			t.Errorf("phone told to report every %v s, want 15 while the offender is near, then its 600 again", intervals)
		}
	})

	t.Run("tag commanded", func(t *testing.T) {
		waitFor(t, "the vibration at the tag", func() bool { _, c := tag.counts(); return c >= 1 })
		tag.mu.Lock()
		defer tag.mu.Unlock()
		if len(tag.warnings) != 0 || len(tag.commands) != 1 {
			t.Fatalf("tag got %d warnings, %d commands; want only the vibration", len(tag.warnings), len(tag.commands))
		}
		c := tag.commands[0]
		if c.GetVibrate() == nil || c.GetVibrate().GetDurationMs() == 0 ||
			c.GetReason() != proxmonv1.CommandReason_COMMAND_REASON_ZONE_APPROACH || !c.GetExpires().AsTime().After(time.Now()) {
			t.Errorf("tag command %v, want a vibration for the zone approach, not expired", c)
		}
		if bytes.Contains(tag.payloads[0], []byte("phone-1")) {
			t.Error("the tag's command names the protected person")
		}
	})

	t.Run("metrics", func(t *testing.T) {
		for _, r := range []struct {
			reason, device string
			payload        []byte
		}{
			{"undecodable", "tag-1", []byte{0xff, 0xff, 0xff}},
			{"bad_coordinates", "tag-1", ingest.EncodeFix(proxmon.Fix{Device: "tag-1", Seq: 90, Time: time.Now().UTC(), Lat: 91, Lon: 4})},
			{"device_mismatch", "phone-1", ingest.EncodeFix(far)},
		} {
			publish(t, devs[r.device], ingest.TopicPrefix+r.device+"/fix", r.payload)
		}
		want := map[string]float64{
			`proxmon_ingest_received_total{kind="fix"}`:                       9,
			`proxmon_ingest_stored_total{kind="fix"}`:                         6,
			`proxmon_ingest_stored_total{kind="rejection"}`:                   3,
			`proxmon_ingest_rejected_total{reason="undecodable"}`:             1,
			`proxmon_ingest_rejected_total{reason="bad_coordinates"}`:         1,
			`proxmon_ingest_rejected_total{reason="device_mismatch"}`:         1,
			`proxmon_ingest_rejected_total{reason="unknown_device"}`:          0,
			`proxmon_ingest_store_failing`:                                    0,
			`proxmon_events_total{severity="high",type="contact_warning"}`:    2,
			`proxmon_events_total{severity="critical",type="contact_breach"}`: 2,
			`proxmon_events_total{severity="info",type="zone_approach"}`:      1,
			`proxmon_event_latency_seconds_count{record="fix"}`:               5,
			`proxmon_alerting_warnings_sent_total{level="caution"}`:           2,
			`proxmon_alerting_warnings_sent_total{level="danger"}`:            1,
			`proxmon_alerting_warnings_sent_total{level="all_clear"}`:         1,
			`proxmon_alerting_commands_sent_total{action="vibrate"}`:          1,
			`proxmon_alerting_commands_sent_total{action="report_interval"}`:  2,
			`proxmon_alerting_events_total{result="handled"}`:                 5,
			`proxmon_alerting_warnings_active`:                                0,
			`proxmon_devices_tracked`:                                         2,
			`proxmon_devices_offline`:                                         0,
			`proxmon_engine_lag_records`:                                      0,
			`proxmon_mqtt_connected{client="ingest"}`:                         1,
			`proxmon_mqtt_connected{client="alerting"}`:                       1,
			`proxmon_ready`:                   1,
			`proxmon_alerting_events_pending`: 0,
			`proxmon_nats_connected`:          1,
		}
		var got map[string]float64
		deadline := time.Now().Add(15 * time.Second)
		for {
			got = scrape(t, s)
			diff := []string{}
			for k, v := range want {
				if got[k] != v {
					diff = append(diff, fmt.Sprintf("%s = %v, want %v", k, got[k], v))
				}
			}
			if len(diff) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("metrics:\n%s", strings.Join(diff, "\n"))
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, k := range []string{`proxmon_stream_bytes{stream="FIXES"}`, `proxmon_stream_bytes{stream="EVENTS"}`,
			`proxmon_stream_bytes{stream="REJECTED"}`, `proxmon_jetstream_store_bytes`, `proxmon_jetstream_store_limit_bytes`} {
			if got[k] <= 0 {
				t.Errorf("%s = %v, want > 0", k, got[k])
			}
		}
	})

	t.Run("full log", func(t *testing.T) {
		ctx := t.Context()
		fx, err := s.js.Stream(ctx, stream.Fixes)
		if err != nil {
			t.Fatal(err)
		}
		info, err := fx.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cfg := info.Config
		cfg.MaxBytes, cfg.Discard = int64(info.State.Bytes), jetstream.DiscardNew
		if _, err := s.js.UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		again := tagEast(6, time.Now().UTC().Truncate(time.Millisecond), depotEastM-260)
		publishFix(t, devs["tag-1"], again)
		waitFor(t, "proxmon_ingest_store_failing", func() bool {
			m := scrape(t, s)
			return m["proxmon_ingest_store_failing"] == 1 && m[`proxmon_ingest_store_failures_total{error="full"}`] >= 1
		})
		if hasFix(t, s, again) {
			t.Fatal("a fix stored in a full log")
		}
		// Room again: the broker kept the fix and delivers it anew.
		if err := stream.Setup(ctx, s.js, stream.Config{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the kept fix stored", func() bool { return hasFix(t, s, again) })
		waitFor(t, "proxmon_ingest_store_failing cleared", func() bool {
			return scrape(t, s)["proxmon_ingest_store_failing"] == 0
		})
	})
}

func hasFix(t *testing.T, s *Service, f proxmon.Fix) bool {
	t.Helper()
	id := stream.FixMsgID(&f)
	for _, m := range messages(t, s.js, stream.Fixes) {
		if m.Header.Get(jetstream.MsgIDHeader) == id {
			return true
		}
	}
	return false
}

// /readyz is false while the engine catches up on a backlog and while NATS
// is away, and true otherwise; /healthz is true throughout.
func TestServeReadiness(t *testing.T) {
	dir := t.TempDir()
	// An external NATS server, whose log holds a backlog.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	natsAddr := ln.Addr().String()
	ln.Close()
	startNATS := func() *natsd.Server {
		srv, err := natsd.Start(natsd.Options{Dir: filepath.Join(dir, "nats"), Listen: natsAddr})
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	srv := startNATS()
	defer func() { srv.Shutdown() }()
	backlog := 20_000
	if testing.Short() {
		backlog = 10_000
	}
	fillLog(t, srv, backlog)

	s := &Service{cfg: &serveConfig{Data: filepath.Join(dir, "data"), NATSURL: srv.ClientURL(),
		rolesConfig: rolesConfig{HTTPListen: "127.0.0.1:0"}, Roles: []string{roleFence, roleAPI}, TickEvery: 100 * time.Millisecond,
		SnapshotEvery: time.Second}}
	if testing.Verbose() {
		s.cfg.Log = slogForTest(t)
	}
	if err := s.cfg.validate(); err != nil {
		t.Fatal(err)
	}
	if err := s.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer closeService(t, s)
	base := "http://" + s.roles.api.Addr()
	code, body := httpGet(t, base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "engine: catching up on the log") {
		t.Errorf("/readyz with a backlog of %d records: %d %q", backlog, code, body)
	}
	if code, _ := httpGet(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	waitFor(t, "ready after the backlog", func() bool { code, _ := httpGet(t, base+"/readyz"); return code == http.StatusOK })

	srv.Shutdown()
	waitFor(t, "not ready without NATS", func() bool {
		code, body := httpGet(t, base+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "nats: connection")
	})
	if code, _ := httpGet(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz without NATS: %d", code)
	}
	srv = startNATS()
	waitFor(t, "ready with NATS back", func() bool { code, _ := httpGet(t, base+"/readyz"); return code == http.StatusOK })
}

// fillLog appends n heartbeats to the log of the server.
func fillLog(t *testing.T, srv *natsd.Server, n int) {
	t.Helper()
	nc, err := nats.Connect("", nats.InProcessServer(srv.InProcess()))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Setup(t.Context(), js, stream.Config{}); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Add(-time.Hour)
	for i := range n {
		r := proxmon.Record{Kind: proxmon.RecordHeartbeat, Time: at.Add(time.Duration(i) * time.Millisecond)}
		data, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.PublishAsync("proxmon.heartbeat."+stream.Partition, data); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("backlog not stored in 30 s")
	}
}

func TestServeRolesFlags(t *testing.T) {
	cases := []struct {
		args  []string
		fault string // "" for valid
	}{
		{nil, ""},
		{[]string{"--http-listen", "0.0.0.0:8080"}, `--http-listen "0.0.0.0:8080" listens beyond loopback`},
		{[]string{"--http-listen", "0.0.0.0:8080", "--insecure"}, ""},
		{[]string{"--http-listen", "0.0.0.0:8080", "--roles", "ingest,fence,alerting"}, ""},
		{[]string{"--http-listen", "8080"}, `--http-listen "8080": want host:port`},
		{[]string{"--roles", "alerting", "--mqtt-listen", ""}, "--mqtt-listen: the alerting role needs an MQTT broker"},
		{[]string{"--roles", "alerting", "--nats", "nats://127.0.0.1:4222", "--mqtt", "tcp://127.0.0.1:1883"}, ""},
		{[]string{"--alerting-client-id", "a b"}, `--alerting-client-id "a b"`},
	}
	for _, c := range cases {
		cfg, err := parseServe(append([]string{"--data", t.TempDir()}, c.args...), io.Discard)
		switch {
		case c.fault == "" && err != nil:
			t.Errorf("%q: %v", c.args, err)
		case c.fault != "" && (err == nil || !strings.Contains(err.Error(), c.fault)):
			t.Errorf("%q: error %v, want %q", c.args, err, c.fault)
		case c.args == nil && strings.Join(cfg.Roles, ",") != "ingest,fence,alerting,api":
			t.Errorf("default roles %q", cfg.Roles)
		}
	}
}
