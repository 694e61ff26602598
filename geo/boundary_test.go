package geo_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/proxmon/proxmon/geo"
)

// MustPolygons returns the shape of polys or fails the test.
func MustPolygons(tb testing.TB, polys [][][]geo.Point) *geo.Shape {
	tb.Helper()
	s, err := geo.NewPolygons(polys)
	if err != nil {
		tb.Fatalf("NewPolygons: %v", err)
	}
	return s
}

// MustCircle returns a circle or fails the test.
func MustCircle(tb testing.TB, c geo.Point, r float64) *geo.Shape {
	tb.Helper()
	s, err := geo.NewCircle(c, r)
	if err != nil {
		tb.Fatalf("NewCircle: %v", err)
	}
	return s
}

// moved returns the point about distM metres from p in direction azDeg,
// on a sphere; the tests measure distances exactly where it matters.
func moved(p geo.Point, distM, azDeg float64) geo.Point {
	const r = 6371008.8
	lat1, lon1 := p.Lat*math.Pi/180, p.Lon*math.Pi/180
	az, delta := azDeg*math.Pi/180, distM/r
	sinLat2 := math.Sin(lat1)*math.Cos(delta) + math.Cos(lat1)*math.Sin(delta)*math.Cos(az)
	lat2 := math.Asin(math.Max(-1, math.Min(1, sinLat2)))
	lon2 := lon1 + math.Atan2(math.Sin(az)*math.Sin(delta)*math.Cos(lat1), math.Cos(delta)-math.Sin(lat1)*sinLat2)
	return geo.Point{
		Lat: math.Max(-90, math.Min(90, lat2*180/math.Pi)),
		Lon: math.Max(-180, math.Min(180, math.Remainder(lon2*180/math.Pi, 360))),
	}
}

// starRing returns a closed ring of n vertices around c at distances
// between rmin and rmax metres, in order of bearing, so it never crosses
// itself.
func starRing(rng *rand.Rand, c geo.Point, n int, rmin, rmax float64) []geo.Point {
	r := make([]geo.Point, 0, n+1)
	for i := range n {
		az := (float64(i) + 0.8*rng.Float64()) * 360 / float64(n)
		r = append(r, moved(c, rmin+(rmax-rmin)*rng.Float64(), az))
	}
	return append(r, r[0])
}

// rotterdam is a 12-vertex zone of about 3 km across in Rotterdam.
var rotterdam = [][][]geo.Point{{ring(
	4.4500, 51.9100, 4.4720, 51.9050, 4.4950, 51.9080, 4.5100, 51.9150,
	4.5150, 51.9250, 4.5080, 51.9350, 4.4900, 51.9400, 4.4750, 51.9380,
	4.4600, 51.9330, 4.4480, 51.9260, 4.4420, 51.9180, 4.4450, 51.9130,
	4.4500, 51.9100,
)}}

// zoneCase is a shape and the polygons it was made from.
type zoneCase struct {
	name  string
	polys [][][]geo.Point // nil for a circle
	shape *geo.Shape
}

// testZones returns polygon zones of up to 20 km across at several
// latitudes, with holes and several parts.
func testZones(tb testing.TB) []zoneCase {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var zs []zoneCase
	add := func(name string, polys [][][]geo.Point) {
		zs = append(zs, zoneCase{name, polys, MustPolygons(tb, polys)})
	}
	add("rotterdam", rotterdam)
	for _, lat := range []float64{0.3, 52.1, -45, 70, 80} {
		c := geo.Point{Lat: lat, Lon: 5.2}
		add(fmt.Sprintf("star %g", lat), [][][]geo.Point{{starRing(rng, c, 16, 5e3, 10e3)}})
		add(fmt.Sprintf("holed %g", lat), [][][]geo.Point{{starRing(rng, c, 9, 6e3, 10e3), starRing(rng, c, 7, 1e3, 2.5e3)}})
	}
	c1, c2 := geo.Point{Lat: 52.3, Lon: 4.9}, geo.Point{Lat: 52.35, Lon: 5.1}
	add("multipolygon", [][][]geo.Point{
		{starRing(rng, c1, 8, 3e3, 5e3), starRing(rng, c1, 5, 500, 1e3)},
		{starRing(rng, c2, 20, 2e3, 4e3)},
		{starRing(rng, c1, 6, 100, 300)}, // an island in the hole
	})
	add("long edges", [][][]geo.Point{{ring(5, 52, 5.29, 52, 5.29, 52.18, 5, 52.18, 5, 52)}})
	return zs
}

