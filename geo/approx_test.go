package geo_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/proxmon/proxmon/geo"
)

// pairScenario generates pairs of points a few metres to ~60 km apart.
type pairScenario struct {
	name string
	pair func(rng *rand.Rand) (p, q geo.Point)
}

// uniformSphere returns a point uniformly distributed on the sphere.
func uniformSphere(rng *rand.Rand) geo.Point {
	return geo.Point{
		Lat: math.Asin(2*rng.Float64()-1) * 180 / math.Pi,
		Lon: rng.Float64()*360 - 180,
	}
}

// pairDistance draws a separation: half uniform up to 60 km, half
// log-uniform from 1 m to 60 km, so that short and long lines are both
// well represented.
func pairDistance(rng *rand.Rand) float64 {
	if rng.IntN(2) == 0 {
		return rng.Float64() * 60e3
	}
	return math.Pow(10, rng.Float64()*math.Log10(60e3))
}

var pairScenarios = []pairScenario{
	{"netherlands", func(rng *rand.Rand) (geo.Point, geo.Point) {
		p := geo.Point{Lat: 50.75 + rng.Float64()*2.8, Lon: 3.35 + rng.Float64()*3.85}
		return p, sphereOffset(p, pairDistance(rng), rng.Float64()*360)
	}},
	{"world", func(rng *rand.Rand) (geo.Point, geo.Point) {
		p := uniformSphere(rng)
		return p, sphereOffset(p, pairDistance(rng), rng.Float64()*360)
	}},
	{"polar", func(rng *rand.Rand) (geo.Point, geo.Point) {
		p := geo.Point{Lat: 90 - math.Pow(rng.Float64(), 2)*3, Lon: rng.Float64()*360 - 180}
		if rng.IntN(2) == 0 {
			p.Lat = -p.Lat
		}
		if rng.IntN(50) == 0 {
			p.Lat = math.Copysign(90, p.Lat)
		}
		return p, sphereOffset(p, pairDistance(rng), rng.Float64()*360)
	}},
	{"antimeridian", func(rng *rand.Rand) (geo.Point, geo.Point) {
		p := geo.Point{Lat: rng.Float64()*170 - 85, Lon: 180 - rng.Float64()*0.5}
		if rng.IntN(2) == 0 {
			p.Lon = -p.Lon
		}
		return p, sphereOffset(p, pairDistance(rng), rng.Float64()*360)
	}},
}

// decideWithin is how the engine compares a distance with a threshold: the
// approximation decides when its bound allows, the exact distance otherwise.
// exact stands for Distance(p, q), computed once per pair by the caller.
func decideWithin(b geo.Bounded, exact, t float64) (within, approximated bool) {
	if b.Decides(t) {
		return b.D <= t, true
	}
	return exact <= t, false
}

// thresholds returns thresholds placed where a wrong bound would show: at the
// exact distance d, a few ulps and mm..m either side of it, and at and just
// beyond the edges of the approximation's interval [D-Err, D+Err].
func thresholds(rng *rand.Rand, d float64, b geo.Bounded) []float64 {
	ts := []float64{
		d,
		math.Nextafter(d, math.Inf(1)),
		math.Nextafter(d, math.Inf(-1)),
		d + math.Pow(10, -3+rng.Float64()*3.7), // 1 mm .. 5 m above
		d - math.Pow(10, -3+rng.Float64()*3.7), // 1 mm .. 5 m below
		b.D + b.Err,
		b.D - b.Err,
		b.D + b.Err*(1+1e-12),
		b.D - b.Err*(1+1e-12),
		[]float64{250, 500, 1500, 3000}[rng.IntN(4)],
	}
	return ts
}

func TestApproxDistanceDecisions(t *testing.T) {
	pairs := 500000 // per scenario
	if testing.Short() {
		pairs = 20000
	}
	for i, sc := range pairScenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(100, uint64(i)))
			var cases, approximated int
			var maxErrRatio float64
			for range pairs {
				p, q := sc.pair(rng)
				d := geo.Distance(p, q)
				b := geo.ApproxDistance(p, q)
				if !(math.Abs(d-b.D) <= b.Err) {
					t.Fatalf("ApproxDistance(%v, %v) = %+v, but Distance = %.9f (off by %.3g)", p, q, b, d, math.Abs(d-b.D))
				}
				if !math.IsInf(b.Err, 1) {
					maxErrRatio = math.Max(maxErrRatio, math.Abs(d-b.D)/b.Err)
				}
				for _, th := range thresholds(rng, d, b) {
					cases++
					got, approx := decideWithin(b, d, th)
					if approx {
						approximated++
					}
					if want := d <= th; got != want {
						t.Fatalf("%v to %v: deciding d <= %.9f gives %v, exact distance %.9f says %v (approximation %+v)",
							p, q, th, got, d, want, b)
					}
				}
			}
			t.Logf("%d pairs, %d decisions, %.1f%% by the approximation, max |Distance-D|/Err = %.3f",
				pairs, cases, 100*float64(approximated)/float64(cases), maxErrRatio)
		})
	}
}

