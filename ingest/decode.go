// Package ingest is the MQTT adapter: it subscribes to the devices' topics,
// decodes and validates their protobuf payloads, and hands domain fixes and
// statuses to the log. For now only the decode part exists.
//
// Invariants: a payload becomes either a valid domain value or an error that
// wraps exactly one of the sentinel errors below, whose Reason is a metric
// label and a NATS subject token (proxmon.rejected.{reason}); decoding never
// panics, whatever the bytes. Error messages name the device and the fault
// but never carry a coordinate, because they end up in logs and positions
// must not.
package ingest

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/geo"
	"github.com/proxmon/proxmon/proto/proxmonv1"
)

// Reasons a payload is rejected. Each error returned by this package wraps
// exactly one of them; Reason maps it to a label.
var (
	// ErrUndecodable: the payload is not a protobuf message of the expected
	// type (truncated, wrong wire types, strings that are not UTF-8).
	ErrUndecodable = errors.New("undecodable payload")
	// ErrBadID: the device id in the topic or the payload is not 1-64
	// characters of [A-Za-z0-9_-].
	ErrBadID = errors.New("bad id")
	// ErrDeviceMismatch: the payload's device id differs from the topic's.
	ErrDeviceMismatch = errors.New("device id differs from topic")
	// ErrBadTime: the time is missing, before GPSEpoch or after the range
	// of a Timestamp (year 9999).
	ErrBadTime = errors.New("bad time")
	// ErrFutureTime: the time is more than MaxClockAhead after receipt.
	ErrFutureTime = errors.New("time ahead of receipt")
	// ErrBadCoordinates: latitude or longitude is NaN, infinite or out of
	// range.
	ErrBadCoordinates = errors.New("bad coordinates")
	// ErrZeroPosition: the position is exactly (0, 0), which receivers
	// report when they have no fix.
	ErrZeroPosition = errors.New("zero position")
	// ErrBadValue: another field (accuracy, speed, heading, battery) is
	// outside its range.
	ErrBadValue = errors.New("bad value")
	// ErrUnknownDevice: the device is not registered. Returned by the
	// registry check of the subscriber, not by the decoders.
	ErrUnknownDevice = errors.New("unknown device")
)

// reasons holds the label of each sentinel, in the order Reason tries them.
var reasons = []struct {
	err   error
	label string
}{
	{ErrUndecodable, "undecodable"},
	{ErrBadID, "bad_id"},
	{ErrDeviceMismatch, "device_mismatch"},
	{ErrBadTime, "bad_time"},
	{ErrFutureTime, "future_time"},
	{ErrBadCoordinates, "bad_coordinates"},
	{ErrZeroPosition, "zero_position"},
	{ErrBadValue, "bad_value"},
	{ErrUnknownDevice, "unknown_device"},
}

// Reason returns the label for why err rejected a payload: one of
// "undecodable", "bad_id", "device_mismatch", "bad_time", "future_time",
// "bad_coordinates", "zero_position", "bad_value", "unknown_device", or
// "other" for an error of none of these kinds, and "" for nil. Labels are
// lower-case [a-z_] so they serve as Prometheus label values and NATS
// subject tokens.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.label
		}
	}
	return "other"
}

// MaxClockAhead is how far a device's time may be ahead of the time its
// message was received. Devices take their time from GNSS, so more than this
// is a broken clock; such a record would make every later one look late
// (fixes) or stale (statuses), and so hide them.
const MaxClockAhead = 60 * time.Second

// GPSEpoch is the earliest time a record may carry: no satellite time is
// older, and an earlier time is a device clock that was never set. It also
// keeps the zero time.Time, which the domain reads as "unset", out of
// decoded records.
var GPSEpoch = time.Date(1980, 1, 6, 0, 0, 0, 0, time.UTC)

// decode unmarshals payload into m. Fields this version does not know are
// ignored: a newer device may send them, and its fix must still count. But
// protobuf also files a known field under "unknown" when it arrives with
// the wrong wire type, which would silently leave it at zero (a latitude
// of 0 is a valid one); such a payload is rejected.
func decode(payload []byte, m proto.Message) error {
	if err := proto.Unmarshal(payload, m); err != nil {
		// The protobuf error names offsets and wire types, no field
		// values, so it carries no position.
		return fmt.Errorf("%w: %v", ErrUndecodable, err)
	}
	r := m.ProtoReflect()
	fields := r.Descriptor().Fields()
	for b := r.GetUnknown(); len(b) > 0; {
		num, typ, n := protowire.ConsumeField(b)
		if n < 0 { // unreachable: Unmarshal checked the framing
			return fmt.Errorf("%w: %v", ErrUndecodable, protowire.ParseError(n))
		}
		if fields.ByNumber(num) != nil {
			return fmt.Errorf("field %d with wire type %d: %w", num, typ, ErrUndecodable)
		}
		b = b[n:]
	}
	return nil
}