// edgeTruth returns the distance from p to the lon/lat segment ab by dense
// sampling with the exact Distance, zooming in on the best sample.
func edgeTruth(p, a, b geo.Point, from, to float64) float64 {
	const n = 100
	at := func(t float64) geo.Point {
		return geo.Point{Lat: a.Lat + t*(b.Lat-a.Lat), Lon: a.Lon + t*(b.Lon-a.Lon)}
	}
	best := math.Inf(1)
	for range 6 {
		step := (to - from) / n
		round, bt := math.Inf(1), from
		for i := 0; i <= n; i++ {
			t := from + float64(i)*step
			if d := geo.Distance(p, at(t)); d < round {
				round, bt = d, t
			}
		}
		best = math.Min(best, round)
		from, to = math.Max(0, bt-step), math.Min(1, bt+step)
	}
	return best
}

// boundaryTruth returns the distance from p to the boundary of polys
// (which must not touch the antimeridian) by sampling every edge coarsely
// and zooming in on those that may hold the minimum.
func boundaryTruth(p geo.Point, polys [][][]geo.Point) float64 {
	const n = 64
	type cand struct {
		a, b   geo.Point
		lo, at float64
	}
	var cands []cand
	best := math.Inf(1)
	for _, rings := range polys {
		for _, r := range rings {
			for k := 0; k+1 < len(r); k++ {
				a, b := r[k], r[k+1]
				l := 1.01 * geo.Distance(a, b)
				m, mt := math.Inf(1), 0.0
				for i := 0; i <= n; i++ {
					t := float64(i) / n
					if d := geo.Distance(p, geo.Point{Lat: a.Lat + t*(b.Lat-a.Lat), Lon: a.Lon + t*(b.Lon-a.Lon)}); d < m {
						m, mt = d, t
					}
				}
				best = math.Min(best, m)
				cands = append(cands, cand{a, b, m - l/n, mt})
			}
		}
	}
	for _, c := range cands {
		if c.lo <= best {
			best = math.Min(best, edgeTruth(p, c.a, c.b, 0, 1))
		}
	}
	return best
}

// nearBoundary returns a point at a random distance from a random point
// of the boundary: log-uniform from 1 cm to maxM.
func nearBoundary(rng *rand.Rand, polys [][][]geo.Point, maxM float64) geo.Point {
	rings := polys[rng.IntN(len(polys))]
	r := rings[rng.IntN(len(rings))]
	k := rng.IntN(len(r) - 1)
	a, b := r[k], r[k+1]
	t := rng.Float64()
	if rng.IntN(8) == 0 {
		t = 0 // at a vertex
	}
	q := geo.Point{Lat: a.Lat + t*(b.Lat-a.Lat), Lon: a.Lon + t*(b.Lon-a.Lon)}
	d := math.Pow(10, -2+rng.Float64()*(math.Log10(maxM)+2))
	return moved(q, d, rng.Float64()*360)
}

func TestSignedDistanceAccuracy(t *testing.T) {
	n := 40
	if testing.Short() {
		n = 5
	}
	worst := 0.0
	for _, z := range testZones(t) {
		t.Run(z.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			for range n {
				p := nearBoundary(rng, z.polys, 50e3)
				got := z.shape.SignedDistance(p)
				want := boundaryTruth(p, z.polys)
				if z.shape.Contains(p) {
					want = -want
				}
				// The search may find a point a hair nearer than the
				// sampling; it must never be more than a millimetre off.
				if diff := math.Abs(got - want); !(diff <= 1e-3) {
					t.Errorf("SignedDistance(%v) = %.6f; sampling gives %.6f", p, got, want)
				} else {
					worst = math.Max(worst, diff)
				}
			}
		})
	}
	t.Logf("largest difference from sampling: %.3g m", worst)
}

// zoneThresholds are thresholds the engine compares signed distances with:
// the boundary, hysteresis and approach bands, and accuracy-shifted ones.
var zoneThresholds = []float64{0, 25, 50, 300, 325, 1500, -25, -50}

func TestApproxSignedDistanceBound(t *testing.T) {
	n := 70_000 // per zone; about a million in all
	if testing.Short() {
		n = 2_000
	}
	zones := testZones(t)
	zones = append(zones,
		zoneCase{name: "circle", shape: MustCircle(t, geo.Point{Lat: 51.9244, Lon: 4.4777}, 250)},
		zoneCase{name: "large circle", shape: MustCircle(t, geo.Point{Lat: -33.9, Lon: 18.4}, 10e3)},
	)
	for _, z := range zones {
		t.Run(z.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(5, 6))
			var finite, useful, near int
			worst := 0.0 // largest |exact - D| / Err
			for range n {
				var p geo.Point
				if z.polys != nil {
					p = nearBoundary(rng, z.polys, 50e3)
				} else {
					c, r, _ := z.shape.IsCircle()
					p = moved(c, r+math.Copysign(math.Pow(10, -2+rng.Float64()*6.7), rng.Float64()-0.5), rng.Float64()*360)
				}
				b := z.shape.ApproxSignedDistance(p)
				exact := z.shape.SignedDistance(p)
				if !(math.Abs(exact-b.D) <= b.Err) {
					t.Fatalf("ApproxSignedDistance(%v) = %+v, but SignedDistance = %.9f", p, b, exact)
				}
				for _, th := range zoneThresholds {
					if b.Decides(th) && (b.D <= th) != (exact <= th) {
						t.Fatalf("at %v threshold %g: approximation %+v decides differently from %.9f", p, th, b, exact)
					}
				}
				if math.IsInf(b.Err, 1) {
					continue
				}
				finite++
				worst = math.Max(worst, math.Abs(exact-b.D)/b.Err)
				if math.Abs(exact) < 1e3 {
					near++
					if b.Err < 0.5 {
						useful++
					}
				}
			}
			t.Logf("finite bounds %d of %d; within 1 km %d, of which Err < 0.5 m: %d; largest |error|/Err %.3f",
				finite, n, near, useful, worst)
			if finite < n*9/10 || useful < near {
				t.Errorf("bound too often infinite or too wide")
			}
		})
	}
}

