package natsd_test

import (
	"bytes"
	"crypto/tls"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon/natsd"
	"github.com/proxmon/proxmon/natsd/natsdtest"
)

func mustServerTLS(t *testing.T, f natsd.TLSFiles) *tls.Config {
	t.Helper()
	c, err := f.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// With a certificate, both listeners speak TLS only: a client that trusts
// the CA connects, a plain one does not.
func TestTLSListeners(t *testing.T) {
	pki := natsdtest.MustPKI(t)
	s := startSecured(t, func(o *natsd.Options, _ *natsd.AuthOptions) {
		o.TLS = mustServerTLS(t, natsd.TLSFiles{Cert: pki.CertFile, Key: pki.KeyFile})
	})
	url := s.srv.MQTTURL()
	if !strings.HasPrefix(url, "tls://") {
		t.Fatalf("MQTT URL %s, want tls://", url)
	}
	trusting := &tls.Config{RootCAs: pki.Pool, MinVersion: tls.VersionTLS12}

	t.Run("MQTT with the CA", func(t *testing.T) {
		dev := mustConnectMQTT(t, url, "tag-1", "tag-1-secret-0123456789", trusting)
		mustWait(t, "publish over TLS", dev.Publish("proxmon/v1/devices/tag-1/fix", 1, false, []byte("x")))
	})
	t.Run("MQTT in plain TCP", func(t *testing.T) {
		plain := "tcp://" + strings.TrimPrefix(url, "tls://")
		if c, err := connectMQTT(plain, "tag-1", "tag-1-secret-0123456789", nil, nil); err == nil {
			c.Disconnect(0)
			t.Fatal("plain MQTT connection to the TLS listener accepted")
		}
	})
	t.Run("MQTT without the CA", func(t *testing.T) {
		if c, err := connectMQTT(url, "tag-1", "tag-1-secret-0123456789", &tls.Config{MinVersion: tls.VersionTLS12}, nil); err == nil {
			c.Disconnect(0)
			t.Fatal("a client that does not trust the CA connected")
		}
	})
	t.Run("MQTT pinned, as the service's own clients", func(t *testing.T) {
		mustConnectMQTT(t, url, natsd.UserIngest, testServiceSecret, s.srv.ClientTLS())
		// Another server's pin does not fit this one.
		other := startSecured(t, func(o *natsd.Options, _ *natsd.AuthOptions) {
			o.TLS = mustServerTLS(t, natsd.TLSFiles{Cert: pki.CertFile, Key: pki.KeyFile})
		})
		otherPKI := natsdtest.MustPKI(t)
		stranger := startSecured(t, func(o *natsd.Options, _ *natsd.AuthOptions) {
			o.TLS = mustServerTLS(t, natsd.TLSFiles{Cert: otherPKI.CertFile, Key: otherPKI.KeyFile})
		})
		mustConnectMQTT(t, other.srv.MQTTURL(), natsd.UserIngest, testServiceSecret, s.srv.ClientTLS())
		if c, err := connectMQTT(stranger.srv.MQTTURL(), natsd.UserIngest, testServiceSecret, s.srv.ClientTLS(), nil); err == nil {
			c.Disconnect(0)
			t.Fatal("the pin accepted another certificate")
		}
	})
	t.Run("NATS with the CA", func(t *testing.T) {
		nc := serviceConn(t, s.srv, nats.Secure(trusting))
		if !nc.TLSRequired() {
			t.Error("NATS listener does not require TLS")
		}
	})
	t.Run("NATS without the CA", func(t *testing.T) {
		nc, err := nats.Connect(s.srv.ClientURL(), nats.UserInfo(natsd.UserService, testServiceSecret))
		if err == nil {
			nc.Close()
			t.Fatal("NATS connection without the CA accepted")
		}
	})
	t.Run("in-process needs no TLS", func(t *testing.T) {
		nc, err := nats.Connect("", nats.InProcessServer(s.srv.InProcess()),
			nats.UserInfo(natsd.UserService, testServiceSecret))
		if err != nil {
			t.Fatal(err)
		}
		nc.Close()
	})
}

// With a client CA, a device must present a certificate it issued; the
// service's users authenticate with the service secret alone.
func TestTLSClientCertificates(t *testing.T) {
	pki := natsdtest.MustPKI(t)
	s := startSecured(t, func(o *natsd.Options, ao *natsd.AuthOptions) {
		o.TLS = mustServerTLS(t, natsd.TLSFiles{Cert: pki.CertFile, Key: pki.KeyFile, CA: pki.CAFile})
		ao.RequireDeviceCert = true
	})
	url := s.srv.MQTTURL()
	noCert := &tls.Config{RootCAs: pki.Pool, MinVersion: tls.VersionTLS12}
	withCert := &tls.Config{RootCAs: pki.Pool, MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pki.Client}}
	if c, err := connectMQTT(url, "tag-1", "tag-1-secret-0123456789", noCert, nil); err == nil {
		c.Disconnect(0)
		t.Error("device without a client certificate accepted")
	}
	mustConnectMQTT(t, url, "tag-1", "tag-1-secret-0123456789", withCert)
	if c, err := connectMQTT(url, "tag-1", "wrong-secret-0123456789", withCert, nil); err == nil {
		c.Disconnect(0)
		t.Error("device with a certificate but a wrong secret accepted")
	}
	mustConnectMQTT(t, url, natsd.UserIngest, testServiceSecret, s.srv.ClientTLS())
}