// DecodeFix decodes and checks a proxmon.v1.Fix payload received on the
// topic proxmon/v1/devices/{topicDevice}/fix. The result's Received is zero:
// the log sets it. DecodeFix checks what the payload alone can tell; the
// receipt time (ValidateFix) and the device registry are checked by the
// caller. A heading of 360 becomes 0, the same course.
func DecodeFix(topicDevice string, payload []byte) (proxmon.Fix, error) {
	var m proxmonv1.Fix
	if err := checkTopicDevice(topicDevice); err != nil {
		return proxmon.Fix{}, fmt.Errorf("decode fix: %w", err)
	}
	if err := decode(payload, &m); err != nil {
		return proxmon.Fix{}, fmt.Errorf("decode fix from %s: %w", topicDevice, err)
	}
	fail := func(err error) (proxmon.Fix, error) {
		return proxmon.Fix{}, fmt.Errorf("decode fix from %s: %w", topicDevice, err)
	}
	if err := checkPayloadDevice(topicDevice, m.GetDevice()); err != nil {
		return fail(err)
	}
	t, err := decodeTime(m.GetTime())
	if err != nil {
		return fail(err)
	}
	lat, lon := m.GetLat(), m.GetLon()
	// The faults below name the field, never its value: positions must not
	// reach the logs.
	if !(geo.Point{Lat: lat, Lon: lon}).Valid() {
		return fail(ErrBadCoordinates)
	}
	if lat == 0 && lon == 0 {
		return fail(ErrZeroPosition)
	}
	accuracy, err := nonNegative("accuracy_m", m.GetAccuracyM())
	if err != nil {
		return fail(err)
	}
	speed, err := nonNegative("speed_mps", m.GetSpeedMps())
	if err != nil {
		return fail(err)
	}
	heading := m.GetHeadingDeg()
	if !(heading >= 0 && heading <= 360) { // false for NaN too
		return fail(fmt.Errorf("heading_deg not in [0, 360]: %w", ErrBadValue))
	}
	if heading == 360 {
		// North, as a device may write it (or a float32 rounds 359.99999
		// to it); the log's records hold [0, 360) and their readers skip
		// any other heading, so the fix would be stored and never judged.
		heading = 0
	}
	return proxmon.Fix{
		Device:     topicDevice,
		Seq:        m.GetSeq(),
		Time:       t,
		Lat:        lat,
		Lon:        lon,
		AccuracyM:  accuracy,
		SpeedMps:   speed,
		HeadingDeg: widen(heading),
		Source:     decodeSource(m.GetSource()),
		Satellites: int(m.GetSatellites()),
	}, nil
}

// DecodeStatus decodes and checks a proxmon.v1.Status payload received on
// the topic proxmon/v1/devices/{topicDevice}/status. The result's Received is
// zero: the log sets it.
func DecodeStatus(topicDevice string, payload []byte) (proxmon.Status, error) {
	var m proxmonv1.Status
	if err := checkTopicDevice(topicDevice); err != nil {
		return proxmon.Status{}, fmt.Errorf("decode status: %w", err)
	}
	if err := decode(payload, &m); err != nil {
		return proxmon.Status{}, fmt.Errorf("decode status from %s: %w", topicDevice, err)
	}
	fail := func(err error) (proxmon.Status, error) {
		return proxmon.Status{}, fmt.Errorf("decode status from %s: %w", topicDevice, err)
	}
	if err := checkPayloadDevice(topicDevice, m.GetDevice()); err != nil {
		return fail(err)
	}
	t, err := decodeTime(m.GetTime())
	if err != nil {
		return fail(err)
	}
	s := proxmon.Status{
		Device:     topicDevice,
		Time:       t,
		StrapOpen:  decodeStrap(m.GetStrap()),
		CaseTamper: decodeFlag(m.CaseTamper),
		Charging:   decodeFlag(m.Charging),
		Jamming:    decodeFlag(m.Jamming),
	}
	if m.BatteryPct != nil {
		pct := m.GetBatteryPct()
		if pct > 100 {
			return fail(fmt.Errorf("battery_pct above 100: %w", ErrBadValue))
		}
		s.HasBattery, s.BatteryPct = true, int(pct)
	}
	return s, nil
}

// ValidateFix checks a decoded fix against the time it was received: its
// device time may be at most MaxClockAhead later.
func ValidateFix(f proxmon.Fix, received time.Time) error {
	if f.Time.Sub(received) > MaxClockAhead {
		return fmt.Errorf("fix %s:%d: %w by more than %v", f.Device, f.Seq, ErrFutureTime, MaxClockAhead)
	}
	return nil
}

