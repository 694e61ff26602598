package geo_test

import (
	"bufio"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/proxmon/proxmon/geo"
)

// geodCase is one line of Karney's geodesic test set: two points and the
// reference distance s12, exact to 0.1 nm.
type geodCase struct {
	line int
	p, q geo.Point
	s12  float64
}

// MustReadGeodTest reads testdata/GeodTest-short.dat (columns lat1 lon1 azi1
// lat2 lon2 azi2 s12 a12 m12 S12; 10000 lines sampled from GeodTest.dat,
// https://doi.org/10.5281/zenodo.32156).
func MustReadGeodTest(tb testing.TB) []geodCase {
	tb.Helper()
	f, err := os.Open("testdata/GeodTest-short.dat")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var cases []geodCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		if len(fields) != 10 {
			tb.Fatalf("line %d: %d fields, want 10", n, len(fields))
		}
		var v [10]float64
		for i, s := range fields {
			if v[i], err = strconv.ParseFloat(s, 64); err != nil {
				tb.Fatalf("line %d: %v", n, err)
			}
		}
		cases = append(cases, geodCase{
			line: n,
			p:    geo.Point{Lat: v[0], Lon: v[1]},
			q:    geo.Point{Lat: v[3], Lon: v[4]},
			s12:  v[6],
		})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(cases) == 0 {
		tb.Fatal("no test cases")
	}
	return cases
}

func TestDistanceGeodTest(t *testing.T) {
	var maxShort, maxLong float64 // metres, at most and over 100 km
	for _, c := range MustReadGeodTest(t) {
		got := geo.Distance(c.p, c.q)
		err := math.Abs(got - c.s12)
		tol := 1.0
		if c.s12 <= 100e3 {
			tol = 1e-3
			maxShort = math.Max(maxShort, err)
		} else {
			maxLong = math.Max(maxLong, err)
		}
		if !(err <= tol) {
			t.Errorf("line %d: Distance(%v, %v) = %.9f, want %.9f (error %.3g m > %g m)",
				c.line, c.p, c.q, got, c.s12, err, tol)
		}
		// The algorithm itself is good to about 15 nm; a regression in the
		// port shows up here long before it reaches the contract's limits.
		if !(err <= 1e-7) {
			t.Errorf("line %d: error %.3g m exceeds the algorithm's 1e-7 m", c.line, err)
		}
	}
	t.Logf("max error: %.3g m up to 100 km, %.3g m beyond", maxShort, maxLong)
}

// wrapLon brings a longitude from the reference test suites, which may exceed
// 180, into [-180, 180].
func wrapLon(lon float64) float64 {
	switch {
	case lon > 180:
		return lon - 360
	case lon < -180:
		return lon + 360
	}
	return lon
}

