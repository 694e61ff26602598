package natsd_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/proxmon/proxmon/natsd"
)

const testServiceSecret = "service-secret-of-the-tests-0123"

// deviceTable is a natsd.Devices in memory.
type deviceTable struct {
	mu     sync.Mutex
	hashes map[string]string
}

func (d *deviceTable) MQTTPasswordHash(id string) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	h, ok := d.hashes[id]
	return h, ok
}

func (d *deviceTable) set(id, hash string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hashes[id] = hash
}

// mustHash hashes a secret at bcrypt's lowest cost, to keep tests fast.
func mustHash(t testing.TB, secret string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// secured is an embedded server with Auth, listeners on free loopback
// ports, and devices tag-1 and tag-2 with secrets, and phone-0 without.
type secured struct {
	srv  *natsd.Server
	auth *natsd.Auth
	devs *deviceTable
}

func startSecured(t *testing.T, tune func(*natsd.Options, *natsd.AuthOptions)) *secured {
	t.Helper()
	devs := &deviceTable{hashes: map[string]string{
		"tag-1": mustHash(t, "tag-1-secret-0123456789"), "tag-2": mustHash(t, "tag-2-secret-0123456789"),
		"phone-0": "",
	}}
	ao := natsd.AuthOptions{ServiceSecret: testServiceSecret, Devices: devs}
	o := natsd.Options{Dir: t.TempDir(), Listen: "127.0.0.1:0", MQTTListen: "127.0.0.1:0"}
	if tune != nil {
		tune(&o, &ao)
	}
	auth := natsd.NewAuth(ao)
	o.Auth = auth
	srv, err := natsd.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return &secured{srv: srv, auth: auth, devs: devs}
}

var clientSeq atomic.Int64

// connectMQTT connects a real MQTT client once, without retries.
func connectMQTT(url, user, pass string, tlsc *tls.Config, lost chan<- error) (mqtt.Client, error) {
	o := mqtt.NewClientOptions().AddBroker(url).
		// NATS's MQTT listener allows no dot in a client id.
		SetClientID(fmt.Sprintf("test-%d", clientSeq.Add(1))).
		SetUsername(user).SetPassword(pass).SetTLSConfig(tlsc).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(5 * time.Second)
	if lost != nil {
		o.SetConnectionLostHandler(func(_ mqtt.Client, err error) { lost <- err })
	}
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, errors.New("connect: no CONNACK within 10 s")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	return c, nil
}

func mustConnectMQTT(t *testing.T, url, user, pass string, tlsc *tls.Config) mqtt.Client {
	t.Helper()
	c, err := connectMQTT(url, user, pass, tlsc, nil)
	if err != nil {
		t.Fatalf("MQTT connect as %s: %v", user, err)
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c
}

func mustWait(t *testing.T, what string, tok mqtt.Token) {
	t.Helper()
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatalf("%s: no answer within 10 s", what)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func serviceConn(t *testing.T, srv *natsd.Server, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(srv.ClientURL(), append(opts, nats.UserInfo(natsd.UserService, testServiceSecret))...)
	if err != nil {
		t.Fatalf("service NATS connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Who may connect to the MQTT listener, and who may not.
func TestMQTTAuthentication(t *testing.T) {
	s := startSecured(t, nil)
	url := s.srv.MQTTURL()
	cases := []struct {
		name, user, pass string
		ok               bool
	}{
		{"device with its secret", "tag-1", "tag-1-secret-0123456789", true},
		{"ingest with the service secret", natsd.UserIngest, testServiceSecret, true},
		{"alerting with the service secret", natsd.UserAlerting, testServiceSecret, true},
		{"wrong secret", "tag-1", "tag-1-secret-0123456780", false},
		{"another device's secret", "tag-1", "tag-2-secret-0123456789", false},
		{"anonymous", "", "", false},
		{"user without password", "tag-1", "", false},
		{"device no case uses", "tag-404", "tag-1-secret-0123456789", false},
		{"device without a secret", "phone-0", "", false},
		{"not a device id", "tag-1/fix", "tag-1-secret-0123456789", false},
		{"the NATS service user", natsd.UserService, testServiceSecret, false},
		{"ingest with a wrong secret", natsd.UserIngest, "not-the-service-secret-0123", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl, err := connectMQTT(url, c.user, c.pass, nil, nil)
			if cl != nil {
				defer cl.Disconnect(50)
			}
			if c.ok && err != nil {
				t.Errorf("refused: %v", err)
			}
			if !c.ok && err == nil {
				t.Errorf("accepted")
			}
		})
	}
}

// Only the service user connects over NATS: a device's or ingest's
// credentials are good for MQTT only (over NATS they would reach MQTT's
// internal delivery subjects).
func TestNATSAuthentication(t *testing.T) {
	s := startSecured(t, nil)
	cases := []struct {
		name, user, pass string
		ok               bool
	}{
		{"service", natsd.UserService, testServiceSecret, true},
		{"service, wrong secret", natsd.UserService, "not-the-service-secret-0123", false},
		{"anonymous", "", "", false},
		{"device", "tag-1", "tag-1-secret-0123456789", false},
		{"ingest", natsd.UserIngest, testServiceSecret, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var opts []nats.Option
			if c.user != "" {
				opts = append(opts, nats.UserInfo(c.user, c.pass))
			}
			nc, err := nats.Connect(s.srv.ClientURL(), opts...)
			if err == nil {
				defer nc.Close()
			}
			if c.ok != (err == nil) {
				t.Errorf("connect: %v, want ok %v", err, c.ok)
			}
			if !c.ok && err != nil && !errors.Is(err, nats.ErrAuthorization) {
				t.Errorf("refused with %v, want an authorization violation", err)
			}
		})
	}
	// In-process connections authenticate too. (A refused one is not
	// tried here: nats-server then takes its 10 s write deadline to close
	// the pipe.)
	t.Run("in-process", func(t *testing.T) {
		nc, err := nats.Connect("", nats.InProcessServer(s.srv.InProcess()),
			nats.UserInfo(natsd.UserService, testServiceSecret))
		if err != nil {
			t.Fatalf("service in-process: %v", err)
		}
		nc.Close()
	})
}

// A device's publications to topics other than its own fix and status
// never reach anyone. NATS's MQTT listener drops such a message, still
// acknowledges it (PUBACK) and keeps the connection open; the device learns
// nothing.
func TestDevicePublishesOnlyItsOwnTopics(t *testing.T) {
	s := startSecured(t, nil)
	nc := serviceConn(t, s.srv)
	sub, err := nc.SubscribeSync("proxmon.v1.devices.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	dev := mustConnectMQTT(t, s.srv.MQTTURL(), "tag-1", "tag-1-secret-0123456789", nil)
	for _, topic := range []string{
		"proxmon/v1/devices/tag-2/fix",     // another device's
		"proxmon/v1/devices/tag-2/status",  // another device's
		"proxmon/v1/devices/tag-1/warning", // its own, but proxmon's to send
		"proxmon/v1/devices/tag-1/command",
		"proxmon/v1/other",
	} {
		mustWait(t, "PUBACK of "+topic, dev.Publish(topic, 1, false, []byte("forged")))
	}
	// Messages of one connection arrive in order: once the last, allowed,
	// one is in, any forged one would have come before it.
	mustWait(t, "own fix", dev.Publish("proxmon/v1/devices/tag-1/fix", 1, false, []byte("own")))
	mustWait(t, "own status", dev.Publish("proxmon/v1/devices/tag-1/status", 1, false, []byte("own")))
	for _, want := range []string{"proxmon.v1.devices.tag-1.fix", "proxmon.v1.devices.tag-1.status"} {
		m, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("waiting for %s: %v", want, err)
		}
		if m.Subject != want || string(m.Data) != "own" {
			t.Errorf("got %s %q, want %s \"own\"", m.Subject, m.Data, want)
		}
	}
	if n, _, _ := sub.Pending(); n != 0 {
		t.Errorf("%d more messages", n)
	}
	if !dev.IsConnectionOpen() {
		t.Error("connection closed after the refused publications; NATS keeps it open")
	}
}

// A device may subscribe to its own warning and command topics only: not
// another device's, not a wildcard, not its own fix.
func TestDeviceSubscribesOnlyItsOwnTopics(t *testing.T) {
	s := startSecured(t, nil)
	dev := mustConnectMQTT(t, s.srv.MQTTURL(), "tag-1", "tag-1-secret-0123456789", nil)
	got := make(chan mqtt.Message, 4)
	filters := []struct {
		filter  string
		granted bool
	}{
		{"proxmon/v1/devices/tag-1/warning", true},
		{"proxmon/v1/devices/tag-1/command", true},
		{"proxmon/v1/devices/tag-2/warning", false},
		{"proxmon/v1/devices/tag-2/command", false},
		{"proxmon/v1/devices/+/warning", false},
		{"proxmon/v1/devices/tag-1/+", false},
		{"proxmon/v1/devices/#", false},
		{"#", false},
		{"proxmon/v1/devices/tag-1/fix", false},
		{"$MQTT/sub/x", false},
	}
	for _, f := range filters {
		tok := dev.Subscribe(f.filter, 1, func(_ mqtt.Client, m mqtt.Message) { got <- m })
		mustWait(t, "SUBACK of "+f.filter, tok)
		qos := tok.(*mqtt.SubscribeToken).Result()[f.filter]
		if granted := qos != 0x80; granted != f.granted {
			t.Errorf("subscribe %s: SUBACK %#x, want granted %v", f.filter, qos, f.granted)
		}
	}
	// The alerting role's warnings reach the device at QoS 1.
	alerting := mustConnectMQTT(t, s.srv.MQTTURL(), natsd.UserAlerting, testServiceSecret, nil)
	mustWait(t, "warning to tag-2", alerting.Publish("proxmon/v1/devices/tag-2/warning", 1, false, []byte("not yours")))
	mustWait(t, "warning to tag-1", alerting.Publish("proxmon/v1/devices/tag-1/warning", 1, false, []byte("yours")))
	select {
	case m := <-got:
		if m.Topic() != "proxmon/v1/devices/tag-1/warning" || string(m.Payload()) != "yours" || m.Qos() != 1 {
			t.Errorf("device got %s %q at QoS %d", m.Topic(), m.Payload(), m.Qos())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no warning within 10 s")
	}
}

// Ingest subscribes to every device's fixes and statuses and may publish
// nothing; alerting may publish warnings and commands only.
func TestServiceMQTTPermissions(t *testing.T) {
	s := startSecured(t, nil)
	url := s.srv.MQTTURL()
	ing := mustConnectMQTT(t, url, natsd.UserIngest, testServiceSecret, nil)
	got := make(chan string, 8)
	for _, f := range []struct {
		filter  string
		granted bool
	}{
		{"proxmon/v1/devices/+/fix", true},
		{"proxmon/v1/devices/+/status", true},
		{"proxmon/v1/devices/+/warning", false},
		{"#", false},
	} {
		tok := ing.Subscribe(f.filter, 1, func(_ mqtt.Client, m mqtt.Message) { got <- m.Topic() })
		mustWait(t, "SUBACK of "+f.filter, tok)
		if qos := tok.(*mqtt.SubscribeToken).Result()[f.filter]; (qos != 0x80) != f.granted {
			t.Errorf("ingest subscribe %s: SUBACK %#x, want granted %v", f.filter, qos, f.granted)
		}
	}
	alerting := mustConnectMQTT(t, url, natsd.UserAlerting, testServiceSecret, nil)
	mustWait(t, "ingest publishes", ing.Publish("proxmon/v1/devices/tag-1/fix", 1, false, []byte("forged")))
	mustWait(t, "alerting publishes", alerting.Publish("proxmon/v1/devices/tag-1/status", 1, false, []byte("forged")))
	dev := mustConnectMQTT(t, url, "tag-2", "tag-2-secret-0123456789", nil)
	mustWait(t, "device publishes", dev.Publish("proxmon/v1/devices/tag-2/fix", 1, false, []byte("real")))
	select {
	case topic := <-got:
		if topic != "proxmon/v1/devices/tag-2/fix" {
			t.Errorf("ingest got %s first, want the device's fix (a service user's forgery came through)", topic)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ingest got nothing within 10 s")
	}
}

// A device's secret is verified with bcrypt once; its reconnections cost a
// cache lookup, until its hash changes.
func TestVerificationCached(t *testing.T) {
	s := startSecured(t, nil)
	url := s.srv.MQTTURL()
	const n = 20
	for i := range n {
		c, err := connectMQTT(url, "tag-1", "tag-1-secret-0123456789", nil, nil)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		c.Disconnect(0)
	}
	if got := s.auth.Stats().Verifications; got != 1 {
		t.Errorf("%d bcrypt verifications over %d connections, want 1", got, n)
	}
	// A new secret: the old one stops working at once, the new one is
	// verified once.
	s.devs.set("tag-1", mustHash(t, "tag-1-new-secret-0123456789"))
	if c, err := connectMQTT(url, "tag-1", "tag-1-secret-0123456789", nil, nil); err == nil {
		c.Disconnect(0)
		t.Fatal("the replaced secret still connects")
	}
	for i := range n {
		c, err := connectMQTT(url, "tag-1", "tag-1-new-secret-0123456789", nil, nil)
		if err != nil {
			t.Fatalf("new secret, connection %d: %v", i, err)
		}
		c.Disconnect(0)
	}
	if got := s.auth.Stats().Verifications; got != 3 {
		t.Errorf("%d bcrypt verifications, want 3 (first, replaced secret refused, new secret)", got)
	}
	// A wrong secret is verified every time: failures are not cached.
	for range 2 {
		if c, err := connectMQTT(url, "tag-1", "wrong-secret-0123456789", nil, nil); err == nil {
			c.Disconnect(0)
			t.Fatal("wrong secret accepted")
		}
	}
	if st := s.auth.Stats(); st.Verifications != 5 || st.Refused != 3 {
		t.Errorf("stats %+v, want 5 verifications, 3 refused", st)
	}
}

// Until SetDevices, every device is refused; the service's users are not.
func TestDevicesNotYetLoaded(t *testing.T) {
	var devs natsd.Devices
	s := startSecured(t, func(_ *natsd.Options, ao *natsd.AuthOptions) {
		devs, ao.Devices = ao.Devices, nil
	})
	url := s.srv.MQTTURL()
	if c, err := connectMQTT(url, "tag-1", "tag-1-secret-0123456789", nil, nil); err == nil {
		c.Disconnect(0)
		t.Fatal("device accepted before the device list was loaded")
	}
	mustConnectMQTT(t, url, natsd.UserIngest, testServiceSecret, nil)
	s.auth.SetDevices(devs)
	mustConnectMQTT(t, url, "tag-1", "tag-1-secret-0123456789", nil)
}

// Disconnect closes a device's connections, as when its secret changes.
func TestDisconnect(t *testing.T) {
	s := startSecured(t, nil)
	lost := make(chan error, 1)
	c, err := connectMQTT(s.srv.MQTTURL(), "tag-1", "tag-1-secret-0123456789", nil, lost)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(0)
	other := mustConnectMQTT(t, s.srv.MQTTURL(), "tag-2", "tag-2-secret-0123456789", nil)
	if n := s.srv.Disconnect("tag-1"); n != 1 {
		t.Errorf("Disconnect closed %d connections, want 1", n)
	}
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatal("connection still up 10 s after Disconnect")
	}
	if !other.IsConnectionOpen() {
		t.Error("another device's connection was closed")
	}
}

// Disconnect with several users closes exactly their connections: every
// one of each (a device may hold more than one), and none of anybody else.
func TestDisconnectMany(t *testing.T) {
	s := startSecured(t, nil)
	s.devs.set("tag-3", mustHash(t, "tag-3-secret-0123456789"))
	url := s.srv.MQTTURL()
	lost := make(chan error, 3)
	for _, user := range []string{"tag-1", "tag-1", "tag-2"} {
		c, err := connectMQTT(url, user, user+"-secret-0123456789", nil, lost)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Disconnect(0)
	}
	other := mustConnectMQTT(t, url, "tag-3", "tag-3-secret-0123456789", nil)
	service := serviceConn(t, s.srv)

	if n := s.srv.Disconnect(); n != 0 {
		t.Errorf("Disconnect of nobody closed %d connections", n)
	}
	if n := s.srv.Disconnect("tag-1", "tag-404", "tag-2"); n != 3 {
		t.Errorf("Disconnect closed %d connections, want 3", n)
	}
	for range 3 {
		select {
		case <-lost:
		case <-time.After(10 * time.Second):
			t.Fatal("a named device's connection still up 10 s after Disconnect")
		}
	}
	if !other.IsConnectionOpen() {
		t.Error("another device's connection was closed")
	}
	if !service.IsConnected() {
		t.Error("the service's connection was closed")
	}
}
