package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"sigs.k8s.io/yaml"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/centre"
	"github.com/proxmon/proxmon/geo"
	"github.com/proxmon/proxmon/simulator"
	"github.com/proxmon/proxmon/stream"
)

const simulateUsage = `usage: proxmon simulate [flags]

Simulates a fleet of drill cases against a running proxmon: each case an
offender's tag and one or two protected persons' devices moving round the
area, every device connected to the MQTT broker with its own secret and
reporting at its interval. A share of the cases run scripted episodes (an
approach until a contact breach, an exclusion zone entered, a curfew
broken, a tag gone silent, a strap opened, a battery run down, a GPS jump,
jamming), each stating the events it must raise and when. The simulator
registers its cases over NATS (as cases apply does), listens on EVENTS,
removes its cases at the end and prints a report: fixes sent, events
expected, received, missing and unexpected, latencies, warnings received
by the protected persons' devices, its own CPU and memory. Exit status 1
when an expected event is missing or an unexpected one came.

Flags:
`

// simulateConfig is the configuration of `proxmon simulate`.
type simulateConfig struct {
	opts     simulator.Options
	natsURL  string
	sec      clientSecurity
	report   string // JSON report file
	casesOut string // case file written
	profile  string // CPU profile written
	quiet    bool
}

func parseSimulate(args []string, stderr io.Writer) (*simulateConfig, error) {
	c := &simulateConfig{}
	o := &c.opts
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var area, kinds string
	fs.StringVar(&c.natsURL, "nats", envOr("PROXMON_NATS", "nats://127.0.0.1:4222"), "the service's NATS `URL` [PROXMON_NATS]")
	fs.StringVar(&o.Broker, "mqtt", envOr("PROXMON_MQTT", "tcp://127.0.0.1:1883"), "the devices' MQTT broker `URL` (tcp:// or tls://) [PROXMON_MQTT]")
	c.sec.flags(fs)
	fs.IntVar(&o.Cases, "cases", 20, "number of cases (offender's tag and one or two protected persons' devices each)")
	fs.DurationVar(&o.Duration, "duration", 5*time.Minute, "how long to run; 0: until interrupted")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the layout and the movement")
	fs.StringVar(&o.Prefix, "prefix", "", "prefix of every id; default sim- and four random hex digits")
	fs.DurationVar(&o.TagInterval, "tag-interval", 30*time.Second, "tags' report interval")
	fs.DurationVar(&o.VictimInterval, "victim-interval", 60*time.Second, "protected persons' devices' report interval")
	fs.DurationVar(&o.StatusEvery, "status-every", 5*time.Minute, "how often each device reports its state")
	fs.Float64Var(&o.EpisodeShare, "episodes", 0.25, "share of cases with scripted episodes (0-1)")
	fs.StringVar(&kinds, "kinds", "", "comma-separated episode kinds; default all: "+kindNames())
	fs.DurationVar(&o.EpisodeEvery, "episode-every", 10*time.Minute, "time between the starts of a case's episodes")
	fs.DurationVar(&o.FirstEpisodeWithin, "first-episode-within", time.Minute, "the first episodes start within this time")
	fs.DurationVar(&o.Dwell, "dwell", 30*time.Second, "how long an episode holds (at the protected person, in the zone, strap open)")
	fs.Float64Var(&o.Scale, "scale", 1, "scale of the world (distances, thresholds, accuracies), 0.01-1: smaller compresses the episodes' time")
	fs.StringVar(&area, "area", "", "`lat,lon,radius_km` of the area; default Rotterdam (51.9225,4.4792,12)")
	fs.DurationVar(&o.Slack, "slack", 2*time.Second, "lateness allowed on top of what a rule allows, for the simulator's own delays")
	fs.DurationVar(&o.TickEvery, "tick", time.Second, "the service's tick interval")
	fs.IntVar(&o.Batch, "batch", 100, "cases registered and started at once")
	fs.IntVar(&o.Connectors, "connectors", 16, "devices connecting at once")
	fs.StringVar(&c.report, "report", "", "write the report as JSON to `file`")
	fs.StringVar(&c.casesOut, "cases-out", "", "write the simulated case file (with the secrets' hashes) to `file`")
	fs.StringVar(&c.profile, "cpuprofile", "", "write the simulator's CPU profile to `file`")
	fs.BoolVar(&c.quiet, "q", false, "no progress lines")
	fs.Usage = func() {
		fmt.Fprint(stderr, simulateUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if area != "" {
		a, err := parseArea(area)
		if err != nil {
			return nil, err
		}
		o.Area = a
	}
	if kinds != "" {
		for k := range strings.SplitSeq(kinds, ",") {
			kind, err := simulator.ParseKind(strings.TrimSpace(k))
			if err != nil {
				return nil, fmt.Errorf("--kinds: %w; known: %s", err, kindNames())
			}
			o.Kinds = append(o.Kinds, kind)
		}
	}
	if o.Cases <= 0 {
		return nil, fmt.Errorf("--cases %d: want 1 or more", o.Cases)
	}
	if o.EpisodeShare == 0 {
		o.EpisodeShare = -1 // none: the simulator's 0 means its default
	}
	return c, nil
}

func kindNames() string {
	names := make([]string, len(simulator.Kinds))
	for i, k := range simulator.Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ",")
}

func parseArea(s string) (simulator.Area, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return simulator.Area{}, fmt.Errorf("--area %q: want lat,lon,radius_km", s)
	}
	var v [3]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return simulator.Area{}, fmt.Errorf("--area %q: want lat,lon,radius_km", s)
		}
		v[i] = f
	}
	return simulator.Area{Center: geo.Point{Lat: v[0], Lon: v[1]}, RadiusM: v[2] * 1000}, nil
}

