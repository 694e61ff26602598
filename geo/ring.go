package geo

import (
	"fmt"
	"math"
	"math/big"

	"github.com/tidwall/rtree"
)

// Validation of polygon rings. A shape is accepted only when its boundary is
// exactly the union of its edges, so that the distance to the boundary is
// the distance to the nearest edge:
//
//   - every ring is closed, has at least 3 distinct vertices, valid
//     coordinates, and spans at most 180 degrees of longitude (wider rings
//     are almost certainly a zone across the antimeridian drawn without
//     splitting it, RFC 7946 section 3.1.9);
//   - no ring touches or crosses itself or any other ring (stricter than
//     OGC, which lets rings touch at a point; zones never need that);
//   - each hole lies inside its outer ring and outside its sibling holes;
//   - no polygon lies inside another one's area.
//
// The predicates are exact: orientation is decided in floating point when
// the result is clear by Shewchuk's error bound and in rational arithmetic
// otherwise, so a fault is never missed or invented by round-off.

// Faults reported in RingError.Fault.
const (
	faultNotClosed   = "is not closed"
	faultTooFew      = "has fewer than 4 points"
	faultTooFewDist  = "has fewer than 3 distinct points"
	faultSelf        = "intersects itself"
	faultTooWide     = "spans more than 180 degrees of longitude (split it at the antimeridian)"
	faultMissing     = "is missing (a polygon needs an outer ring)"
	faultHoleOutside = "is a hole outside its outer ring"
)

// validateRings checks polys as described above and returns them with
// consecutive repeated points removed.
func validateRings(polys [][][]Point) ([][][]Point, error) {
	if len(polys) == 0 {
		return nil, fmt.Errorf("%w: no polygons", ErrInvalidShape)
	}
	out := make([][][]Point, len(polys))
	for i, rings := range polys {
		if len(rings) == 0 {
			return nil, &RingError{Polygon: i, Ring: 0, Fault: faultMissing}
		}
		out[i] = make([][]Point, len(rings))
		for j, ring := range rings {
			r, fault := cleanRing(ring)
			if fault != "" {
				return nil, &RingError{Polygon: i, Ring: j, Fault: fault}
			}
			out[i][j] = r
		}
	}
	if err := checkCrossings(out); err != nil {
		return nil, err
	}
	if err := checkNesting(out); err != nil {
		return nil, err
	}
	return out, nil
}

// cleanRing checks one ring on its own and drops consecutive repeats.
func cleanRing(ring []Point) ([]Point, string) {
	if len(ring) < 4 {
		return nil, faultTooFew
	}
	for k, p := range ring {
		if !p.Valid() {
			return nil, fmt.Sprintf("has invalid coordinates at point %d (lon %g, lat %g)", k, p.Lon, p.Lat)
		}
	}
	if ring[0] != ring[len(ring)-1] {
		return nil, faultNotClosed
	}
	r := make([]Point, 0, len(ring))
	lo, hi := ring[0].Lon, ring[0].Lon
	for _, p := range ring {
		if len(r) > 0 && r[len(r)-1] == p {
			continue
		}
		r = append(r, p)
		lo, hi = math.Min(lo, p.Lon), math.Max(hi, p.Lon)
	}
	if len(r) < 4 {
		return nil, faultTooFewDist
	}
	if hi-lo > 180 {
		return nil, faultTooWide
	}
	return r, ""
}

// ringEdge names edge k of ring j of polygon i: from vertex k to k+1.
type ringEdge struct {
	poly, ring, k int
}

