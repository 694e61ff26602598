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
