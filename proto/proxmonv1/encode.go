package proxmonv1

// This file is written by hand, not generated: it encodes the domain's fixes
// and statuses as devices send them, for every program that plays a device
// (ingest's tests, the simulator). Decoding, with its checks, is ingest's.

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/proxmon/proxmon"
)

// EncodeFix encodes a domain fix as a Fix payload, as a device sends it.
// Received is not part of the payload. It does not validate, so tests can
// produce bad payloads with it, but it panics when the device id is not
// valid UTF-8 (protobuf strings must be).
func EncodeFix(f proxmon.Fix) []byte { return AppendFix(nil, &f) }

// AppendFix appends the Fix payload of f to b, as EncodeFix encodes it.
func AppendFix(b []byte, f *proxmon.Fix) []byte {
	m := &Fix{
		Device:     f.Device,
		Seq:        f.Seq,
		Time:       encodeTime(f.Time),
		Lat:        f.Lat,
		Lon:        f.Lon,
		AccuracyM:  narrow(f.AccuracyM),
		SpeedMps:   narrow(f.SpeedMps),
		HeadingDeg: narrow(f.HeadingDeg),
		Source:     encodeSource(f.Source),
		Satellites: uint32(f.Satellites),
	}
	return mustMarshalAppend(b, m)
}

// EncodeStatus encodes a domain status as a Status payload; unknown flags
// are left out. Like EncodeFix it does not validate and panics on a device
// id that is not valid UTF-8.
func EncodeStatus(s proxmon.Status) []byte { return AppendStatus(nil, &s) }

// AppendStatus appends the Status payload of s to b, as EncodeStatus
// encodes it.
func AppendStatus(b []byte, s *proxmon.Status) []byte {
	m := &Status{
		Device:     s.Device,
		Time:       encodeTime(s.Time),
		Strap:      encodeStrap(s.StrapOpen),
		CaseTamper: encodeFlag(s.CaseTamper),
		Charging:   encodeFlag(s.Charging),
		Jamming:    encodeFlag(s.Jamming),
	}
	if s.HasBattery {
		pct := uint32(s.BatteryPct)
		m.BatteryPct = &pct
	}
	return mustMarshalAppend(b, m)
}

// mustMarshalAppend marshals m after b; it fails only when a string field
// is not valid UTF-8: an id no record can hold.
func mustMarshalAppend(b []byte, m proto.Message) []byte {
	out, err := proto.MarshalOptions{}.MarshalAppend(b, m)
	if err != nil {
		panic(fmt.Sprintf("proxmonv1: marshal %T: %v", m, err))
	}
	return out
}

func encodeTime(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// narrow returns the float32 closest to v's shortest decimal form. Plain
// float32(v) rounds twice (decimal to float64 to float32) and misses for
// one float32 and its negative (7.038531e-26); with this, a value that
// ingest decoded (and widened to its shortest decimal form) encodes back
// to the float32 it came from.
func narrow(v float64) float32 {
	var buf [32]byte
	s := strconv.AppendFloat(buf[:0], v, 'g', -1, 64)
	n, err := strconv.ParseFloat(string(s), 32)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return float32(v) // unreachable: s is a number
	}
	return float32(n)
}

func encodeStrap(open proxmon.Flag) Strap {
	switch open {
	case proxmon.FlagOn:
		return Strap_STRAP_OPEN
	case proxmon.FlagOff:
		return Strap_STRAP_CLOSED
	}
	return Strap_STRAP_UNSPECIFIED
}

func encodeFlag(f proxmon.Flag) *bool {
	switch f {
	case proxmon.FlagOn:
		return proto.Bool(true)
	case proxmon.FlagOff:
		return proto.Bool(false)
	}
	return nil
}

func encodeSource(s proxmon.Source) Source {
	switch s {
	case proxmon.SourceGNSS:
		return Source_SOURCE_GNSS
	case proxmon.SourceWiFi:
		return Source_SOURCE_WIFI
	case proxmon.SourceCell:
		return Source_SOURCE_CELL
	}
	return Source_SOURCE_UNSPECIFIED
}
