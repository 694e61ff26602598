package stream

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/centre"
)

// CaseStore reads and changes single cases for the HTTP API: each change
// takes the path of ApplyCases (checked, written to the CASES bucket, then
// appended to FIXES, where the engine learns it), and is based on a bucket
// revision, so that two case managers editing one case never silently
// overwrite each other. A case's history is the bucket's (its last 16
// revisions). Devices' MQTT secrets are written, never read back: every
// version returned is without them.
type CaseStore struct {
	js jetstream.JetStream
	kv jetstream.KeyValue
}

// OpenCaseStore opens the CASES bucket.
func OpenCaseStore(ctx context.Context, js jetstream.JetStream) (*CaseStore, error) {
	kv, err := js.KeyValue(ctx, Cases)
	if err != nil {
		return nil, fmt.Errorf("cases: bucket %s: %w", Cases, err)
	}
	return &CaseStore{js: js, kv: kv}, nil
}

// version returns the case version of a bucket entry; secrets says
// whether to keep the devices' MQTT secrets.
func version(e jetstream.KeyValueEntry, secrets bool) (centre.CaseVersion, error) {
	v := centre.CaseVersion{ID: e.Key(), Revision: e.Revision(), Time: e.Created().UTC(), Operation: centre.CaseDelete}
	if e.Operation() != jetstream.KeyValuePut {
		return v, nil
	}
	rec, err := proxmon.ParseRecord(e.Value())
	if err == nil && rec.Kind != proxmon.RecordCase {
		err = errors.New("not a case record")
	}
	if err != nil {
		return v, fmt.Errorf("case %s revision %d: %w", e.Key(), e.Revision(), err)
	}
	v.Operation, v.Case, v.Devices = centre.CasePut, rec.Case, rec.Devices
	if !secrets {
		v.Devices = withoutSecrets(v.Devices)
	}
	return v, nil
}

// Case returns the case in force of that id, or centre.ErrNoCase.
func (s *CaseStore) Case(ctx context.Context, id string) (centre.CaseVersion, error) {
	return s.get(ctx, id, false)
}

func (s *CaseStore) get(ctx context.Context, id string, secrets bool) (centre.CaseVersion, error) {
	if !proxmon.ValidID(id) {
		return centre.CaseVersion{}, centre.ErrNoCase
	}
	e, err := s.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return centre.CaseVersion{}, centre.ErrNoCase
	}
	if err != nil {
		return centre.CaseVersion{}, fmt.Errorf("case %s: %w", id, err)
	}
	return version(e, secrets)
}

// Cases returns the cases in force, by id.
func (s *CaseStore) Cases(ctx context.Context) ([]centre.CaseVersion, error) {
	return s.list(ctx, false)
}

func (s *CaseStore) list(ctx context.Context, secrets bool) ([]centre.CaseVersion, error) {
	w, err := s.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("cases: %w", err)
	}
	defer w.Stop()
	var out []centre.CaseVersion
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e := <-w.Updates():
			if e == nil { // the values in force are all in
				slices.SortFunc(out, func(a, b centre.CaseVersion) int { return cmp.Compare(a.ID, b.ID) })
				return out, nil
			}
			v, err := version(e, secrets)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
}

// secretsInForce returns each device's MQTT secret in force: as Registry
// has it, that of the case written last that uses the device.
func (s *CaseStore) secretsInForce(ctx context.Context) (map[string]string, error) {
	all, err := s.list(ctx, true)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(all, func(a, b centre.CaseVersion) int { return cmp.Compare(a.Revision, b.Revision) })
	out := map[string]string{}
	for _, v := range all {
		for _, d := range v.Devices {
			out[d.ID] = d.MQTTPasswordBcrypt
		}
	}
	return out, nil
}

