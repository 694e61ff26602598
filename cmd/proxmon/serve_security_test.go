package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/crypto/bcrypt"

	"github.com/proxmon/proxmon/ingest"
	"github.com/proxmon/proxmon/natsd/natsdtest"
	"github.com/proxmon/proxmon/stream"
)

// openService opens the service on dir like startService, with the
// configuration changed by tune first.
func openService(t *testing.T, dir, cases string, tune func(*serveConfig)) (*Service, error) {
	t.Helper()
	s := &Service{cfg: &serveConfig{
		Data: dir, MQTTListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0",
		Roles: availableRoles, Cases: cases, ClientID: ingest.DefaultClientID,
		TickEvery: 100 * time.Millisecond, HeartbeatEvery: 100 * time.Millisecond,
		SnapshotEvery: 500 * time.Millisecond,
	}}
	if tune != nil {
		tune(s.cfg)
	}
	if testing.Verbose() {
		s.cfg.Log = slogForTest(t)
	}
	if err := s.cfg.validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// dial connects an MQTT client once, without retries; lost, when given,
// receives the error that ends the connection.
func dial(url, user, pass string, tlsc *tls.Config, lost chan<- error) (mqtt.Client, error) {
	o := mqtt.NewClientOptions().AddBroker(url).SetUsername(user).SetPassword(pass).SetTLSConfig(tlsc).
		SetClientID(fmt.Sprintf("dev-%d", time.Now().UnixNano())).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second)
	if lost != nil {
		o.SetConnectionLostHandler(func(_ mqtt.Client, err error) { lost <- err })
	}
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, errors.New("no CONNACK within 10 s")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	return c, nil
}

func mustHashSecret(t *testing.T, secret string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"devices", "hash-secret", "--cost", "4"}, strings.NewReader(secret+"\n"), &out, &errOut); code != exitOK {
		t.Fatalf("hash-secret: exit %d: %s", code, errOut.String())
	}
	return strings.TrimSpace(out.String())
}

// A device added by `cases apply` connects without a restart; a changed
// secret closes its connection and only the new secret connects again.
func TestServeDeviceAddedAtRuntime(t *testing.T) {
	dir := t.TempDir()
	s, err := openService(t, filepath.Join(dir, "data"), writeFile(t, dir, "cases.yaml", serveCases), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeService(t, s)
	url := s.srv.MQTTURL()
	if c, err := dial(url, "tag-9", "tag-9-secret-0123456789", nil, nil); err == nil {
		c.Disconnect(0)
		t.Fatal("tag-9 connected before a case used it")
	}

	apply := func(hash string) {
		t.Helper()
		f := writeFile(t, dir, "more.yaml", `devices:
  - {id: tag-9, kind: tag, report_interval_s: 600, mqtt_password_bcrypt: "`+hash+`"}
  - {id: phone-1, kind: victim, report_interval_s: 600, mqtt_password_bcrypt: "$2a$04$YdYNR3HjIvckni5bwnP47.3BVBteAskEtXkoswWLtiHoOixeUOLi6"}
cases:
  - id: case-9
    offender: tag-9
    contact_bans: [{protected: phone-1, alert_m: 500, warn_m: 1500}]
`)
		var out, errOut bytes.Buffer
		args := []string{"cases", "apply", "-f", f, "--nats", s.srv.ClientURL(),
			"--secret-file", filepath.Join(dir, "data", "service-secret")}
		if code := run(t.Context(), args, nil, &out, &errOut); code != exitOK {
			t.Fatalf("cases apply: exit %d: %s", code, errOut.String())
		}
	}
	// connectWhenKnown waits for the registry to learn the secret (cases
	// apply returns once the bucket holds it; the watcher follows).
	connectWhenKnown := func(pass string, lost chan<- error) mqtt.Client {
		t.Helper()
		var c mqtt.Client
		waitFor(t, "tag-9 accepted", func() bool {
			c, err = dial(url, "tag-9", pass, nil, lost)
			return err == nil
		})
		return c
	}

	apply(mustHashSecret(t, "tag-9-secret-0123456789"))
	lost := make(chan error, 1)
	c := connectWhenKnown("tag-9-secret-0123456789", lost)
	defer c.Disconnect(0)
	f := tagAt(1, time.Now().UTC().Truncate(time.Millisecond), 5000)
	f.Device = "tag-9"
	publishFix(t, c, f)
	waitFor(t, "tag-9's fix in FIXES", func() bool {
		for _, m := range messages(t, s.js, stream.Fixes) {
			if m.Subject == "proxmon.fix.0.tag-9" {
				return true
			}
		}
		return false
	})

	apply(mustHashSecret(t, "tag-9-new-secret-0123456789"))
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatal("tag-9's connection outlived its secret")
	}
	c2 := connectWhenKnown("tag-9-new-secret-0123456789", nil)
	defer c2.Disconnect(0)
	if c, err := dial(url, "tag-9", "tag-9-secret-0123456789", nil, nil); err == nil {
		c.Disconnect(0)
		t.Error("the old secret still connects")
	}
}