// checkCrossings reports the first pair of edges that touch or cross,
// other than neighbours in a ring meeting at their shared vertex.
func checkCrossings(polys [][][]Point) error {
	var tr rtree.RTreeG[ringEdge]
	for i, rings := range polys {
		for j, r := range rings {
			for k := 0; k+1 < len(r); k++ {
				a, b := r[k], r[k+1]
				tr.Insert([2]float64{math.Min(a.Lon, b.Lon), math.Min(a.Lat, b.Lat)},
					[2]float64{math.Max(a.Lon, b.Lon), math.Max(a.Lat, b.Lat)}, ringEdge{i, j, k})
			}
		}
	}
	var err error
	for i, rings := range polys {
		for j, r := range rings {
			n := len(r) - 1 // edges in the ring
			for k := 0; k < n && err == nil; k++ {
				a, b := r[k], r[k+1]
				e := ringEdge{i, j, k}
				tr.Search([2]float64{math.Min(a.Lon, b.Lon), math.Min(a.Lat, b.Lat)},
					[2]float64{math.Max(a.Lon, b.Lon), math.Max(a.Lat, b.Lat)},
					func(_, _ [2]float64, o ringEdge) bool {
						if !edgeBefore(e, o) {
							return true // each pair once, never an edge with itself
						}
						q := polys[o.poly][o.ring]
						c, d := q[o.k], q[o.k+1]
						if o.poly == i && o.ring == j {
							switch {
							case o.k == k+1 || (k == 0 && o.k == n-1):
								// Neighbours: k ends where o starts, or o
								// ends where k starts.
								var prev, mid, next Point
								if o.k == k+1 {
									prev, mid, next = a, b, d
								} else {
									prev, mid, next = c, a, b
								}
								if foldsBack(prev, mid, next) {
									err = &RingError{Polygon: i, Ring: j, Fault: faultSelf}
								}
							case segmentsMeet(a, b, c, d):
								err = &RingError{Polygon: i, Ring: j, Fault: faultSelf}
							}
						} else if segmentsMeet(a, b, c, d) {
							err = &RingError{Polygon: o.poly, Ring: o.ring,
								Fault: fmt.Sprintf("touches or crosses polygon %d ring %d", i, j)}
						}
						return err == nil
					})
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// edgeBefore orders edges so that each pair is examined once.
func edgeBefore(e, o ringEdge) bool {
	if e.poly != o.poly {
		return e.poly < o.poly
	}
	if e.ring != o.ring {
		return e.ring < o.ring
	}
	return e.k < o.k
}

// foldsBack reports whether the edges prev->mid and mid->next overlap
// along a stretch, that is, the ring turns back on itself at mid.
func foldsBack(prev, mid, next Point) bool {
	if orient(prev, mid, next) != 0 {
		return false
	}
	// Collinear: they overlap when next lies on the same side of mid as prev.
	return sameSide(prev.Lon-mid.Lon, next.Lon-mid.Lon) || sameSide(prev.Lat-mid.Lat, next.Lat-mid.Lat)
}

// sameSide reports whether x and y are both positive or both negative. The
// differences of coordinates it is given may round, but not across zero.
func sameSide(x, y float64) bool {
	return (x > 0 && y > 0) || (x < 0 && y < 0)
}

// segmentsMeet reports whether the closed segments ab and cd share a point.
func segmentsMeet(a, b, c, d Point) bool {
	if math.Max(a.Lon, b.Lon) < math.Min(c.Lon, d.Lon) || math.Max(c.Lon, d.Lon) < math.Min(a.Lon, b.Lon) ||
		math.Max(a.Lat, b.Lat) < math.Min(c.Lat, d.Lat) || math.Max(c.Lat, d.Lat) < math.Min(a.Lat, b.Lat) {
		return false
	}
	o1, o2 := orient(a, b, c), orient(a, b, d)
	o3, o4 := orient(c, d, a), orient(c, d, b)
	if o1*o2 < 0 && o3*o4 < 0 {
		return true
	}
	return (o1 == 0 && inBox(a, b, c)) || (o2 == 0 && inBox(a, b, d)) ||
		(o3 == 0 && inBox(c, d, a)) || (o4 == 0 && inBox(c, d, b))
}

// inBox reports whether p lies in the bounding box of a and b; for p on the
// line ab that means on the segment.
func inBox(a, b, p Point) bool {
	return math.Min(a.Lon, b.Lon) <= p.Lon && p.Lon <= math.Max(a.Lon, b.Lon) &&
		math.Min(a.Lat, b.Lat) <= p.Lat && p.Lat <= math.Max(a.Lat, b.Lat)
}

// orient returns the sign of the cross product (b-a) x (c-a) in the lon/lat
// plane: +1 when c lies left of the line from a to b, -1 right, 0 on it.
// Exact.
func orient(a, b, c Point) int {
	l := (b.Lon - a.Lon) * (c.Lat - a.Lat)
	r := (b.Lat - a.Lat) * (c.Lon - a.Lon)
	det := l - r
	// Shewchuk, "Adaptive precision floating-point arithmetic and fast
	// robust geometric predicates" (1997): |error| <= ccwerrboundA * (|l|+|r|).
	const errBound = (3 + 16*0x1p-53) * 0x1p-53
	if b := errBound * (math.Abs(l) + math.Abs(r)); det > b {
		return 1
	} else if det < -b {
		return -1
	}
	return orientExact(a, b, c)
}

func orientExact(a, b, c Point) int {
	rat := func(x float64) *big.Rat { return new(big.Rat).SetFloat64(x) }
	sub := func(x, y float64) *big.Rat { return new(big.Rat).Sub(rat(x), rat(y)) }
	l := new(big.Rat).Mul(sub(b.Lon, a.Lon), sub(c.Lat, a.Lat))
	r := new(big.Rat).Mul(sub(b.Lat, a.Lat), sub(c.Lon, a.Lon))
	return l.Cmp(r)
}

// insideRingExact reports whether p lies inside ring (even-odd rule), for p
// not on the ring.
func insideRingExact(ring []Point, p Point) bool {
	in := false
	for k := 0; k+1 < len(ring); k++ {
		a, b := ring[k], ring[k+1]
		if (a.Lat > p.Lat) == (b.Lat > p.Lat) {
			continue
		}
		// The edge spans p's latitude; p is left of it when the crossing
		// lies east of p.
		o := orient(a, b, p)
		if (b.Lat > a.Lat && o > 0) || (b.Lat < a.Lat && o < 0) {
			in = !in
		}
	}
	return in
}

// checkNesting checks holes against their outer rings and polygons against
// each other. As no rings meet, one vertex decides on which side of another
// ring a whole ring lies.
func checkNesting(polys [][][]Point) error {
	for i, rings := range polys {
		for j := 1; j < len(rings); j++ {
			if !insideRingExact(rings[0], rings[j][0]) {
				return &RingError{Polygon: i, Ring: j, Fault: faultHoleOutside}
			}
			for k := 1; k < len(rings); k++ {
				if k != j && insideRingExact(rings[k], rings[j][0]) {
					return &RingError{Polygon: i, Ring: j, Fault: fmt.Sprintf("lies inside hole %d of its polygon", k)}
				}
			}
		}
	}
	boxes := make([]Rect, len(polys))
	for i, rings := range polys {
		boxes[i] = ringBox(rings[0])
	}
	for i, rings := range polys {
		v := rings[0][0]
		for k, other := range polys {
			if k == i || !boxes[k].contains(v) {
				continue
			}
			if insideAreaExact(other, v) {
				return &RingError{Polygon: i, Ring: 0, Fault: fmt.Sprintf("lies inside polygon %d", k)}
			}
		}
	}
	return nil
}

// insideAreaExact reports whether p lies inside the outer ring of a polygon
// and outside its holes, for p on none of its rings.
func insideAreaExact(rings [][]Point, p Point) bool {
	if !insideRingExact(rings[0], p) {
		return false
	}
	for _, h := range rings[1:] {
		if insideRingExact(h, p) {
			return false
		}
	}
	return true
}

// ringBox returns the lon/lat bounding box of a ring's vertices.
func ringBox(ring []Point) Rect {
	b := Rect{Min: ring[0], Max: ring[0]}
	for _, p := range ring[1:] {
		b.Min.Lat, b.Max.Lat = math.Min(b.Min.Lat, p.Lat), math.Max(b.Max.Lat, p.Lat)
		b.Min.Lon, b.Max.Lon = math.Min(b.Min.Lon, p.Lon), math.Max(b.Max.Lon, p.Lon)
	}
	return b
}

// contains reports whether p lies in r, edges included.
func (r Rect) contains(p Point) bool {
	return r.Min.Lat <= p.Lat && p.Lat <= r.Max.Lat && r.Min.Lon <= p.Lon && p.Lon <= r.Max.Lon
}
