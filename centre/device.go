package centre

import (
	"time"

	"github.com/proxmon/proxmon"
)

// Position is a device's latest position as the centre sees it.
type Position struct {
	Lat       float64   `json:"lat"`
	Lon       float64   `json:"lon"`
	AccuracyM float64   `json:"accuracy_m,omitempty"`
	Time      time.Time `json:"time"` // the fix's GPS time
}

// Device is what the centre knows of a device right now: its kind and
// cases (from the cases in force), latest position, when it was last heard
// (log time) and its battery. Position is left out for whoever may not see
// it (Redacted says so).
type Device struct {
	ID         string             `json:"id"`
	Kind       proxmon.DeviceKind `json:"kind,omitempty"`
	Cases      []string           `json:"cases,omitempty"`
	Position   *Position          `json:"position,omitempty"`
	Redacted   bool               `json:"position_redacted,omitempty"`
	LastSeen   *time.Time         `json:"last_seen,omitempty"`
	BatteryPct *int               `json:"battery_pct,omitempty"`
	OpenAlerts int                `json:"open_alerts"`
	// DistanceM is the geodesic distance from the place asked about
	// (a search near a place).
	DistanceM *float64 `json:"distance_m,omitempty"`
}