func simulate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parseSimulate(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "proxmon simulate: %v\n", err)
		return exitUsage
	}
	opts, err := c.sec.natsOptions()
	if err != nil {
		fmt.Fprintf(stderr, "proxmon simulate: %v\n", err)
		return exitFault
	}
	nc, err := nats.Connect(c.natsURL, append(opts, nats.Name("proxmon simulate"))...)
	if err != nil {
		fmt.Fprintf(stderr, "proxmon simulate: connect %s: %v%s\n", c.natsURL, err, c.sec.hint(err))
		return exitFault
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Fprintf(stderr, "proxmon simulate: %v\n", err)
		return exitFault
	}
	c.opts.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if !c.quiet {
		c.opts.Progress = stderr
	}
	if c.profile != "" {
		f, err := os.Create(c.profile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "proxmon simulate: --cpuprofile: %v\n", err)
			return exitFault
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	rep, err := runSimulation(ctx, js, c.opts, c.casesOut, nil, stderr)
	if rep == nil {
		fmt.Fprintf(stderr, "proxmon simulate: %v\n", err)
		return exitFault
	}
	if err != nil {
		fmt.Fprintf(stderr, "proxmon simulate: %v\n", err)
	}
	_ = rep.WriteText(stdout)
	if c.report != "" {
		if werr := writeJSON(c.report, rep); werr != nil {
			fmt.Fprintf(stderr, "proxmon simulate: --report: %v\n", werr)
			return exitFault
		}
	}
	if err != nil || !rep.OK() {
		return exitFault
	}
	return exitOK
}

