package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
)

// Archive reads the log (FIXES) back for exports and replays: ordered
// consumers from a start time or sequence, filtered by subject, so a
// device's track is read without the rest of the log and in constant
// memory. It writes nothing.
type Archive struct {
	js jetstream.JetStream
}

// NewArchive returns an Archive on js.
func NewArchive(js jetstream.JetStream) *Archive { return &Archive{js: js} }

// ScanFixes calls fn, in log order, with the fixes of device (every
// device's when "") stored in [from, to) (zero to: up to the last record
// stored when the scan began), with the log's received time. A record that
// does not decode is skipped, as the engine skips it.
func (a *Archive) ScanFixes(ctx context.Context, device string, from, to time.Time, fn func(seq uint64, f *proxmon.Fix) error) error {
	subj := subjFix + Partition + ".*"
	if device != "" {
		if !proxmon.ValidID(device) {
			return fmt.Errorf("scan fixes: invalid device id %q", device)
		}
		subj = subjFix + Partition + "." + device
	}
	return a.scan(ctx, subj, 0, from, to, func(seq uint64, at time.Time, data []byte) error {
		r, err := DecodeRecord(data, at)
		if err != nil || r.Kind != proxmon.RecordFix {
			return nil
		}
		return fn(seq, &r.Fix)
	})
}

// ScanRecords calls fn, in log order, with every record from fromSeq on
// until the first stored at or after to (zero: the last stored when the
// scan began), with its log time. Records that do not decode are skipped.
func (a *Archive) ScanRecords(ctx context.Context, fromSeq uint64, to time.Time, fn func(seq uint64, at time.Time, r *proxmon.Record) error) error {
	if fromSeq == 0 {
		fromSeq = 1
	}
	return a.scan(ctx, "", fromSeq, time.Time{}, to, func(seq uint64, at time.Time, data []byte) error {
		r, err := DecodeRecord(data, at)
		if err != nil {
			return nil
		}
		return fn(seq, at, &r)
	})
}

// scanWait is how long a scan waits for a message before it asks the
// server whether any are left for it.
const scanWait = 250 * time.Millisecond

// scan reads FIXES with an ordered consumer on subject ("" all) from
// sequence fromSeq, else from time from (zero: the start), and stops at the
// first message stored at or after to, at the last message stored when
// the scan began, or when no message is left for its filter.
func (a *Archive) scan(ctx context.Context, subject string, fromSeq uint64, from, to time.Time, fn func(seq uint64, at time.Time, data []byte) error) error {
	return scanStream(ctx, a.js, Fixes, subject, fromSeq, from, to, func(m jetstream.Msg, md *jetstream.MsgMetadata) error {
		return fn(md.Sequence.Stream, md.Timestamp, m.Data())
	})
}

// scanStream is scan on any stream, with the whole message.
func scanStream(ctx context.Context, js jetstream.JetStream, name, subject string, fromSeq uint64, from, to time.Time, fn func(m jetstream.Msg, md *jetstream.MsgMetadata) error) error {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return fmt.Errorf("scan %s: %w", name, err)
	}
	last := s.CachedInfo().State.LastSeq
	if last == 0 || fromSeq > last {
		return nil
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if subject != "" {
		cfg.FilterSubjects = []string{subject}
	}
	switch {
	case fromSeq > 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, fromSeq
	case !from.IsZero():
		t := from.UTC()
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	}
	cons, err := js.OrderedConsumer(ctx, name, cfg)
	if err != nil {
		return fmt.Errorf("scan %s: %w", name, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2048))
	if err != nil {
		return fmt.Errorf("scan %s: %w", name, err)
	}
	defer func() {
		it.Stop()
		// A stopped ordered consumer stays on the server until it has
		// been idle for 5 minutes, and a stream holds at most 1,000
		// consumers (the server's default): scans (every track read of
		// the API) would soon leave none for the engine. Delete it now.
		if ci := cons.CachedInfo(); ci != nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = js.DeleteConsumer(dctx, name, ci.Name)
			cancel()
		}
	}()
	for {
		m, err := it.Next(jetstream.NextMaxWait(scanWait))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
				info, ierr := cons.Info(ctx)
				if ierr != nil {
					return fmt.Errorf("scan %s: %w", name, ierr)
				}
				if info.NumPending == 0 || info.Delivered.Stream >= last {
					return nil
				}
				continue
			}
			return fmt.Errorf("scan %s: %w", name, err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("scan %s: %w", name, err)
		}
		seq := md.Sequence.Stream
		if seq > last || (!to.IsZero() && !md.Timestamp.Before(to)) {
			return nil
		}
		if err := fn(m, md); err != nil {
			return err
		}
		if md.NumPending == 0 || seq == last {
			return nil
		}
	}
}

// SnapshotBefore returns the latest engine snapshot (history, or the
// current one) that covers the log up to a record stored before t: the
// engine's state, the sequence of that record and its log time. Without
// one, state is nil and err too.
func (a *Archive) SnapshotBefore(ctx context.Context, t time.Time) (state []byte, seq uint64, at time.Time, err error) {
	obs, err := a.js.ObjectStore(ctx, Snapshots)
	if err != nil {
		return nil, 0, time.Time{}, fmt.Errorf("snapshots: %w", err)
	}
	refs, err := listSnapshots(ctx, obs, true)
	if err != nil {
		return nil, 0, time.Time{}, fmt.Errorf("snapshots: %w", err)
	}
	var best *snapshotRef
	for i := range refs {
		if refs[i].at.Before(t) && (best == nil || refs[i].seq > best.seq) {
			best = &refs[i]
		}
	}
	if best == nil {
		return nil, 0, time.Time{}, nil
	}
	data, err := obs.GetBytes(ctx, best.name)
	if err != nil {
		return nil, 0, time.Time{}, fmt.Errorf("snapshot %s: %w", best.name, err)
	}
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, 0, time.Time{}, fmt.Errorf("snapshot %s: %w", best.name, err)
	}
	if s.Seq != best.seq {
		// The current snapshot was replaced between List and Get; the
		// history never is.
		return a.SnapshotBefore(ctx, t)
	}
	return s.State, s.Seq, s.Time, nil
}

// FirstSeq returns the first sequence FIXES still holds (retention removes
// the older records).
func (a *Archive) FirstSeq(ctx context.Context) (uint64, error) {
	s, err := a.js.Stream(ctx, Fixes)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", Fixes, err)
	}
	return s.CachedInfo().State.FirstSeq, nil
}