func TestDistanceKnown(t *testing.T) {
	// Regression cases of GeographicLib's test suite (geodtest.c) and
	// classic hard cases, WGS84.
	tests := []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		want, tol              float64
	}{
		{"JFK to CDG", 40.6, -73.8, 49.01666667, 2.55, 5853226, 0.5},
		{"short line", 36.493349428792, 0, 36.49334942879201, .0000008, 0.072, 0.5e-3},
		{"nearly antipodal 88", 88.202499451857, 0, -88.202499451857, 179.981022032992859592, 20003898.214, 0.5e-3},
		{"nearly antipodal 89.26", 89.262080389218, 0, -89.262080389218, 179.992207982775375662, 20003925.854, 0.5e-3},
		{"nearly antipodal 89.33", 89.333123580033, 0, -89.333123580032997687, 179.99295812360148422, 20003926.881, 0.5e-3},
		{"nearly antipodal 56", 56.320923501171, 0, -56.320923501171, 179.664747671772880215, 19993558.287, 0.5e-3},
		{"nearly antipodal 52", 52.784459512564, 0, -52.784459512563990912, 179.634407464943777557, 19991596.095, 0.5e-3},
		{"nearly antipodal 48", 48.522876735459, 0, -48.52287673545898293, 179.599720456223079643, 19989144.774, 0.5e-3},
		{"equator 179", 0, 0, 0, 179, 19926189, 0.5},
		{"equator 179.5", 0, 0, 0, 179.5, 19980862, 0.5},
		{"equator antipodal", 0, 0, 0, 180, 20003931, 0.5},
		{"equator to 1N antipode", 0, 0, 1, 180, 19893357, 0.5},
		{"longitudes 180 apart", 5, 0.00000000000001, 10, 180, 18345191.174332713, 5e-9},
		{"Gdansk bay", 54.1589, 15.3872, 54.1591, 15.3877, 39.527686385, 5e-9},
		{"Wellington to Salamanca", -(41 + 19/60.0), 174 + 49/60.0, 40 + 58/60.0, -(5 + 30/60.0), 19960543.857179, 0.5e-6},
		{"NGS calculator fails", 27.2, 0.0, -27.1, 179.5, 19974354.765767, 0.5e-6},
		{"coincident", 20.001, 0, 20.001, 0, 0, 1e-8},
		{"north pole, two longitudes", 90, 0, 90, 180, 0, 1e-8},
		{"hypot regression", 37.757540000000006, -122.47018, 37.75754, -122.470177, 0.264, 0.5e-3},
		{"pole to pole", 90, 0, -90, 0, 20003931.4586, 1e-3},
		{"pole to equator", 90, 0, 0, 123, 10001965.7293, 1e-3},
		{"testcase 1", 35.60777, -139.44815, -11.17491, -69.95921, 8935244.5604818305, 1e-8},
		{"testcase 2", 55.52454, 106.05087, 77.03196, 197.18234, 4105086.1713924406, 1e-8},
		{"testcase 4", -66.99028, 112.2363, -12.70631, 285.90344, 11150344.2312080241, 1e-8},
		{"testcase 5", -17.42761, 173.34268, -15.84784, 5.93557, 16076603.1631180673, 1e-8},
		{"testcase 15", -87.85331, 85.66836, 66.48646, 16.09921, 17286615.3147144645, 1e-8},
		{"testcase 17", -25.72959, -144.90758, -57.70581, -269.17879, 9413446.7452453107, 1e-8},
		{"testcase 20", -29.47124, 95.14681, -27.46601, -69.15955, 13487015.8381145492, 1e-8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := geo.Point{Lat: tt.lat1, Lon: wrapLon(tt.lon1)}
			q := geo.Point{Lat: tt.lat2, Lon: wrapLon(tt.lon2)}
			for _, pq := range [][2]geo.Point{{p, q}, {q, p}} {
				got := geo.Distance(pq[0], pq[1])
				if !(math.Abs(got-tt.want) <= tt.tol) {
					t.Errorf("Distance(%v, %v) = %.9f, want %.9f ± %g", pq[0], pq[1], got, tt.want, tt.tol)
				}
			}
		})
	}
}

func TestDistanceZero(t *testing.T) {
	for _, p := range []geo.Point{
		{}, {Lat: 90}, {Lat: -90, Lon: 180}, {Lat: 52.37, Lon: 4.89},
		{Lat: -33.9, Lon: -180}, {Lat: 1e-300, Lon: -1e-300}, {Lat: 89.999999999, Lon: 179.999999999},
	} {
		if got := geo.Distance(p, p); got != 0 || math.Signbit(got) {
			t.Errorf("Distance(%v, %v) = %g, want +0", p, p, got)
		}
	}
	// The same place written two ways.
	same := [][2]geo.Point{
		{{Lat: 10, Lon: 180}, {Lat: 10, Lon: -180}},
		{{Lat: 90, Lon: 0}, {Lat: 90, Lon: 135}},
		{{Lat: -90, Lon: -180}, {Lat: -90, Lon: 45}},
		{{Lat: 0, Lon: 0}, {Lat: -0.0, Lon: -0.0}},
	}
	for _, pq := range same {
		if got := geo.Distance(pq[0], pq[1]); got > 1e-9 {
			t.Errorf("Distance(%v, %v) = %g, want 0", pq[0], pq[1], got)
		}
	}
}