// The service secret is created at the first start, readable by its owner
// only, and kept; a secret file others can read is refused.
func TestServeSecretFile(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	s, err := openService(t, data, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	closeService(t, s)
	file := filepath.Join(data, "service-secret")
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("service secret mode %v, want 0600", fi.Mode().Perm())
	}
	first, _ := os.ReadFile(file)
	s, err = openService(t, data, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	closeService(t, s)
	if again, _ := os.ReadFile(file); !bytes.Equal(first, again) {
		t.Error("the service secret changed across a restart")
	}

	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err = openService(t, data, "", nil); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("secret file readable by others: %v, want a refusal saying chmod 600", err)
	}
	short := writeFile(t, dir, "short", "abc\n")
	if _, err = openService(t, filepath.Join(dir, "data2"), "", func(c *serveConfig) { c.SecretFile = short }); err == nil {
		t.Error("a 3-character service secret was accepted")
	}
}

// With --tls-cert, devices connect to the MQTT listener over TLS only,
// ingest reaches it over TLS too, and cases apply speaks TLS to the NATS
// listener.
func TestServeTLS(t *testing.T) {
	pki := natsdtest.MustPKI(t)
	dir := t.TempDir()
	s, err := openService(t, filepath.Join(dir, "data"), writeFile(t, dir, "cases.yaml", serveCases), func(c *serveConfig) {
		c.TLSCert, c.TLSKey = pki.CertFile, pki.KeyFile
	})
	if err != nil {
		t.Fatal(err)
	}
	defer closeService(t, s)
	url := s.srv.MQTTURL()
	if !strings.HasPrefix(url, "tls://") {
		t.Fatalf("MQTT URL %s, want tls://", url)
	}
	plain := "tcp://" + strings.TrimPrefix(url, "tls://")
	if c, err := dial(plain, "tag-1", deviceSecrets["tag-1"], nil, nil); err == nil {
		c.Disconnect(0)
		t.Error("plain MQTT connection to the TLS listener accepted")
	}
	c, err := dial(url, "tag-1", deviceSecrets["tag-1"], &tls.Config{RootCAs: pki.Pool, MinVersion: tls.VersionTLS12}, nil)
	if err != nil {
		t.Fatalf("device over TLS: %v", err)
	}
	defer c.Disconnect(0)
	f := tagAt(1, time.Now().UTC().Truncate(time.Millisecond), 5000)
	publishFix(t, c, f)
	waitFor(t, "the fix in FIXES, through ingest's TLS connection", func() bool {
		for _, m := range messages(t, s.js, stream.Fixes) {
			if m.Subject == "proxmon.fix.0.tag-1" {
				return true
			}
		}
		return false
	})

	var out, errOut bytes.Buffer
	args := []string{"cases", "apply", "-f", filepath.Join(dir, "cases.yaml"), "--nats", s.srv.ClientURL(),
		"--secret-file", filepath.Join(dir, "data", "service-secret")}
	if code := run(t.Context(), args, nil, &out, &errOut); code != exitFault {
		t.Errorf("cases apply without the CA: exit %d, want %d", code, exitFault)
	}
	errOut.Reset()
	if code := run(t.Context(), append(args, "--tls-ca", pki.CAFile), nil, &out, &errOut); code != exitOK {
		t.Errorf("cases apply over TLS: exit %d: %s", code, errOut.String())
	}
}

