package track

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/fence"
)

// Snapshots finds the engine's state at a point of the log.
// stream.Archive implements it over the SNAPSHOTS object store, where the
// runner keeps a history snapshot every hour of log time.
type Snapshots interface {
	// SnapshotBefore returns the latest snapshot covering the log up to a
	// record stored before t: state, the record's sequence and log time;
	// nil state when there is none.
	SnapshotBefore(ctx context.Context, t time.Time) (state []byte, seq uint64, at time.Time, err error)
	// FirstSeq returns the first sequence the log still holds.
	FirstSeq(ctx context.Context) (uint64, error)
}

// ErrNoStart is returned by Replay when neither a snapshot before the
// period nor the start of the log is available: the cases in force then
// are unknown.
var ErrNoStart = errors.New("no snapshot before the period, and the log no longer starts at its first record")

// ReplayQuery is a re-evaluation of the log stored in [From, To).
type ReplayQuery struct {
	From, To time.Time
	// Case, when set, keeps only that case's events.
	Case string
	// Cases, when set, are put in force at the start of the period, over
	// those of the same id, and case records of the log for those ids are
	// ignored: "what would this ban have caught". Must be validated.
	Cases *proxmon.CaseFile
}

// ReplayStats says where a replay started and what it read.
type ReplayStats struct {
	// FromSeq is the first record applied (the one after the snapshot).
	FromSeq uint64
	// SnapshotTime is the log time the snapshot covers; zero without one.
	SnapshotTime time.Time
	Records      int // applied, warm-up included
	Events       int // written
}

// Replay runs the engine over the log of [q.From, q.To): it restores the
// last snapshot before q.From, applies the records after it (the events of
// records stored before q.From are the warm-up and not written) and writes
// the events of the period to w, one JSON object a line, as `proxmon
// evaluate` does. The engine is deterministic and its snapshots continue
// exactly, so with the cases of the log it writes the events the live
// engine raised from the same records, with the same ids.
func Replay(ctx context.Context, log Log, snaps Snapshots, q ReplayQuery, w io.Writer) (ReplayStats, error) {
	var st ReplayStats
	if q.From.IsZero() || q.To.IsZero() || !q.From.Before(q.To) {
		return st, fmt.Errorf("%w: from and to are required, from before to", ErrQuery)
	}
	if q.Case != "" && !proxmon.ValidID(q.Case) {
		return st, fmt.Errorf("%w: case %q: want 1-64 characters of [A-Za-z0-9_-]", ErrQuery, q.Case)
	}
	state, seq, at, err := snaps.SnapshotBefore(ctx, q.From)
	if err != nil {
		return st, err
	}
	var eng *fence.Engine
	if state != nil {
		if eng, err = fence.Restore(state); err != nil {
			return st, err
		}
		st.FromSeq, st.SnapshotTime = seq+1, at
	} else {
		first, err := snaps.FirstSeq(ctx)
		if err != nil {
			return st, err
		}
		if first > 1 {
			return st, ErrNoStart
		}
		if eng, err = fence.New(nil); err != nil {
			return st, err
		}
		st.FromSeq = 1
	}
	var events []proxmon.Event
	hypothetical := map[string]bool{}
	if q.Cases != nil {
		for _, r := range caseRecords(q.Cases) {
			if events, err = eng.Apply(&r, events[:0]); err != nil {
				return st, fmt.Errorf("case %s: %w", r.Case.ID, err)
			}
			hypothetical[r.Case.ID] = true
		}
	}
	bw := newLineWriter(w)
	enc := json.NewEncoder(bw)
	err = log.ScanRecords(ctx, st.FromSeq, q.To, func(seq uint64, at time.Time, r *proxmon.Record) error {
		switch {
		case r.Kind == proxmon.RecordCase && hypothetical[r.Case.ID],
			r.Kind == proxmon.RecordCaseDeleted && hypothetical[r.CaseID]:
			return nil
		}
		st.Records++
		var err error
		events, err = eng.Apply(r, events[:0])
		if err != nil || at.Before(q.From) {
			return nil // skipped as the live engine skips it; warm-up
		}
		for i := range events {
			if q.Case != "" && events[i].Case != q.Case {
				continue
			}
			st.Events++
			if err := enc.Encode(&events[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return st, err
}

// caseRecords returns a case record per case of cf, with the devices it
// uses (as `proxmon cases apply` appends them to the log).
func caseRecords(cf *proxmon.CaseFile) []proxmon.Record {
	recs := make([]proxmon.Record, 0, len(cf.Cases))
	for i := range cf.Cases {
		c := &cf.Cases[i]
		ids := []string{c.Offender}
		for _, b := range c.ContactBans {
			ids = append(ids, b.Protected)
		}
		var devs []proxmon.Device
		for _, d := range cf.Devices {
			if slices.Contains(ids, d.ID) {
				d.MQTTPasswordBcrypt = ""
				devs = append(devs, d)
			}
		}
		recs = append(recs, proxmon.Record{Kind: proxmon.RecordCase, Case: c, Devices: devs})
	}
	return recs
}
