package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/ingest"
	"github.com/proxmon/proxmon/natsd"
	"github.com/proxmon/proxmon/stream"
)

// Roles a serve process can run.
const (
	roleIngest = "ingest"
	roleFence  = "fence"
)

var availableRoles = []string{roleIngest, roleFence, roleAlerting, roleAPI}

// serveConfig is the configuration of `proxmon serve`.
type serveConfig struct {
	Data       string // data directory of the embedded server
	MQTTListen string // embedded MQTT listener
	NATSListen string // embedded NATS listener; "" none
	NATSURL    string // external NATS instead of the embedded server
	MQTTURL    string // external MQTT broker instead of the embedded listener
	Roles      []string
	Cases      string // case file applied at start
	Insecure   bool   // allow listeners beyond loopback without TLS
	Retention  time.Duration
	ClientID   string // ingest's MQTT client id
	durabilityConfig
	securityConfig
	rolesConfig
	// TickEvery, HeartbeatEvery and SnapshotEvery are the service's
	// clocks; tests shorten them.
	TickEvery, HeartbeatEvery, SnapshotEvery time.Duration
	Log                                      *slog.Logger
}

// defaultDataDir is $XDG_STATE_HOME/proxmon, else proxmon in the user's
// cache directory.
func defaultDataDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "proxmon")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "proxmon")
	}
	return "proxmon-data"
}

const serveUsage = `usage: proxmon serve [flags]

Runs the live service: ingest takes the devices' fixes and statuses from
MQTT into the JetStream log (FIXES), the fence engine turns the log into
events (EVENTS), alerting warns protected persons' devices and commands
tags over MQTT, and the api role serves /metrics, /healthz and /readyz on
--http-listen. Without --nats and --mqtt it starts an embedded NATS server
with JetStream in --data, an MQTT listener and a NATS listener, all on
loopback. Each flag can also be set by the environment variable named after
it (PROXMON_DATA, PROXMON_MQTT_LISTEN, ...) or in a YAML --config file keyed
by the flag's name (mqtt-listen: 0.0.0.0:8883); flags win over the
environment, the environment over the file.

Flags:
`