// With a store key, JetStream's files hold no plaintext, and the data is
// there again after a restart with the same key.
func TestStoreEncryption(t *testing.T) {
	const marker = "plaintext-marker-of-the-encryption-test"
	const key = "store-key-of-the-tests-0123456789abcdef"
	write := func(t *testing.T, dir, key string) {
		srv, err := natsd.Start(natsd.Options{Dir: dir, StoreKey: key})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Shutdown()
		js := mustJetStream(t, srv)
		ctx := t.Context()
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, "t", []byte(marker)); err != nil {
			t.Fatal(err)
		}
	}
	onDisk := func(t *testing.T, dir string) bool {
		found := false
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			found = found || bytes.Contains(b, []byte(marker))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return found
	}

	plain := t.TempDir()
	write(t, plain, "")
	if !onDisk(t, plain) {
		t.Fatal("the marker is not on disk even without encryption: the check is broken")
	}
	enc := t.TempDir()
	write(t, enc, key)
	if onDisk(t, enc) {
		t.Error("plaintext on disk with a store key")
	}
	srv, err := natsd.Start(natsd.Options{Dir: enc, StoreKey: key})
	if err != nil {
		t.Fatal(err)
	}
	st, err := mustJetStream(t, srv).Stream(t.Context(), "T")
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetMsg(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Data) != marker {
		t.Errorf("after restart: %q", m.Data)
	}
	srv.Shutdown()

	// Without its key, or with another, the encrypted directory is not
	// opened: the server would see no streams, and empty ones would be
	// created over the data.
	for _, k := range []string{"", "another-store-key-0123456789abcdef"} {
		if srv, err := natsd.Start(natsd.Options{Dir: enc, StoreKey: k}); err == nil {
			srv.Shutdown()
			t.Errorf("started on an encrypted directory with key %q", k)
		}
	}
	// A plaintext directory is encrypted at its first start with a key.
	srv, err = natsd.Start(natsd.Options{Dir: plain, StoreKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	if m, err := mustJetStream(t, srv).Stream(t.Context(), "T"); err != nil {
		t.Errorf("plaintext stream after encryption: %v", err)
	} else if msg, err := m.GetMsg(t.Context(), 1); err != nil || string(msg.Data) != marker {
		t.Errorf("plaintext stream after encryption: %v", err)
	}
	if onDisk(t, plain) {
		t.Error("plaintext left on disk after encryption")
	}
}

func mustJetStream(t *testing.T, srv *natsd.Server) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect("", nats.InProcessServer(srv.InProcess()), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}
