package simulator

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Report is how a run went. Its JSON form is what `proxmon simulate
// --report FILE` writes.
type Report struct {
	Prefix  string    `json:"prefix"`
	Started time.Time `json:"started"`
	// LiveAfterS is how long the ramp-up took: every case registered and
	// every device connected.
	LiveAfterS float64 `json:"live_after_s"`
	DurationS  float64 `json:"duration_s"`
	Cases      int     `json:"cases"`
	Devices    int     `json:"devices"`
	Episodes   uint64  `json:"episodes"`
	// EpisodesRefused are episodes the script could not lay out cleanly
	// (none, unless the script has a fault).
	EpisodesRefused uint64         `json:"episodes_refused"`
	Fixes           FixStats       `json:"fixes"`
	Events          EventStat      `json:"events"`
	Latency         Latencies      `json:"latency_ms"`
	Warnings        Warnings       `json:"warnings"`
	Commands        map[string]int `json:"commands"`
	// CentreEvents counts the monitoring centre's events of the
	// simulator's cases (escalations of drill alerts no one acknowledged,
	// patterns): no script states them.
	CentreEvents map[string]int `json:"centre_events,omitempty"`
	Missing      []*Expectation `json:"missing,omitempty"`
	Unexpected   []Unexpected   `json:"unexpected,omitempty"`
	Process      Usage          `json:"process"`
}

// FixStats counts what the devices sent.
type FixStats struct {
	Sent     uint64 `json:"sent"`
	Statuses uint64 `json:"statuses"`
	// Acked counts the broker's PUBACKs of fixes and statuses.
	Acked uint64 `json:"acked"`
	// Dropped: not sent, the device being disconnected; SendErrors:
	// writes that failed.
	Dropped     uint64 `json:"dropped"`
	SendErrors  uint64 `json:"send_errors"`
	Disconnects uint64 `json:"disconnects"`
	// ConnectFailures counts devices that could not connect at the start
	// (their cases run without them, and raise signal_lost).
	ConnectFailures uint64  `json:"connect_failures"`
	RatePerS        float64 `json:"rate_per_s"`
	// PlannedPerS is the rate the report intervals ask for.
	PlannedPerS float64 `json:"planned_per_s"`
	// AckMs is the broker's acknowledgement latency (publish -> PUBACK).
	AckMs Percentiles `json:"ack_ms"`
}

// EventStat counts the events.
type EventStat struct {
	Expected   int `json:"expected"`
	Received   int `json:"received"`
	Matched    int `json:"matched"`
	Optional   int `json:"optional"`
	Missing    int `json:"missing"`
	Unexpected int `json:"unexpected"`
	// CutShort counts expectations whose window was still open when the
	// run was interrupted: neither met nor missed.
	CutShort int `json:"cut_short,omitempty"`
	// NotDrill counts events of the simulator's cases not marked drill.
	NotDrill int                   `json:"not_drill"`
	ByType   map[string]*TypeCount `json:"by_type"`
}

// TypeCount counts the events of one type.
type TypeCount struct {
	Expected int `json:"expected"`
	Received int `json:"received"`
	Matched  int `json:"matched"`
	// Optional counts events that an episode allows but does not require.
	Optional   int `json:"optional,omitempty"`
	Missing    int `json:"missing"`
	Unexpected int `json:"unexpected"`
}

// Latencies are in milliseconds. Transport runs from the publication of
// the fix or status that triggered an event to the event's receipt from
// EVENTS; detection from the moment the true state changed (the true
// position crossed the threshold, the strap opened, the tag had been
// silent for three report intervals) to the receipt of the event that
// opens the condition. Detection includes the wait for the next fix and
// may be negative: the engine decides safety first, within the accuracy.
//
// Stored runs from a fix's publication to its receipt from the log
// (FIXES), for the devices the caller followed (Sampled): every fix
// counts, not only those that raise events.
type Latencies struct {
	Transport Percentiles `json:"transport"`
	Detection Percentiles `json:"detection"`
	Stored    Percentiles `json:"stored"`
}

