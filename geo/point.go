// Package geo is proxmon's geodesy: exact WGS84 distances, zone shapes with
// signed distances to their boundary, fast approximations that carry a proven
// error bound, and R-tree indexes of positions and zone boxes.
//
// Invariants: every function is deterministic and free of I/O; no function
// returns NaN for valid input (latitudes in [-90, 90], longitudes in
// [-180, 180]); an approximation never claims a bound it does not keep, so a
// caller that decides only when the margin to its threshold exceeds the bound
// decides exactly as the exact computation would.
package geo

import "math"

// Point is a WGS84 position in degrees.
type Point struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Valid reports whether p is a finite position in range.
func (p Point) Valid() bool {
	return !math.IsNaN(p.Lat) && !math.IsNaN(p.Lon) &&
		p.Lat >= -90 && p.Lat <= 90 && p.Lon >= -180 && p.Lon <= 180
}

// Bounded is an approximate distance in metres whose exact value lies within
// [D-Err, D+Err].
type Bounded struct {
	D, Err float64
}

// Decides reports whether comparing the approximate distance with threshold t
// is certain to give the same answer as comparing the exact distance with t,
// for both d <= t and d > t.
func (b Bounded) Decides(t float64) bool {
	return math.Abs(b.D-t) > b.Err
}
