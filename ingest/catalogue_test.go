package ingest_test

import (
	"math"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/ingest"
	"github.com/proxmon/proxmon/proto/proxmonv1"
)

// The catalogue: every payload the tests know, with what it decodes to or
// why it is rejected. The encode, decode and fuzz tests all draw on it, so a
// case added here is checked in every direction (as mochi-mqtt's tpackets
// do for MQTT packets).

const device = "tag-17"

// fixTime has nanoseconds so that a test notices any rounding.
var fixTime = time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)

// goodFixMsg is a complete fix as a tag sends it. Coordinates are chosen so
// that their decimal forms are distinctive and a test can look for them in
// error messages.
func goodFixMsg() *proxmonv1.Fix {
	return &proxmonv1.Fix{
		Device:     device,
		Seq:        12,
		Time:       timestamppb.New(fixTime),
		Lat:        51.924417,
		Lon:        4.477733,
		AccuracyM:  5.3,
		SpeedMps:   1.4,
		HeadingDeg: 271.5,
		Source:     proxmonv1.Source_SOURCE_GNSS,
		Satellites: 9,
	}
}

// goodFix is goodFixMsg in the domain.
func goodFix() proxmon.Fix {
	return proxmon.Fix{
		Device:     device,
		Seq:        12,
		Time:       fixTime,
		Lat:        51.924417,
		Lon:        4.477733,
		AccuracyM:  5.3,
		SpeedMps:   1.4,
		HeadingDeg: 271.5,
		Source:     proxmon.SourceGNSS,
		Satellites: 9,
	}
}

type fixCase struct {
	name  string
	topic string // the topic's {device}; device when empty
	// The payload: msg marshalled, or raw when msg is nil.
	msg *proxmonv1.Fix
	raw []byte
	// want is the decoded fix when err is nil.
	want proxmon.Fix
	err  error
	// encodes: EncodeFix(want) yields msg. False where decoding loses
	// something (an unknown enum value, unknown fields, a heading of 360)
	// or the payload is not what EncodeFix would write.
	encodes bool
}

func (c fixCase) topicDevice() string {
	if c.topic == "" {
		return device
	}
	return c.topic
}

func (c fixCase) payload() []byte {
	if c.msg == nil {
		return c.raw
	}
	b, err := proto.Marshal(c.msg)
	if err != nil {
		panic(c.name + ": " + err.Error())
	}
	return b
}

// fixWith returns goodFixMsg changed by edit.
func fixWith(edit func(m *proxmonv1.Fix)) *proxmonv1.Fix {
	m := goodFixMsg()
	edit(m)
	return m
}

// goodFixWith returns goodFix changed by edit.
func goodFixWith(edit func(f *proxmon.Fix)) proxmon.Fix {
	f := goodFix()
	edit(&f)
	return f
}

// goodFixWire is goodFixMsg written out by hand, field by field, so that the
// field numbers and wire types of the contract are pinned: renumbering a
// field in proxmon.proto breaks this case.
var goodFixWire = func() []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType) // device
	b = protowire.AppendString(b, device)
	b = protowire.AppendTag(b, 2, protowire.VarintType) // seq
	b = protowire.AppendVarint(b, 12)
	var ts []byte // google.protobuf.Timestamp
	ts = protowire.AppendTag(ts, 1, protowire.VarintType)
	ts = protowire.AppendVarint(ts, uint64(fixTime.Unix()))
	ts = protowire.AppendTag(ts, 2, protowire.VarintType)
	ts = protowire.AppendVarint(ts, uint64(fixTime.Nanosecond()))
	b = protowire.AppendTag(b, 3, protowire.BytesType) // time
	b = protowire.AppendBytes(b, ts)
	b = protowire.AppendTag(b, 4, protowire.Fixed64Type) // lat
	b = protowire.AppendFixed64(b, math.Float64bits(51.924417))
	b = protowire.AppendTag(b, 5, protowire.Fixed64Type) // lon
	b = protowire.AppendFixed64(b, math.Float64bits(4.477733))
	b = protowire.AppendTag(b, 6, protowire.Fixed32Type) // accuracy_m
	b = protowire.AppendFixed32(b, math.Float32bits(5.3))
	b = protowire.AppendTag(b, 7, protowire.Fixed32Type) // speed_mps
	b = protowire.AppendFixed32(b, math.Float32bits(1.4))
	b = protowire.AppendTag(b, 8, protowire.Fixed32Type) // heading_deg
	b = protowire.AppendFixed32(b, math.Float32bits(271.5))
	b = protowire.AppendTag(b, 9, protowire.VarintType) // source
	b = protowire.AppendVarint(b, 1)                    // SOURCE_GNSS
	b = protowire.AppendTag(b, 10, protowire.VarintType)
	b = protowire.AppendVarint(b, 9) // satellites
	return b
}()

