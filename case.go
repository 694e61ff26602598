package proxmon

import (
	"encoding/json"
	"time"

	"github.com/proxmon/proxmon/geo"
)

// Risk is a case's assessed risk level.
type Risk string

// Risk levels.
const (
	RiskLow    Risk = "low"
	RiskMedium Risk = "medium"
	RiskHigh   Risk = "high"
)

// ZoneKind says whether the offender must stay out of a zone or inside it.
type ZoneKind string

// Zone kinds.
const (
	ZoneExclusion ZoneKind = "exclusion" // banned place
	ZoneInclusion ZoneKind = "inclusion" // curfew: must be inside while active
)

// CaseFile is the case file: the devices and the cases that use them.
type CaseFile struct {
	Devices []Device `json:"devices"`
	Cases   []Case   `json:"cases"`
}

// Device is a tag or a victim device.
type Device struct {
	ID               string     `json:"id"`
	Kind             DeviceKind `json:"kind"`
	ReportIntervalS  float64    `json:"report_interval_s,omitempty"`
	DefaultAccuracyM float64    `json:"default_accuracy_m,omitempty"`
	// MQTTPasswordBcrypt is the device's MQTT secret, bcrypt-hashed.
	MQTTPasswordBcrypt string `json:"mqtt_password_bcrypt,omitempty"`
}

// ReportInterval returns the device's report interval, or its default.
func (d *Device) ReportInterval() time.Duration {
	s := d.ReportIntervalS
	if s <= 0 {
		s = DefaultReportIntervalS
	}
	return time.Duration(s * float64(time.Second))
}

// Accuracy returns the accuracy that counts for a fix of this device that
// reports none.
func (d *Device) Accuracy() float64 {
	if d.DefaultAccuracyM > 0 {
		return d.DefaultAccuracyM
	}
	return DefaultAccuracyM
}

// Case is one offender under one court order: whom he must not approach and
// where he must not (or must) be.
type Case struct {
	ID       string `json:"id"`
	Risk     Risk   `json:"risk,omitempty"`
	Offender string `json:"offender"`
	Drill    bool   `json:"drill,omitempty"`
	// ValidFrom and ValidUntil bound the order: the case is in force within
	// [ValidFrom, ValidUntil), outside any of its Suspensions. Either may be
	// absent (no bound).
	ValidFrom   *time.Time   `json:"valid_from,omitempty"`
	ValidUntil  *time.Time   `json:"valid_until,omitempty"`
	Suspensions []Suspension `json:"suspensions,omitempty"`
	ContactBans []ContactBan `json:"contact_bans,omitempty"`
	Zones       []Zone       `json:"zones,omitempty"`
}

// Suspension pauses a case for [From, Until): the offender is in custody
// or in hospital, say. Without Until it lasts until the case is updated.
type Suspension struct {
	From   time.Time  `json:"from"`
	Until  *time.Time `json:"until,omitempty"`
	Reason string     `json:"reason"`
}

// CaseState says whether a case is in force.
type CaseState uint8

// Case states.
const (
	InForce   CaseState = iota
	Suspended           // within its validity, inside a suspension
	Inactive            // outside its validity
)

// State returns the case's state at t and the next instant after t at
// which it may change: State is the same at every instant of [t, until). A
// zero until means never (an open-ended suspension lasts until the case is
// updated).
func (c *Case) State(t time.Time) (state CaseState, until time.Time) {
	if c.ValidFrom != nil && t.Before(*c.ValidFrom) {
		return Inactive, *c.ValidFrom
	}
	var validUntil time.Time
	if c.ValidUntil != nil {
		if !t.Before(*c.ValidUntil) {
			return Inactive, time.Time{}
		}
		validUntil = *c.ValidUntil
	}
	var starts, ends time.Time // the next suspension to start; the first to end of those holding t
	suspended := false
	for i := range c.Suspensions {
		s := &c.Suspensions[i]
		switch {
		case t.Before(s.From):
			starts = earlier(starts, s.From)
		case s.Until == nil:
			suspended = true
		case t.Before(*s.Until):
			suspended = true
			ends = earlier(ends, *s.Until)
		}
	}
	if suspended {
		return Suspended, earlier(validUntil, ends)
	}
	return InForce, earlier(validUntil, starts)
}

// earlier returns the earlier of a and b, where zero means never.
func earlier(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

// ContactBan forbids the offender to come near a protected person's device.
type ContactBan struct {
	Protected   string   `json:"protected"`
	AlertM      float64  `json:"alert_m"`
	WarnM       float64  `json:"warn_m"`
	HysteresisM *float64 `json:"hysteresis_m,omitempty"`
	// PursuitTag raises the offender's tag to the pursuit report rate while
	// a warning or breach of this ban is open. Off by default: a tag that
	// suddenly reports faster tells its wearer that the protected person
	// is near, so only a case that accepts this risk (for a faster track
	// of a pursuit) opts in.
	PursuitTag bool `json:"pursuit_tag,omitempty"`
}

// Hysteresis returns the ban's hysteresis, or its default.
func (b *ContactBan) Hysteresis() float64 {
	if b.HysteresisM == nil {
		return DefaultContactHysteresis
	}
	return *b.HysteresisM
}

// Zone is a static place the offender must avoid (exclusion) or stay in
// (inclusion) while its schedule is active.
type Zone struct {
	ID          string    `json:"id"`
	Kind        ZoneKind  `json:"kind"`
	Circle      *Circle   `json:"circle,omitempty"`
	Geometry    *Geometry `json:"geometry,omitempty"`
	BufferM     float64   `json:"buffer_m,omitempty"`
	Schedule    *Schedule `json:"schedule,omitempty"`
	HysteresisM *float64  `json:"hysteresis_m,omitempty"`

	shape *geo.Shape // built by validation
}

// Hysteresis returns the zone's hysteresis, or its default.
func (z *Zone) Hysteresis() float64 {
	if z.HysteresisM == nil {
		return DefaultZoneHysteresis
	}
	return *z.HysteresisM
}

// Shape returns the zone's geometry, built when the case file was validated;
// nil before that.
func (z *Zone) Shape() *geo.Shape { return z.shape }

// Circle is a zone of a geodesic radius around a centre given as [lon, lat].
type Circle struct {
	Center  []float64 `json:"center"`
	RadiusM float64   `json:"radius_m"`
}

// Geometry is a GeoJSON Polygon or MultiPolygon (RFC 7946): positions are
// [lon, lat] and edges are straight lines in lon/lat.
type Geometry struct {
	Type        string          `json:"type"`
	Coordinates json.RawMessage `json:"coordinates"`
}

// Schedule limits when a zone is active: within [From, Until) and, when
// Windows are given, only inside one of them, in the local time of TZ.
type Schedule struct {
	From    *time.Time `json:"from,omitempty"`
	Until   *time.Time `json:"until,omitempty"`
	TZ      string     `json:"tz,omitempty"`
	Windows []Window   `json:"windows,omitempty"`

	// Built by validation, all or nothing: the time zone and the windows
	// parsed.
	loc  *time.Location
	wins []window
}

// Window is a weekly period [Start, End) in local time ("HH:MM"). A window
// whose End is before its Start runs past midnight and belongs to the day it
// starts.
type Window struct {
	Days  []string `json:"days"`
	Start string   `json:"start"`
	End   string   `json:"end"`
}
