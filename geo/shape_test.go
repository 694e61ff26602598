package geo_test

import (
	"errors"
	"math"
	"testing"

	"github.com/proxmon/proxmon/geo"
)

// ring builds a ring from lon, lat pairs, GeoJSON order.
func ring(lonlat ...float64) []geo.Point {
	r := make([]geo.Point, 0, len(lonlat)/2)
	for i := 0; i+1 < len(lonlat); i += 2 {
		r = append(r, geo.Point{Lon: lonlat[i], Lat: lonlat[i+1]})
	}
	return r
}

func TestNewPolygonsFaults(t *testing.T) {
	square := ring(4, 52, 4.1, 52, 4.1, 52.1, 4, 52.1, 4, 52)
	hole := ring(4.02, 52.02, 4.02, 52.05, 4.05, 52.05, 4.05, 52.02, 4.02, 52.02)
	far := ring(5, 52, 5.1, 52, 5.1, 52.1, 5, 52.1, 5, 52)
	tests := []struct {
		name  string
		polys [][][]geo.Point
		want  *geo.RingError // nil: valid
	}{
		{"square", [][][]geo.Point{{square}}, nil},
		{"square with hole", [][][]geo.Point{{square, hole}}, nil},
		{"two polygons", [][][]geo.Point{{square}, {far}}, nil},
		{"repeated points", [][][]geo.Point{{ring(4, 52, 4, 52, 4.1, 52, 4.1, 52.1, 4.1, 52.1, 4, 52)}}, nil},
		{"not closed", [][][]geo.Point{{ring(4, 52, 4.1, 52, 4.1, 52.1, 4, 52.1)}}, &geo.RingError{Polygon: 0, Ring: 0, Fault: "is not closed"}},
		{"hole not closed", [][][]geo.Point{{square, hole[:4]}}, &geo.RingError{Polygon: 0, Ring: 1, Fault: "is not closed"}},
		{"three points", [][][]geo.Point{{square}, {ring(4, 52, 4.1, 52, 4, 52)}}, &geo.RingError{Polygon: 1, Ring: 0, Fault: "has fewer than 4 points"}},
		{"two distinct points", [][][]geo.Point{{ring(4, 52, 4.1, 52, 4.1, 52, 4, 52)}}, &geo.RingError{Polygon: 0, Ring: 0, Fault: "has fewer than 3 distinct points"}},
		{"bow tie", [][][]geo.Point{{ring(4, 52, 4.1, 52.1, 4.1, 52, 4, 52.1, 4, 52)}}, &geo.RingError{Polygon: 0, Ring: 0, Fault: "intersects itself"}},
		{"pinched", [][][]geo.Point{{ring(4, 52, 4.2, 52, 4.1, 52.1, 4.2, 52.2, 4, 52.2, 4.1, 52.1, 4, 52)}}, &geo.RingError{Polygon: 0, Ring: 0, Fault: "intersects itself"}},
		{"vertex on edge", [][][]geo.Point{{ring(4, 52, 4.2, 52, 4.2, 52.2, 4.1, 52, 4, 52.2, 4, 52)}}, &geo.RingError{Polygon: 0, Ring: 0, Fault: "intersects itself"}},
		{"spike back", [][][]geo.Point{{ring(4, 52, 4.2, 52, 4.1, 52, 4.1, 52.1, 4, 52)}}, &geo.RingError{Polygon: 0, Ring: 0, Fault: "intersects itself"}},
		{"collinear", [][][]geo.Point{{ring(4, 52, 4.1, 52, 4.2, 52, 4, 52)}}, &geo.RingError{Polygon: 0, Ring: 0, Fault: "intersects itself"}},
		{"spike at start", [][][]geo.Point{{ring(4.1, 52, 4, 52, 4.1, 52.1, 4.2, 52, 4.1, 52)}}, nil},
		{"latitude out of range", [][][]geo.Point{{ring(4, 52, 4.1, 92, 4.1, 52.1, 4, 52)}}, &geo.RingError{Polygon: 0, Ring: 0, Fault: "has invalid coordinates at point 1 (lon 4.1, lat 92)"}},
		{"too wide", [][][]geo.Point{{ring(-179, 0, 179, 0, 179, 1, -179, 1, -179, 0)}}, &geo.RingError{Polygon: 0, Ring: 0, Fault: "spans more than 180 degrees of longitude (split it at the antimeridian)"}},
		{"hole outside", [][][]geo.Point{{square, far}}, &geo.RingError{Polygon: 0, Ring: 1, Fault: "is a hole outside its outer ring"}},
		{"hole crossing outer", [][][]geo.Point{{square, ring(4.05, 52.05, 4.15, 52.05, 4.15, 52.06, 4.05, 52.06, 4.05, 52.05)}}, &geo.RingError{Polygon: 0, Ring: 1, Fault: "touches or crosses polygon 0 ring 0"}},
		{"hole touching outer", [][][]geo.Point{{square, ring(4, 52.05, 4.05, 52.04, 4.05, 52.06, 4, 52.05)}}, &geo.RingError{Polygon: 0, Ring: 1, Fault: "touches or crosses polygon 0 ring 0"}},
		{"hole in hole", [][][]geo.Point{{square, hole, ring(4.03, 52.03, 4.04, 52.03, 4.04, 52.04, 4.03, 52.03)}}, &geo.RingError{Polygon: 0, Ring: 2, Fault: "lies inside hole 1 of its polygon"}},
		{"polygon inside polygon", [][][]geo.Point{{square}, {hole}}, &geo.RingError{Polygon: 1, Ring: 0, Fault: "lies inside polygon 0"}},
		{"polygon around polygon", [][][]geo.Point{{hole}, {square}}, &geo.RingError{Polygon: 0, Ring: 0, Fault: "lies inside polygon 1"}},
		{"island in hole", [][][]geo.Point{{square, hole}, {ring(4.03, 52.03, 4.04, 52.03, 4.04, 52.04, 4.03, 52.03)}}, nil},
		{"shared edge", [][][]geo.Point{{square}, {ring(4.1, 52, 4.2, 52, 4.2, 52.1, 4.1, 52.1, 4.1, 52)}}, &geo.RingError{Polygon: 1, Ring: 0, Fault: "touches or crosses polygon 0 ring 0"}},
		{"no rings", [][][]geo.Point{{square}, {}}, &geo.RingError{Polygon: 1, Ring: 0, Fault: "is missing (a polygon needs an outer ring)"}},
		{"antimeridian split", [][][]geo.Point{
			{ring(179.9, -17, 180, -17, 180, -16.9, 179.9, -16.9, 179.9, -17)},
			{ring(-180, -17, -179.9, -17, -179.9, -16.9, -180, -16.9, -180, -17)}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := geo.NewPolygons(tt.polys)
			if tt.want == nil {
				if err != nil || s == nil {
					t.Fatalf("NewPolygons = %v, %v; want a shape", s, err)
				}
				return
			}
			var re *geo.RingError
			if !errors.As(err, &re) {
				t.Fatalf("NewPolygons error = %v; want %v", err, tt.want)
			}
			if *re != *tt.want {
				t.Errorf("NewPolygons error = %q; want %q", re, tt.want)
			}
			if !errors.Is(err, geo.ErrInvalidShape) {
				t.Errorf("error %v does not match ErrInvalidShape", err)
			}
		})
	}
	if _, err := geo.NewPolygons(nil); !errors.Is(err, geo.ErrInvalidShape) {
		t.Errorf("NewPolygons(nil) error = %v; want ErrInvalidShape", err)
	}
}

