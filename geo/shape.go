package geo

import (
	"errors"
	"fmt"
	"math"
)

// ErrInvalidShape is the error, or is wrapped by the error, that NewCircle
// and NewPolygons return for a definition they reject; a *RingError also
// matches it with errors.Is.
var ErrInvalidShape = errors.New("invalid shape")

// Shape is a zone's geometry: a geodesic circle, or polygons with holes whose
// edges are straight lines in lon/lat (RFC 7946). A Shape is immutable and
// safe for concurrent use.
type Shape struct {
	circle bool
	center Point
	radius float64

	polys [][][]Point // validated rings, consecutive repeats removed
	boxes []Rect      // bounding box of each polygon's outer ring
	edges []edge      // the boundary, see boundaryEdges
	// Extent of the vertices, for the approximation's range checks.
	minLat, maxLat float64
}

// edge is a boundary edge, straight in lon/lat, from (lat0, lonMid-halfExt)
// to (lat1, lonMid+halfExt). Keeping the midpoint lets the model map the
// edge from a single longitude difference (see frame.nearest).
type edge struct {
	lat0, lat1      float64
	lonMid, halfExt float64
}

func newEdge(a, b Point) edge {
	return edge{lat0: a.Lat, lat1: b.Lat, lonMid: (a.Lon + b.Lon) / 2, halfExt: (b.Lon - a.Lon) / 2}
}

// RingError names the polygon and ring at fault in a shape's definition.
type RingError struct {
	Polygon, Ring int
	Fault         string // e.g. "is not closed", "intersects itself", "has fewer than 4 points"
}

func (e *RingError) Error() string {
	return fmt.Sprintf("polygon %d ring %d %s", e.Polygon, e.Ring, e.Fault)
}

// Unwrap lets errors.Is(err, ErrInvalidShape) hold for a *RingError.
func (e *RingError) Unwrap() error { return ErrInvalidShape }

// NewCircle returns a circle of radiusM metres (geodesic) around center.
// The radius must be positive and finite.
func NewCircle(center Point, radiusM float64) (*Shape, error) {
	if !center.Valid() {
		return nil, fmt.Errorf("%w: circle center (lon %g, lat %g) is not a valid position", ErrInvalidShape, center.Lon, center.Lat)
	}
	if !(radiusM > 0) || math.IsInf(radiusM, 1) {
		return nil, fmt.Errorf("%w: circle radius %g m is not positive and finite", ErrInvalidShape, radiusM)
	}
	return &Shape{circle: true, center: center, radius: radiusM, minLat: center.Lat, maxLat: center.Lat}, nil
}

// NewPolygons returns a shape of polygons, GeoJSON style: each polygon is
// its rings (the outer ring first, then holes), each ring closed (first
// point == last) with at least 4 points. Rings may run either way round.
// Rings must not touch or cross themselves or each other, holes must lie
// inside their outer ring, polygons outside each other, and no ring may span
// more than 180 degrees of longitude: a zone across the antimeridian is split
// there into two polygons (RFC 7946 section 3.1.9), which then count as one
// area. Faults are reported as *RingError.
func NewPolygons(polys [][][]Point) (*Shape, error) {
	rings, err := validateRings(polys)
	if err != nil {
		return nil, err
	}
	s := &Shape{polys: rings, minLat: 90, maxLat: -90}
	for _, p := range rings {
		b := ringBox(p[0])
		s.boxes = append(s.boxes, b)
		s.minLat, s.maxLat = math.Min(s.minLat, b.Min.Lat), math.Max(s.maxLat, b.Max.Lat)
	}
	s.edges = boundaryEdges(rings)
	return s, nil
}

// IsCircle reports whether s is a circle, and returns its center and
// radius if it is.
func (s *Shape) IsCircle() (center Point, radiusM float64, ok bool) {
	return s.center, s.radius, s.circle
}