func TestDistanceInvalid(t *testing.T) {
	ok := geo.Point{Lat: 52, Lon: 5}
	for _, p := range []geo.Point{
		{Lat: math.NaN()}, {Lon: math.NaN()}, {Lat: 90.0000001}, {Lat: -91},
		{Lon: 180.0000001}, {Lon: -181}, {Lat: math.Inf(1)}, {Lon: math.Inf(-1)},
	} {
		if got := geo.Distance(p, ok); !math.IsNaN(got) {
			t.Errorf("Distance(%v, %v) = %g, want NaN", p, ok, got)
		}
		if got := geo.Distance(ok, p); !math.IsNaN(got) {
			t.Errorf("Distance(%v, %v) = %g, want NaN", ok, p, got)
		}
	}
}

// TestDistanceAntimeridian checks that the antimeridian is no boundary:
// a pair straddling it measures the same as the pair shifted east by 90°.
func TestDistanceAntimeridian(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		lat1 := rng.Float64()*178 - 89
		lat2 := lat1 + rng.Float64()*0.4 - 0.2
		off1 := rng.Float64() * 0.2 // degrees east of -180 / west of 180
		off2 := rng.Float64() * 0.2
		p := geo.Point{Lat: lat1, Lon: 180 - off1}
		q := geo.Point{Lat: lat2, Lon: -180 + off2}
		// The same pair shifted by 90° of longitude, far from any seam.
		ps := geo.Point{Lat: lat1, Lon: 90 - off1}
		qs := geo.Point{Lat: lat2, Lon: 90 + off2}
		got, want := geo.Distance(p, q), geo.Distance(ps, qs)
		if !(math.Abs(got-want) <= 1e-6) {
			t.Fatalf("Distance(%v, %v) = %.9f, shifted pair gives %.9f", p, q, got, want)
		}
		if got > 50e3 {
			t.Fatalf("Distance(%v, %v) = %.3f, want a short line across the antimeridian", p, q, got)
		}
	}
}

// TestDistancePoles compares lines that touch or pass near a pole with
// closed forms: along a meridian the distance is the meridian arc, so the
// distance over the pole equals the sum of the two arcs to it.
func TestDistancePoles(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	north := geo.Point{Lat: 90}
	south := geo.Point{Lat: -90}
	for range 10000 {
		lon := rng.Float64()*360 - 180
		lat1 := 90 - rng.Float64()*5
		lat2 := 90 - rng.Float64()*5
		p := geo.Point{Lat: lat1, Lon: lon}
		// The opposite meridian: the shortest path runs over the pole.
		q := geo.Point{Lat: lat2, Lon: lon + 180}
		if q.Lon > 180 {
			q.Lon -= 360
		}
		got := geo.Distance(p, q)
		want := geo.Distance(p, north) + geo.Distance(north, q)
		if !(math.Abs(got-want) <= 1e-6) {
			t.Fatalf("Distance(%v, %v) = %.9f, via the pole %.9f", p, q, got, want)
		}
		// Mirror image in the southern hemisphere.
		ps := geo.Point{Lat: -p.Lat, Lon: p.Lon}
		qs := geo.Point{Lat: -q.Lat, Lon: q.Lon}
		if gs := geo.Distance(ps, qs); !(math.Abs(gs-got) <= 1e-6) {
			t.Fatalf("Distance(%v, %v) = %.9f, mirror image %.9f", ps, qs, gs, got)
		}
		if ws := geo.Distance(ps, south) + geo.Distance(south, qs); !(math.Abs(ws-want) <= 1e-6) {
			t.Fatalf("arc to the south pole %.9f, to the north pole %.9f", ws, want)
		}
	}
	// A quarter meridian of WGS84 (pole to equator), 10001965.7293 m.
	for _, lon := range []float64{-180, -90, 0, 45.5, 180} {
		if got := geo.Distance(north, geo.Point{Lon: lon}); !(math.Abs(got-10001965.7293) <= 1e-3) {
			t.Errorf("pole to equator at %g: %.4f", lon, got)
		}
	}
}

