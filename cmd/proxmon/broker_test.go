package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The external brokers of the tests: mosquitto with the shipped
// deploy/mosquitto files, and nats-server (JetStream and MQTT) built from
// the module's own dependency. Each runs as a separate process on free
// loopback ports, and can be restarted on the same ports and data.

// mosquittoServiceSecret is the password of proxmon.service, proxmon's
// user, in the tests' mosquitto.
const mosquittoServiceSecret = "service-secret-0123456789"

// mosquitto is a mosquitto process with the shipped configuration.
type mosquitto struct {
	bin, conf string
	plain     string // host:port of the loopback listener (proxmon)
	tls       string // host:port of the TLS listener (devices)
	roots     *x509.CertPool
	proc      *process
}

// mosquittoBinary returns mosquitto's path, or skips the test.
func mosquittoBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto"
	}
	t.Skip("mosquitto is not installed (Debian: apt-get install mosquitto); skipping the tests against it")
	return ""
}

// startMosquitto writes a configuration from deploy/mosquitto (ports, paths,
// a password file for proxmon.service and fleetDevices, a TLS certificate)
// and starts mosquitto with it.
func startMosquitto(t *testing.T) *mosquitto {
	t.Helper()
	bin := mosquittoBinary(t)
	dir := t.TempDir()
	m := &mosquitto{bin: bin, conf: filepath.Join(dir, "mosquitto.conf"),
		plain: "127.0.0.1:" + strconv.Itoa(freePort(t)), tls: "127.0.0.1:" + strconv.Itoa(freePort(t))}
	shipped, err := os.ReadFile("../../deploy/mosquitto/mosquitto.conf")
	if err != nil {
		t.Fatal(err)
	}
	acl, err := os.ReadFile("../../deploy/mosquitto/acl")
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "acl"), acl, 0o600))
	must(os.Mkdir(filepath.Join(dir, "db"), 0o700))
	certFile, keyFile := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	m.roots = writeTestCert(t, certFile, keyFile)
	passwd := filepath.Join(dir, "passwd")
	users := map[string]string{"proxmon.service": mosquittoServiceSecret}
	for _, d := range fleetDevices {
		users[d] = fleetSecret(d)
	}
	// As deploy/mosquitto/mosquitto.conf says to add a device.
	must(os.WriteFile(passwd, nil, 0o600))
	for user, secret := range users {
		if out, err := exec.Command("mosquitto_passwd", "-b", passwd, user, secret).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd %s: %v\n%s", user, err, out)
		}
	}
	conf, err := mosquittoConf(shipped, map[string]string{
		"listener 8883":           "listener " + port(m.tls) + " 127.0.0.1",
		"listener 1883 127.0.0.1": "listener " + port(m.plain) + " 127.0.0.1",
		"certfile":                "certfile " + certFile,
		"keyfile":                 "keyfile " + keyFile,
		"password_file":           "password_file " + passwd,
		"acl_file":                "acl_file " + filepath.Join(dir, "acl"),
		"persistence_location":    "persistence_location " + filepath.Join(dir, "db") + "/",
		"pid_file":                "",
		"log_dest":                "log_dest stderr",
		"user":                    mosquittoUser(),
	})
	if err != nil {
		t.Fatal(err)
	}
	must(os.WriteFile(m.conf, conf, 0o600))
	m.start(t)
	return m
}

// mosquittoConf rewrites the shipped configuration for a test: each line
// whose directive (or directive and value) is a key of repl becomes its
// value ("" drops it). A directive that names a path or a port and is not
// rewritten fails the test, so that a new path in the shipped file cannot
// slip by into the machine's /etc or /var.
func mosquittoConf(shipped []byte, repl map[string]string) ([]byte, error) {
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(shipped))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		directive, _, _ := strings.Cut(line, " ")
		r, ok := repl[line]
		if !ok {
			r, ok = repl[directive]
		}
		switch {
		case ok:
			line = r
		case strings.Contains(line, "/") || directive == "listener" || directive == "user":
			return nil, fmt.Errorf("shipped mosquitto.conf: %q names a path, port or user the test does not rewrite", line)
		}
		if line != "" {
			out.WriteString(line + "\n")
		}
	}
	return out.Bytes(), sc.Err()
}