// Percentiles of a set of samples.
type Percentiles struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// Warnings counts the warnings protected persons' devices received, by
// level; LatencyMs runs from the time of the record that caused each to
// its receipt on the device.
type Warnings struct {
	Received  int            `json:"received"`
	ByLevel   map[string]int `json:"by_level"`
	NotDrill  int            `json:"not_drill"`
	LatencyMs Percentiles    `json:"latency_ms"`
}

// Usage is the simulator process's own cost over the run.
type Usage struct {
	CPUSeconds float64 `json:"cpu_s"`
	// CPUPercent is of one core over the run.
	CPUPercent float64 `json:"cpu_pct"`
	MaxRSSMB   float64 `json:"max_rss_mb"`
	HeapMB     float64 `json:"heap_mb"`
	Goroutines int     `json:"goroutines"`
}

// percentiles returns the percentiles of xs (nearest rank).
func percentiles(xs []float64) Percentiles {
	if len(xs) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	q := func(p float64) float64 { return s[min(len(s)-1, int(math.Ceil(p*float64(len(s))))-1)] }
	return Percentiles{Count: len(s), P50: q(0.5), P95: q(0.95), P99: q(0.99), Max: s[len(s)-1]}
}

// histogram counts durations in buckets 2 % apart, from 10 µs to 100 s,
// for latencies too many to keep one by one.
type histogram struct {
	mu     sync.Mutex
	counts [histBuckets]uint64
	n      uint64
	max    time.Duration
}

const (
	histMin     = 10 * time.Microsecond
	histGrowth  = 1.02
	histBuckets = 815 // histMin * 1.02^815 > 100 s
)

func (h *histogram) add(d time.Duration) {
	i := 0
	if d > histMin {
		i = min(int(math.Log(float64(d)/float64(histMin))/math.Log(histGrowth))+1, histBuckets-1)
	}
	h.mu.Lock()
	h.counts[i]++
	h.n++
	h.max = max(h.max, d)
	h.mu.Unlock()
}

// quantile returns the q-quantile in milliseconds (the upper edge of its
// bucket), NaN when empty.
func (h *histogram) quantile(q float64) float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == 0 {
		return math.NaN()
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	var c uint64
	for i, k := range h.counts {
		c += k
		if c >= max(rank, 1) {
			edge := float64(histMin) * math.Pow(histGrowth, float64(i))
			return math.Min(edge, float64(h.max)) / float64(time.Millisecond)
		}
	}
	return ms(h.max)
}

func (h *histogram) percentiles() Percentiles {
	h.mu.Lock()
	n, mx := h.n, h.max
	h.mu.Unlock()
	if n == 0 {
		return Percentiles{}
	}
	return Percentiles{Count: int(n), P50: h.quantile(0.5), P95: h.quantile(0.95), P99: h.quantile(0.99), Max: ms(mx)}
}

