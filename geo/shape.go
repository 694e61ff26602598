package geo

// API outline; the implementation replaces this file.

// Shape is a zone's geometry: a geodesic circle, or polygons with holes whose
// edges are straight lines in lon/lat (RFC 7946).
type Shape struct{}

// RingError names the polygon and ring at fault in a shape's definition.
type RingError struct {
	Polygon, Ring int
	Fault         string // e.g. "is not closed", "intersects itself", "has fewer than 4 points"
}

func (e *RingError) Error() string { return "" }

// NewCircle returns a circle of radiusM metres (geodesic) around center.
func NewCircle(center Point, radiusM float64) (*Shape, error) { panic("unimplemented") }

// NewPolygons returns a shape of polygons; each polygon is its rings (the
// outer ring first, then holes), each ring closed (first point == last) with
// at least 4 points. Faults are reported as *RingError.
func NewPolygons(polys [][][]Point) (*Shape, error) { panic("unimplemented") }

// SignedDistance returns the distance in metres from p to the shape's
// boundary, negative inside, accurate to 0.5 m for shapes up to 20 km across.
func (s *Shape) SignedDistance(p Point) float64 { panic("unimplemented") }

// ApproxSignedDistance returns a fast approximation of SignedDistance with a
// proven error bound.
func (s *Shape) ApproxSignedDistance(p Point) Bounded { panic("unimplemented") }

// Rect is a lon/lat box, Min the south-west corner, Max the north-east one.
type Rect struct{ Min, Max Point }

// Bounds returns lon/lat boxes (two when the shape crosses the antimeridian)
// that contain every point within marginM metres of the shape, rounded
// outward: a point outside every box is more than marginM from the shape.
func (s *Shape) Bounds(marginM float64) []Rect { panic("unimplemented") }