// mosquittoUser keeps mosquitto as the user running the test: as root it
// would switch to the mosquitto user, who cannot read the test's files.
func mosquittoUser() string {
	if os.Geteuid() == 0 {
		return "user root"
	}
	return ""
}

func port(hostport string) string {
	_, p, _ := net.SplitHostPort(hostport)
	return p
}

func (m *mosquitto) start(t *testing.T) {
	t.Helper()
	m.proc = startProcess(t, "mosquitto", m.bin, "-c", m.conf)
	waitListening(t, m.plain, 10*time.Second)
	waitListening(t, m.tls, 10*time.Second)
}

// restart stops mosquitto cleanly (it saves its database) and starts it
// again on the same ports and database; it returns when both listeners
// accept connections again, and the moment they did.
func (m *mosquitto) restart(t *testing.T) time.Time {
	t.Helper()
	if err := m.proc.stop(t, 10*time.Second); err != nil {
		t.Fatalf("mosquitto stop: %v\n%s", err, m.proc.out.tail(4000))
	}
	m.start(t)
	return time.Now()
}

// serviceURL is the URL proxmon serve --mqtt takes, with proxmon's
// credentials.
func (m *mosquitto) serviceURL() string {
	return "tcp://proxmon.service:" + mosquittoServiceSecret + "@" + m.plain
}

// deviceURL is where devices connect: the TLS listener.
func (m *mosquitto) deviceURL() string { return "tls://" + m.tls }

func (m *mosquitto) deviceTLS() *tls.Config {
	return &tls.Config{RootCAs: m.roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// writeTestCert writes a self-signed certificate for 127.0.0.1 and its key,
// and returns a pool that trusts it.
func writeTestCert(t *testing.T, certFile, keyFile string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "proxmon test broker"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// natsServer is a nats-server process with JetStream and MQTT.
type natsServer struct {
	bin, conf  string
	nats, mqtt string // host:port
	proc       *process
}

// startNATSServer builds nats-server from the module's dependency (once per
// run) and starts it with JetStream in a temporary directory, and NATS and
// MQTT listeners on free loopback ports.
func startNATSServer(t *testing.T) *natsServer {
	t.Helper()
	bin := goBuild(t, "nats-server", "github.com/nats-io/nats-server/v2")
	dir := t.TempDir()
	n := &natsServer{bin: bin, conf: filepath.Join(dir, "nats-server.conf"),
		nats: "127.0.0.1:" + strconv.Itoa(freePort(t)), mqtt: "127.0.0.1:" + strconv.Itoa(freePort(t))}
	conf := fmt.Sprintf(`server_name: proxmon-test
listen: %q
jetstream {
  store_dir: %q
}
mqtt {
  listen: %q
  # how long the server waits for ingest's PUBACK before sending again
  ack_wait: "2s"
}
`, n.nats, filepath.Join(dir, "js"), n.mqtt)
	if err := os.WriteFile(n.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	n.start(t)
	return n
}

func (n *natsServer) start(t *testing.T) {
	t.Helper()
	n.proc = startProcess(t, "nats-server", n.bin, "-c", n.conf)
	n.proc.waitOutput(t, "Server is ready", 20*time.Second)
	waitListening(t, n.mqtt, 10*time.Second)
}

// restart stops nats-server cleanly and starts it again on the same ports
// and store; it returns when it is ready, and the moment it was.
func (n *natsServer) restart(t *testing.T) time.Time {
	t.Helper()
	if err := n.proc.stop(t, 20*time.Second); err != nil {
		t.Fatalf("nats-server stop: %v\n%s", err, n.proc.out.tail(4000))
	}
	n.start(t)
	return time.Now()
}

func (n *natsServer) natsURL() string { return "nats://" + n.nats }
func (n *natsServer) mqttURL() string { return "tcp://" + n.mqtt }