// Polygons returns the polygons of a polygon shape (nil for a circle), as
// given but for consecutive repeated points removed. The caller must not
// modify them.
func (s *Shape) Polygons() [][][]Point {
	return s.polys
}

// boundaryEdges returns the edges of all rings, except the stretches along
// the antimeridian where a polygon ending at longitude 180 meets one starting
// at -180: those lie inside the area.
func boundaryEdges(polys [][][]Point) []edge {
	var edges []edge
	var east, west [][2]float64 // latitude spans of edges on lon 180 and -180
	for _, rings := range polys {
		for _, r := range rings {
			for k := 0; k+1 < len(r); k++ {
				a, b := r[k], r[k+1]
				span := [2]float64{math.Min(a.Lat, b.Lat), math.Max(a.Lat, b.Lat)}
				switch {
				case a.Lon == 180 && b.Lon == 180:
					east = append(east, span)
				case a.Lon == -180 && b.Lon == -180:
					west = append(west, span)
				default:
					edges = append(edges, newEdge(a, b))
				}
			}
		}
	}
	for _, sp := range east {
		for _, part := range subtractSpans(sp, west) {
			edges = append(edges, newEdge(Point{Lat: part[0], Lon: 180}, Point{Lat: part[1], Lon: 180}))
		}
	}
	for _, sp := range west {
		for _, part := range subtractSpans(sp, east) {
			edges = append(edges, newEdge(Point{Lat: part[0], Lon: -180}, Point{Lat: part[1], Lon: -180}))
		}
	}
	return edges
}

// subtractSpans returns what remains of the latitude span sp after removing
// every span in cut.
func subtractSpans(sp [2]float64, cut [][2]float64) [][2]float64 {
	parts := [][2]float64{sp}
	for _, c := range cut {
		var next [][2]float64
		for _, p := range parts {
			if c[1] <= p[0] || c[0] >= p[1] {
				next = append(next, p)
				continue
			}
			if p[0] < c[0] {
				next = append(next, [2]float64{p[0], c[0]})
			}
			if c[1] < p[1] {
				next = append(next, [2]float64{c[1], p[1]})
			}
		}
		parts = next
	}
	return parts
}

// Contains reports whether p lies inside the shape. Points on the boundary
// may go either way; their signed distance is 0 within its accuracy.
func (s *Shape) Contains(p Point) bool {
	if s.circle {
		return Distance(s.center, p) < s.radius
	}
	return s.inside(p)
}

// inside reports whether p lies inside a polygon shape: inside an outer ring
// and outside that polygon's holes, by the even-odd rule in the lon/lat
// plane where the edges are straight. A point on the antimeridian is
// inside if it is inside as either longitude 180 or -180: it may be on the
// seam of a polygon split there, which the even-odd rule would count as
// the boundary of one part or the other.
func (s *Shape) inside(p Point) bool {
	if s.insidePlane(p) {
		return true
	}
	if math.Abs(p.Lon) == 180 {
		return s.insidePlane(Point{Lat: p.Lat, Lon: -p.Lon})
	}
	return false
}

func (s *Shape) insidePlane(p Point) bool {
	for i, rings := range s.polys {
		if !s.boxes[i].contains(p) || !insideRing(rings[0], p) {
			continue
		}
		in := true
		for _, h := range rings[1:] {
			if insideRing(h, p) {
				in = false
				break
			}
		}
		if in {
			return true
		}
	}
	return false
}

// insideRing is the even-odd test in floating point. It can err only for a
// point within about 1e-15 degrees of an edge, where the signed distance is
// 0 for all practical purposes.
func insideRing(ring []Point, p Point) bool {
	in := false
	for k := 0; k+1 < len(ring); k++ {
		a, b := ring[k], ring[k+1]
		if (a.Lat > p.Lat) != (b.Lat > p.Lat) &&
			p.Lon < a.Lon+(p.Lat-a.Lat)*(b.Lon-a.Lon)/(b.Lat-a.Lat) {
			in = !in
		}
	}
	return in
}
