// Package simulator simulates a fleet of monitored cases against a live
// proxmon: an offender's ankle tag and one or two protected persons'
// devices per case, moving through an area (Rotterdam by default) on foot,
// by bike and by car, each device connected to the MQTT broker with its
// own credentials and reporting protobuf fixes and statuses at its report
// interval, and honouring the commands it is sent. Scripted episodes
// (an approach until a breach, an exclusion zone entered, a curfew broken,
// a tag gone silent, a strap opened, a battery run down, a GPS jump,
// jamming) state the events they must raise and when; every other event
// is unexpected. The simulator reports what it sent, which events came,
// late or not at all, and how long they took.
//
// Invariants:
//   - The ground truth comes from the script, never from a second copy of
//     the engine's rules: see truth.go. Every reported position is within
//     its reported accuracy of the true one, and movement between episodes
//     stays clear of every threshold by the poorest accuracies involved.
//   - Simulated cases are drills (drill: true), with ids under a prefix of
//     their own, registered when the run starts and removed when it ends.
//   - Device time is the wall clock: ingest refuses fixes from the future
//     and the engine's liveness runs on the log's clock. Time is
//     compressed by scale instead: a smaller world, the same speeds.
package simulator

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/proto/proxmonv1"
)

// Registrar puts the simulator's cases in force and removes them.
type Registrar interface {
	// Register applies a validated case file: the cases and their
	// devices with their secrets' hashes.
	Register(ctx context.Context, cf *proxmon.CaseFile) error
	// Unregister deletes cases.
	Unregister(ctx context.Context, cases []string) error
}

// Options configures a Simulator.
type Options struct {
	// Cases is the number of cases; default 20.
	Cases int
	// Area is where they live; default Rotterdam.
	Area Area
	// Seed makes the layout and the movement repeatable; default 1.
	Seed uint64
	// Prefix starts every id; default "sim-" and four random hex digits,
	// so that runs against one service do not meet.
	Prefix string
	// Duration of the run once every device is connected (the ramp-up
	// comes first); 0: until ctx ends.
	Duration time.Duration
	// TagInterval and VictimInterval are the report intervals; default
	// 30 s and 60 s.
	TagInterval, VictimInterval time.Duration
	// StatusEvery is how often a device reports its state; default 5 min.
	StatusEvery time.Duration
	// EpisodeShare is the share of cases with episodes; default 0.25,
	// negative for none. The others are background: they never come near
	// a threshold.
	EpisodeShare float64
	// Kinds are the episode kinds, given to the cases with episodes in
	// turn; default all.
	Kinds []Kind
	// EpisodeEvery is the time from one episode of a case to its next;
	// default 10 min (longer if the episode is).
	EpisodeEvery time.Duration
	// FirstEpisodeWithin spreads the cases' first episodes over this time
	// from their start; default 1 min.
	FirstEpisodeWithin time.Duration
	// Dwell is how long an episode holds (at the protected person, in the
	// zone, the strap open); default 30 s.
	Dwell time.Duration
	// Scale shrinks the world (thresholds, zones, accuracies, distances)
	// and so the time episodes take; default 1, real distances.
	Scale float64
	// PoorShare is the share of poor (Wi-Fi, cell) fixes of background
	// devices; default 0.03.
	PoorShare float64
	// Slack is how late an event's record may be on top of what its rule
	// allows: the simulator's own lateness in sending. Default 2 s.
	Slack time.Duration
	// TickEvery is the service's tick interval; default 1 s.
	TickEvery time.Duration
	// Grace is how long, after the run, the simulator waits for events
	// still due; default 15 s.
	Grace time.Duration
	// Broker is the MQTT broker's URL (tcp:// or tls://); TLSConfig its
	// TLS.
	Broker    string
	TLSConfig *tls.Config
	// BcryptCost of the devices' secrets' hashes; default bcrypt's
	// minimum (4): a fleet of 10,000 devices connects in seconds. Real
	// devices use the default of `proxmon devices hash-secret`.
	BcryptCost int
	// Batch is how many cases are registered and started at once;
	// default 100. Connectors is how many devices connect at once;
	// default 16. A case's devices connect right after it is applied,
	// well within three report intervals, or the engine would count
	// them silent.
	Batch, Connectors int
	// Shards is the number of goroutines that send; default GOMAXPROCS.
	Shards    int
	Registrar Registrar
	// Progress, when set, receives a progress line every ProgressEvery
	// (default 2 s).
	Progress      io.Writer
	ProgressEvery time.Duration
	Log           *slog.Logger

	start time.Time // when New ran: the curfews are laid out round it
}

