package main

import (
	"crypto/tls"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/ingest"
	"github.com/proxmon/proxmon/stream"
)

// fleetCases are the cases of the crash and broker tests: a contact ban
// (tag-a must keep 500 m from phone-a) and an exclusion zone (tag-b must
// stay out of home-b). Each device has an MQTT secret, fleetSecret(id),
// hashed at bcrypt's lowest cost to keep the tests fast.
const fleetCases = `devices:
  - {id: tag-a, kind: tag, report_interval_s: 600, mqtt_password_bcrypt: "$2a$04$k0OLD43SyOkWOtU5vfnld.BDzmpZCV3f8dpKdM6UuxvUvCWezpMAO"}
  - {id: phone-a, kind: victim, report_interval_s: 600, mqtt_password_bcrypt: "$2a$04$cYVKHMenozMtV1G7z1oRe.SP7vhVPnh104U2hqRHMsB5vhoGK0Mya"}
  - {id: tag-b, kind: tag, report_interval_s: 600, mqtt_password_bcrypt: "$2a$04$TjAqvKYQ1QzrSRHt53WzYOdWPki9zqVRRNLuO87hvNrSnMVX20BcW"}
cases:
  - id: case-a
    risk: high
    offender: tag-a
    contact_bans:
      - {protected: phone-a, alert_m: 500, warn_m: 1500}
  - id: case-b
    risk: medium
    offender: tag-b
    zones:
      - id: home-b
        kind: exclusion
        circle: {center: [4.40, 51.90], radius_m: 300}
        buffer_m: 500
`

var fleetDevices = []string{"tag-a", "phone-a", "tag-b"}

// fleetStep is the GPS time between two fixes of the fleet. The fleet's
// GPS clock starts fleetLead in the past, so that 3,000 fixes stay behind
// the wall clock (ingest refuses fixes from the future) and within the
// devices' staleness limit (3 x 600 s) of the log's clock.
const (
	fleetStep = 500 * time.Millisecond
	fleetLead = 25 * time.Minute
)

func fleetSecret(device string) string { return device + "-secret-0123456789" }

// fleetFix returns the fleet's i-th fix: tag-a swings between 3 km and
// 200 m north of phone-a, tag-b between 1.5 km from home-b's centre and its
// centre, so contact and zone events open and close all the time; phone-a
// reports one fix in four. The fixes are fleetStep apart in GPS time, from
// start, so the tags move at a possible speed (under 300 km/h) however
// fast the test sends them.
func fleetFix(i int, start time.Time) proxmon.Fix {
	// A triangle wave between 1 and 0 over 80 steps of four fixes: tag-a
	// moves at most 70 m in 1.5 s.
	tri := func(k int) float64 { return math.Abs(float64(k%80)-40) / 40 }
	f := proxmon.Fix{Seq: uint64(i + 1), Time: start.Add(time.Duration(i) * fleetStep),
		AccuracyM: 5, Source: proxmon.SourceGNSS}
	switch i % 4 {
	case 0, 1:
		f.Device = "tag-a"
		f.Lat, f.Lon = 51.92+(200+2800*tri(i/4))/111_200, 4.47
	case 2:
		f.Device = "tag-b"
		f.Lat, f.Lon = 51.90+1500*tri(i/4)/111_200, 4.40
	default:
		f.Device = "phone-a"
		f.Lat, f.Lon = 51.92, 4.47
	}
	return f
}

// fleet is a set of devices, one paho client each, that publish fixes with
// QoS 1 as real devices do: a persistent session (CleanSession false, a
// stable client id) and a store that keeps every fix until the broker's
// PUBACK, so a fix sent while the broker is away or restarting is sent
// again after the reconnect.
//
// paho completes a publish token when the message is acknowledged, but also
// when a reconnect re-sends it under a new token; so the test asks for
// every published fix in the log, which includes every acknowledged one.
type fleet struct {
	clients map[string]mqtt.Client
	start   time.Time // GPS time of the first fix

	mu     sync.Mutex
	fixes  []proxmon.Fix
	tokens []mqtt.Token

	stop chan struct{}
	done chan struct{}
}

