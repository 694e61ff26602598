package geo_test

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
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

func TestSignedDistanceSides(t *testing.T) {
	square := ring(4, 52, 4.1, 52, 4.1, 52.1, 4, 52.1, 4, 52)
	hole := ring(4.02, 52.02, 4.02, 52.05, 4.05, 52.05, 4.05, 52.02, 4.02, 52.02)
	island := ring(4.03, 52.03, 4.04, 52.03, 4.04, 52.04, 4.03, 52.03)
	other := ring(4.2, 52, 4.3, 52, 4.25, 52.1, 4.2, 52)
	shape := MustPolygons(t, [][][]geo.Point{{square, hole}, {island}, {other}})
	circle := MustCircle(t, geo.Point{Lat: 51.9244, Lon: 4.4777}, 250)
	pt := func(lon, lat float64) geo.Point { return geo.Point{Lat: lat, Lon: lon} }
	tests := []struct {
		name   string
		shape  *geo.Shape
		p      geo.Point
		inside bool
		dist   float64 // exact |distance| where known, else 0
	}{
		// The nearest point of a parallel is on the point's meridian.
		{"south of the square", shape, pt(4.01, 51.999), false, geo.Distance(pt(4.01, 51.999), pt(4.01, 52))},
		{"inside near the south edge", shape, pt(4.01, 52.0001), true, geo.Distance(pt(4.01, 52.0001), pt(4.01, 52))},
		{"inside near the north edge", shape, pt(4.06, 52.0995), true, geo.Distance(pt(4.06, 52.0995), pt(4.06, 52.1))},
		{"north of the square", shape, pt(4.09, 52.2), false, geo.Distance(pt(4.09, 52.2), pt(4.09, 52.1))},
		{"in the hole", shape, pt(4.025, 52.025), false, 0},
		{"hole's north edge from inside it", shape, pt(4.035, 52.0499), false, geo.Distance(pt(4.035, 52.0499), pt(4.035, 52.05))},
		{"hole's north edge from the area", shape, pt(4.035, 52.0501), true, geo.Distance(pt(4.035, 52.0501), pt(4.035, 52.05))},
		{"on the island", shape, pt(4.038, 52.032), true, 0},
		{"in the second polygon", shape, pt(4.25, 52.05), true, 0},
		{"between the polygons", shape, pt(4.15, 52.05), false, 0},
		{"on a vertex", shape, pt(4.1, 52.1), false, 0.0},
		{"circle center", circle, pt(4.4777, 51.9244), true, 250},
		{"circle outside", circle, pt(4.4777, 51.9344), false, geo.Distance(pt(4.4777, 51.9244), pt(4.4777, 51.9344)) - 250},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.shape.SignedDistance(tt.p)
			if (s < 0) != tt.inside && s != 0 {
				t.Errorf("SignedDistance = %.6f; want inside %v", s, tt.inside)
			}
			if tt.shape.Contains(tt.p) != tt.inside && s != 0 {
				t.Errorf("Contains = %v; want %v", !tt.inside, tt.inside)
			}
			if tt.dist != 0 && math.Abs(math.Abs(s)-tt.dist) > 1e-6 {
				t.Errorf("|SignedDistance| = %.9f; want %.9f", math.Abs(s), tt.dist)
			}
			if b := tt.shape.ApproxSignedDistance(tt.p); !(math.Abs(b.D-s) <= b.Err) || (math.Abs(s) < 300 && b.Err > 0.01) {
				t.Errorf("ApproxSignedDistance = %+v; SignedDistance %.9f", b, s)
			}
		})
	}
}

func TestSignedDistanceInvalidPoint(t *testing.T) {
	for _, s := range []*geo.Shape{
		MustPolygons(t, rotterdam),
		MustCircle(t, geo.Point{Lat: 51.9244, Lon: 4.4777}, 250),
	} {
		for _, p := range []geo.Point{{Lat: math.NaN()}, {Lat: 91}, {Lon: 181}} {
			if d := s.SignedDistance(p); !math.IsNaN(d) {
				t.Errorf("SignedDistance(%v) = %g; want NaN", p, d)
			}
			if b := s.ApproxSignedDistance(p); !math.IsInf(b.Err, 1) {
				t.Errorf("ApproxSignedDistance(%v) = %+v; want an infinite bound", p, b)
			}
		}
	}
}