func (o *Options) ensureDefaults() error {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if o.Cases == 0 {
		o.Cases = 20
	}
	if o.Area == (Area{}) {
		o.Area = Rotterdam
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Prefix == "" {
		b := make([]byte, 2)
		_, _ = rand.Read(b)
		o.Prefix = "sim-" + hex.EncodeToString(b)
	}
	def(&o.TagInterval, 30*time.Second)
	def(&o.VictimInterval, 60*time.Second)
	def(&o.StatusEvery, 5*time.Minute)
	if o.EpisodeShare == 0 {
		o.EpisodeShare = 0.25
	}
	if len(o.Kinds) == 0 {
		o.Kinds = Kinds
	}
	def(&o.EpisodeEvery, 10*time.Minute)
	def(&o.FirstEpisodeWithin, time.Minute)
	def(&o.Dwell, 30*time.Second)
	if o.Scale == 0 {
		o.Scale = 1
	}
	if o.PoorShare == 0 {
		o.PoorShare = 0.03
	}
	def(&o.Slack, 2*time.Second)
	def(&o.TickEvery, time.Second)
	def(&o.Grace, 15*time.Second)
	if o.BcryptCost == 0 {
		o.BcryptCost = bcrypt.MinCost
	}
	if o.Batch == 0 {
		o.Batch = 100
	}
	if o.Connectors == 0 {
		o.Connectors = 16
	}
	if o.Shards == 0 {
		o.Shards = runtime.GOMAXPROCS(0)
	}
	def(&o.ProgressEvery, 2*time.Second)
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.Cases < 0 || o.Cases > 100_000:
		return fmt.Errorf("cases %d: want 1 to 100000", o.Cases)
	case o.TagInterval < time.Second || o.VictimInterval < time.Second:
		return errors.New("report intervals: want 1 s or more")
	case o.StatusEvery < time.Second:
		return errors.New("status interval: want 1 s or more")
	case o.EpisodeShare > 1:
		return fmt.Errorf("episode share %v: want 0 to 1", o.EpisodeShare)
	case !(o.Scale >= 0.01 && o.Scale <= 1):
		return fmt.Errorf("scale %v: want 0.01 to 1", o.Scale)
	case o.PoorShare < 0 || o.PoorShare > 0.5:
		return fmt.Errorf("poor fix share %v: want 0 to 0.5", o.PoorShare)
	case len(o.Prefix) > 40 || !proxmon.ValidID(o.Prefix):
		return fmt.Errorf("prefix %q: want up to 40 characters of [A-Za-z0-9_-]", o.Prefix)
	case o.Broker == "":
		return errors.New("no MQTT broker")
	case o.Registrar == nil:
		return errors.New("no registrar")
	}
	return o.Area.validate()
}

// Simulator runs a fleet. Observe takes the events; Report says how the
// run went.
type Simulator struct {
	o      Options
	fleet  *fleet
	frame  frame
	ledger *ledger
	shards []*shard
	stats  stats

	epoch         time.Time // time 0 of paths and due times
	runEnd        float64   // no episode may still be due after this; +Inf unbounded
	nEpisodeCases int
	slot          atomic.Int64

	running      atomic.Bool
	rampedUp     atomic.Bool // every case registered, every device connected; runEnd set
	stopping     atomic.Bool
	stopPlanning atomic.Bool
	live         atomic.Int64 // devices reporting

	mu               sync.Mutex
	started, liveAt  time.Time
	stopped          time.Time
	interrupted      bool // stopped by its context, not at the end of its duration
	warningsByLevel  map[string]int
	commandsByKind   map[string]int
	warningLatency   []float64
	warningsSeen     map[string]struct{}
	centreEvents     map[string]int
	warningsNotDrill int
	eventsNotDrill   int
	usageStart       usage
	fixesAtLive      uint64
	fixesAtStop      uint64
}

// stats are the simulator's counters.
type stats struct {
	fixes, statuses, acked, dropped, sendErrors atomic.Uint64
	disconnects, badMessages, connectFailures   atomic.Uint64
	episodes, episodesRefused                   atomic.Uint64
	ackLatency, storedLatency                   histogram
}