// fleetOptions are a device's client options.
func fleetOptions(broker, device string, tlsConfig *tls.Config) *mqtt.ClientOptions {
	return mqtt.NewClientOptions().AddBroker(broker).
		SetClientID("fleet-" + device).SetUsername(device).SetPassword(fleetSecret(device)).
		SetTLSConfig(tlsConfig).
		SetCleanSession(false).SetStore(mqtt.NewMemoryStore()).
		SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(100 * time.Millisecond).
		SetMaxReconnectInterval(250 * time.Millisecond).
		SetConnectTimeout(2 * time.Second).
		SetKeepAlive(5 * time.Second)
}

// connectFleet connects every device of fleetDevices to the broker.
func connectFleet(t *testing.T, broker string, tlsConfig *tls.Config) *fleet {
	t.Helper()
	f := &fleet{clients: map[string]mqtt.Client{}, start: time.Now().UTC().Add(-fleetLead).Truncate(time.Millisecond)}
	for _, d := range fleetDevices {
		c := mqtt.NewClient(fleetOptions(broker, d, tlsConfig))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("device %s: connect %s: %v", d, broker, tok.Error())
		}
		f.clients[d] = c
		t.Cleanup(func() { c.Disconnect(100) })
	}
	return f
}

// publish sends the fleet's next fix and returns it.
func (f *fleet) publish() proxmon.Fix {
	f.mu.Lock()
	defer f.mu.Unlock()
	fix := fleetFix(len(f.fixes), f.start)
	tok := f.clients[fix.Device].Publish(ingest.TopicPrefix+fix.Device+"/fix", 1, false, ingest.EncodeFix(fix))
	f.fixes = append(f.fixes, fix)
	f.tokens = append(f.tokens, tok)
	return fix
}

// stream publishes a fix every interval until stopStreaming.
func (f *fleet) stream(every time.Duration) {
	f.stop, f.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(f.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-f.stop:
				return
			case <-t.C:
				f.publish()
			}
		}
	}()
}

func (f *fleet) stopStreaming() {
	close(f.stop)
	<-f.done
}

// published returns how many fixes the fleet has published.
func (f *fleet) published() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.fixes)
}

// waitPublished waits until the fleet has published n fixes in all.
func (f *fleet) waitPublished(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for f.published() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the fleet published %d fixes in 30 s, want %d", f.published(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settle waits until every publish token has completed (see fleet) and
// returns the fixes, and how many tokens ended in an error: paho reports a
// publish whose write broke with the connection as failed, yet keeps it in
// its store and sends it again after the reconnect. The test's proof is
// the log.
func (f *fleet) settle(t *testing.T, timeout time.Duration) (fixes []proxmon.Fix, failed int) {
	t.Helper()
	f.mu.Lock()
	fixes = append(fixes, f.fixes...)
	tokens := append([]mqtt.Token(nil), f.tokens...)
	f.mu.Unlock()
	deadline := time.Now().Add(timeout)
	for i, tok := range tokens {
		if !tok.WaitTimeout(time.Until(deadline)) {
			t.Fatalf("fix %s: no PUBACK within %v", stream.FixMsgID(&fixes[i]), timeout)
		}
		if tok.Error() != nil {
			failed++
		}
	}
	return fixes, failed
}

// fixIDs returns the Nats-Msg-Ids of fixes.
func fixIDs(fixes []proxmon.Fix) []string {
	ids := make([]string, len(fixes))
	for i := range fixes {
		ids[i] = stream.FixMsgID(&fixes[i])
	}
	return ids
}

// missingFrom returns the ids that are not in have, at most 10 of them, and
// how many are missing.
func missingFrom(want []string, have map[string]bool) ([]string, int) {
	var out []string
	n := 0
	for _, id := range want {
		if !have[id] {
			if n++; n <= 10 {
				out = append(out, id)
			}
		}
	}
	return out, n
}

func fmtDur(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }
