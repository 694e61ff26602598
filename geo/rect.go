package geo

import "math"

// Rect is a lon/lat box, Min the south-west corner, Max the north-east one.
// Boxes never cross the antimeridian: Min.Lon <= Max.Lon, and an area that
// crosses it takes two boxes.
type Rect struct{ Min, Max Point }

// Intersects reports whether r and o share a point, edges included.
func (r Rect) Intersects(o Rect) bool {
	return r.Min.Lat <= o.Max.Lat && o.Min.Lat <= r.Max.Lat &&
		r.Min.Lon <= o.Max.Lon && o.Min.Lon <= r.Max.Lon
}

// AppendRectsAround appends to dst one or two boxes (two across the
// antimeridian) that contain every point within radiusM metres of p,
// rounded outward. Near a pole the boxes widen to every longitude. A NaN or
// infinite radius gives the whole world. No allocation when dst has room
// for two more boxes.
func AppendRectsAround(dst []Rect, p Point, radiusM float64) []Rect {
	return appendAround(dst, p.Lat, p.Lat, p.Lon, p.Lon, radiusM)
}

// Bounds returns lon/lat boxes (two when the shape crosses the antimeridian)
// that contain every point within marginM metres of the shape, rounded
// outward: a point outside every box is more than marginM from the shape.
func (s *Shape) Bounds(marginM float64) []Rect {
	if s.circle {
		return AppendRectsAround(nil, s.center, s.radius+math.Max(marginM, 0))
	}
	// The longitudes the polygons cover, either as they are or with the
	// polygons west of the antimeridian moved east by a turn; the narrower
	// range covers the shape, as a range that may run past 180.
	plainLo, plainHi := math.Inf(1), math.Inf(-1)
	turnLo, turnHi := math.Inf(1), math.Inf(-1)
	minLat, maxLat := math.Inf(1), math.Inf(-1)
	for _, b := range s.boxes {
		minLat, maxLat = math.Min(minLat, b.Min.Lat), math.Max(maxLat, b.Max.Lat)
		plainLo, plainHi = math.Min(plainLo, b.Min.Lon), math.Max(plainHi, b.Max.Lon)
		lo, hi := b.Min.Lon, b.Max.Lon
		if hi <= 0 {
			lo, hi = lo+360, hi+360
		}
		turnLo, turnHi = math.Min(turnLo, lo), math.Max(turnHi, hi)
	}
	if turnHi-turnLo < plainHi-plainLo {
		plainLo, plainHi = turnLo, turnHi
	}
	return appendAround(nil, minLat, maxLat, plainLo, plainHi, math.Max(marginM, 0))
}

// appendAround appends boxes containing every point within m metres of the
// box [minLat, maxLat] x [minLon, maxLon], where minLon <= maxLon and the
// range may run past 180 (up to 540).
//
// Latitude: the distance along the meridian from the equator changes no
// faster than the distance travelled, so a point within m is within
// m/M_min radians of latitude (M_min = a(1-e^2), the least meridian
// radius). Longitude: moving a distance ds changes the longitude by at most
// ds/r, r = N cos(lat) >= a cos(lat) the radius of the parallel, and a path
// of length m stays within the widened latitudes, so the longitude changes
// by at most m/(a cos(lat_far)), lat_far the widened box's latitude
// farthest from the equator. Both are rounded outward by a factor 1 + 1e-9
// and 1e-9 degrees (0.1 mm), far more than the round-off.
func appendAround(dst []Rect, minLat, maxLat, minLon, maxLon, m float64) []Rect {
	world := Rect{Min: Point{Lat: -90, Lon: -180}, Max: Point{Lat: 90, Lon: 180}}
	if math.IsNaN(m) || math.IsInf(m, 1) {
		return append(dst, world)
	}
	m = math.Max(m, 0)
	const grow, pad = 1 + 1e-9, 1e-9
	dlat := m/shapeMeriMin*shapeRadDeg*grow + pad
	lo, hi := minLat-dlat, maxLat+dlat
	if lo <= -90 || hi >= 90 {
		// A pole is within reach: every longitude.
		return append(dst, Rect{Min: Point{Lat: math.Max(lo, -90), Lon: -180}, Max: Point{Lat: math.Min(hi, 90), Lon: 180}})
	}
	far := math.Max(math.Abs(lo), math.Abs(hi))
	dlon := m/(wgs84SemiMajor*math.Cos(far*shapeDegRad))*shapeRadDeg*grow + pad
	west, east := minLon-dlon, maxLon+dlon
	if !(east-west < 360) {
		return append(dst, Rect{Min: Point{Lat: lo, Lon: -180}, Max: Point{Lat: hi, Lon: 180}})
	}
	for west < -180 {
		west, east = west+360, east+360
	}
	for west >= 180 {
		west, east = west-360, east-360
	}
	if east <= 180 {
		return append(dst, Rect{Min: Point{Lat: lo, Lon: west}, Max: Point{Lat: hi, Lon: east}})
	}
	return append(dst,
		Rect{Min: Point{Lat: lo, Lon: west}, Max: Point{Lat: hi, Lon: 180}},
		Rect{Min: Point{Lat: lo, Lon: -180}, Max: Point{Lat: hi, Lon: east - 360}})
}