// Report returns the report of the run so far (final once Run returned).
func (s *Simulator) Report() *Report {
	s.mu.Lock()
	started, liveAt, stopped, interrupted := s.started, s.liveAt, s.stopped, s.interrupted
	r := &Report{Prefix: s.o.Prefix, Started: started, Cases: len(s.fleet.cases), Devices: len(s.fleet.devices),
		Commands: maps(s.commandsByKind), CentreEvents: maps(s.centreEvents)}
	r.Warnings = Warnings{ByLevel: maps(s.warningsByLevel), NotDrill: s.warningsNotDrill,
		LatencyMs: percentiles(s.warningLatency)}
	for _, n := range s.warningsByLevel {
		r.Warnings.Received += n
	}
	notDrill := s.eventsNotDrill
	fixesLive, fixesStop := s.fixesAtLive, s.fixesAtStop
	s.mu.Unlock()

	end := stopped
	if end.IsZero() {
		end = time.Now()
	}
	if !started.IsZero() {
		r.DurationS = end.Sub(started).Seconds()
	}
	if !liveAt.IsZero() {
		r.LiveAfterS = liveAt.Sub(started).Seconds()
	}
	r.Episodes, r.EpisodesRefused = s.stats.episodes.Load(), s.stats.episodesRefused.Load()
	r.Fixes = FixStats{Sent: s.stats.fixes.Load(), Statuses: s.stats.statuses.Load(), Acked: s.stats.acked.Load(),
		Dropped: s.stats.dropped.Load(), SendErrors: s.stats.sendErrors.Load(), Disconnects: s.stats.disconnects.Load(),
		ConnectFailures: s.stats.connectFailures.Load(),
		AckMs:           s.stats.ackLatency.percentiles()}
	if stopped.IsZero() {
		fixesStop = r.Fixes.Sent
	}
	if !liveAt.IsZero() && end.After(liveAt) {
		r.Fixes.RatePerS = float64(fixesStop-fixesLive) / end.Sub(liveAt).Seconds()
	}
	for _, d := range s.fleet.devices {
		r.Fixes.PlannedPerS += 1 / d.interval.Seconds()
	}

	l := s.ledger
	l.mu.Lock()
	r.Events = EventStat{Received: l.received, NotDrill: notDrill, ByType: map[string]*TypeCount{}}
	for t, c := range l.types {
		cc := *c
		r.Events.ByType[string(t)] = &cc
	}
	now := time.Now()
	for _, es := range l.pending {
		for _, e := range es {
			if e.Optional || e.Until.After(now) && stopped.IsZero() {
				continue // allowed, or still due
			}
			if interrupted && e.Until.After(stopped) {
				r.Events.CutShort++ // its episode was cut short by the interruption
				continue
			}
			r.Events.ByType[string(e.Type)].Missing++
			if len(r.Missing) < maxListed {
				r.Missing = append(r.Missing, e)
			}
		}
	}
	r.Unexpected = slices.Clone(l.unexpected)
	r.Latency = Latencies{Transport: percentiles(l.transport), Detection: percentiles(l.detection),
		Stored: s.stats.storedLatency.percentiles()}
	l.mu.Unlock()
	slices.SortFunc(r.Missing, func(a, b *Expectation) int { return a.From.Compare(b.From) })
	for _, c := range r.Events.ByType {
		r.Events.Expected += c.Expected
		r.Events.Matched += c.Matched
		r.Events.Optional += c.Optional
		r.Events.Missing += c.Missing
		r.Events.Unexpected += c.Unexpected
	}

	u := processUsage()
	r.Process = Usage{CPUSeconds: u.cpu.Seconds() - s.usageStart.cpu.Seconds(), MaxRSSMB: u.maxRSSMB,
		Goroutines: runtime.NumGoroutine()}
	if r.DurationS > 0 {
		r.Process.CPUPercent = 100 * r.Process.CPUSeconds / r.DurationS
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.Process.HeapMB = float64(ms.HeapInuse) / (1 << 20)
	return r
}

func maps(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// OK reports whether every expected event came within its window and
// nothing else did.
func (r *Report) OK() bool {
	return r.Events.Missing == 0 && r.Events.Unexpected == 0 && r.Events.NotDrill == 0 && r.EpisodesRefused == 0 &&
		r.Fixes.ConnectFailures == 0
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "simulated %d cases, %d devices (ids %s-*) for %.0f s; live after %.1f s\n",
		r.Cases, r.Devices, r.Prefix, r.DurationS, r.LiveAfterS)
	f := r.Fixes
	fmt.Fprintf(&b, "fixes      %d sent (%.1f/s; the report intervals ask %.1f/s), %d statuses, %d acknowledged by the broker, %d dropped while disconnected, %d send errors, %d disconnects, %d devices failed to connect\n",
		f.Sent, f.RatePerS, f.PlannedPerS, f.Statuses, f.Acked, f.Dropped, f.SendErrors, f.Disconnects, f.ConnectFailures)
	fmt.Fprintf(&b, "episodes   %d planned, %d refused\n", r.Episodes, r.EpisodesRefused)
	e := r.Events
	fmt.Fprintf(&b, "events     %d expected, %d received: %d as expected, %d allowed, %d missing, %d unexpected",
		e.Expected, e.Received, e.Matched, e.Optional, e.Missing, e.Unexpected)
	if e.CutShort > 0 {
		fmt.Fprintf(&b, ", %d cut short by the interruption", e.CutShort)
	}
	if e.NotDrill > 0 {
		fmt.Fprintf(&b, ", %d NOT MARKED DRILL", e.NotDrill)
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  type\texpected\treceived\tas expected\tallowed\tmissing\tunexpected\t")
	types := make([]string, 0, len(e.ByType))
	for t := range e.ByType {
		types = append(types, t)
	}
	slices.Sort(types)
	for _, t := range types {
		c := e.ByType[t]
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", t, c.Expected, c.Received, c.Matched, c.Optional, c.Missing, c.Unexpected)
	}
	tw.Flush()
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "latency (ms)\tcount\tp50\tp95\tp99\tmax\t")
	row := func(name string, p Percentiles) {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t\n", name, p.Count, num(p.P50, p.Count), num(p.P95, p.Count), num(p.P99, p.Count), num(p.Max, p.Count))
	}
	row("  end to end: record published -> event received", r.Latency.Transport)
	row("  detection: true crossing -> event received", r.Latency.Detection)
	row("  log: fix published -> read from FIXES (sampled)", r.Latency.Stored)
	row("  broker: fix published -> PUBACK", f.AckMs)
	row("  warning: record's time -> on the victim's device", r.Warnings.LatencyMs)
	tw.Flush()
	fmt.Fprintf(&b, "warnings   %d received by protected persons' devices%s", r.Warnings.Received, counts(r.Warnings.ByLevel))
	if r.Warnings.NotDrill > 0 {
		fmt.Fprintf(&b, "; %d NOT MARKED DRILL", r.Warnings.NotDrill)
	}
	fmt.Fprintf(&b, "\ncommands   %s\n", strings.TrimPrefix(counts(r.Commands), ": "))
	if len(r.CentreEvents) > 0 {
		fmt.Fprintf(&b, "centre     %s (the monitoring centre's own events of the drill cases)\n", strings.TrimPrefix(counts(r.CentreEvents), ": "))
	}
	p := r.Process
	fmt.Fprintf(&b, "process    %.1f s of CPU (%.1f %% of one core), max RSS %.0f MB, heap %.0f MB, %d goroutines\n",
		p.CPUSeconds, p.CPUPercent, p.MaxRSSMB, p.HeapMB, p.Goroutines)
	for _, m := range r.Missing {
		fmt.Fprintf(&b, "MISSING    %s %s %s %s (%s), due %s .. %s\n", m.Case, m.Rule, m.Type, m.Phase, m.Episode,
			m.From.UTC().Format("15:04:05.000"), m.Until.UTC().Format("15:04:05.000"))
	}
	for _, u := range r.Unexpected {
		ev := u.Event
		fmt.Fprintf(&b, "UNEXPECTED %s %s %s %s at %s", ev.Case, ev.Rule(), ev.Type, ev.Phase, ev.Time.UTC().Format("15:04:05.000"))
		if ev.DistanceM != nil {
			fmt.Fprintf(&b, " (%.1f m)", *ev.DistanceM)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func num(v float64, n int) string {
	if n == 0 {
		return "-"
	}
	return fmtMs(v)
}

func counts(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return ": " + strings.Join(parts, ", ")
}