// PutCase puts a case in force, based on revision last of it (0: the case
// must not be in force); centre.ErrCaseChanged when the bucket holds
// another revision now. A device given without an MQTT secret keeps the
// one in force for it: secrets are never read back, so an edit of what was
// read must not drop them, nor a new case lock out a device another case
// uses. The record is checked as ApplyCases checks it (the error wraps
// proxmon.ErrInvalid).
func (s *CaseStore) PutCase(ctx context.Context, c *proxmon.Case, devices []proxmon.Device, last uint64) (centre.CaseVersion, error) {
	rec := proxmon.Record{Kind: proxmon.RecordCase, Case: c, Devices: slices.Clone(devices)}
	secrets, err := s.secretsInForce(ctx)
	if err != nil {
		return centre.CaseVersion{}, err
	}
	for i := range rec.Devices {
		if d := &rec.Devices[i]; d.MQTTPasswordBcrypt == "" {
			d.MQTTPasswordBcrypt = secrets[d.ID]
		}
	}
	val, err := caseValue(&rec)
	if err != nil {
		return centre.CaseVersion{}, err
	}
	var rev uint64
	if last == 0 {
		rev, err = s.kv.Create(ctx, c.ID, val)
	} else {
		rev, err = s.kv.Update(ctx, c.ID, val, last)
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		return centre.CaseVersion{}, fmt.Errorf("case %s: %w", c.ID, centre.ErrCaseChanged)
	}
	if err != nil {
		return centre.CaseVersion{}, fmt.Errorf("case %s: %w", c.ID, err)
	}
	if _, err := appendCase(ctx, s.js, rec); err != nil {
		return centre.CaseVersion{}, err
	}
	e, err := s.kv.GetRevision(ctx, c.ID, rev)
	if err != nil {
		return centre.CaseVersion{}, fmt.Errorf("case %s: %w", c.ID, err)
	}
	return version(e, false)
}

// DeleteCase takes a case out of force, based on revision last of it (0:
// the one in force):
// it deletes it from the bucket and appends a case_deleted record to
// FIXES. centre.ErrNoCase when it is not in force, centre.ErrCaseChanged
// when the bucket holds another revision now. It returns the deletion.
func (s *CaseStore) DeleteCase(ctx context.Context, id string, last uint64) (centre.CaseVersion, error) {
	cur, err := s.Case(ctx, id)
	if err != nil {
		return centre.CaseVersion{}, err
	}
	if last == 0 {
		last = cur.Revision
	}
	err = s.kv.Delete(ctx, id, jetstream.LastRevision(last))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return centre.CaseVersion{}, fmt.Errorf("case %s: %w", id, centre.ErrCaseChanged)
	}
	if err != nil {
		return centre.CaseVersion{}, fmt.Errorf("delete case %s: %w", id, err)
	}
	rec := proxmon.Record{Kind: proxmon.RecordCaseDeleted, CaseID: id}
	if _, err := AppendSync(ctx, s.js, &rec); err != nil {
		return centre.CaseVersion{}, fmt.Errorf("delete case %s: %w", id, err)
	}
	// The deletion is the first revision after last: whatever came later
	// was based on it.
	hist, err := s.CaseHistory(ctx, id)
	if err != nil {
		return centre.CaseVersion{}, err
	}
	for _, v := range hist {
		if v.Revision > last {
			return v, nil
		}
	}
	return centre.CaseVersion{}, fmt.Errorf("delete case %s: the deletion is not in its history", id)
}

// CaseHistory returns the revisions of a case the bucket keeps, oldest
// first; centre.ErrNoCase when it has none.
func (s *CaseStore) CaseHistory(ctx context.Context, id string) ([]centre.CaseVersion, error) {
	if !proxmon.ValidID(id) {
		return nil, centre.ErrNoCase
	}
	hist, err := s.kv.History(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, centre.ErrNoCase
	}
	if err != nil {
		return nil, fmt.Errorf("case %s: history: %w", id, err)
	}
	out := make([]centre.CaseVersion, 0, len(hist))
	for _, e := range hist {
		v, err := version(e, false)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