// TestApproxDistanceBound checks the bound on lines of every length and
// place, and that it is small enough to be useful where the engine needs it.
func TestApproxDistanceBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	n := 1000000
	if testing.Short() {
		n = 50000
	}
	var maxAbs, maxRatio float64
	for range n {
		var p, q geo.Point
		switch rng.IntN(4) {
		case 0: // anywhere, any distance
			p, q = uniformSphere(rng), uniformSphere(rng)
		case 1: // up to about 150 km, across the limit of the bound
			p = uniformSphere(rng)
			q = sphereOffset(p, rng.Float64()*150e3, rng.Float64()*360)
		case 2: // within a few metres of a pole, any longitudes
			p = geo.Point{Lat: 90 - rng.Float64()*1e-4, Lon: rng.Float64()*360 - 180}
			q = geo.Point{Lat: 90 - rng.Float64()*1e-4, Lon: rng.Float64()*360 - 180}
		default: // sub-metre lines, where round-off dominates
			p = uniformSphere(rng)
			q = sphereOffset(p, rng.Float64(), rng.Float64()*360)
		}
		d := geo.Distance(p, q)
		b := geo.ApproxDistance(p, q)
		diff := math.Abs(d - b.D)
		if !(diff <= b.Err) {
			t.Fatalf("ApproxDistance(%v, %v) = %+v, but Distance = %.9f (off by %.3g)", p, q, b, d, diff)
		}
		if b.Err < 1 { // the bound for lines within Smax, not the far one
			maxAbs = math.Max(maxAbs, diff)
			maxRatio = math.Max(maxRatio, diff/b.Err)
		}
		// The bound must be small where thresholds lie, and still rule out
		// kilometre-scale thresholds for lines longer than 5 km.
		if d <= 60e3 {
			if limit := usefulBound(d); !(b.Err <= limit) {
				t.Fatalf("ApproxDistance(%v, %v) = %+v: bound above %g m for a %.0f m line", p, q, b, limit, d)
			}
		}
		if d > 5e3 && !(b.D-b.Err > 3000) {
			t.Fatalf("ApproxDistance(%v, %v) = %+v cannot rule out 3 km for a %.0f m line", p, q, b, d)
		}
	}
	t.Logf("where Err < 1 m: max |Distance-D| = %.3g m, max |Distance-D|/Err = %.3f", maxAbs, maxRatio)
}

// usefulBound is the largest acceptable Err for a line of d <= 60 km: 0.1 mm
// up to 5 km, 8 cm up to 50 km, 13 cm up to 60 km.
func usefulBound(d float64) float64 {
	switch {
	case d <= 5e3:
		return 1e-4
	case d <= 50e3:
		return 0.08
	}
	return 0.13
}

func TestApproxDistanceCases(t *testing.T) {
	const far = -1 // the bound is wide but must rule out a 3 km threshold
	tests := []struct {
		name    string
		p, q    geo.Point
		maxErrM float64
	}{
		{"same point", geo.Point{Lat: 52, Lon: 5}, geo.Point{Lat: 52, Lon: 5}, 1e-4},
		{"Rotterdam to Delft", geo.Point{Lat: 51.9244, Lon: 4.4777}, geo.Point{Lat: 52.0116, Lon: 4.3571}, 2e-3},
		{"across the antimeridian", geo.Point{Lat: -16.5, Lon: 179.99}, geo.Point{Lat: -16.5, Lon: -179.99}, 1e-4},
		{"across the north pole", geo.Point{Lat: 89.9999, Lon: 0}, geo.Point{Lat: 89.9999, Lon: 180}, 1e-4},
		{"at the south pole", geo.Point{Lat: -90, Lon: 0}, geo.Point{Lat: -89.99, Lon: -120}, 1e-4},
		{"on the equator", geo.Point{Lat: 0, Lon: -0.1}, geo.Point{Lat: 0, Lon: 0.1}, 1e-2},
		{"Amsterdam to Paris", geo.Point{Lat: 52.37, Lon: 4.89}, geo.Point{Lat: 48.86, Lon: 2.35}, far},
		{"antipodes", geo.Point{Lat: 10, Lon: 20}, geo.Point{Lat: -10, Lon: -160}, far},
		{"pole to pole", geo.Point{Lat: 90, Lon: 0}, geo.Point{Lat: -90, Lon: 0}, far},
		{"polar, far apart", geo.Point{Lat: 89, Lon: 0}, geo.Point{Lat: 89, Lon: 180}, far},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := geo.Distance(tt.p, tt.q)
			for _, b := range []geo.Bounded{geo.ApproxDistance(tt.p, tt.q), geo.ApproxDistance(tt.q, tt.p)} {
				if !(math.Abs(d-b.D) <= b.Err) {
					t.Errorf("ApproxDistance = %+v, Distance = %.9f", b, d)
				}
				if tt.maxErrM == far {
					if !b.Decides(3000) || b.D <= 3000 {
						t.Errorf("ApproxDistance = %+v does not rule out 3 km", b)
					}
				} else if !(b.Err <= tt.maxErrM) {
					t.Errorf("ApproxDistance = %+v, want Err <= %g", b, tt.maxErrM)
				}
			}
		})
	}
}

func TestApproxDistanceInvalid(t *testing.T) {
	ok := geo.Point{Lat: 52, Lon: 5}
	for _, p := range []geo.Point{{Lat: math.NaN()}, {Lon: 200}, {Lat: -90.5}, {Lon: math.Inf(1)}} {
		for _, b := range []geo.Bounded{geo.ApproxDistance(p, ok), geo.ApproxDistance(ok, p)} {
			if !math.IsInf(b.Err, 1) {
				t.Errorf("ApproxDistance with %v = %+v, want an infinite bound", p, b)
			}
			if b.Decides(100) {
				t.Errorf("ApproxDistance with %v = %+v decides a threshold", p, b)
			}
		}
	}
}

func BenchmarkApproxDistance(b *testing.B) {
	pairs := netherlandsPairs(rand.New(rand.NewPCG(9, 10)), 1024, 20e3)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		pq := pairs[i%len(pairs)]
		distanceSink += geo.ApproxDistance(pq[0], pq[1]).D
		i++
	}
}