// runSimulation runs a simulator against the service behind js: its cases
// applied and removed over NATS, the events read from EVENTS as they are
// stored. seen, when set, is called with each event of the simulator's
// and what it met. The report is nil only when the run could not start.
func runSimulation(ctx context.Context, js jetstream.JetStream, o simulator.Options, casesOut string,
	seen func(*proxmon.Event, *simulator.Expectation), stderr io.Writer) (*simulator.Report, error) {
	o.Registrar = &natsRegistrar{js: js}
	sim, err := simulator.New(o)
	if err != nil {
		return nil, err
	}
	if casesOut != "" {
		b, err := yaml.Marshal(sim.CaseFile())
		if err == nil {
			err = os.WriteFile(casesOut, b, 0o600)
		}
		if err != nil {
			return nil, fmt.Errorf("--cases-out: %w", err)
		}
	}
	ectx, stopEvents := context.WithCancel(context.WithoutCancel(ctx))
	defer stopEvents()
	events, err := watchEvents(ectx, js, func(ev *proxmon.Event, at time.Time) {
		if exp, ours := sim.Observe(ev, at); ours && seen != nil {
			seen(ev, exp)
		}
	})
	if err != nil {
		return nil, err
	}
	fixes, err := watchFixes(ectx, js, sim.Sampled(storedSample), sim.Stored)
	if err != nil {
		return nil, err
	}
	err = sim.Run(ctx)
	stopEvents()
	for _, ch := range []<-chan error{events, fixes} {
		if eerr := <-ch; eerr != nil && !errors.Is(eerr, context.Canceled) {
			err = errors.Join(err, eerr)
		}
	}
	return sim.Report(), err
}

// storedSample is how many devices' fixes the simulator follows into the
// log, for the latency of every fix rather than of those that raise
// events only.
const storedSample = 100

// watchFixes calls fn with the device, device time and receipt of every
// fix of devices stored in FIXES from now on, until ctx ends.
func watchFixes(ctx context.Context, js jetstream.JetStream, devices []string, fn func(device string, at, received time.Time)) (<-chan error, error) {
	filters := make([]string, len(devices))
	for i, d := range devices {
		filters[i] = "proxmon.fix." + stream.Partition + "." + d // DESIGN.md "NATS"
	}
	return watch(ctx, js, stream.Fixes, filters, func(data []byte, received time.Time) {
		if rec, err := proxmon.ParseRecord(data); err == nil && rec.Kind == proxmon.RecordFix {
			fn(rec.Fix.Device, rec.Fix.Time, received)
		}
	})
}

// watchEvents calls fn with every event stored in EVENTS from now on, as it
// is stored, until ctx ends; the channel yields why it stopped.
func watchEvents(ctx context.Context, js jetstream.JetStream, fn func(*proxmon.Event, time.Time)) (<-chan error, error) {
	return watch(ctx, js, stream.Events, nil, func(data []byte, received time.Time) {
		var ev proxmon.Event
		if json.Unmarshal(data, &ev) == nil && ev.ID != "" {
			fn(&ev, received)
		}
	})
}

// watch calls fn with every message stored in a stream (on filters, if
// any) from now on, as it is stored, until ctx ends; the channel yields
// why it stopped.
func watch(ctx context.Context, js jetstream.JetStream, name string, filters []string, fn func([]byte, time.Time)) (<-chan error, error) {
	cons, err := js.OrderedConsumer(ctx, name, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverNewPolicy, FilterSubjects: filters})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	done := make(chan error, 1)
	go func() {
		defer it.Stop()
		for {
			m, err := it.Next(jetstream.NextContext(ctx))
			if err != nil {
				if ctx.Err() != nil {
					done <- ctx.Err()
					return
				}
				if errors.Is(err, nats.ErrTimeout) {
					continue
				}
				done <- fmt.Errorf("read %s: %w", name, err)
				return
			}
			fn(m.Data(), time.Now())
		}
	}()
	return done, nil
}

// natsRegistrar applies the simulator's cases as `proxmon cases apply`
// does, and deletes them from the CASES bucket and the log.
type natsRegistrar struct{ js jetstream.JetStream }

func (r *natsRegistrar) Register(ctx context.Context, cf *proxmon.CaseFile) error {
	_, err := stream.ApplyCases(ctx, r.js, cf)
	return err
}

func (r *natsRegistrar) Unregister(ctx context.Context, cases []string) error {
	store, err := stream.OpenCaseStore(ctx, r.js)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range cases {
		if _, err := store.DeleteCase(ctx, id, 0); err != nil && !errors.Is(err, centre.ErrNoCase) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