// parseServe reads serve's flags over the environment's PROXMON_* values.
func parseServe(args []string, stderr io.Writer) (*serveConfig, error) {
	file, err := loadConfigFile(findConfig(args))
	if err != nil {
		return nil, err
	}
	env := file.env
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &serveConfig{}
	fs.String("config", os.Getenv("PROXMON_CONFIG"), "YAML `file` of settings, keyed by these flags' names; flags and environment variables win over it [PROXMON_CONFIG]")
	var roles, retention string
	fs.StringVar(&c.Data, "data", env("PROXMON_DATA", defaultDataDir()), "data `dir`ectory of the embedded NATS server (JetStream) [PROXMON_DATA]")
	fs.StringVar(&c.MQTTListen, "mqtt-listen", env("PROXMON_MQTT_LISTEN", "127.0.0.1:1883"), "embedded MQTT listener `host:port` [PROXMON_MQTT_LISTEN]")
	fs.StringVar(&c.NATSListen, "nats-listen", env("PROXMON_NATS_LISTEN", "127.0.0.1:4222"), "embedded NATS listener `host:port`; empty: none [PROXMON_NATS_LISTEN]")
	fs.StringVar(&c.NATSURL, "nats", env("PROXMON_NATS", ""), "external NATS server `URL` instead of the embedded one [PROXMON_NATS]")
	fs.StringVar(&c.MQTTURL, "mqtt", env("PROXMON_MQTT", ""), "external MQTT broker `URL` (tcp://host:port) instead of the embedded listener [PROXMON_MQTT]")
	fs.StringVar(&roles, "roles", env("PROXMON_ROLES", strings.Join(availableRoles, ",")), "comma-separated `roles` to run: "+strings.Join(availableRoles, ", ")+" [PROXMON_ROLES]")
	fs.StringVar(&c.Cases, "cases", env("PROXMON_CASES", ""), "case `file` to validate and apply at start (CASES bucket and FIXES) [PROXMON_CASES]")
	fs.BoolVar(&c.Insecure, "insecure", env("PROXMON_INSECURE", "") == "true" || env("PROXMON_INSECURE", "") == "1", "allow listeners on non-loopback addresses without TLS [PROXMON_INSECURE]")
	c.durabilityConfig.flags(fs, env)
	fs.StringVar(&retention, "retention", env("PROXMON_RETENTION", "0"), "how long FIXES and REJECTED keep records, e.g. 2160h; 0: until the disk limit [PROXMON_RETENTION]")
	fs.StringVar(&c.ClientID, "client-id", env("PROXMON_CLIENT_ID", ingest.DefaultClientID), "ingest's MQTT client `id`: its persistent session [PROXMON_CLIENT_ID]")
	c.securityConfig.flags(fs, env)
	c.rolesConfig.flags(fs, env)
	fs.Usage = func() {
		fmt.Fprint(stderr, serveUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if err := file.check(fs); err != nil {
		return nil, err
	}
	if c.Retention, err = time.ParseDuration(retention); err != nil || c.Retention < 0 {
		return nil, fmt.Errorf("--retention %q: want a duration such as 2160h", retention)
	}
	for r := range strings.SplitSeq(roles, ",") {
		if r = strings.TrimSpace(r); r != "" {
			c.Roles = append(c.Roles, r)
		}
	}
	return c, c.validate()
}

// validate checks the configuration and says what to fix.
func (c *serveConfig) validate() error {
	if len(c.Roles) == 0 {
		return fmt.Errorf("--roles: none given; available: %s", strings.Join(availableRoles, ", "))
	}
	for _, r := range c.Roles {
		if !slices.Contains(availableRoles, r) {
			return fmt.Errorf("--roles: %q is not available in this build; available: %s", r, strings.Join(availableRoles, ", "))
		}
	}
	if c.MQTTURL != "" {
		if _, _, _, err := mqttBroker(c.MQTTURL); err != nil {
			return err
		}
	}
	if err := c.validateDurability(); err != nil {
		return err
	}
	if c.embedded() {
		if c.Data == "" {
			return errors.New("--data: the embedded server needs a data directory")
		}
		for _, l := range []struct{ flag, addr string }{{"--nats-listen", c.NATSListen}, {"--mqtt-listen", c.MQTTListen}} {
			if l.addr == "" || (l.flag == "--mqtt-listen" && c.MQTTURL != "") {
				continue
			}
			host, _, err := net.SplitHostPort(l.addr)
			if err != nil {
				return fmt.Errorf("%s %q: want host:port", l.flag, l.addr)
			}
			if !loopback(host) && !c.Insecure && !c.tlsEnabled() {
				return fmt.Errorf("%s %q listens beyond loopback without TLS: bind to 127.0.0.1, or pass --insecure", l.flag, l.addr)
			}
		}
	}
	if err := c.validateSecurity(); err != nil {
		return err
	}
	if err := c.validateRoles(); err != nil {
		return err
	}
	if c.hasRole(roleIngest) && !proxmon.ValidID(c.ClientID) {
		return fmt.Errorf("--client-id %q: want 1-64 characters of [A-Za-z0-9_-]", c.ClientID)
	}
	return nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c *serveConfig) embedded() bool { return c.NATSURL == "" }

func (c *serveConfig) hasRole(r string) bool { return slices.Contains(c.Roles, r) }

// Service is the running `proxmon serve`: the embedded server (unless
// external), the JetStream setup and the roles. Open starts it, Close stops
// it in the order of STYLE.md: intake, engine, events, NATS.
type Service struct {
	cfg *serveConfig
	log *slog.Logger

	srv    *natsd.Server
	nc     *nats.Conn
	js     jetstream.JetStream
	runner *stream.Runner
	sub    *ingest.Subscriber
	flog   *stream.Log
	reg    *stream.Registry
	sec    *security
	roles  roleState

	stopIngest   context.CancelFunc
	stopRunner   context.CancelFunc
	ingestDone   chan error
	runnerDone   chan error
	groupCtx     context.Context
	cancelGroups context.CancelFunc
}

// Open starts the service and returns once ingest's subscriptions are in
// place (with the embedded broker) and the engine runs.
func (s *Service) Open(ctx context.Context) (err error) {
	c := s.cfg
	s.log = c.Log
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if err != nil {
			s.abort()
		}
	}()
	mqttURL, mqttUser, mqttPassword, err := c.mqttBroker()
	if err != nil {
		return err
	}
	if err := s.openSecurity(); err != nil {
		return err
	}
	if c.embedded() {
		if err := os.MkdirAll(c.Data, 0o700); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
		embeddedMQTT := c.MQTTURL == ""
		if embeddedMQTT && c.hasRole(roleIngest) {
			if err := s.ensureIngestSession(ctx); err != nil {
				return err
			}
		}
		o := natsd.Options{Dir: c.Data, Listen: c.NATSListen, SyncAlways: c.Fsync != fsyncInterval,
			MQTTAckWait: c.MQTTAckWait, Log: s.log.With("component", "natsd")}
		if embeddedMQTT {
			o.MQTTListen = c.MQTTListen
		}
		s.secureServer(&o)
		if s.srv, err = natsd.Start(o); err != nil {
			return err
		}
		if embeddedMQTT {
			mqttURL = s.srv.MQTTURL()
		}
		s.nc, err = nats.Connect("", append(s.natsOptions(), nats.InProcessServer(s.srv.InProcess()), nats.Name("proxmon"))...)
	} else {
		// Reconnect soon after a restart of the server: nats.go's default
		// wait of 2 s is that much more delay for every alert.
		s.nc, err = nats.Connect(c.NATSURL, append(s.natsOptions(), nats.Name("proxmon"), nats.MaxReconnects(-1),
			nats.ReconnectWait(250*time.Millisecond))...)
	}
	if err != nil {
		return fmt.Errorf("connect to NATS: %w", err)
	}
	if s.js, err = jetstream.New(s.nc, jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncTimeout(10*time.Second)); err != nil {
		return err
	}
	if err := stream.Setup(ctx, s.js, stream.Config{Retention: c.Retention}); err != nil {
		return err
	}
	if err := s.openMetrics(); err != nil {
		return err
	}
	if c.Cases != "" {
		cf, err := loadCaseFile(c.Cases)
		if err != nil {
			return err
		}
		if _, err := stream.ApplyCases(ctx, s.js, cf); err != nil {
			return err
		}
		s.log.Info("cases applied", "file", c.Cases, "cases", len(cf.Cases))
	}

	s.groupCtx, s.cancelGroups = context.WithCancel(context.WithoutCancel(ctx))
	if c.embedded() {
		if s.reg, err = s.watchSecrets(s.groupCtx); err != nil {
			return err
		}
	}
	if c.hasRole(roleFence) {
		s.runner = stream.NewRunner(s.js, stream.RunnerOptions{TickEvery: c.TickEvery,
			SnapshotEvery: c.SnapshotEvery, Retention: c.Retention, Metrics: s.roles.runnerMetrics, Log: s.log.With("role", roleFence)})
		rctx, cancel := context.WithCancel(s.groupCtx)
		s.stopRunner = cancel
		s.runnerDone = make(chan error, 1)
		go func() { s.runnerDone <- s.runner.Run(rctx) }()
	}
	if c.hasRole(roleIngest) {
		if s.reg == nil {
			if s.reg, err = s.watchSecrets(s.groupCtx); err != nil {
				return err
			}
		}
		s.flog = stream.NewLog(s.js, s.log)
		iopts := ingest.Options{Broker: mqttURL, ClientID: c.ClientID,
			Username: mqttUser, Password: mqttPassword,
			Known: s.reg.Known, HeartbeatEvery: c.HeartbeatEvery, Metrics: s.roles.ingestMetrics,
			Log: s.log.With("role", roleIngest)}
		s.secureIngest(&iopts, s.embeddedBroker())
		s.sub = ingest.NewSubscriber(s.flog, iopts)
		ictx, cancel := context.WithCancel(s.groupCtx)
		s.stopIngest = cancel
		s.ingestDone = make(chan error, 1)
		go func() { s.ingestDone <- s.sub.Run(ictx) }()
		if c.embedded() && c.MQTTURL == "" {
			select {
			case <-s.sub.Ready():
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if err := s.openRoles(ctx, mqttURL, mqttUser, mqttPassword); err != nil {
		return err
	}
	s.log.Info("proxmon serving", "roles", strings.Join(c.Roles, ","), "nats", s.natsURL(), "mqtt", mqttURL)
	return nil
}

// Done returns a channel that yields the error of a role that stopped by
// itself (the engine refusing a conflicting EVENTS, say).
func (s *Service) Done() <-chan error {
	ch := make(chan error, 1)
	go func() {
		select {
		case err := <-s.runnerDone:
			s.runnerDone <- err // for Close
			ch <- err
		case err := <-s.roles.alertingDone:
			s.roles.alertingDone <- err // for Close
			ch <- alertingStopped(err)
		case <-s.groupCtx.Done():
		}
	}()
	return ch
}

func (s *Service) natsURL() string {
	if s.srv != nil {
		if s.cfg.NATSListen == "" {
			return "in-process"
		}
		return s.srv.ClientURL()
	}
	return s.cfg.NATSURL
}

// sessionMarker records, in the data directory, that ingest's persistent
// MQTT session exists in the embedded server's JetStream.
func (s *Service) sessionMarker() string {
	return filepath.Join(s.cfg.Data, "ingest-session-"+s.cfg.ClientID)
}

// ensureIngestSession creates ingest's persistent MQTT session before the
// embedded MQTT listener ever accepts a device: NATS's MQTT listener drops
// QoS 1 messages that no session subscribes to. The first start on a data
// directory runs the server with its MQTT listener on a private loopback
// port, subscribes, and stops it; the session then lives in JetStream.
func (s *Service) ensureIngestSession(ctx context.Context) error {
	if _, err := os.Stat(s.sessionMarker()); err == nil {
		return nil
	}
	o := natsd.Options{Dir: s.cfg.Data, MQTTListen: "127.0.0.1:0", MQTTAckWait: s.cfg.MQTTAckWait,
		Log: s.log.With("component", "natsd")}
	s.secureServer(&o)
	srv, err := natsd.Start(o)
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	iopts := ingest.Options{Broker: srv.MQTTURL(), ClientID: s.cfg.ClientID}
	s.secureIngest(&iopts, srv)
	if err := ingest.Subscribe(sctx, iopts); err != nil {
		return err
	}
	s.log.Info("ingest MQTT session created", "client_id", s.cfg.ClientID)
	return os.WriteFile(s.sessionMarker(), []byte(s.cfg.ClientID+"\n"), 0o600)
}

// Close stops the service: intake first (ingest acknowledges what the log
// stored and leaves the rest to the broker), then the engine, which applies
// every record FIXES holds and publishes its events before it saves a
// snapshot, then NATS and the embedded server.
func (s *Service) Close(ctx context.Context) error {
	var errs []error
	if s.stopIngest != nil {
		s.stopIngest()
		<-s.ingestDone
		if err := s.flog.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("ingest: %w", err))
		}
	}
	if s.runner != nil {
		if err := s.runner.Drain(ctx); err != nil {
			errs = append(errs, err)
			s.stopRunner()
		}
		select {
		case err := <-s.runnerDone:
			if err != nil && !errors.Is(err, context.Canceled) {
				errs = append(errs, fmt.Errorf("engine: %w", err))
			}
		case <-ctx.Done():
			s.stopRunner()
			<-s.runnerDone
			errs = append(errs, fmt.Errorf("engine drain: %w", ctx.Err()))
		}
		s.stopRunner()
	}
	if err := s.closeAlerting(); err != nil {
		errs = append(errs, err)
	}
	if s.cancelGroups != nil {
		s.cancelGroups()
	}
	if s.nc != nil {
		if err := s.nc.Drain(); err != nil {
			errs = append(errs, err)
		}
		for s.nc.IsDraining() {
			select {
			case <-ctx.Done():
				s.nc.Close()
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	if s.srv != nil {
		s.srv.Shutdown()
	}
	if err := s.closeAPI(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// abort undoes a failed Open.
func (s *Service) abort() {
	if s.stopIngest != nil {
		s.stopIngest()
		<-s.ingestDone
	}
	if s.stopRunner != nil {
		s.stopRunner()
		<-s.runnerDone
	}
	_ = s.closeAlerting()
	if s.cancelGroups != nil {
		s.cancelGroups()
	}
	if s.nc != nil {
		s.nc.Close()
	}
	if s.srv != nil {
		s.srv.Shutdown()
	}
	_ = s.closeAPI(context.Background())
}

func serve(ctx context.Context, args []string, stderr io.Writer) int {
	cfg, err := parseServe(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "proxmon serve: %v\n", err)
		return exitUsage
	}
	cfg.Log = slog.New(slog.NewTextHandler(stderr, nil))
	s := &Service{cfg: cfg}
	if err := s.Open(ctx); err != nil {
		fmt.Fprintf(stderr, "proxmon serve: %v\n", err)
		return exitFault
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-s.Done():
	}
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(cctx); err != nil {
		runErr = errors.Join(runErr, err)
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "proxmon serve: %v\n", runErr)
		return exitFault
	}
	return exitOK
}

// applyCases is `proxmon cases apply -f FILE`: validate, then write the
// CASES bucket and append the case records to FIXES.
func applyCases(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cases apply", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", "", "case `file` (YAML or JSON)")
	url := fs.String("nats", envOr("PROXMON_NATS", "nats://127.0.0.1:4222"), "NATS server `URL` [PROXMON_NATS]")
	var sec clientSecurity
	sec.flags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: proxmon cases apply -f FILE [--nats URL]\n\nValidates the case file (a bad file changes nothing), writes each case to the\nCASES bucket and appends it to the log (FIXES), where the engine picks it up.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *file == "" || fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	cf, err := loadCaseFile(*file)
	if err != nil {
		var verr *proxmon.ValidationError
		if errors.As(err, &verr) {
			for _, f := range verr.Faults {
				fmt.Fprintf(stderr, "%s: %s\n", *file, f)
			}
		}
		fmt.Fprintf(stderr, "proxmon cases apply: %v; nothing applied\n", err)
		return exitFault
	}
	opts, err := sec.natsOptions()
	if err != nil {
		fmt.Fprintf(stderr, "proxmon cases apply: %v\n", err)
		return exitFault
	}
	nc, err := nats.Connect(*url, append(opts, nats.Name("proxmon cases apply"))...)
	if err != nil {
		fmt.Fprintf(stderr, "proxmon cases apply: connect %s: %v%s\n", *url, err, sec.hint(err))
		return exitFault
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Fprintf(stderr, "proxmon cases apply: %v\n", err)
		return exitFault
	}
	seq, err := stream.ApplyCases(ctx, js, cf)
	if err != nil {
		fmt.Fprintf(stderr, "proxmon cases apply: %v\n", err)
		return exitFault
	}
	fmt.Fprintf(stdout, "%s: applied %d case(s), log sequence %s\n", *file, len(cf.Cases), strconv.FormatUint(seq, 10))
	return exitOK
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}
