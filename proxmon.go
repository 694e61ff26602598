// Package proxmon holds the domain of proximity monitoring: devices and the
// fixes and statuses they report, cases with their contact bans and zones,
// schedules, the records of the log the engine reads, and the events it
// raises. Every other package speaks these types; none of them knows about
// MQTT, NATS or protobuf.
//
// Ids (device, case, zone) are 1-64 characters of [A-Za-z0-9_-] because they
// become MQTT topic levels and NATS subject tokens.
package proxmon

import (
	"errors"
	"time"

	"github.com/proxmon/proxmon/geo"
)

// DeviceKind says what a device is worn or carried by.
type DeviceKind string

// Device kinds.
const (
	DeviceTag    DeviceKind = "tag"    // an offender's ankle tag
	DeviceVictim DeviceKind = "victim" // a protected person's device
)

// Source says how a fix was obtained.
type Source string

// Fix sources.
const (
	SourceGNSS Source = "gnss"
	SourceWiFi Source = "wifi"
	SourceCell Source = "cell"
)

// Defaults of the engine semantics (DESIGN.md "Engine semantics").
const (
	DefaultAccuracyM         = 50.0 // accuracy of a fix that reports none
	DefaultContactHysteresis = 50.0
	DefaultZoneHysteresis    = 25.0
	DefaultReportIntervalS   = 60.0
)

// Fix is one GPS position reported by a device.
type Fix struct {
	Device string
	Seq    uint64
	// Time is the device's GPS time: it orders positions.
	Time time.Time
	// Received is when the log stored the fix: it drives liveness. Zero
	// means equal to Time.
	Received   time.Time
	Lat, Lon   float64
	AccuracyM  float64 // 95 % horizontal radius; 0 = unknown
	SpeedMps   float64
	HeadingDeg float64
	Source     Source
	Satellites int
}

// Point returns the fix's position.
func (f *Fix) Point() geo.Point { return geo.Point{Lat: f.Lat, Lon: f.Lon} }

// ReceivedOrTime returns Received, or Time when Received is unset.
func (f *Fix) ReceivedOrTime() time.Time {
	if f.Received.IsZero() {
		return f.Time
	}
	return f.Received
}

// Status is a device's report of its own state.
type Status struct {
	Device     string
	Time       time.Time
	Received   time.Time // zero means equal to Time
	HasBattery bool
	BatteryPct int
	// A flag the device did not report is unknown and changes nothing.
	StrapOpen  Flag
	CaseTamper Flag
	Charging   Flag
	Jamming    Flag
}

// Flag is a yes/no a device reports, or FlagUnknown when it did not.
type Flag uint8

// Flag values.
const (
	FlagUnknown Flag = iota
	FlagOff
	FlagOn
)

// FlagOf returns FlagOn for true and FlagOff for false.
func FlagOf(b bool) Flag {
	if b {
		return FlagOn
	}
	return FlagOff
}

// ReceivedOrTime returns Received, or Time when Received is unset.
func (s *Status) ReceivedOrTime() time.Time {
	if s.Received.IsZero() {
		return s.Time
	}
	return s.Received
}

// Errors shared by the adapters.
var (
	ErrInvalid  = errors.New("invalid")
	ErrNotFound = errors.New("not found")
	// ErrFull: the store refuses to take more (its disk is full, or a
	// limit is reached). What was refused must stay with its sender.
	ErrFull = errors.New("store full")
)
