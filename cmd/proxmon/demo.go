package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/simulator"
)

const demoUsage = `usage: proxmon demo [flags]

Starts the service with its embedded defaults (NATS, JetStream, MQTT
listener, every role) on a fresh data directory, and a small simulated
fleet of drill cases round Rotterdam whose scripted episodes raise alerts
within a minute and every minute or so after. Prints each alert as the
monitoring centre gets it; Ctrl-C stops, and prints the simulator's report.

Flags:
`

// demoConfig is the configuration of `proxmon demo`.
type demoConfig struct {
	data                               string // "": a fresh temporary directory, removed at exit
	mqttListen, natsListen, httpListen string
	cases                              int
	seed                               uint64
	duration                           time.Duration
}

func parseDemo(args []string, stderr io.Writer) (*demoConfig, error) {
	c := &demoConfig{}
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.data, "data", "", "data `dir`ectory, kept; default a fresh temporary directory, removed at exit")
	fs.StringVar(&c.mqttListen, "mqtt-listen", "127.0.0.1:1883", "MQTT listener `host:port`")
	fs.StringVar(&c.natsListen, "nats-listen", "127.0.0.1:4222", "NATS listener `host:port`")
	fs.StringVar(&c.httpListen, "http-listen", "127.0.0.1:8080", "HTTP listener `host:port` (/metrics, /healthz, /readyz)")
	fs.IntVar(&c.cases, "cases", 20, "simulated cases")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the simulated fleet")
	fs.DurationVar(&c.duration, "duration", 0, "stop after this long; 0: at Ctrl-C")
	fs.Usage = func() {
		fmt.Fprint(stderr, demoUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if c.cases < 1 {
		return nil, fmt.Errorf("--cases %d: want 1 or more", c.cases)
	}
	return c, nil
}

// demoOptions are the simulator's settings for the demo: devices that
// report every 5 and 10 s, a world at half scale, and 70 % of the cases
// with an episode every two minutes or so, the first ones in the first
// half minute.
func demoOptions(c *demoConfig) simulator.Options {
	return simulator.Options{
		Cases: c.cases, Seed: c.seed, Duration: c.duration,
		TagInterval: 5 * time.Second, VictimInterval: 10 * time.Second, StatusEvery: 30 * time.Second,
		EpisodeShare: 0.7, EpisodeEvery: 2 * time.Minute, FirstEpisodeWithin: 30 * time.Second,
		Dwell: 20 * time.Second, Scale: 0.5,
	}
}

func demo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parseDemo(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "proxmon demo: %v\n", err)
		return exitUsage
	}
	if err := runDemo(ctx, c, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "proxmon demo: %v\n", err)
		return exitFault
	}
	return exitOK
}

func runDemo(ctx context.Context, c *demoConfig, stdout, stderr io.Writer) error {
	data := c.data
	if data == "" {
		dir, err := os.MkdirTemp("", "proxmon-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		data = dir
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	logFile, err := os.OpenFile(filepath.Join(data, "proxmon.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cfg, err := parseServe([]string{"--data", data, "--mqtt-listen", c.mqttListen, "--nats-listen", c.natsListen,
		"--http-listen", c.httpListen}, stderr)
	if err != nil {
		return err
	}
	cfg.Log = slog.New(slog.NewTextHandler(logFile, nil))
	s := &Service{cfg: cfg}
	if err := s.Open(ctx); err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(cctx); err != nil {
			fmt.Fprintf(stderr, "proxmon demo: stop the service: %v\n", err)
		}
	}()
	o := demoOptions(c)
	o.Broker = s.srv.MQTTURL()
	o.TLSConfig = s.srv.ClientTLS()
	o.Log = cfg.Log.With("component", "simulator")
	where := "removed at exit"
	if c.data != "" {
		where = "kept"
	}
	fmt.Fprintf(stdout, "proxmon demo: the service runs with its embedded defaults\n"+
		"  MQTT %s, NATS %s, HTTP http://%s/metrics\n  data %s (%s), service log %s\n",
		o.Broker, s.natsURL(), s.roles.api.Addr(), data, where, logFile.Name())
	fmt.Fprintf(stdout, "Simulating %d drill cases round Rotterdam; the monitoring centre's alerts follow. Ctrl-C stops.\n\n", c.cases)
	d := &dispatch{w: stdout}
	d.header()
	rep, err := runSimulation(ctx, s.js, o, "", d.show, stderr)
	if rep != nil {
		fmt.Fprintln(stdout)
		_ = rep.WriteText(stdout)
	}
	return err
}

// dispatch prints events as a monitoring centre's board lists them.
type dispatch struct {
	mu sync.Mutex
	w  io.Writer
}

func (d *dispatch) header() {
	fmt.Fprintf(d.w, "%-8s  %-8s  %-15s  %-15s  %-5s  %-9s  %9s  %s\n", "TIME", "SEVERITY", "CASE", "TYPE", "PHASE", "CERTAINTY", "DISTANCE", "")
}

func (d *dispatch) show(ev *proxmon.Event, exp *simulator.Expectation) {
	dist := "-"
	if ev.DistanceM != nil {
		dist = fmt.Sprintf("%.0f m", *ev.DistanceM)
	}
	cert := string(ev.Certainty)
	if cert == "" {
		cert = "-"
	}
	note := "drill, as scripted (" + episodeOf(exp) + ")"
	switch {
	case ev.Type == proxmon.Escalation:
		note = "the centre escalates: no operator acknowledged"
	case ev.Type == proxmon.Pattern:
		note = "the centre sees a pattern"
	case exp == nil:
		note = "UNEXPECTED"
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(d.w, "%-8s  %-8s  %-15s  %-15s  %-5s  %-9s  %9s  %s\n", ev.Time.Local().Format("15:04:05"),
		strings.ToUpper(string(ev.Severity)), ev.Case, ev.Type, ev.Phase, cert, dist, note)
}

func episodeOf(e *simulator.Expectation) string {
	if e == nil {
		return ""
	}
	return e.Episode
}