// New lays out the fleet: its case file is ready (CaseFile) and events
// can be observed from now on.
func New(o Options) (*Simulator, error) {
	o.start = time.Now()
	if err := o.ensureDefaults(); err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	s := &Simulator{o: o, frame: newFrame(o.Area.Center), ledger: newLedger(),
		warningsByLevel: map[string]int{}, warningsSeen: map[string]struct{}{}, centreEvents: map[string]int{}, commandsByKind: map[string]int{}, runEnd: math.Inf(1)}
	f, err := newFleet(&s.o)
	if err != nil {
		return nil, err
	}
	s.fleet = f
	for _, cs := range f.cases {
		if cs.kind != "" {
			s.nEpisodeCases++
		}
		for _, d := range append([]*device{cs.tag}, cs.victims...) {
			d.sim = s
		}
	}
	return s, nil
}

// CaseFile returns the fleet's case file: drill cases, each device with the
// bcrypt hash of its secret. It must not be modified.
func (s *Simulator) CaseFile() *proxmon.CaseFile { return s.fleet.cf }

// Devices returns the number of devices.
func (s *Simulator) Devices() int { return len(s.fleet.devices) }

// seconds returns t in seconds since the epoch; time the inverse.
func (s *Simulator) seconds(t time.Time) float64 { return t.Sub(s.epoch).Seconds() }
func (s *Simulator) time(sec float64) time.Time {
	return s.epoch.Add(time.Duration(sec * float64(time.Second)))
}

func (s *Simulator) episodeSlot() int { return int(s.slot.Add(1) - 1) }

// Run registers the cases, connects their devices batch by batch and runs
// them until the duration is over or ctx ends; then it waits (up to Grace)
// for the events still due, removes its cases and disconnects. The report
// is ready when it returns.
func (s *Simulator) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("simulator: already run")
	}
	s.epoch = time.Now()
	s.usageStart = processUsage()
	s.mu.Lock()
	s.started = s.epoch
	s.mu.Unlock()
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	for range s.o.Shards {
		sh := newShard(s)
		s.shards = append(s.shards, sh)
		go sh.run(runCtx)
	}
	progressDone := make(chan struct{})
	go s.progress(runCtx, progressDone)

	err := s.rampUp(ctx, runCtx)
	live := time.Now()
	s.mu.Lock()
	s.liveAt, s.fixesAtLive = live, s.stats.fixes.Load()
	s.mu.Unlock()
	// The run's duration counts from here; so do the episodes, which wait
	// for the whole fleet to be live.
	if s.o.Duration > 0 {
		s.runEnd = s.seconds(live.Add(s.o.Duration))
	}
	s.rampedUp.Store(true)
	if err == nil {
		s.o.Log.Info("simulated fleet live", "cases", len(s.fleet.cases), "devices", s.live.Load())
		var end <-chan time.Time
		if s.o.Duration > 0 {
			t := time.NewTimer(time.Until(live.Add(s.o.Duration)))
			defer t.Stop()
			end = t.C
		}
		select {
		case <-ctx.Done():
		case <-end:
		}
	}
	s.stopPlanning.Store(true)
	s.awaitDue(ctx)

	// Remove the cases first: their devices go silent next, and the
	// engine must not count silent devices of cases in force.
	s.mu.Lock()
	s.stopped, s.fixesAtStop = time.Now(), s.stats.fixes.Load()
	s.interrupted = ctx.Err() != nil
	s.mu.Unlock()
	s.stopping.Store(true)
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	ids := make([]string, len(s.fleet.cases))
	for i, cs := range s.fleet.cases {
		ids[i] = cs.c.ID
	}
	if uerr := s.o.Registrar.Unregister(uctx, ids); uerr != nil {
		err = errors.Join(err, fmt.Errorf("simulator: remove cases: %w", uerr))
	}
	stop()
	for _, sh := range s.shards {
		<-sh.done
	}
	for _, d := range s.fleet.devices {
		if c := d.c.Swap(nil); c != nil {
			c.close()
		}
	}
	<-progressDone
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		err = nil // interrupted during the ramp-up: still a report
	}
	return err
}

