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
		var err error
		if vals[i], err = caseValue(&recs[i]); err != nil {
			return 0, err
		}
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
		if last, err = appendCase(ctx, js, recs[i]); err != nil {
			return last, err
		}
	}
	return last, nil
}

// caseValue checks a case record and returns its form in the CASES bucket.
func caseValue(r *proxmon.Record) ([]byte, error) {
	if err := proxmon.ValidateCaseRecord(r.Case, r.Devices, nil); err != nil {
		return nil, fmt.Errorf("case %s: %w", r.Case.ID, err)
	}
	b, err := r.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("case %s: %w", r.Case.ID, err)
	}
	return b, nil
}

// appendCase appends a case record, written to the bucket already, to
// FIXES, without its devices' secrets.
func appendCase(ctx context.Context, js jetstream.JetStream, r proxmon.Record) (uint64, error) {
	r.Devices = withoutSecrets(r.Devices)
	seq, err := AppendSync(ctx, js, &r)
	if err != nil {
		return 0, fmt.Errorf("apply case %s: %w", r.Case.ID, err)
	}
	return seq, nil
}

// withoutSecrets returns the devices with their MQTT secret hashes left
// out: the engine has no use for them, and the log is archived, exported
// and replayed far more widely than the CASES bucket is read.
func withoutSecrets(ds []proxmon.Device) []proxmon.Device {
	out := make([]proxmon.Device, len(ds))
	for i, d := range ds {
		d.MQTTPasswordBcrypt = ""
		out[i] = d
	}
	return out
}

// Registry knows the devices of the cases in the CASES bucket, for ingest
// to reject fixes of unknown devices and for the MQTT listener to check a
// device's secret. It follows the bucket's changes.
//
// A device used by several cases has the secret of the case written last
// (the highest bucket revision), even an empty one: applying a case file
// replaces the secrets it names.
type Registry struct {
	mu       sync.RWMutex
	cases    map[string]caseDevices         // case -> its devices
	devices  map[string]map[string]struct{} // device -> the cases using it
	onChange func(devices []string)
}

// caseDevices are the devices of one case as the bucket revision rev wrote
// them: device -> bcrypt hash of its MQTT secret ("" for none).
type caseDevices struct {
	rev    uint64
	hashes map[string]string
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
	r := &Registry{cases: map[string]caseDevices{}, devices: map[string]map[string]struct{}{}}
	ready := make(chan struct{})
	go func() {
		defer w.Stop()
		loaded := false
		for {
			var e jetstream.KeyValueEntry
			ok := true
			select {
			case <-ctx.Done():
				return
			case e, ok = <-w.Updates():
			}
			// Every entry already delivered joins the batch: a burst (a
			// thousand cases deleted) is reported once, and the slower
			// the report, the larger the next batch.
			var changed []string
			for more := true; ok && more; {
				if e == nil { // the initial values are all in: none is a change
					loaded, changed = true, nil
					close(ready)
				} else {
					c, err := r.update(e)
					if err != nil {
						log.Warn("bad case in bucket", "key", e.Key(), "err", err)
					}
					changed = append(changed, c...)
				}
				select {
				case e, ok = <-w.Updates():
				default:
					more = false
				}
			}
			if fn := r.changeFunc(); loaded && fn != nil && len(changed) > 0 {
				slices.Sort(changed)
				fn(slices.Compact(changed))
			}
			if !ok {
				return
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

// OnSecretChange has fn called with the devices whose MQTT secret changes
// or which no case in force uses any more, after the bucket's initial
// values: their connections authenticated with a secret no longer in
// force. The bucket's changes that arrived together come in one call, each
// device once, sorted.
func (r *Registry) OnSecretChange(fn func(devices []string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onChange = fn
}

func (r *Registry) changeFunc() func([]string) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.onChange
}

// update applies a bucket entry and returns the devices whose secret
// changed or which left every case.
func (r *Registry) update(e jetstream.KeyValueEntry) (changed []string, bad error) {
	var hashes map[string]string
	if e.Operation() == jetstream.KeyValuePut {
		rec, err := proxmon.ParseRecord(e.Value())
		switch {
		case err != nil:
			bad = err
		case rec.Kind != proxmon.RecordCase:
			bad = errors.New("not a case record")
		default:
			hashes = make(map[string]string, len(rec.Devices))
			for _, d := range rec.Devices {
				hashes[d.ID] = d.MQTTPasswordBcrypt
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.cases[e.Key()]
	// Only a device known before can have connections to close.
	before := make(map[string]string, len(old.hashes))
	for id := range old.hashes {
		before[id], _ = r.hashLocked(id)
	}
	for id := range hashes {
		if h, ok := r.hashLocked(id); ok {
			before[id] = h
		}
	}
	for id := range old.hashes {
		if delete(r.devices[id], e.Key()); len(r.devices[id]) == 0 {
			delete(r.devices, id)
		}
	}
	delete(r.cases, e.Key())
	if len(hashes) > 0 {
		r.cases[e.Key()] = caseDevices{rev: e.Revision(), hashes: hashes}
		for id := range hashes {
			if r.devices[id] == nil {
				r.devices[id] = map[string]struct{}{}
			}
			r.devices[id][e.Key()] = struct{}{}
		}
	}
	for id, was := range before {
		if now, ok := r.hashLocked(id); !ok || now != was {
			changed = append(changed, id)
		}
	}
	return changed, bad
}

// Known reports whether a case in force uses the device.
func (r *Registry) Known(device string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.devices[device]) > 0
}

// MQTTPasswordHash returns the bcrypt hash of the device's MQTT secret in
// force, "" when it has none; ok is false when no case in force uses the
// device.
func (r *Registry) MQTTPasswordHash(device string) (hash string, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.hashLocked(device)
}

func (r *Registry) hashLocked(device string) (hash string, ok bool) {
	var rev uint64
	for c := range r.devices[device] {
		if cd := r.cases[c]; !ok || cd.rev > rev {
			hash, rev, ok = cd.hashes[device], cd.rev, true
		}
	}
	return hash, ok
}
