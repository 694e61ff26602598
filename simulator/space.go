package simulator

import (
	"fmt"
	"math"

	"github.com/proxmon/proxmon/geo"
)

// Area is where a simulated fleet lives: a disc round a centre. Homes,
// workplaces and meeting places are drawn inside it; a few journeys of a
// case laid out near the edge may leave it.
type Area struct {
	Center  geo.Point
	RadiusM float64
}

// Rotterdam is the default area: the city and its nearer suburbs.
var Rotterdam = Area{Center: geo.Point{Lat: 51.9225, Lon: 4.4792}, RadiusM: 12_000}

func (a Area) validate() error {
	if !a.Center.Valid() || math.Abs(a.Center.Lat) > 80 {
		return fmt.Errorf("area centre %v: want a valid position between 80° S and 80° N", a.Center)
	}
	if !(a.RadiusM >= 1_000 && a.RadiusM <= 200_000) {
		return fmt.Errorf("area radius %v m: want 1 to 200 km", a.RadiusM)
	}
	return nil
}

// vec is a point or a displacement in a local plane round the area's
// centre: metres east and north.
type vec struct{ E, N float64 }

func (v vec) add(w vec) vec        { return vec{v.E + w.E, v.N + w.N} }
func (v vec) sub(w vec) vec        { return vec{v.E - w.E, v.N - w.N} }
func (v vec) scale(k float64) vec  { return vec{v.E * k, v.N * k} }
func (v vec) len() float64         { return math.Hypot(v.E, v.N) }
func (v vec) perp() vec            { return vec{-v.N, v.E} }
func (v vec) dot(w vec) float64    { return v.E*w.E + v.N*w.N }
func polar(r, theta float64) vec   { return vec{r * math.Cos(theta), r * math.Sin(theta)} }
func (v vec) angle() float64       { return math.Atan2(v.N, v.E) }
func lerp(a, b vec, u float64) vec { return a.add(b.sub(a).scale(u)) }
func (v vec) unit() vec            { return v.scale(1 / v.len()) }
func (v vec) rotate(theta float64) vec {
	s, c := math.Sincos(theta)
	return vec{v.E*c - v.N*s, v.E*s + v.N*c}
}

// frame maps the local plane to WGS84 positions: an equirectangular
// projection with the radii of curvature at the centre. Within 20 km of the
// centre its scale is off by well under 0.1 %, which only stretches the
// simulated world a little: every distance the ground truth relies on is
// measured on the positions themselves, with geo's exact geodesics.
type frame struct {
	lat0, lon0 float64
	mLat, mLon float64 // metres per degree
}

// WGS84.
const (
	wgs84A  = 6378137.0
	wgs84F  = 1 / 298.257223563
	wgs84E2 = wgs84F * (2 - wgs84F)
)

func newFrame(c geo.Point) frame {
	s := math.Sin(c.Lat * math.Pi / 180)
	w := 1 - wgs84E2*s*s
	m := wgs84A * (1 - wgs84E2) / (w * math.Sqrt(w)) // meridian radius
	n := wgs84A / math.Sqrt(w)                       // prime vertical radius
	return frame{lat0: c.Lat, lon0: c.Lon, mLat: m * math.Pi / 180, mLon: n * math.Cos(c.Lat*math.Pi/180) * math.Pi / 180}
}

func (f *frame) point(v vec) geo.Point {
	return geo.Point{Lat: f.lat0 + v.N/f.mLat, Lon: f.lon0 + v.E/f.mLon}
}

func (f *frame) vec(p geo.Point) vec {
	return vec{E: (p.Lon - f.lon0) * f.mLon, N: (p.Lat - f.lat0) * f.mLat}
}