// TestAntimeridianPolygon compares a zone split at the antimeridian (RFC
// 7946 section 3.1.9) with the same zone moved one degree west, where it is
// in one piece: longitude shifts change no distance on the ellipsoid.
func TestAntimeridianPolygon(t *testing.T) {
	east := ring(179.95, -17, 180, -17.02, 180, -16.93, 179.97, -16.9, 179.95, -17)
	west := ring(-180, -17.02, -179.93, -17.05, -179.9, -16.95, -180, -16.93, -180, -17.02)
	split := MustPolygons(t, [][][]geo.Point{{east}, {west}})
	whole := MustPolygons(t, [][][]geo.Point{{ring(178.95, -17, 179, -17.02, 179.07, -17.05, 179.1, -16.95,
		179, -16.93, 178.97, -16.9, 178.95, -17)}})
	rng := rand.New(rand.NewPCG(11, 12))
	n := 3000
	if testing.Short() {
		n = 300
	}
	for range n {
		p := geo.Point{Lat: -17.2 + 0.45*rng.Float64(), Lon: 179.8 + 0.4*rng.Float64()}
		if rng.IntN(4) == 0 {
			p.Lat = -16.93 + 2e-4*(rng.Float64()-0.5) // along the seam's ends
			p.Lon = 179.999 + 0.002*rng.Float64()
		}
		if p.Lon > 180 {
			p.Lon -= 360
		}
		q := geo.Point{Lat: p.Lat, Lon: p.Lon - 1}
		if q.Lon < -180 {
			q.Lon += 360
		}
		got, want := split.SignedDistance(p), whole.SignedDistance(q)
		if math.Abs(got-want) > 2e-3 {
			t.Fatalf("split zone: SignedDistance(%v) = %.6f; the whole zone moved west gives %.6f", p, got, want)
		}
		if b := split.ApproxSignedDistance(p); !(math.Abs(b.D-got) <= b.Err) {
			t.Fatalf("ApproxSignedDistance(%v) = %+v; SignedDistance %.6f", p, b, got)
		}
	}
	// On the seam, inside the zone, the distance is to the real boundary.
	if d := split.SignedDistance(geo.Point{Lat: -16.97, Lon: 180}); d > -3000 {
		t.Errorf("SignedDistance on the seam = %.3f; want well inside", d)
	}
	if d := split.SignedDistance(geo.Point{Lat: -16.97, Lon: -180}); d > -3000 {
		t.Errorf("SignedDistance on the seam = %.3f; want well inside", d)
	}
	if got := split.Bounds(0); len(got) != 2 {
		t.Errorf("Bounds(0) = %v; want two boxes", got)
	}
}

func TestAntimeridianCircle(t *testing.T) {
	c := MustCircle(t, geo.Point{Lat: -16.5, Lon: 179.995}, 2000)
	for _, tt := range []struct {
		p      geo.Point
		inside bool
	}{
		{geo.Point{Lat: -16.5, Lon: -179.995}, true},
		{geo.Point{Lat: -16.5, Lon: 179.985}, true},
		{geo.Point{Lat: -16.5, Lon: -179.975}, false},
		{geo.Point{Lat: -16.5, Lon: 179.97}, false},
	} {
		s := c.SignedDistance(tt.p)
		if (s < 0) != tt.inside {
			t.Errorf("SignedDistance(%v) = %.3f; want inside %v", tt.p, s, tt.inside)
		}
		if b := c.ApproxSignedDistance(tt.p); !(math.Abs(b.D-s) <= b.Err) {
			t.Errorf("ApproxSignedDistance(%v) = %+v; SignedDistance %.6f", tt.p, b, s)
		}
	}
	if got := c.Bounds(100); len(got) != 2 {
		t.Errorf("Bounds(100) = %v; want two boxes", got)
	}
}

// TestBoundsNeverMiss places points around shapes and checks that every
// point within the margin lies in one of the boxes.
func TestBoundsNeverMiss(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	shapes := []*geo.Shape{
		MustPolygons(t, rotterdam),
		MustPolygons(t, [][][]geo.Point{
			{ring(179.95, -17, 180, -17.02, 180, -16.93, 179.97, -16.9, 179.95, -17)},
			{ring(-180, -17.02, -179.93, -17.05, -179.9, -16.95, -180, -16.93, -180, -17.02)}}),
		MustPolygons(t, [][][]geo.Point{{ring(10, 89.9, 20, 89.9, 20, 89.95, 10, 89.9)}}),
		MustPolygons(t, [][][]geo.Point{{ring(-60, -80, -58, -80, -59, -79.9, -60, -80)}}),
		MustCircle(t, geo.Point{Lat: 51.9, Lon: 4.5}, 250),
		MustCircle(t, geo.Point{Lat: -16.5, Lon: -179.999}, 2000),
		MustCircle(t, geo.Point{Lat: 89.99, Lon: 0}, 500),
		MustCircle(t, geo.Point{Lat: 0, Lon: 0}, 5000e3),
	}
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for i, s := range shapes {
		for _, margin := range []float64{0, 300, 5000} {
			boxes := s.Bounds(margin)
			var in int
			for range n {
				// A point near the shape: near its first box, or near a
				// pole or the antimeridian.
				b := boxes[rng.IntN(len(boxes))]
				p := geo.Point{
					Lat: b.Min.Lat + (b.Max.Lat-b.Min.Lat)*(1.4*rng.Float64()-0.2),
					Lon: b.Min.Lon + (b.Max.Lon-b.Min.Lon)*(1.4*rng.Float64()-0.2),
				}
				p.Lat = math.Max(-90, math.Min(90, p.Lat))
				p.Lon = math.Max(-180, math.Min(180, p.Lon))
				if d := s.ApproxSignedDistance(p); d.D-d.Err > margin {
					continue
				}
				if s.SignedDistance(p) > margin {
					continue
				}
				in++
				if !inAny(boxes, p) {
					t.Fatalf("shape %d margin %g: %v is within the margin (%.3f) but outside %v", i, margin, p, s.SignedDistance(p), boxes)
				}
			}
			if in == 0 {
				t.Errorf("shape %d margin %g: no point within the margin tested", i, margin)
			}
		}
	}
}

