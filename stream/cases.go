package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
)

// CaseRecords returns the case records of a validated case file: one per
// case, carrying the devices that case uses.
func CaseRecords(cf *proxmon.CaseFile) []proxmon.Record {
	byID := make(map[string]proxmon.Device, len(cf.Devices))
	for _, d := range cf.Devices {
		byID[d.ID] = d
	}
	recs := make([]proxmon.Record, 0, len(cf.Cases))
	for i := range cf.Cases {
		c := &cf.Cases[i]
		ids := []string{c.Offender}
		for _, b := range c.ContactBans {
			ids = append(ids, b.Protected)
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
		devs := make([]proxmon.Device, 0, len(ids))
		for _, id := range ids {
			if d, ok := byID[id]; ok {
				devs = append(devs, d)
			}
		}
		recs = append(recs, proxmon.Record{Kind: proxmon.RecordCase, Case: c, Devices: devs})
	}
	return recs
}

// ApplyCases puts the cases of cf in force: it checks every case record
// first (nothing is written when one fails), then writes each to the CASES
// bucket (the operators' view) and appends it to FIXES (the engine learns
// cases only from the log). cf must have been parsed with
// proxmon.ParseCaseFile or validated. It returns the FIXES sequence of the
// last case record, 0 when there is none.
func ApplyCases(ctx context.Context, js jetstream.JetStream, cf *proxmon.CaseFile) (uint64, error) {
	recs := CaseRecords(cf)
	vals := make([][]byte, len(recs))
	for i := range recs {
		if err := proxmon.ValidateCaseRecord(recs[i].Case, recs[i].Devices, nil); err != nil {
			return 0, fmt.Errorf("case %s: %w", recs[i].Case.ID, err)
		}
		b, err := recs[i].MarshalJSON()
		if err != nil {
			return 0, fmt.Errorf("case %s: %w", recs[i].Case.ID, err)
		}
		vals[i] = b
	}
	kv, err := js.KeyValue(ctx, Cases)
	if err != nil {
		return 0, fmt.Errorf("apply cases: bucket %s: %w", Cases, err)
	}
	var last uint64
	for i := range recs {
		if _, err := kv.Put(ctx, recs[i].Case.ID, vals[i]); err != nil {
			return last, fmt.Errorf("apply case %s: %w", recs[i].Case.ID, err)
		}
		if last, err = AppendSync(ctx, js, &recs[i]); err != nil {
			return last, fmt.Errorf("apply case %s: %w", recs[i].Case.ID, err)
		}
	}
	return last, nil
}

// Registry knows the devices of the cases in the CASES bucket, for ingest
// to reject fixes of unknown devices. It follows the bucket's changes.
type Registry struct {
	mu      sync.RWMutex
	cases   map[string][]string // case -> its devices
	devices map[string]int      // device -> number of cases using it
}

// WatchCases returns a Registry loaded with the bucket's current cases that
// keeps following it until ctx ends.
func WatchCases(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (*Registry, error) {
	kv, err := js.KeyValue(ctx, Cases)
	if err != nil {
		return nil, fmt.Errorf("watch cases: %w", err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch cases: %w", err)
	}
	r := &Registry{cases: map[string][]string{}, devices: map[string]int{}}
	ready := make(chan struct{})
	go func() {
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil { // the initial values are all in
					close(ready)
					continue
				}
				if err := r.update(e); err != nil {
					log.Warn("bad case in bucket", "key", e.Key(), "err", err)
				}
			}
		}
	}()
	select {
	case <-ready:
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (r *Registry) update(e jetstream.KeyValueEntry) error {
	var ids []string
	var bad error
	if e.Operation() == jetstream.KeyValuePut {
		rec, err := proxmon.ParseRecord(e.Value())
		switch {
		case err != nil:
			bad = err
		case rec.Kind != proxmon.RecordCase:
			bad = errors.New("not a case record")
		default:
			for _, d := range rec.Devices {
				ids = append(ids, d.ID)
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range r.cases[e.Key()] {
		if r.devices[id]--; r.devices[id] <= 0 {
			delete(r.devices, id)
		}
	}
	delete(r.cases, e.Key())
	if len(ids) > 0 {
		r.cases[e.Key()] = ids
		for _, id := range ids {
			r.devices[id]++
		}
	}
	return bad
}

// Known reports whether a case in force uses the device.
func (r *Registry) Known(device string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.devices[device] > 0
}