// ValidateStatus checks a decoded status against the time it was received,
// as ValidateFix does for fixes. A status from the future would make every
// later status look older and be ignored, a strap opening among them.
func ValidateStatus(s proxmon.Status, received time.Time) error {
	if s.Time.Sub(received) > MaxClockAhead {
		return fmt.Errorf("status %s: %w by more than %v", s.Device, ErrFutureTime, MaxClockAhead)
	}
	return nil
}

// EncodeFix encodes a domain fix as a proxmon.v1.Fix payload, as a device
// sends it: proxmonv1.EncodeFix, kept here for ingest's callers.
func EncodeFix(f proxmon.Fix) []byte { return proxmonv1.EncodeFix(f) }

// EncodeStatus encodes a domain status as a proxmon.v1.Status payload:
// proxmonv1.EncodeStatus, kept here for ingest's callers.
func EncodeStatus(s proxmon.Status) []byte { return proxmonv1.EncodeStatus(s) }

func checkTopicDevice(id string) error {
	if !proxmon.ValidID(id) {
		return fmt.Errorf("topic device %s: %w", quoteID(id), ErrBadID)
	}
	return nil
}

func checkPayloadDevice(topicDevice, id string) error {
	if !proxmon.ValidID(id) {
		return fmt.Errorf("payload device %s: %w", quoteID(id), ErrBadID)
	}
	if id != topicDevice {
		return fmt.Errorf("payload device %s: %w", id, ErrDeviceMismatch)
	}
	return nil
}

// quoteID quotes an id that failed validation for an error message,
// shortened so that a hostile payload cannot flood the log.
func quoteID(id string) string {
	const keep = proxmon.MaxIDLen + 8
	if len(id) > keep {
		return strconv.Quote(id[:keep]) + fmt.Sprintf("... (%d bytes)", len(id))
	}
	return strconv.Quote(id)
}

func decodeTime(ts *timestamppb.Timestamp) (time.Time, error) {
	if ts == nil {
		return time.Time{}, fmt.Errorf("time missing: %w", ErrBadTime)
	}
	if err := ts.CheckValid(); err != nil {
		return time.Time{}, fmt.Errorf("time out of range: %w", ErrBadTime)
	}
	t := ts.AsTime() // UTC
	if t.Before(GPSEpoch) {
		return time.Time{}, fmt.Errorf("time before the GPS epoch: %w", ErrBadTime)
	}
	return t, nil
}

// nonNegative checks a float field that must be finite and >= 0 and widens
// it.
func nonNegative(field string, v float32) (float64, error) {
	if !(v >= 0) || math.IsInf(float64(v), 1) { // !(v >= 0) catches NaN
		return 0, fmt.Errorf("%s negative or not finite: %w", field, ErrBadValue)
	}
	return widen(v), nil
}

// widen converts a float32 to the float64 closest to its shortest decimal
// form, so that an accuracy a device sent as 5.3 is 5.3 in the domain (and
// in the archived log), not 5.300000190734863. Every float32 has exactly one
// shortest decimal form, so this is deterministic. proxmonv1's encoders
// narrow it back to the float32 it came from.
func widen(v float32) float64 {
	var buf [32]byte
	s := strconv.AppendFloat(buf[:0], float64(v), 'g', -1, 32)
	w, err := strconv.ParseFloat(string(s), 64)
	if err != nil {
		return float64(v) // unreachable for finite v
	}
	return w
}

// decodeStrap maps the strap to the domain's "strap open" flag. Unspecified,
// or a state added after this version, is unknown: it changes nothing,
// neither opening nor closing a tamper alarm.
func decodeStrap(s proxmonv1.Strap) proxmon.Flag {
	switch s {
	case proxmonv1.Strap_STRAP_OPEN:
		return proxmon.FlagOn
	case proxmonv1.Strap_STRAP_CLOSED:
		return proxmon.FlagOff
	}
	return proxmon.FlagUnknown
}

// decodeFlag maps an optional bool: absent is unknown, not false.
func decodeFlag(b *bool) proxmon.Flag {
	if b == nil {
		return proxmon.FlagUnknown
	}
	return proxmon.FlagOf(*b)
}

func decodeSource(s proxmonv1.Source) proxmon.Source {
	switch s {
	case proxmonv1.Source_SOURCE_GNSS:
		return proxmon.SourceGNSS
	case proxmonv1.Source_SOURCE_WIFI:
		return proxmon.SourceWiFi
	case proxmonv1.Source_SOURCE_CELL:
		return proxmon.SourceCell
	}
	// Unspecified, or a source added after this version: the position
	// still counts; its source is unknown.
	return ""
}

// flag maps an optional protobuf bool to a domain flag.
func flag(b *bool) proxmon.Flag {
	if b == nil {
		return proxmon.FlagUnknown
	}
	return proxmon.FlagOf(*b)
}

func flagPtr(f proxmon.Flag) *bool {
	if f == proxmon.FlagUnknown {
		return nil
	}
	b := f == proxmon.FlagOn
	return &b
}