var fixCases = []fixCase{
	// Accepted.
	{name: "complete", msg: goodFixMsg(), want: goodFix(), encodes: true},
	{name: "wire bytes by hand", raw: goodFixWire, want: goodFix()},
	{
		name: "minimal: unknown accuracy, no speed, heading, source or satellites",
		msg: &proxmonv1.Fix{
			Device: device, Time: timestamppb.New(fixTime), Lat: 51.924417, Lon: 4.477733,
		},
		want:    proxmon.Fix{Device: device, Time: fixTime, Lat: 51.924417, Lon: 4.477733},
		encodes: true,
	},
	{
		name:    "wifi source",
		msg:     fixWith(func(m *proxmonv1.Fix) { m.Source = proxmonv1.Source_SOURCE_WIFI }),
		want:    goodFixWith(func(f *proxmon.Fix) { f.Source = proxmon.SourceWiFi }),
		encodes: true,
	},
	{
		name:    "cell source",
		msg:     fixWith(func(m *proxmonv1.Fix) { m.Source = proxmonv1.Source_SOURCE_CELL }),
		want:    goodFixWith(func(f *proxmon.Fix) { f.Source = proxmon.SourceCell }),
		encodes: true,
	},
	{
		name: "a source this version does not know counts as unknown",
		msg:  fixWith(func(m *proxmonv1.Fix) { m.Source = 42 }),
		want: goodFixWith(func(f *proxmon.Fix) { f.Source = "" }),
	},
	{
		name: "unknown fields from a newer device are ignored",
		raw: protowire.AppendString(
			protowire.AppendTag(mustMarshal(goodFixMsg()), 99, protowire.BytesType), "future"),
		want: goodFix(),
	},
	{
		name: "a field sent twice: the last one wins (protobuf merge rule)",
		raw: protowire.AppendVarint(
			protowire.AppendTag(mustMarshal(goodFixMsg()), 2, protowire.VarintType), 13),
		want: goodFixWith(func(f *proxmon.Fix) { f.Seq = 13 }),
	},
	{
		name:    "largest seq",
		msg:     fixWith(func(m *proxmonv1.Fix) { m.Seq = math.MaxUint64 }),
		want:    goodFixWith(func(f *proxmon.Fix) { f.Seq = math.MaxUint64 }),
		encodes: true,
	},
	{
		name:    "north pole, antimeridian east",
		msg:     fixWith(func(m *proxmonv1.Fix) { m.Lat, m.Lon = 90, 180 }),
		want:    goodFixWith(func(f *proxmon.Fix) { f.Lat, f.Lon = 90, 180 }),
		encodes: true,
	},
	{
		name:    "south pole, antimeridian west",
		msg:     fixWith(func(m *proxmonv1.Fix) { m.Lat, m.Lon = -90, -180 }),
		want:    goodFixWith(func(f *proxmon.Fix) { f.Lat, f.Lon = -90, -180 }),
		encodes: true,
	},
	{
		name:    "on the equator",
		msg:     fixWith(func(m *proxmonv1.Fix) { m.Lat = 0 }),
		want:    goodFixWith(func(f *proxmon.Fix) { f.Lat = 0 }),
		encodes: true,
	},
	{
		name:    "on the prime meridian",
		msg:     fixWith(func(m *proxmonv1.Fix) { m.Lon = 0 }),
		want:    goodFixWith(func(f *proxmon.Fix) { f.Lon = 0 }),
		encodes: true,
	},
	{
		// The log's records hold headings in [0, 360).
		name: "heading 360 is north, 0",
		msg:  fixWith(func(m *proxmonv1.Fix) { m.HeadingDeg = 360 }),
		want: goodFixWith(func(f *proxmon.Fix) { f.HeadingDeg = 0 }),
	},
	{
		name: "heading just under 360 is 360 in float32, north",
		msg:  fixWith(func(m *proxmonv1.Fix) { m.HeadingDeg = float32(359.999999) }),
		want: goodFixWith(func(f *proxmon.Fix) { f.HeadingDeg = 0 }),
	},
	{
		name:    "longest id",
		topic:   strings.Repeat("a", 64),
		msg:     fixWith(func(m *proxmonv1.Fix) { m.Device = strings.Repeat("a", 64) }),
		want:    goodFixWith(func(f *proxmon.Fix) { f.Device = strings.Repeat("a", 64) }),
		encodes: true,
	},
	{
		name:    "id of every allowed character class",
		topic:   "AZaz09_-",
		msg:     fixWith(func(m *proxmonv1.Fix) { m.Device = "AZaz09_-" }),
		want:    goodFixWith(func(f *proxmon.Fix) { f.Device = "AZaz09_-" }),
		encodes: true,
	},
	{
		name:    "time at the GPS epoch",
		msg:     fixWith(func(m *proxmonv1.Fix) { m.Time = timestamppb.New(ingest.GPSEpoch) }),
		want:    goodFixWith(func(f *proxmon.Fix) { f.Time = ingest.GPSEpoch }),
		encodes: true,
	},

	// Rejected: not a Fix.
	{name: "garbage", raw: []byte("not protobuf at all"), err: ingest.ErrUndecodable},
	{name: "truncated", raw: goodFixWire[:len(goodFixWire)-3], err: ingest.ErrUndecodable},
	{name: "JSON instead of protobuf", raw: []byte(`{"device":"tag-17","lat":51.9,"lon":4.4}`), err: ingest.ErrUndecodable},
	{
		// Protobuf would skip it and leave lat at 0, a valid latitude.
		name: "lat with the wrong wire type",
		raw: protowire.AppendVarint(
			protowire.AppendTag(mustMarshal(fixWith(func(m *proxmonv1.Fix) { m.Lat = 0 })), 4, protowire.VarintType), 51),
		err: ingest.ErrUndecodable,
	},
	{
		name: "time with the wrong wire type",
		raw: protowire.AppendFixed64(
			protowire.AppendTag(mustMarshal(fixWith(func(m *proxmonv1.Fix) { m.Time = nil })), 3, protowire.Fixed64Type), 1772359200),
		err: ingest.ErrUndecodable,
	},
	{
		name: "device is not UTF-8",
		raw:  protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "tag-\xff"),
		err:  ingest.ErrUndecodable,
	},

	// Rejected: ids.
	{name: "empty payload has no device", raw: []byte{}, err: ingest.ErrBadID},
	{name: "payload device missing", msg: fixWith(func(m *proxmonv1.Fix) { m.Device = "" }), err: ingest.ErrBadID},
	{name: "payload device too long", topic: strings.Repeat("a", 64), msg: fixWith(func(m *proxmonv1.Fix) { m.Device = strings.Repeat("a", 65) }), err: ingest.ErrBadID},
	{name: "payload device with a slash", msg: fixWith(func(m *proxmonv1.Fix) { m.Device = "tag/17" }), err: ingest.ErrBadID},
	{name: "payload device with a dot", msg: fixWith(func(m *proxmonv1.Fix) { m.Device = "tag.17" }), err: ingest.ErrBadID},
	{name: "payload device not ASCII", msg: fixWith(func(m *proxmonv1.Fix) { m.Device = "tág-17" }), err: ingest.ErrBadID},
	{name: "topic device too long", topic: strings.Repeat("a", 65), msg: fixWith(func(m *proxmonv1.Fix) { m.Device = strings.Repeat("a", 65) }), err: ingest.ErrBadID},
	{name: "topic device is a wildcard", topic: "+", msg: goodFixMsg(), err: ingest.ErrBadID},
	{name: "topic device with a space", topic: "tag 17", msg: goodFixMsg(), err: ingest.ErrBadID},
	{name: "another device's fix", msg: fixWith(func(m *proxmonv1.Fix) { m.Device = "tag-18" }), err: ingest.ErrDeviceMismatch},
	{name: "ids differ in case only", msg: fixWith(func(m *proxmonv1.Fix) { m.Device = "TAG-17" }), err: ingest.ErrDeviceMismatch},

	// Rejected: time.
	{name: "time missing", msg: fixWith(func(m *proxmonv1.Fix) { m.Time = nil }), err: ingest.ErrBadTime},
	{name: "time before the GPS epoch", msg: fixWith(func(m *proxmonv1.Fix) { m.Time = timestamppb.New(ingest.GPSEpoch.Add(-time.Nanosecond)) }), err: ingest.ErrBadTime},
	{name: "time of an unset clock", msg: fixWith(func(m *proxmonv1.Fix) { m.Time = &timestamppb.Timestamp{} }), err: ingest.ErrBadTime},
	{name: "the zero time.Time", msg: fixWith(func(m *proxmonv1.Fix) { m.Time = timestamppb.New(time.Time{}) }), err: ingest.ErrBadTime},
	{name: "time after year 9999", msg: fixWith(func(m *proxmonv1.Fix) { m.Time = &timestamppb.Timestamp{Seconds: 253402300800} }), err: ingest.ErrBadTime},
	{name: "time before year 1", msg: fixWith(func(m *proxmonv1.Fix) { m.Time = &timestamppb.Timestamp{Seconds: -62135596801} }), err: ingest.ErrBadTime},
	{name: "negative nanos", msg: fixWith(func(m *proxmonv1.Fix) { m.Time = &timestamppb.Timestamp{Seconds: 1772359200, Nanos: -1} }), err: ingest.ErrBadTime},
	{name: "nanos of a whole second", msg: fixWith(func(m *proxmonv1.Fix) { m.Time = &timestamppb.Timestamp{Seconds: 1772359200, Nanos: 1e9} }), err: ingest.ErrBadTime},

	// Rejected: position.
	{name: "lat NaN", msg: fixWith(func(m *proxmonv1.Fix) { m.Lat = math.NaN() }), err: ingest.ErrBadCoordinates},
	{name: "lon NaN", msg: fixWith(func(m *proxmonv1.Fix) { m.Lon = math.NaN() }), err: ingest.ErrBadCoordinates},
	{name: "lat +Inf", msg: fixWith(func(m *proxmonv1.Fix) { m.Lat = math.Inf(1) }), err: ingest.ErrBadCoordinates},
	{name: "lon -Inf", msg: fixWith(func(m *proxmonv1.Fix) { m.Lon = math.Inf(-1) }), err: ingest.ErrBadCoordinates},
	{name: "lat above 90", msg: fixWith(func(m *proxmonv1.Fix) { m.Lat = 90.000017 }), err: ingest.ErrBadCoordinates},
	{name: "lat below -90", msg: fixWith(func(m *proxmonv1.Fix) { m.Lat = -90.000017 }), err: ingest.ErrBadCoordinates},
	{name: "lon above 180", msg: fixWith(func(m *proxmonv1.Fix) { m.Lon = 180.000017 }), err: ingest.ErrBadCoordinates},
	{name: "lon below -180", msg: fixWith(func(m *proxmonv1.Fix) { m.Lon = -180.000017 }), err: ingest.ErrBadCoordinates},
	{name: "lat and lon swapped out of range", msg: fixWith(func(m *proxmonv1.Fix) { m.Lat, m.Lon = 104.477733, 51.924417 }), err: ingest.ErrBadCoordinates},
	{name: "null island", msg: fixWith(func(m *proxmonv1.Fix) { m.Lat, m.Lon = 0, 0 }), err: ingest.ErrZeroPosition},
	{name: "null island, negative zeros", msg: fixWith(func(m *proxmonv1.Fix) { m.Lat, m.Lon = math.Copysign(0, -1), math.Copysign(0, -1) }), err: ingest.ErrZeroPosition},

	// Rejected: other values.
	{name: "accuracy negative", msg: fixWith(func(m *proxmonv1.Fix) { m.AccuracyM = -1 }), err: ingest.ErrBadValue},
	{name: "accuracy NaN", msg: fixWith(func(m *proxmonv1.Fix) { m.AccuracyM = float32(math.NaN()) }), err: ingest.ErrBadValue},
	{name: "accuracy +Inf", msg: fixWith(func(m *proxmonv1.Fix) { m.AccuracyM = float32(math.Inf(1)) }), err: ingest.ErrBadValue},
	{name: "speed negative", msg: fixWith(func(m *proxmonv1.Fix) { m.SpeedMps = -0.5 }), err: ingest.ErrBadValue},
	{name: "speed NaN", msg: fixWith(func(m *proxmonv1.Fix) { m.SpeedMps = float32(math.NaN()) }), err: ingest.ErrBadValue},
	{name: "heading negative", msg: fixWith(func(m *proxmonv1.Fix) { m.HeadingDeg = -1 }), err: ingest.ErrBadValue},
	{name: "heading above 360", msg: fixWith(func(m *proxmonv1.Fix) { m.HeadingDeg = 360.5 }), err: ingest.ErrBadValue},
	{name: "heading NaN", msg: fixWith(func(m *proxmonv1.Fix) { m.HeadingDeg = float32(math.NaN()) }), err: ingest.ErrBadValue},
}