// rampUp registers the cases batch by batch and starts each batch's
// devices as soon as they are connected.
func (s *Simulator) rampUp(ctx, runCtx context.Context) error {
	cases := s.fleet.cases
	for i := 0; i < len(cases); i += s.o.Batch {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		batch := cases[i:min(i+s.o.Batch, len(cases))]
		cf := &proxmon.CaseFile{}
		var devs []*device
		for _, cs := range batch {
			cf.Cases = append(cf.Cases, *cs.c)
			for _, d := range append([]*device{cs.tag}, cs.victims...) {
				devs = append(devs, d)
				cf.Devices = append(cf.Devices, s.deviceOf(d.id))
			}
		}
		// The registrar gets a copy of its own: validating a case writes
		// its zones' shapes, which the shards read.
		data, err := json.Marshal(cf)
		if err == nil {
			cf, err = proxmon.ParseCaseFile(data)
		}
		if err != nil {
			return fmt.Errorf("simulator: copy cases: %w", err)
		}
		if err := s.o.Registrar.Register(ctx, cf); err != nil {
			return fmt.Errorf("simulator: register cases: %w", err)
		}
		if err := s.connectAll(ctx, runCtx, devs); err != nil {
			return err
		}
		// Spread over the shards by case, round robin.
		per := make([][]*simCase, len(s.shards))
		for j, cs := range batch {
			k := (i + j) % len(s.shards)
			per[k] = append(per[k], cs)
		}
		for k, cs := range per {
			if len(cs) > 0 {
				s.shards[k].add <- cs
			}
		}
		s.live.Add(int64(len(devs)))
	}
	return nil
}

func (s *Simulator) deviceOf(id string) proxmon.Device {
	return s.fleet.cf.Devices[s.fleet.devIndex[id]]
}

// connectAll connects devs, Connectors at a time.
func (s *Simulator) connectAll(ctx, runCtx context.Context, devs []*device) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, s.o.Connectors)
	)
	for _, d := range devs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := d.connect(ctx)
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("device %s: %w", d.id, err))
				mu.Unlock()
				return
			}
			d.c.Store(c)
			go d.serve(runCtx, c)
		})
	}
	wg.Wait()
	if len(errs) == 0 {
		return nil
	}
	s.stats.connectFailures.Add(uint64(len(errs)))
	s.o.Log.Warn("devices did not connect", "failed", len(errs), "of", len(devs), "first", errs[0])
	if len(errs) == len(devs) {
		return fmt.Errorf("simulator: no device of a batch of %d connected; first: %w", len(devs), errs[0])
	}
	return nil // the others run; the report counts the failures
}

// awaitDue waits until no expectation is still within its window, or
// Grace passes, with the devices still reporting.
func (s *Simulator) awaitDue(ctx context.Context) {
	deadline := time.Now().Add(s.o.Grace)
	for time.Now().Before(deadline) {
		n, last := s.ledger.due(time.Now())
		if n == 0 {
			return
		}
		wait := min(time.Until(last)+500*time.Millisecond, time.Until(deadline), 500*time.Millisecond)
		select {
		case <-ctx.Done():
			if ctx.Err() != nil && time.Until(deadline) > 5*time.Second {
				deadline = time.Now().Add(5 * time.Second) // interrupted: a short wait
			}
		case <-time.After(wait):
		}
	}
}

// Observe takes an event from EVENTS, received at received. It returns the
// expectation it meets, and whether the event is the simulator's at all
// (one of its cases, or a system event while it runs).
func (s *Simulator) Observe(ev *proxmon.Event, received time.Time) (*Expectation, bool) {
	cs := s.fleet.byCase[ev.Case]
	if cs != nil && (ev.Type == proxmon.Escalation || ev.Type == proxmon.Pattern) {
		// The monitoring centre's, not the engine's: an escalation of a
		// drill alert no operator acknowledged, a pattern across alerts.
		// No script states them; they are counted apart.
		s.mu.Lock()
		s.centreEvents[string(ev.Type)]++
		s.mu.Unlock()
		return nil, true
	}
	if cs == nil {
		if ev.Case != proxmon.SystemCase || !s.running.Load() || s.stopping.Load() {
			return nil, false
		}
		return s.ledger.observe(ev, received, 0, false), true
	}
	if !ev.Drill {
		s.mu.Lock()
		s.eventsNotDrill++
		s.mu.Unlock()
	}
	var transport time.Duration
	found := false
	gps := ev.Time.UnixNano()
	for _, d := range append([]*device{cs.tag}, cs.victims...) {
		if w, ok := d.sent.find(gps); ok {
			transport, found = received.Sub(time.Unix(0, w)), true
			break
		}
	}
	return s.ledger.observe(ev, received, transport, found), true
}

// Sampled returns the devices whose fixes the caller may follow into the
// log and report with Stored: at most n, spread over the fleet.
func (s *Simulator) Sampled(n int) []string {
	ids := make([]string, 0, n)
	step := max(len(s.fleet.cf.Devices)/max(n, 1), 1)
	for i := 0; i < len(s.fleet.cf.Devices) && len(ids) < n; i += step {
		ids = append(ids, s.fleet.cf.Devices[i].ID)
	}
	return ids
}

