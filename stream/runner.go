package stream

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/fence"
)

// RunnerOptions configures a Runner.
type RunnerOptions struct {
	// TickEvery is how often the runner writes a tick into the log;
	// default 1 s, negative: never (tests that write their own).
	TickEvery time.Duration
	// SnapshotEvery is how often, at most, the engine's state is saved;
	// default 10 s.
	SnapshotEvery time.Duration
	// HistoryEvery is how often, at most, a snapshot is also kept as
	// history (one object per snapshot, named after its sequence), for
	// replays of the past (`proxmon replay` starts from the last one
	// before its period); default 1 h, negative: no history.
	HistoryEvery time.Duration
	// Retention removes history snapshots older than this (FIXES no longer
	// holds the records after them); 0 keeps them all.
	Retention time.Duration
	// Metrics, when set, counts events and their latency and keeps the
	// engine's device counts.
	Metrics *RunnerMetrics
	Log     *slog.Logger
}

func (o *RunnerOptions) ensureDefaults() {
	if o.TickEvery == 0 {
		o.TickEvery = time.Second
	}
	if o.SnapshotEvery == 0 {
		o.SnapshotEvery = 10 * time.Second
	}
	if o.HistoryEvery == 0 {
		o.HistoryEvery = time.Hour
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// ErrConflict is returned when EVENTS changed under the runner: a second
// engine writes to the same log. The runner stops rather than interleave.
var ErrConflict = errors.New("EVENTS written by another engine")

// snapshotName is the object of partition 0's engine state, replaced at
// every snapshot; historyPrefix + the 20-digit sequence names a snapshot
// kept as history. Both carry metadata "seq" and "time" (the log time of
// the record Seq).
const (
	snapshotName  = "fence-" + Partition
	historyPrefix = snapshotName + ".h."
)

// snapshot is the object stored in SNAPSHOTS: the engine's state after the
// FIXES record Seq, stored at Time.
type snapshot struct {
	Partition string          `json:"partition"`
	Seq       uint64          `json:"seq"`
	Time      time.Time       `json:"time,omitzero"`
	State     json.RawMessage `json:"state"`
}

// Runner runs the fence engine on the log: it reads FIXES in order from the
// record after its snapshot, publishes the events to EVENTS and writes a
// tick into FIXES every TickEvery.
type Runner struct {
	js   jetstream.JetStream
	o    RunnerOptions
	seq  atomic.Uint64 // last record applied
	at   atomic.Int64  // its log time, Unix ns
	hist time.Time     // log time of the latest history snapshot
	stop chan uint64   // drain up to this sequence, then return

	running atomic.Bool   // Run is applying records
	backlog atomic.Uint64 // FIXES' last sequence when Run started
}

// NewRunner returns a runner on js; Setup must have run.
func NewRunner(js jetstream.JetStream, o RunnerOptions) *Runner {
	o.ensureDefaults()
	return &Runner{js: js, o: o, stop: make(chan uint64, 1)}
}

// Applied returns the sequence of the last FIXES record the engine applied.
func (r *Runner) Applied() uint64 { return r.seq.Load() }

// Run runs the engine until ctx ends (it then saves a snapshot of what it
// applied and returns ctx's error) or Drain tells it to stop. Events of one
// record are published in the engine's order, each with an expected last
// sequence of EVENTS, so a second engine on the same log is refused.
func (r *Runner) Run(ctx context.Context) error {
	log := r.o.Log
	eng, next, err := r.restore(ctx)
	if err != nil {
		return err
	}
	pub, err := r.resume(ctx)
	if err != nil {
		return err
	}
	log.Info("engine resumes", "from_seq", next, "events_last_seq", pub.lastSeq, "events_input_seq", pub.inputSeq)
	r.seq.Store(next - 1)
	if err := r.start(ctx); err != nil {
		return err
	}
	defer r.running.Store(false)
	pub.metrics = r.o.Metrics

	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if next > 1 {
		cfg = jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: next}
	}
	cons, err := r.js.OrderedConsumer(ctx, Fixes, cfg)
	if err != nil {
		return fmt.Errorf("engine: consumer on %s: %w", Fixes, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("engine: read %s: %w", Fixes, err)
	}
	defer it.Stop()

	tickCtx, stopTicks := context.WithCancel(ctx)
	defer stopTicks()
	if r.o.TickEvery > 0 {
		go r.tick(tickCtx)
	}

	var (
		events   []proxmon.Event
		lastSnap = time.Now()
		snapSeq  = next - 1
		until    uint64 // drain target; 0 while running
	)
	save := func(sctx context.Context) error {
		seq := r.seq.Load()
		if seq == snapSeq {
			return nil
		}
		if err := r.save(sctx, eng, seq, time.Unix(0, r.at.Load()).UTC()); err != nil {
			return err
		}
		snapSeq, lastSnap = seq, time.Now()
		return nil
	}
	for {
		if until != 0 && r.seq.Load() >= until {
			stopTicks()
			return save(context.WithoutCancel(ctx))
		}
		select {
		case until = <-r.stop:
			stopTicks()
			if until == 0 {
				until = r.seq.Load()
			}
			continue
		default:
		}
		m, err := it.Next(jetstream.NextMaxWait(200 * time.Millisecond))
		if err != nil {
			if ctx.Err() != nil {
				if serr := save(context.WithoutCancel(ctx)); serr != nil {
					log.Error("snapshot at shutdown failed", "err", serr)
				}
				return ctx.Err()
			}
			if errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
				r.o.Metrics.refresh(eng, true)
				continue
			}
			return fmt.Errorf("engine: read %s: %w", Fixes, err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("engine: read %s: %w", Fixes, err)
		}
		seq := md.Sequence.Stream
		rec, err := DecodeRecord(m.Data(), md.Timestamp)
		if err == nil {
			events, err = eng.Apply(&rec, events[:0])
		}
		if err != nil {
			// A bad record is skipped, never a reason to stop: the
			// engine must keep watching everyone else.
			log.Warn("record skipped", "seq", seq, "subject", m.Subject(), "err", err)
			r.o.Metrics.recordSkipped()
		}
		pub.recKind, pub.recTime = rec.Kind, md.Timestamp
		if err := pub.publish(ctx, seq, events); err != nil {
			return err
		}
		r.at.Store(md.Timestamp.UnixNano())
		r.seq.Store(seq)
		r.o.Metrics.refresh(eng, md.NumPending == 0)
		if time.Since(lastSnap) >= r.o.SnapshotEvery {
			if err := save(ctx); err != nil {
				log.Error("snapshot failed", "seq", seq, "err", err)
			}
		}
	}
}

// Drain stops the ticks and makes Run return once it has applied every
// record FIXES holds now (and saved a snapshot). Call it after ingest has
// stopped, so that the engine turns every stored fix into its events.
func (r *Runner) Drain(ctx context.Context) error {
	s, err := r.js.Stream(ctx, Fixes)
	if err != nil {
		return fmt.Errorf("engine drain: %w", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("engine drain: %w", err)
	}
	target := info.State.LastSeq
	if target == 0 {
		target = r.seq.Load()
	}
	select {
	case r.stop <- target:
	default:
	}
	return nil
}

// tick writes a tick into the log every TickEvery. The engine uses the
// log's time of the tick, not the time in it.
func (r *Runner) tick(ctx context.Context) {
	t := time.NewTicker(r.o.TickEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			rec := proxmon.Record{Kind: proxmon.RecordTick, Time: now.UTC()}
			if _, err := AppendSync(ctx, r.js, &rec); err != nil && ctx.Err() == nil {
				r.o.Log.Warn("tick not written", "err", err)
			}
		}
	}
}

// restore loads the engine from its snapshot, or starts a new one, and
// returns the FIXES sequence to read from.
func (r *Runner) restore(ctx context.Context) (*fence.Engine, uint64, error) {
	obs, err := r.js.ObjectStore(ctx, Snapshots)
	if err != nil {
		return nil, 0, fmt.Errorf("engine: object store %s: %w", Snapshots, err)
	}
	data, err := obs.GetBytes(ctx, snapshotName)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		eng, err := fence.New(nil)
		return eng, 1, err
	}
	if err != nil {
		return nil, 0, fmt.Errorf("engine: load snapshot: %w", err)
	}
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, 0, fmt.Errorf("engine: load snapshot: %w", err)
	}
	eng, err := fence.Restore(s.State)
	if err != nil {
		return nil, 0, err
	}
	if !s.Time.IsZero() {
		r.at.Store(s.Time.UnixNano())
	}
	if hist, err := listSnapshots(ctx, obs); err == nil && len(hist) > 0 {
		r.hist = hist[len(hist)-1].at
	}
	return eng, s.Seq + 1, nil
}

