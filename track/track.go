// Package track reads the archived log (FIXES) back: it exports a device's
// track as GeoJSON, GPX 1.1, CSV or NDJSON, writes and verifies evidence
// packages (a hash chain signed with the service's Ed25519 key), finds the
// devices that passed near a place, and replays the engine over a past
// period.
//
// Invariants:
//   - Streaming: every function reads the log in log order through Log and
//     writes as it reads; memory does not grow with the length of the
//     period (GeoJSON and GPX read it twice rather than hold it).
//   - The flags of a point are the engine's own decisions: each fix goes
//     through fence.Classifier, the engine's code for duplicates, late
//     (out of order) fixes and GPS anomalies, fed with the device's fixes
//     in log order.
//   - track never reads a clock to decide anything and never writes to the
//     live log; an export of the same archive is byte-identical.
//
// The functions take a domain Query and an io.Writer, so the operators'
// API can call them with its response writer after it has authorised and
// audited the read.
package track

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/fence"
)

// Log is the archived log as track reads it. stream.Archive implements it
// over JetStream.
type Log interface {
	// ScanFixes calls fn, in log order, with the fixes of device (every
	// device's when "") stored in [from, to) (zero to: up to the last
	// record stored when the scan began), each with its log sequence and
	// its received time set to the log's.
	ScanFixes(ctx context.Context, device string, from, to time.Time, fn func(seq uint64, f *proxmon.Fix) error) error
	// ScanRecords calls fn, in log order, with every record from sequence
	// fromSeq on, until the first stored at or after to (zero: the last
	// record stored when the scan began), with its log time.
	ScanRecords(ctx context.Context, fromSeq uint64, to time.Time, fn func(seq uint64, at time.Time, r *proxmon.Record) error) error
}

// Errors.
var (
	// ErrQuery is wrapped by the errors of a query that cannot be run.
	ErrQuery = errors.New("bad track query")
)

// Defaults of Query.
const (
	DefaultWarmup = time.Hour
	DefaultLate   = time.Hour
)

// Query selects a device's fixes whose GPS time is in [From, To).
type Query struct {
	Device   string
	From, To time.Time
	// Warmup is how much of the log before From is read to learn the
	// device's position, so the first points are flagged as the engine
	// flagged them; default DefaultWarmup, negative none.
	Warmup time.Duration
	// Late is how much of the log after To is read for fixes of the period
	// that arrived late (devices buffer fixes while out of coverage);
	// default DefaultLate, negative none.
	Late time.Duration
	// DefaultAccuracyM is the device's default_accuracy_m (0: 50 m), for
	// fixes that report no accuracy.
	DefaultAccuracyM float64
}

func (q *Query) check() error {
	switch {
	case !proxmon.ValidID(q.Device):
		return fmt.Errorf("%w: device %q: want 1-64 characters of [A-Za-z0-9_-]", ErrQuery, q.Device)
	case q.From.IsZero() || q.To.IsZero():
		return fmt.Errorf("%w: from and to are required", ErrQuery)
	case !q.From.Before(q.To):
		return fmt.Errorf("%w: from must be before to", ErrQuery)
	}
	return nil
}

func (q *Query) scanWindow() (from, to time.Time) {
	w, l := q.Warmup, q.Late
	if w == 0 {
		w = DefaultWarmup
	}
	if l == 0 {
		l = DefaultLate
	}
	from, to = q.From, q.To
	if w > 0 {
		from = from.Add(-w)
	}
	if l > 0 {
		to = to.Add(l)
	}
	return from, to
}

// Flags are what the engine made of a fix, beyond its position.
type Flags uint8

// Flags of a point.
const (
	// FlagOutOfOrder: the fix's GPS time is not newer than the device's
	// position when it reached the log (a late fix); it moved nothing.
	FlagOutOfOrder Flags = 1 << iota
	// FlagAnomaly: an impossible jump; the engine did not use it.
	FlagAnomaly
	// FlagDuplicate: the device sent this (seq, time) before.
	FlagDuplicate
)

// Names returns the flags as the exports write them.
func (f Flags) Names() []string {
	var n []string
	if f&FlagOutOfOrder != 0 {
		n = append(n, "out_of_order")
	}
	if f&FlagAnomaly != 0 {
		n = append(n, "anomaly")
	}
	if f&FlagDuplicate != 0 {
		n = append(n, "duplicate")
	}
	return n
}

// String joins the names with "|"; "" for none.
func (f Flags) String() string {
	s := ""
	for i, n := range f.Names() {
		if i > 0 {
			s += "|"
		}
		s += n
	}
	return s
}

// Position reports whether the engine took the fix as the position.
func (f Flags) Position() bool { return f == 0 }

// Point is one fix of a track with its log sequence and flags.
type Point struct {
	LogSeq uint64
	Fix    proxmon.Fix
	Flags  Flags
}

// Points calls fn with every point of q in log order: the device's fixes
// whose GPS time is in [q.From, q.To), flagged.
func Points(ctx context.Context, log Log, q Query, fn func(p *Point) error) error {
	if err := q.check(); err != nil {
		return err
	}
	from, to := q.scanWindow()
	cl := fence.NewClassifier(q.DefaultAccuracyM)
	var p Point
	return log.ScanFixes(ctx, q.Device, from, to, func(seq uint64, f *proxmon.Fix) error {
		var fl Flags
		switch cl.Classify(f) {
		case fence.FixLate:
			fl = FlagOutOfOrder
		case fence.FixAnomaly:
			fl = FlagAnomaly
		case fence.FixDuplicate:
			fl = FlagDuplicate
		}
		if f.Time.Before(q.From) || !f.Time.Before(q.To) {
			return nil
		}
		p = Point{LogSeq: seq, Fix: *f, Flags: fl}
		return fn(&p)
	})
}