func TestRingErrorMessage(t *testing.T) {
	err := &geo.RingError{Polygon: 0, Ring: 1, Fault: "is not closed"}
	if got, want := err.Error(), "polygon 0 ring 1 is not closed"; got != want {
		t.Errorf("Error() = %q; want %q", got, want)
	}
}

func TestNewCircle(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		center geo.Point
		radius float64
		ok     bool
	}{
		{geo.Point{Lat: 51.9244, Lon: 4.4777}, 250, true},
		{geo.Point{Lat: -16.5, Lon: 180}, 1000, true},
		{geo.Point{Lat: 90, Lon: 0}, 1, true},
		{geo.Point{Lat: 51.9244, Lon: 4.4777}, 0, false},
		{geo.Point{Lat: 51.9244, Lon: 4.4777}, -1, false},
		{geo.Point{Lat: 51.9244, Lon: 4.4777}, inf, false},
		{geo.Point{Lat: 51.9244, Lon: 4.4777}, inf - inf, false},
		{geo.Point{Lat: 91, Lon: 4.4777}, 250, false},
		{geo.Point{Lat: 51, Lon: 180.5}, 250, false},
		{geo.Point{Lat: inf - inf, Lon: 0}, 250, false},
	}
	for _, tt := range tests {
		s, err := geo.NewCircle(tt.center, tt.radius)
		if tt.ok != (err == nil) || tt.ok != (s != nil) {
			t.Errorf("NewCircle(%v, %g) = %v, %v; want ok %v", tt.center, tt.radius, s, err, tt.ok)
		}
		if err != nil && !errors.Is(err, geo.ErrInvalidShape) {
			t.Errorf("NewCircle(%v, %g) error %v does not match ErrInvalidShape", tt.center, tt.radius, err)
		}
	}
}