// Status catalogue.

var statusTime = time.Date(2026, 3, 1, 10, 0, 30, 5000, time.UTC)

func goodStatusMsg() *proxmonv1.Status {
	return &proxmonv1.Status{
		Device:     device,
		Time:       timestamppb.New(statusTime),
		BatteryPct: pct(40),
		Strap:      proxmonv1.Strap_STRAP_CLOSED,
		CaseTamper: proto.Bool(false),
		Charging:   proto.Bool(false),
		Jamming:    proto.Bool(false),
	}
}

func goodStatus() proxmon.Status {
	return proxmon.Status{
		Device: device, Time: statusTime, HasBattery: true, BatteryPct: 40,
		StrapOpen: proxmon.FlagOff, CaseTamper: proxmon.FlagOff,
		Charging: proxmon.FlagOff, Jamming: proxmon.FlagOff,
	}
}

type statusCase struct {
	name    string
	topic   string
	msg     *proxmonv1.Status
	raw     []byte
	want    proxmon.Status
	err     error
	encodes bool
}

func (c statusCase) topicDevice() string {
	if c.topic == "" {
		return device
	}
	return c.topic
}

func (c statusCase) payload() []byte {
	if c.msg == nil {
		return c.raw
	}
	return mustMarshal(c.msg)
}

