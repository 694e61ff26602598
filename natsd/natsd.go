// Package natsd runs the embedded NATS server of proxmon's default
// deployment: JetStream on a local data directory, a NATS listener for the
// roles and an MQTT listener for the devices, in the proxmon process.
//
// Invariants: the server always has a name and JetStream (NATS's MQTT
// listener keeps its sessions and QoS 1 messages in JetStream and refuses to
// start without it), listeners bind where they are told and nowhere else,
// and Start returns only once the server accepts connections.
package natsd

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configures the embedded server.
type Options struct {
	// Dir holds JetStream's files (in Dir/jetstream).
	Dir string
	// Name is the server name (NATS's MQTT listener requires one).
	Name string
	// Listen is the NATS client listener, host:port; port 0 picks a free
	// port. Empty: no NATS listener (in-process connections only).
	Listen string
	// MQTTListen is the MQTT listener, host:port; port 0 picks a free port.
	// Empty: no MQTT listener.
	MQTTListen string
	// MQTTAckWait is how long the broker waits for a QoS 1 PUBACK before it
	// redelivers; 0 is the server's default (30 s).
	MQTTAckWait time.Duration
	// SyncAlways makes JetStream fsync every write instead of every
	// SyncInterval.
	SyncAlways bool
	// StartTimeout bounds the wait for the server to accept connections.
	StartTimeout time.Duration
	// Auth, when set, authenticates every client connection; without it
	// the server lets anyone in (tests of other packages).
	Auth *Auth
	// TLS, when set, serves both listeners over TLS only (see TLSFiles).
	// In-process connections need none.
	TLS *tls.Config
	// StoreKey, when set, encrypts JetStream's files at rest. A data
	// directory written with a key cannot be read without it.
	StoreKey string
	Log      *slog.Logger
}

// ErrStart is wrapped by every error of Start.
var ErrStart = errors.New("start embedded NATS server")

func (o *Options) ensureDefaults() {
	if o.Name == "" {
		o.Name = "proxmon"
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 10 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Server is a running embedded NATS server.
type Server struct {
	ns  *server.Server
	tls *tls.Config
}

// Start starts the server and waits until it accepts connections.
func Start(o Options) (*Server, error) {
	o.ensureDefaults()
	if o.Dir == "" {
		return nil, fmt.Errorf("%w: no data directory", ErrStart)
	}
	if err := checkStoreKey(o.Dir, o.StoreKey); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStart, err)
	}
	so := &server.Options{
		ServerName:             o.Name,
		JetStream:              true,
		StoreDir:               filepath.Join(o.Dir, "jetstream"),
		SyncAlways:             o.SyncAlways,
		NoSigs:                 true,
		NoSystemAccount:        false,
		DisableJetStreamBanner: true,
	}
	if o.Listen == "" {
		so.DontListen = true
	} else {
		host, port, err := splitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("%w: NATS listener: %v", ErrStart, err)
		}
		so.Host, so.Port = host, port
	}
	if o.MQTTListen != "" {
		host, port, err := splitHostPort(o.MQTTListen)
		if err != nil {
			return nil, fmt.Errorf("%w: MQTT listener: %v", ErrStart, err)
		}
		so.MQTT.Host, so.MQTT.Port = host, port
		so.MQTT.AckWait = o.MQTTAckWait
	}
	o.secure(so)
	ns, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStart, err)
	}
	ns.SetLoggerV2(logger{o.Log}, false, false, false)
	ns.Start()
	if !ns.ReadyForConnections(o.StartTimeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("%w: not ready within %v (is a port taken?)", ErrStart, o.StartTimeout)
	}
	return &Server{ns: ns, tls: o.TLS}, nil
}

// splitHostPort parses host:port; port 0 becomes the server's "random
// port" (-1), since 0 means "default" to nats-server.
func splitHostPort(hp string) (string, int, error) {
	host, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// ClientURL returns the URL of the NATS listener.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// MQTTAddr returns the MQTT listener's host:port, or "" without one.
func (s *Server) MQTTAddr() string {
	v, err := s.ns.Varz(nil)
	if err != nil || v.MQTT.Port <= 0 {
		return ""
	}
	return net.JoinHostPort(v.MQTT.Host, strconv.Itoa(v.MQTT.Port))
}

// MQTTURL returns the MQTT listener as a URL for paho (tcp://, or tls://
// when it serves TLS), or "".
func (s *Server) MQTTURL() string {
	a := s.MQTTAddr()
	switch {
	case a == "":
		return ""
	case s.tls != nil:
		return "tls://" + a
	default:
		return "tcp://" + a
	}
}

// InProcess returns the in-process NATS server, for nats.InProcessServer.
func (s *Server) InProcess() *server.Server { return s.ns }

// Shutdown stops the server and waits until it has stopped, JetStream's
// files flushed.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// logger writes the server's log lines to slog.
type logger struct{ l *slog.Logger }

func (l logger) Noticef(format string, v ...any) {
	l.l.Info("nats server", "line", fmt.Sprintf(format, v...))
}
func (l logger) Warnf(format string, v ...any) {
	l.l.Warn("nats server", "line", fmt.Sprintf(format, v...))
}
func (l logger) Fatalf(format string, v ...any) {
	l.l.Error("nats server", "line", fmt.Sprintf(format, v...))
}
func (l logger) Errorf(format string, v ...any) {
	l.l.Error("nats server", "line", fmt.Sprintf(format, v...))
}
func (l logger) Debugf(format string, v ...any) {
	l.l.Debug("nats server", "line", fmt.Sprintf(format, v...))
}
func (l logger) Tracef(format string, v ...any) {
	l.l.Debug("nats server", "line", fmt.Sprintf(format, v...))
}