// TestApproxSignedDistanceTight checks how tight the bound is where the
// engine needs it, next to the boundary.
func TestApproxSignedDistanceTight(t *testing.T) {
	s := MustPolygons(t, rotterdam)
	tests := []struct {
		dist   float64 // from the boundary
		maxErr float64
	}{
		{1, 1e-5}, {30, 1e-4}, {300, 0.01}, {1000, 0.05}, {10e3, 5}, {50e3, 120},
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tt := range tests {
		worst := 0.0
		for range 200 {
			p := nearBoundary(rng, rotterdam, 1)
			p = moved(p, tt.dist, rng.Float64()*360)
			b := s.ApproxSignedDistance(p)
			if math.Abs(b.D) > tt.dist*1.01+1 {
				continue
			}
			worst = math.Max(worst, b.Err)
		}
		if worst > tt.maxErr {
			t.Errorf("within %g m of the boundary Err reaches %g m; want <= %g", tt.dist, worst, tt.maxErr)
		}
	}
}

func TestApproxSignedDistanceFarAndPolar(t *testing.T) {
	zone := MustPolygons(t, rotterdam)
	polar := MustPolygons(t, [][][]geo.Point{{ring(0, 89.5, 60, 89.5, 60, 89.8, 0, 89.8, 0, 89.5)}})
	tests := []struct {
		name  string
		shape *geo.Shape
		p     geo.Point
	}{
		{"250 km away", zone, geo.Point{Lat: 50, Lon: 7}},
		{"other side of the world", zone, geo.Point{Lat: -51.9, Lon: -175.5}},
		{"north pole", zone, geo.Point{Lat: 90, Lon: 0}},
		{"polar zone from inside", polar, geo.Point{Lat: 89.7, Lon: 10}},
		{"polar zone across the pole", polar, geo.Point{Lat: 89.9, Lon: -150}},
		{"polar zone from outside", polar, geo.Point{Lat: 89, Lon: 60}},
		{"polar zone from afar", polar, geo.Point{Lat: 85, Lon: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.shape.ApproxSignedDistance(tt.p)
			exact := tt.shape.SignedDistance(tt.p)
			if math.IsNaN(exact) || !(math.Abs(exact-b.D) <= b.Err) {
				t.Errorf("ApproxSignedDistance = %+v, SignedDistance = %.3f", b, exact)
			}
			t.Logf("exact %.3f, approx %+v", exact, b)
		})
	}
}

// benchPoints returns points around the Rotterdam zone, most within a few
// hundred metres of its boundary, where the engine evaluates zones.
func benchPoints() []geo.Point {
	rng := rand.New(rand.NewPCG(41, 42))
	ps := make([]geo.Point, 1024)
	for i := range ps {
		ps[i] = nearBoundary(rng, rotterdam, 2000)
	}
	return ps
}

var shapeSink float64

func BenchmarkSignedDistance(b *testing.B) {
	ps := benchPoints()
	for _, z := range []struct {
		name  string
		shape *geo.Shape
	}{
		{"polygon12", MustPolygons(b, rotterdam)},
		{"circle", MustCircle(b, geo.Point{Lat: 51.9244, Lon: 4.4777}, 1500)},
	} {
		b.Run(z.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				shapeSink += z.shape.SignedDistance(ps[i%len(ps)])
				i++
			}
		})
	}
}

func BenchmarkApproxSignedDistance(b *testing.B) {
	ps := benchPoints()
	for _, z := range []struct {
		name  string
		shape *geo.Shape
	}{
		{"polygon12", MustPolygons(b, rotterdam)},
		{"polygon20", MustPolygons(b, [][][]geo.Point{{starRing(rand.New(rand.NewPCG(43, 44)), geo.Point{Lat: 51.92, Lon: 4.48}, 20, 1e3, 2e3)}})},
		{"circle", MustCircle(b, geo.Point{Lat: 51.9244, Lon: 4.4777}, 1500)},
	} {
		b.Run(z.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				shapeSink += z.shape.ApproxSignedDistance(ps[i%len(ps)]).Err
				i++
			}
		})
	}
}
