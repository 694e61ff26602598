package proxmon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// RecordKind says what a log record carries.
type RecordKind uint8

// Record kinds: everything the engine reacts to is one of these.
const (
	RecordFix RecordKind = iota + 1
	RecordStatus
	RecordTick
	RecordHeartbeat
	RecordCase
	RecordCaseDeleted
)

// Record is one entry of the log (the FIXES stream, or its NDJSON form).
type Record struct {
	Kind   RecordKind
	Fix    Fix
	Status Status
	// Time is a tick's or heartbeat's time, and the log time of a case
	// record (zero when unknown).
	Time time.Time
	// Case and Devices are a case record: the case and the devices it uses.
	Case    *Case
	Devices []Device
	// CaseID is the case a case_deleted record removes.
	CaseID string
}

// ErrRecord is wrapped by every error that rejects a log record.
var ErrRecord = errors.New("bad record")

// recordJSON is the NDJSON form of a record: a fix at top level, or exactly
// one of the other keys.
type recordJSON struct {
	Device     *string    `json:"device,omitempty"`
	Seq        *uint64    `json:"seq,omitempty"`
	Time       *time.Time `json:"time,omitempty"`
	Received   *time.Time `json:"received,omitempty"`
	Lat        *float64   `json:"lat,omitempty"`
	Lon        *float64   `json:"lon,omitempty"`
	AccuracyM  float64    `json:"accuracy_m,omitempty"`
	SpeedMps   float64    `json:"speed_mps,omitempty"`
	HeadingDeg float64    `json:"heading_deg,omitempty"`
	Source     Source     `json:"source,omitempty"`
	Satellites int        `json:"satellites,omitempty"`

	Status      *statusJSON `json:"status,omitempty"`
	Tick        *time.Time  `json:"tick,omitempty"`
	Heartbeat   *time.Time  `json:"heartbeat,omitempty"`
	Case        *Case       `json:"case,omitempty"`
	Devices     []Device    `json:"devices,omitempty"`
	CaseDeleted *string     `json:"case_deleted,omitempty"`
}

type statusJSON struct {
	Device     string     `json:"device"`
	Time       *time.Time `json:"time"`
	Received   *time.Time `json:"received,omitempty"`
	BatteryPct *int       `json:"battery_pct,omitempty"`
	Strap      string     `json:"strap,omitempty"`
	CaseTamper *bool      `json:"case_tamper,omitempty"`
	Charging   *bool      `json:"charging,omitempty"`
	Jamming    *bool      `json:"jamming,omitempty"`
}

// ParseRecord decodes one NDJSON line of the log. The error names the fault
// but never the coordinates.
func ParseRecord(line []byte) (Record, error) {
	var j recordJSON
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrRecord, err)
	}
	if len(bytes.TrimSpace(line[dec.InputOffset():])) > 0 {
		return Record{}, fmt.Errorf("%w: text after the JSON value", ErrRecord)
	}
	kinds := 0
	for _, present := range []bool{j.Device != nil, j.Status != nil, j.Tick != nil, j.Heartbeat != nil, j.Case != nil, j.CaseDeleted != nil} {
		if present {
			kinds++
		}
	}
	if kinds != 1 {
		return Record{}, fmt.Errorf("%w: want exactly one of a fix, status, tick, heartbeat, case or case_deleted", ErrRecord)
	}
	if j.Device == nil && j.hasFixFields() {
		return Record{}, fmt.Errorf("%w: fix fields on a record that is not a fix", ErrRecord)
	}
	if j.Devices != nil && j.Case == nil {
		return Record{}, fmt.Errorf("%w: devices without a case", ErrRecord)
	}
	for _, t := range []*time.Time{j.Time, j.Received, j.Tick, j.Heartbeat} {
		if t != nil && !writable(*t) {
			return Record{}, fmt.Errorf("%w: time outside the years 0001-9999 in UTC", ErrRecord)
		}
	}
	switch {
	case j.Device != nil:
		return j.fix()
	case j.Status != nil:
		return j.Status.record()
	case j.Tick != nil:
		return Record{Kind: RecordTick, Time: j.Tick.UTC()}, nil
	case j.Heartbeat != nil:
		return Record{Kind: RecordHeartbeat, Time: j.Heartbeat.UTC()}, nil
	case j.Case != nil:
		r := Record{Kind: RecordCase, Case: j.Case, Devices: j.Devices}
		if j.Time != nil {
			r.Time = j.Time.UTC()
		}
		return r, nil
	default:
		if !ValidID(*j.CaseDeleted) {
			return Record{}, fmt.Errorf("%w: case_deleted: invalid id %q", ErrRecord, *j.CaseDeleted)
		}
		return Record{Kind: RecordCaseDeleted, CaseID: *j.CaseDeleted}, nil
	}
}

// hasFixFields reports whether any field only a fix may carry is present
// (time may also date a case record).
func (j *recordJSON) hasFixFields() bool {
	return j.Seq != nil || j.Lat != nil || j.Lon != nil || j.Received != nil || j.AccuracyM != 0 ||
		j.SpeedMps != 0 || j.HeadingDeg != 0 || j.Source != "" || j.Satellites != 0 ||
		(j.Time != nil && j.Case == nil)
}

// writable reports whether t, in UTC, can be written back as RFC 3339.
func writable(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 1 && y <= 9999
}

func (j *recordJSON) fix() (Record, error) {
	dev := *j.Device
	switch {
	case !ValidID(dev):
		return Record{}, fmt.Errorf("%w: fix: invalid device id %q", ErrRecord, dev)
	case j.Seq == nil:
		return Record{}, fmt.Errorf("%w: fix of %s: seq missing", ErrRecord, dev)
	case j.Time == nil:
		return Record{}, fmt.Errorf("%w: fix of %s: time missing", ErrRecord, dev)
	case j.Lat == nil || j.Lon == nil:
		return Record{}, fmt.Errorf("%w: fix of %s: lat or lon missing", ErrRecord, dev)
	case !(*j.Lat >= -90 && *j.Lat <= 90 && *j.Lon >= -180 && *j.Lon <= 180):
		return Record{}, fmt.Errorf("%w: fix of %s: coordinates out of range", ErrRecord, dev)
	case !(j.AccuracyM >= 0) || math.IsInf(j.AccuracyM, 0):
		return Record{}, fmt.Errorf("%w: fix of %s: accuracy_m must be >= 0", ErrRecord, dev)
	case j.SpeedMps < 0:
		return Record{}, fmt.Errorf("%w: fix of %s: speed_mps must be >= 0", ErrRecord, dev)
	case j.HeadingDeg < 0 || j.HeadingDeg >= 360:
		return Record{}, fmt.Errorf("%w: fix of %s: heading_deg must be in [0, 360)", ErrRecord, dev)
	case j.Satellites < 0:
		return Record{}, fmt.Errorf("%w: fix of %s: satellites must be >= 0", ErrRecord, dev)
	case j.Source != "" && j.Source != SourceGNSS && j.Source != SourceWiFi && j.Source != SourceCell:
		return Record{}, fmt.Errorf("%w: fix of %s: source %q is not gnss, wifi or cell", ErrRecord, dev, j.Source)
	}
	f := Fix{
		Device: dev, Seq: *j.Seq, Time: j.Time.UTC(), Lat: *j.Lat, Lon: *j.Lon,
		AccuracyM: j.AccuracyM, SpeedMps: j.SpeedMps, HeadingDeg: j.HeadingDeg,
		Source: j.Source, Satellites: j.Satellites,
	}
	if j.Received != nil {
		f.Received = j.Received.UTC()
	}
	return Record{Kind: RecordFix, Fix: f}, nil
}

func (j *statusJSON) record() (Record, error) {
	switch {
	case !ValidID(j.Device):
		return Record{}, fmt.Errorf("%w: status: invalid device id %q", ErrRecord, j.Device)
	case j.Time == nil:
		return Record{}, fmt.Errorf("%w: status of %s: time missing", ErrRecord, j.Device)
	case j.Strap != "" && j.Strap != "open" && j.Strap != "closed":
		return Record{}, fmt.Errorf("%w: status of %s: strap %q is neither open nor closed", ErrRecord, j.Device, j.Strap)
	case j.BatteryPct != nil && (*j.BatteryPct < 0 || *j.BatteryPct > 100):
		return Record{}, fmt.Errorf("%w: status of %s: battery_pct %d out of 0..100", ErrRecord, j.Device, *j.BatteryPct)
	}
	s := Status{
		Device: j.Device, Time: j.Time.UTC(),
		CaseTamper: flag(j.CaseTamper), Charging: flag(j.Charging), Jamming: flag(j.Jamming),
	}
	if j.Strap != "" {
		s.StrapOpen = FlagOf(j.Strap == "open")
	}
	if j.Received != nil {
		s.Received = j.Received.UTC()
	}
	if j.BatteryPct != nil {
		s.HasBattery, s.BatteryPct = true, *j.BatteryPct
	}
	return Record{Kind: RecordStatus, Status: s}, nil
}

// MarshalJSON writes the record in its NDJSON form.
func (r Record) MarshalJSON() ([]byte, error) {
	var j recordJSON
	switch r.Kind {
	case RecordFix:
		f := r.Fix
		j = recordJSON{Device: &f.Device, Seq: &f.Seq, Time: &f.Time, Lat: &f.Lat, Lon: &f.Lon,
			AccuracyM: f.AccuracyM, SpeedMps: f.SpeedMps, HeadingDeg: f.HeadingDeg,
			Source: f.Source, Satellites: f.Satellites}
		if !f.Received.IsZero() {
			j.Received = &f.Received
		}
	case RecordStatus:
		s := r.Status
		sj := statusJSON{Device: s.Device, Time: &s.Time,
			CaseTamper: s.CaseTamper.ptr(), Charging: s.Charging.ptr(), Jamming: s.Jamming.ptr()}
		switch s.StrapOpen {
		case FlagOn:
			sj.Strap = "open"
		case FlagOff:
			sj.Strap = "closed"
		}
		if !s.Received.IsZero() {
			sj.Received = &s.Received
		}
		if s.HasBattery {
			sj.BatteryPct = &s.BatteryPct
		}
		j.Status = &sj
	case RecordTick:
		j.Tick = &r.Time
	case RecordHeartbeat:
		j.Heartbeat = &r.Time
	case RecordCase:
		j.Case, j.Devices = r.Case, r.Devices
		if !r.Time.IsZero() {
			j.Time = &r.Time
		}
	case RecordCaseDeleted:
		j.CaseDeleted = &r.CaseID
	default:
		return nil, fmt.Errorf("%w: unknown kind %d", ErrRecord, r.Kind)
	}
	return json.Marshal(j)
}

func flag(b *bool) Flag {
	if b == nil {
		return FlagUnknown
	}
	return FlagOf(*b)
}

func (f Flag) ptr() *bool {
	if f == FlagUnknown {
		return nil
	}
	b := f == FlagOn
	return &b
}