// save stores the engine's state after record seq, stored at at. Every
// event up to seq is stored already: Run publishes a record's events before
// it goes on. Every HistoryEvery of log time the snapshot is also kept as
// history, and history older than Retention goes.
func (r *Runner) save(ctx context.Context, eng *fence.Engine, seq uint64, at time.Time) error {
	state, err := eng.Snapshot()
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	data, err := json.Marshal(snapshot{Partition: Partition, Seq: seq, Time: at, State: state})
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	obs, err := r.js.ObjectStore(ctx, Snapshots)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	meta := map[string]string{"seq": strconv.FormatUint(seq, 10), "time": at.Format(time.RFC3339Nano)}
	if _, err := obs.Put(ctx, jetstream.ObjectMeta{Name: snapshotName, Metadata: meta}, bytesReader(data)); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	r.o.Log.Debug("snapshot saved", "seq", seq, "bytes", len(data))
	if r.o.HistoryEvery < 0 || (!r.hist.IsZero() && at.Sub(r.hist) < r.o.HistoryEvery) {
		return nil
	}
	if _, err := obs.Put(ctx, jetstream.ObjectMeta{Name: historyName(seq), Metadata: meta}, bytesReader(data)); err != nil {
		return fmt.Errorf("snapshot history: %w", err)
	}
	r.hist = at
	if r.o.Retention > 0 {
		hist, err := listSnapshots(ctx, obs)
		if err != nil {
			return fmt.Errorf("snapshot history: %w", err)
		}
		for _, h := range hist {
			if h.name != snapshotName && at.Sub(h.at) > r.o.Retention {
				if err := obs.Delete(ctx, h.name); err != nil {
					return fmt.Errorf("snapshot history: %w", err)
				}
			}
		}
	}
	return nil
}

func historyName(seq uint64) string { return fmt.Sprintf("%s%020d", historyPrefix, seq) }

// snapshotRef is a stored snapshot: its object, the sequence it covers and
// that record's log time.
type snapshotRef struct {
	name string
	seq  uint64
	at   time.Time
}

// listSnapshots returns the history snapshots by sequence; with current
// set, the current snapshot too (when it records its time).
func listSnapshots(ctx context.Context, obs jetstream.ObjectStore, current ...bool) ([]snapshotRef, error) {
	infos, err := obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var refs []snapshotRef
	for _, in := range infos {
		if !strings.HasPrefix(in.Name, historyPrefix) && !(in.Name == snapshotName && len(current) > 0 && current[0]) {
			continue
		}
		seq, err1 := strconv.ParseUint(in.Metadata["seq"], 10, 64)
		at, err2 := time.Parse(time.RFC3339Nano, in.Metadata["time"])
		if err1 != nil || err2 != nil {
			continue
		}
		refs = append(refs, snapshotRef{name: in.Name, seq: seq, at: at})
	}
	slices.SortFunc(refs, func(a, b snapshotRef) int { return cmp.Compare(a.seq, b.seq) })
	return refs, nil
}
