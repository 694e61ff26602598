package geo_test

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/proxmon/proxmon/geo"
)

// indexPoint returns a random point: mostly in the Netherlands, some near
// the antimeridian and the poles, where boxes are awkward.
func indexPoint(rng *rand.Rand) geo.Point {
	switch rng.IntN(8) {
	case 0:
		lon := 180 - 0.05*rng.Float64()
		if rng.IntN(2) == 0 {
			lon = -lon
		}
		return geo.Point{Lat: -16.5 + 0.1*rng.Float64(), Lon: lon}
	case 1:
		lat := 90 - 0.05*rng.Float64()
		if rng.IntN(2) == 0 {
			lat = -lat
		}
		return geo.Point{Lat: lat, Lon: 360*rng.Float64() - 180}
	}
	return geo.Point{Lat: 51.9 + 0.1*rng.Float64(), Lon: 4.4 + 0.15*rng.Float64()}
}

type positionHit struct {
	id string
	d  float64
}

func TestPositionIndexNear(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	var x geo.PositionIndex
	truth := map[string]geo.Point{}
	rounds := 2000
	if testing.Short() {
		rounds = 300
	}
	for round := range rounds {
		// Move, add and remove devices; some jump, most walk.
		for range 20 {
			id := fmt.Sprintf("tag-%d", rng.IntN(400))
			switch p, ok := truth[id]; {
			case rng.IntN(20) == 0:
				if got := x.Delete(id); got != ok {
					t.Fatalf("Delete(%s) = %v; want %v", id, got, ok)
				}
				delete(truth, id)
			case ok && rng.IntN(4) != 0:
				q := moved(p, 200*rng.Float64(), 360*rng.Float64())
				x.Set(id, q)
				truth[id] = q
			default:
				q := indexPoint(rng)
				x.Set(id, q)
				truth[id] = q
			}
		}
		if x.Len() != len(truth) {
			t.Fatalf("Len() = %d; want %d", x.Len(), len(truth))
		}
		p := indexPoint(rng)
		r := math.Pow(10, 1+4*rng.Float64())
		var want []positionHit
		for id, q := range truth {
			if d := geo.Distance(p, q); d <= r {
				want = append(want, positionHit{id, d})
			}
		}
		slices.SortFunc(want, func(a, b positionHit) int { return cmp.Or(cmp.Compare(a.d, b.d), cmp.Compare(a.id, b.id)) })
		var got []positionHit
		x.Near(p, r, func(id string, q geo.Point, d float64) bool {
			if q != truth[id] {
				t.Fatalf("Near reports %s at %v; it is at %v", id, q, truth[id])
			}
			got = append(got, positionHit{id, d})
			return true
		})
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: Near(%v, %g) = %v; want %v", round, p, r, got, want)
		}
		if len(want) > 1 {
			n := 0
			x.Near(p, r, func(string, geo.Point, float64) bool { n++; return false })
			if n != 1 {
				t.Fatalf("Near went on after fn returned false")
			}
		}
	}
	if got, ok := x.Get("nobody"); ok {
		t.Errorf("Get(nobody) = %v, true", got)
	}
	x.Set("tag-bad", geo.Point{Lat: 91})
	if _, ok := x.Get("tag-bad"); ok {
		t.Errorf("an invalid position was recorded")
	}
}

func TestBoxIndexSearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	type zone struct {
		shape  *geo.Shape
		margin float64
		rects  []geo.Rect
	}
	var x geo.BoxIndex[int]
	zones := map[int]zone{}
	rounds := 3000
	if testing.Short() {
		rounds = 300
	}
	for round := range rounds {
		id := rng.IntN(200)
		if z, ok := zones[id]; ok && rng.IntN(3) == 0 {
			if !x.Delete(z.rects, id) {
				t.Fatalf("Delete(%d) = false", id)
			}
			delete(zones, id)
		} else if !ok {
			var s *geo.Shape
			c := indexPoint(rng)
			if rng.IntN(2) == 0 {
				// A star that wraps round a pole or across the
				// antimeridian is rejected; then a circle it is.
				s, _ = geo.NewPolygons([][][]geo.Point{{starRing(rng, c, 5+rng.IntN(10), 100, 3000)}})
			}
			if s == nil {
				s = MustCircle(t, c, 10+2000*rng.Float64())
			}
			z := zone{shape: s, margin: 500 * rng.Float64()}
			z.rects = s.Bounds(z.margin)
			x.Insert(z.rects, id)
			zones[id] = z
		}
		if x.Len() != len(zones) {
			t.Fatalf("Len() = %d; want %d", x.Len(), len(zones))
		}
		p := indexPoint(rng)
		r := 0.0
		if rng.IntN(2) == 0 {
			r = math.Pow(10, 4*rng.Float64())
		}
		q := geo.AppendRectsAround(nil, p, r)
		var want []int
		for id, z := range zones {
			meets := false
			for _, a := range z.rects {
				for _, b := range q {
					meets = meets || a.Intersects(b)
				}
			}
			if meets {
				want = append(want, id)
			} else if a := z.shape.ApproxSignedDistance(p); a.D-a.Err <= z.margin+r && z.shape.SignedDistance(p) <= z.margin+r {
				t.Fatalf("round %d: zone %d is %.3f m from %v, within %g + %g, but its boxes %v miss %v",
					round, id, z.shape.SignedDistance(p), p, z.margin, r, z.rects, q)
			}
		}
		var got []int
		x.Search(p, r, func(v int) bool { got = append(got, v); return true })
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: Search(%v, %g) = %v; want %v", round, p, r, got, want)
		}
	}
	if x.Delete([]geo.Rect{{}}, -1) {
		t.Errorf("Delete of an unknown entry = true")
	}
}