// TestDistanceNearlyAntipodal covers the region where the starting guess
// comes from the astroid: nearly antipodal points, where the shortest path
// is not unique and the distance is close to half a meridian.
func TestDistanceNearlyAntipodal(t *testing.T) {
	const halfMeridian = 20003931.4586 // pole to pole
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		p := geo.Point{Lat: rng.Float64()*180 - 90, Lon: rng.Float64()*360 - 180}
		// Antipode plus a small offset of up to about 0.5°.
		q := geo.Point{
			Lat: math.Max(-90, math.Min(90, -p.Lat+rng.NormFloat64()*0.2)),
			Lon: p.Lon + 180 + rng.NormFloat64()*0.2,
		}
		if q.Lon > 180 {
			q.Lon -= 360
		}
		if q.Lon < -180 {
			q.Lon += 360
		}
		d := geo.Distance(p, q)
		if math.IsNaN(d) || d < 19.5e6 || d > halfMeridian+1e-3 {
			t.Fatalf("Distance(%v, %v) = %.6f, want a nearly antipodal distance in [19.5e6, %g]", p, q, d, halfMeridian)
		}
		if r := geo.Distance(q, p); !(math.Abs(r-d) <= 1e-9*d) {
			t.Fatalf("Distance(%v, %v) = %.9f but reversed %.9f", p, q, d, r)
		}
	}
}

// edgeValues are coordinates that exercise the special cases of the inverse
// solution: equator, poles, antimeridian, signed zeros and tiny values.
var edgeValues = []float64{0, math.Copysign(0, -1), 1e-300, -1e-300, 1e-15, 90, -90, 180, -180,
	89.99999999999, -89.99999999999, 179.99999999999, -179.99999999999, 45, 0.5, 60}

func TestDistanceNeverNaN(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	coord := func(limit float64) float64 {
		if rng.IntN(4) == 0 {
			v := edgeValues[rng.IntN(len(edgeValues))]
			return math.Max(-limit, math.Min(limit, v))
		}
		return rng.Float64()*2*limit - limit
	}
	n := 200000
	if testing.Short() {
		n = 20000
	}
	for range n {
		p := geo.Point{Lat: coord(90), Lon: coord(180)}
		q := geo.Point{Lat: coord(90), Lon: coord(180)}
		d := geo.Distance(p, q)
		if math.IsNaN(d) || d < 0 || d > 20003931.5 {
			t.Fatalf("Distance(%v, %v) = %g", p, q, d)
		}
		if r := geo.Distance(q, p); !(math.Abs(r-d) <= 1e-9*d) {
			t.Fatalf("Distance(%v, %v) = %.9f but reversed %.9f", p, q, d, r)
		}
	}
}