func inAny(boxes []geo.Rect, p geo.Point) bool {
	for _, b := range boxes {
		if b.Min.Lat <= p.Lat && p.Lat <= b.Max.Lat && b.Min.Lon <= p.Lon && p.Lon <= b.Max.Lon {
			return true
		}
	}
	return false
}

// fuzzPolygons decodes fuzz input into polygons. The first byte chooses
// the coordinate form: small integers on a 0.1 degree grid (so that rings
// often close, repeat points, run collinear and touch), or raw float64
// bits. Then, per polygon, a ring count; per ring a point count, whether
// to close it, and the points.
func fuzzPolygons(data []byte) [][][]geo.Point {
	if len(data) == 0 {
		return nil
	}
	raw := data[0]&0x80 != 0
	nPolys := int(data[0]&3) + 1
	data = data[1:]
	next := func() (byte, bool) {
		if len(data) == 0 {
			return 0, false
		}
		b := data[0]
		data = data[1:]
		return b, true
	}
	coord := func() (float64, bool) {
		if raw {
			if len(data) < 8 {
				return 0, false
			}
			v := math.Float64frombits(binary.LittleEndian.Uint64(data))
			data = data[8:]
			return v, true
		}
		b, ok := next()
		return float64(int8(b)) / 10, ok
	}
	var polys [][][]geo.Point
	for range nPolys {
		b, ok := next()
		if !ok {
			break
		}
		var rings [][]geo.Point
		for range int(b%3) + 1 {
			h, ok := next()
			if !ok {
				break
			}
			var r []geo.Point
			for range int(h % 16) {
				lon, ok1 := coord()
				lat, ok2 := coord()
				if !ok1 || !ok2 {
					break
				}
				r = append(r, geo.Point{Lat: lat, Lon: lon})
			}
			if h&0x80 != 0 && len(r) > 0 {
				r = append(r, r[0])
			}
			rings = append(rings, r)
		}
		polys = append(polys, rings)
	}
	return polys
}

func FuzzNewPolygons(f *testing.F) {
	// A square with a hole, a triangle beside it, a bow tie, a ring left
	// open, and raw coordinates near the antimeridian.
	f.Add([]byte{0x01, 0x01, 0x84, 0, 0, 10, 0, 10, 10, 0, 10, 0x83, 2, 2, 2, 5, 5, 5, 0x83, 20, 0, 30, 0, 25, 10})
	f.Add([]byte{0x00, 0x00, 0x84, 0, 0, 10, 10, 10, 0, 0, 10})
	f.Add([]byte{0x00, 0x00, 0x04, 0, 0, 10, 0, 10, 10, 0, 10})
	raw := []byte{0x80, 0x00, 0x83}
	for _, v := range []float64{179.9, -17, 180, -17, 180, -16.9} {
		raw = binary.LittleEndian.AppendUint64(raw, math.Float64bits(v))
	}
	f.Add(raw)
	f.Fuzz(func(t *testing.T, data []byte) {
		polys := fuzzPolygons(data)
		s, err := geo.NewPolygons(polys)
		if err != nil {
			if s != nil || !errors.Is(err, geo.ErrInvalidShape) {
				t.Fatalf("NewPolygons = %v, %v", s, err)
			}
			return
		}
		// An accepted shape answers for any point, and its approximation
		// keeps its bound.
		v := polys[0][0][0]
		for _, p := range []geo.Point{v, {Lat: v.Lat + 0.05, Lon: v.Lon}, {Lat: 0.31, Lon: 0.47}, {Lat: 89.99, Lon: 12}} {
			if !p.Valid() {
				continue
			}
			d := s.SignedDistance(p)
			b := s.ApproxSignedDistance(p)
			if math.IsNaN(d) || !(math.Abs(d-b.D) <= b.Err) {
				t.Fatalf("at %v: SignedDistance %v, ApproxSignedDistance %+v", p, d, b)
			}
			if p == v && math.Abs(d) > 1e-6 {
				t.Fatalf("SignedDistance at the vertex %v = %v", p, d)
			}
			if in := s.Contains(p); in != (d < 0) && d != 0 {
				t.Fatalf("at %v: Contains %v but SignedDistance %v", p, in, d)
			}
		}
		for _, r := range s.Bounds(10) {
			if !(r.Min.Lat <= r.Max.Lat && r.Min.Lon <= r.Max.Lon) {
				t.Fatalf("Bounds gives %v", r)
			}
		}
	})
}