func statusWith(edit func(m *proxmonv1.Status)) *proxmonv1.Status {
	m := goodStatusMsg()
	edit(m)
	return m
}

func goodStatusWith(edit func(s *proxmon.Status)) proxmon.Status {
	s := goodStatus()
	edit(&s)
	return s
}

func pct(v uint32) *uint32 { return &v }

var statusCases = []statusCase{
	// Accepted.
	{name: "every flag reported off", msg: goodStatusMsg(), want: goodStatus(), encodes: true},
	{
		name:    "strap open",
		msg:     statusWith(func(m *proxmonv1.Status) { m.Strap = proxmonv1.Strap_STRAP_OPEN }),
		want:    goodStatusWith(func(s *proxmon.Status) { s.StrapOpen = proxmon.FlagOn }),
		encodes: true,
	},
	{
		name: "every flag on",
		msg: statusWith(func(m *proxmonv1.Status) {
			m.Strap = proxmonv1.Strap_STRAP_OPEN
			m.CaseTamper, m.Charging, m.Jamming = proto.Bool(true), proto.Bool(true), proto.Bool(true)
		}),
		want: goodStatusWith(func(s *proxmon.Status) {
			s.StrapOpen, s.CaseTamper, s.Charging, s.Jamming = proxmon.FlagOn, proxmon.FlagOn, proxmon.FlagOn, proxmon.FlagOn
		}),
		encodes: true,
	},
	{
		name:    "nothing reported but the time: every flag unknown, not off",
		msg:     &proxmonv1.Status{Device: device, Time: timestamppb.New(statusTime)},
		want:    proxmon.Status{Device: device, Time: statusTime},
		encodes: true,
	},
	{
		name:    "jamming alone",
		msg:     &proxmonv1.Status{Device: device, Time: timestamppb.New(statusTime), Jamming: proto.Bool(true)},
		want:    proxmon.Status{Device: device, Time: statusTime, Jamming: proxmon.FlagOn},
		encodes: true,
	},
	{
		name:    "battery unknown is not 0 %",
		msg:     statusWith(func(m *proxmonv1.Status) { m.BatteryPct = nil }),
		want:    goodStatusWith(func(s *proxmon.Status) { s.HasBattery, s.BatteryPct = false, 0 }),
		encodes: true,
	},
	{
		name:    "battery empty",
		msg:     statusWith(func(m *proxmonv1.Status) { m.BatteryPct = pct(0) }),
		want:    goodStatusWith(func(s *proxmon.Status) { s.BatteryPct = 0 }),
		encodes: true,
	},
	{
		name:    "battery full",
		msg:     statusWith(func(m *proxmonv1.Status) { m.BatteryPct = pct(100) }),
		want:    goodStatusWith(func(s *proxmon.Status) { s.BatteryPct = 100 }),
		encodes: true,
	},
	{
		name:    "a device without a strap",
		msg:     statusWith(func(m *proxmonv1.Status) { m.Strap = proxmonv1.Strap_STRAP_UNSPECIFIED }),
		want:    goodStatusWith(func(s *proxmon.Status) { s.StrapOpen = proxmon.FlagUnknown }),
		encodes: true,
	},
	{
		name: "a strap state this version does not know is unknown",
		msg:  statusWith(func(m *proxmonv1.Status) { m.Strap = 7 }),
		want: goodStatusWith(func(s *proxmon.Status) { s.StrapOpen = proxmon.FlagUnknown }),
	},

	// Rejected.
	{name: "garbage", raw: []byte{0xff, 0xff, 0xff}, err: ingest.ErrUndecodable},
	{name: "a fix on the status topic", raw: goodFixWire, err: ingest.ErrUndecodable},
	{name: "device missing", msg: statusWith(func(m *proxmonv1.Status) { m.Device = "" }), err: ingest.ErrBadID},
	{name: "topic device with a hash", topic: "tag#17", msg: goodStatusMsg(), err: ingest.ErrBadID},
	{name: "another device's status", msg: statusWith(func(m *proxmonv1.Status) { m.Device = "tag-18" }), err: ingest.ErrDeviceMismatch},
	{name: "time missing", msg: statusWith(func(m *proxmonv1.Status) { m.Time = nil }), err: ingest.ErrBadTime},
	{name: "time of an unset clock", msg: statusWith(func(m *proxmonv1.Status) { m.Time = &timestamppb.Timestamp{} }), err: ingest.ErrBadTime},
	{name: "time out of range", msg: statusWith(func(m *proxmonv1.Status) { m.Time = &timestamppb.Timestamp{Seconds: math.MaxInt64} }), err: ingest.ErrBadTime},
	{name: "battery above 100", msg: statusWith(func(m *proxmonv1.Status) { m.BatteryPct = pct(101) }), err: ingest.ErrBadValue},
}

func mustMarshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}