// Stored takes a fix of a sampled device as the log stored it: its device
// and device time, and when the caller received it from the log.
func (s *Simulator) Stored(device string, at, received time.Time) {
	d := s.fleet.devices[device]
	if d == nil {
		return
	}
	if w, ok := d.sent.find(at.UnixNano()); ok {
		s.stats.storedLatency.add(received.Sub(time.Unix(0, w)))
	}
}

// warning counts a warning a protected person's device received.
func (s *Simulator) warning(d *device, w *proxmonv1.Warning, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.warningsByLevel[levelName(w.GetLevel())]++
	if !w.GetDrill() {
		s.warningsNotDrill++
	}
	// Renewals repeat a warning with the time it was first raised: only
	// its first receipt counts for latency.
	k := d.id + "\x00" + w.GetEventId()
	if _, renewed := s.warningsSeen[k]; !renewed && w.GetTime() != nil {
		s.warningsSeen[k] = struct{}{}
		s.warningLatency = append(s.warningLatency, ms(now.Sub(w.GetTime().AsTime())))
	}
}

// command carries out a command: a faster report interval until it
// expires, a fix now; a vibration is counted.
func (s *Simulator) command(d *device, c *proxmonv1.Command, now time.Time) {
	kind := "other"
	switch a := c.GetAction().(type) {
	case *proxmonv1.Command_SetReportInterval:
		kind = "set_report_interval"
		iv := time.Duration(a.SetReportInterval.GetIntervalS()) * time.Second
		d.mu.Lock()
		d.fast, d.fastUntil = iv, c.GetExpires().AsTime()
		d.mu.Unlock()
		if iv < d.interval && now.Before(c.GetExpires().AsTime()) {
			s.wake(d)
		}
	case *proxmonv1.Command_Vibrate:
		kind = "vibrate"
	case *proxmonv1.Command_RequestFix:
		kind = "request_fix"
		s.wake(d)
	}
	s.mu.Lock()
	s.commandsByKind[kind]++
	s.mu.Unlock()
}

// wake has the device's shard reschedule its next fix.
func (s *Simulator) wake(d *device) {
	if sh := d.cs.shard.Load(); sh != nil {
		select {
		case sh.wake <- d:
		default:
		}
	}
}

func levelName(l proxmonv1.WarningLevel) string {
	switch l {
	case proxmonv1.WarningLevel_WARNING_LEVEL_ALL_CLEAR:
		return "all_clear"
	case proxmonv1.WarningLevel_WARNING_LEVEL_CAUTION:
		return "caution"
	case proxmonv1.WarningLevel_WARNING_LEVEL_DANGER:
		return "danger"
	case proxmonv1.WarningLevel_WARNING_LEVEL_UNKNOWN:
		return "unknown"
	}
	return "unspecified"
}

// progress writes a progress line every ProgressEvery.
func (s *Simulator) progress(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	if s.o.Progress == nil {
		return
	}
	t := time.NewTicker(s.o.ProgressEvery)
	defer t.Stop()
	last, lastAt := uint64(0), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			fixes := s.stats.fixes.Load()
			rate := float64(fixes-last) / now.Sub(lastAt).Seconds()
			last, lastAt = fixes, now
			s.ledger.mu.Lock()
			received, matched, unexpected := s.ledger.received, 0, 0
			for _, c := range s.ledger.types {
				matched += c.Matched
				unexpected += c.Unexpected
			}
			lag := "-"
			if n := len(s.ledger.transport); n > 0 {
				lag = fmt.Sprintf("%.0f ms", s.ledger.transport[n-1])
			}
			s.ledger.mu.Unlock()
			inflight := int64(s.stats.fixes.Load()+s.stats.statuses.Load()) - int64(s.stats.acked.Load())
			fmt.Fprintf(s.o.Progress, "%5.0fs  devices %d/%d  fixes %d (%.0f/s)  unacked %d  ack p50 %s  events %d (expected %d, unexpected %d)  last event lag %s\n",
				now.Sub(s.epoch).Seconds(), s.live.Load(), len(s.fleet.devices), fixes, rate, max(inflight, 0),
				fmtMs(s.stats.ackLatency.quantile(0.5)), received, matched, unexpected, lag)
		}
	}
}

func fmtMs(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	if v < 10 {
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}