func FuzzDistance(f *testing.F) {
	f.Add(52.37, 4.89, 51.92, 4.48)
	f.Add(0.0, 0.0, 0.0, 180.0)
	f.Add(90.0, 0.0, -90.0, 0.0)
	f.Add(89.9999, 10.0, 89.9999, -170.0)
	f.Add(10.0, 179.9999, 10.0001, -179.9999)
	f.Add(88.202499451857, 0.0, -88.202499451857, 179.981022032992859592)
	f.Add(0.07476, 0.0, -0.07476, 180.0)
	f.Add(36.493349428792, 0.0, 36.49334942879201, .0000008)
	f.Add(math.NaN(), 0.0, 1.0, 2.0)
	f.Add(91.0, 0.0, 1.0, 2.0)
	f.Fuzz(func(t *testing.T, lat1, lon1, lat2, lon2 float64) {
		p := geo.Point{Lat: lat1, Lon: lon1}
		q := geo.Point{Lat: lat2, Lon: lon2}
		if !p.Valid() || !q.Valid() {
			d, b := geo.Distance(p, q), geo.ApproxDistance(p, q)
			if !math.IsNaN(d) || !math.IsInf(b.Err, 1) {
				t.Fatalf("invalid input %v, %v: Distance = %g, ApproxDistance = %+v; want NaN and an infinite bound", p, q, d, b)
			}
			// Fold the coordinates into range, so that every input also
			// exercises valid points.
			p = geo.Point{Lat: math.Remainder(lat1, 180), Lon: math.Remainder(lon1, 360)}
			q = geo.Point{Lat: math.Remainder(lat2, 180), Lon: math.Remainder(lon2, 360)}
			if !p.Valid() || !q.Valid() { // NaN or infinite
				return
			}
		}
		d := geo.Distance(p, q)
		b := geo.ApproxDistance(p, q)
		if math.IsNaN(d) || d < 0 {
			t.Fatalf("Distance(%v, %v) = %g", p, q, d)
		}
		if r := geo.Distance(q, p); !(math.Abs(r-d) <= 1e-9*d) {
			t.Fatalf("Distance(%v, %v) = %.9f but reversed %.9f", p, q, d, r)
		}
		if !(math.Abs(d-b.D) <= b.Err) {
			t.Fatalf("ApproxDistance(%v, %v) = %+v, but Distance = %.9f", p, q, b, d)
		}
	})
}

// netherlandsPairs returns n pairs of points in the Netherlands up to maxM
// metres apart (roughly; the offset is on a sphere).
func netherlandsPairs(rng *rand.Rand, n int, maxM float64) [][2]geo.Point {
	pairs := make([][2]geo.Point, n)
	for i := range pairs {
		p := geo.Point{Lat: 50.75 + rng.Float64()*2.8, Lon: 3.35 + rng.Float64()*3.85}
		pairs[i] = [2]geo.Point{p, sphereOffset(p, rng.Float64()*maxM, rng.Float64()*360)}
	}
	return pairs
}

// sphereOffset returns the point distM metres from p in direction azDeg on a
// sphere of the Earth's mean radius, a convenient way to place a second
// point at about a given distance; the tests measure it exactly.
func sphereOffset(p geo.Point, distM, azDeg float64) geo.Point {
	const r = 6371008.8
	lat1, lon1 := p.Lat*math.Pi/180, p.Lon*math.Pi/180
	az, delta := azDeg*math.Pi/180, distM/r
	sinLat2 := math.Sin(lat1)*math.Cos(delta) + math.Cos(lat1)*math.Sin(delta)*math.Cos(az)
	sinLat2 = math.Max(-1, math.Min(1, sinLat2))
	lat2 := math.Asin(sinLat2)
	lon2 := lon1 + math.Atan2(math.Sin(az)*math.Sin(delta)*math.Cos(lat1), math.Cos(delta)-math.Sin(lat1)*sinLat2)
	q := geo.Point{Lat: lat2 * 180 / math.Pi, Lon: math.Remainder(lon2*180/math.Pi, 360)}
	q.Lat = math.Max(-90, math.Min(90, q.Lat))
	q.Lon = math.Max(-180, math.Min(180, q.Lon))
	return q
}

var distanceSink float64

func BenchmarkDistance(b *testing.B) {
	pairs := netherlandsPairs(rand.New(rand.NewPCG(9, 10)), 1024, 20e3)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		pq := pairs[i%len(pairs)]
		distanceSink += geo.Distance(pq[0], pq[1])
		i++
	}
}