func TestBoxIndexDuplicates(t *testing.T) {
	var x geo.BoxIndex[string]
	a := []geo.Rect{
		{Min: geo.Point{Lat: 0, Lon: 179}, Max: geo.Point{Lat: 1, Lon: 180}},
		{Min: geo.Point{Lat: 0, Lon: -180}, Max: geo.Point{Lat: 1, Lon: -179}},
	}
	x.Insert(a, "seam")
	x.Insert(a, "seam")
	n := 0
	x.Search(geo.Point{Lat: 0.5, Lon: 180}, 1000, func(v string) bool { n++; return true })
	if n != 2 {
		t.Errorf("two entries across the antimeridian reported %d times; want 2", n)
	}
	if !x.Delete(a, "seam") || x.Len() != 1 {
		t.Errorf("Delete did not remove one entry; Len = %d", x.Len())
	}
	n = 0
	x.Search(geo.Point{Lat: 0.5, Lon: -180}, 0, func(v string) bool { n++; return true })
	if n != 1 {
		t.Errorf("reported %d times; want 1", n)
	}
}

func TestAppendRectsAround(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	n := 200_000
	if testing.Short() {
		n = 20_000
	}
	buf := make([]geo.Rect, 0, 2)
	for range n {
		p := indexPoint(rng)
		if rng.IntN(4) == 0 {
			p = geo.Point{Lat: 180*rng.Float64() - 90, Lon: 360*rng.Float64() - 180}
		}
		r := math.Pow(10, 6*rng.Float64())
		q := moved(p, r*math.Sqrt(rng.Float64())*1.02, 360*rng.Float64())
		rects := geo.AppendRectsAround(buf[:0], p, r)
		if len(rects) < 1 || len(rects) > 2 {
			t.Fatalf("AppendRectsAround(%v, %g) = %v", p, r, rects)
		}
		if geo.Distance(p, q) <= r && !inAny(rects, q) {
			t.Fatalf("AppendRectsAround(%v, %g) = %v misses %v at %.3f m", p, r, rects, q, geo.Distance(p, q))
		}
		if !inAny(rects, p) {
			t.Fatalf("AppendRectsAround(%v, %g) = %v misses the centre", p, r, rects)
		}
	}
	if got := geo.AppendRectsAround(nil, geo.Point{}, math.Inf(1)); len(got) != 1 || got[0].Max.Lon != 180 || got[0].Min.Lat != -90 {
		t.Errorf("infinite radius: %v; want the world", got)
	}
	if allocs := testing.AllocsPerRun(100, func() { buf = geo.AppendRectsAround(buf[:0], geo.Point{Lat: 1, Lon: 179.9999}, 1e3) }); allocs != 0 {
		t.Errorf("AppendRectsAround allocates %v times", allocs)
	}
}

func BenchmarkPositionIndexSet(b *testing.B) {
	rng := rand.New(rand.NewPCG(27, 28))
	var x geo.PositionIndex
	const devices = 10_000
	ids := make([]string, devices)
	pos := make([]geo.Point, devices)
	for i := range ids {
		ids[i] = fmt.Sprintf("tag-%d", i)
		pos[i] = geo.Point{Lat: 50.75 + 2.8*rng.Float64(), Lon: 3.35 + 3.85*rng.Float64()}
		x.Set(ids[i], pos[i])
	}
	// Each fix moves a device about 40 m (walking, a fix every 30 s).
	steps := make([]geo.Point, 1024)
	for i := range steps {
		a := 2 * math.Pi * rng.Float64()
		steps[i] = geo.Point{Lat: 3.6e-4 * math.Sin(a), Lon: 5.8e-4 * math.Cos(a)}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := i % devices
		s := steps[i%len(steps)]
		pos[k] = geo.Point{Lat: pos[k].Lat + s.Lat, Lon: pos[k].Lon + s.Lon}
		x.Set(ids[k], pos[k])
		i++
	}
}

func BenchmarkPositionIndexNear(b *testing.B) {
	rng := rand.New(rand.NewPCG(29, 30))
	var x geo.PositionIndex
	for i := range 10_000 {
		x.Set(fmt.Sprintf("tag-%d", i), geo.Point{Lat: 50.75 + 2.8*rng.Float64(), Lon: 3.35 + 3.85*rng.Float64()})
	}
	p := geo.Point{Lat: 51.9244, Lon: 4.4777}
	b.ReportAllocs()
	for b.Loop() {
		x.Near(p, 5000, func(string, geo.Point, float64) bool { return true })
	}
}

func BenchmarkBoxIndexSearch(b *testing.B) {
	rng := rand.New(rand.NewPCG(31, 32))
	var x geo.BoxIndex[int]
	for i := range 10_000 {
		c := geo.Point{Lat: 50.75 + 2.8*rng.Float64(), Lon: 3.35 + 3.85*rng.Float64()}
		s := MustCircle(b, c, 50+500*rng.Float64())
		x.Insert(s.Bounds(300), i)
	}
	ps := make([]geo.Point, 1024)
	for i := range ps {
		ps[i] = geo.Point{Lat: 50.75 + 2.8*rng.Float64(), Lon: 3.35 + 3.85*rng.Float64()}
	}
	n := 0
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		x.Search(ps[i%len(ps)], 50, func(int) bool { n++; return true })
		i++
	}
}