// A store key encrypts the data directory; the service starts again with
// it, and not with a key file others can read.
func TestServeStoreKey(t *testing.T) {
	dir := t.TempDir()
	key := writeFile(t, dir, "store.key", "store-key-of-the-tests-0123456789abcdef\n")
	data := filepath.Join(dir, "data")
	withKey := func(c *serveConfig) { c.StoreKeyFile = key }
	for range 2 {
		s, err := openService(t, data, writeFile(t, dir, "cases.yaml", serveCases), withKey)
		if err != nil {
			t.Fatal(err)
		}
		closeService(t, s)
	}
	if err := os.Chmod(key, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := openService(t, data, "", withKey); err == nil || !strings.Contains(err.Error(), "--store-key-file") {
		t.Errorf("key file readable by its group: %v, want a refusal naming --store-key-file", err)
	}
}

func TestServeSecurityFlags(t *testing.T) {
	cases := []struct {
		name, want string // want: part of the error; "" for none
		args       []string
	}{
		{"beyond loopback without TLS", "--insecure", []string{"--mqtt-listen", "0.0.0.0:1883"}},
		{"beyond loopback, insecure", "", []string{"--mqtt-listen", "0.0.0.0:1883", "--insecure"}},
		{"beyond loopback with TLS", "", []string{"--mqtt-listen", "0.0.0.0:8883", "--nats-listen", "0.0.0.0:4222",
			"--tls-cert", "c.pem", "--tls-key", "k.pem"}},
		{"cert without key", "--tls-key", []string{"--tls-cert", "c.pem"}},
		{"client CA without TLS", "--tls-ca", []string{"--tls-ca", "ca.pem"}},
		{"TLS of an external NATS server", "--tls-cert", []string{"--nats", "nats://n:4222", "--tls-cert", "c.pem", "--tls-key", "k.pem"}},
		{"store key of an external NATS server", "--store-key-file", []string{"--nats", "nats://n:4222", "--store-key-file", "k"}},
		{"CA of an external NATS server", "", []string{"--nats", "nats://n:4222", "--tls-ca", "ca.pem"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseServe(append([]string{"--data", t.TempDir()}, c.args...), &bytes.Buffer{})
			switch {
			case c.want == "" && err != nil:
				t.Errorf("error %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("error %v, want one naming %s", err, c.want)
			}
		})
	}
}

func TestDevicesHashSecret(t *testing.T) {
	const secret = "a-device-secret-0123456789"
	hash := mustHashSecret(t, secret)
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(secret)); err != nil {
		t.Errorf("%q does not verify the secret: %v", hash, err)
	}
	if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != 4 {
		t.Errorf("cost %d (%v), want 4", cost, err)
	}
	for _, c := range []struct {
		name, stdin string
		args        []string
		code        int
	}{
		{"default cost", secret + "\r\n", nil, exitOK},
		{"no newline", secret, []string{"--cost", "4"}, exitOK},
		{"too short", "short\n", []string{"--cost", "4"}, exitFault},
		{"empty", "", []string{"--cost", "4"}, exitFault},
		{"too long for bcrypt", strings.Repeat("x", 73) + "\n", []string{"--cost", "4"}, exitFault},
		{"bad cost", secret + "\n", []string{"--cost", "99"}, exitUsage},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(t.Context(), append([]string{"devices", "hash-secret"}, c.args...), strings.NewReader(c.stdin), &out, &errOut)
			if code != c.code {
				t.Fatalf("exit %d, want %d: %s", code, c.code, errOut.String())
			}
			if code == exitOK {
				if err := bcrypt.CompareHashAndPassword(bytes.TrimSpace(out.Bytes()), []byte(strings.TrimRight(c.stdin, "\r\n"))); err != nil {
					t.Errorf("output does not verify: %v", err)
				}
			} else if strings.Contains(errOut.String(), c.stdin) && c.stdin != "" {
				t.Errorf("the error echoes the secret: %s", errOut.String())
			}
		})
	}
}
