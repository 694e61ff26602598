package geo

import "math"

// ApproxDistance approximates the geodesic distance by the chord, the
// straight line through the Earth between p and q on the WGS84 ellipsoid,
// which costs a few sines and square roots instead of an iteration.
//
// The bound. Let s be the geodesic distance and c the chord.
//
//  1. c <= s: the straight line is the shortest curve in space.
//  2. A geodesic has no curvature within the surface, so its curvature as
//     a space curve is the surface's normal curvature in its direction,
//     which lies between the principal curvatures 1/M and 1/N (meridian
//     and prime-vertical radii). Both are at most k = 1/M(0) = a/b^2
//     (M = b^2/a = 6335.4 km on the equator; N >= a everywhere).
//  3. Schur's comparison theorem: a curve of length s <= pi/k whose
//     curvature never exceeds k has a chord at least as long as that of the
//     circular arc of radius 1/k and length s:
//     c >= (2/k) sin(k s/2) >= s - k^2 s^3/24   (sin x >= x - x^3/6).
//  4. s is bounded before anything is assumed about it: the path along the
//     meridian from p's latitude to q's, then along the parallel to q's
//     longitude, is a curve on the ellipsoid, so
//     s <= P = (a^2/b) (|dlat| + min(cos lat1, cos lat2) |dlon|),
//     since M and N never exceed a^2/b (their value at the poles). Only
//     when P <= Smax = 100 km is the bound used; then s <= Smax <= pi/k.
//  5. From 3 and 4, c >= s (1 - k^2 Smax^2/24), so s <= g c with
//     g = 1/(1 - k^2 Smax^2/24) = 1 + 1.04e-5, and therefore
//     c <= s <= c + E,   E = k^2 (g c)^3 / 24
//     (0.13 mm at 5 km, 0.13 m at 50 km, 1.04 m at 100 km).
//
// The estimate is the middle of that interval, D = c + E/2, and the bound
// Err = E/2 + pad. The pad covers round-off: the chord's components (about
// 6.4e6 m) are computed with errors of a few units in the last place, which
// makes the chord exact to about 3e-8 m, and Distance is exact to about
// 1.5e-8 m; the pad of 1e-5 m exceeds their sum 200-fold.
//
// The bound is nearly attained by meridional lines at the equator, where the
// curvature is k all along; elsewhere the true error is smaller. E is
// therefore enlarged by 10 %, a margin that also covers the rounding of E's
// own formula and of P and costs nothing where decisions are made (Err grows
// from 0.065 to 0.072 mm at 5 km).
//
// The bound holds at any latitude, the poles included, and across the
// antimeridian, because the chord depends on the longitudes only through
// sin^2(dlon/2).
func ApproxDistance(p, q Point) Bounded {
	if !p.Valid() || !q.Valid() {
		return Bounded{D: math.NaN(), Err: math.Inf(1)}
	}
	sin1, cos1 := math.Sincos(p.Lat * degreeInRad)
	sin2, cos2 := math.Sincos(q.Lat * degreeInRad)
	dlon := q.Lon - p.Lon
	if dlon > halfTurnInDeg {
		dlon -= fullTurnInDeg
	} else if dlon < -halfTurnInDeg {
		dlon += fullTurnInDeg
	}
	dlon *= degreeInRad

	// Each point as its distance r from the axis and its height z above the
	// equatorial plane: r = N cos(lat), z = (1 - e^2) N sin(lat).
	n1 := wgs84SemiMajor / math.Sqrt(1-approxE2*sin1*sin1)
	n2 := wgs84SemiMajor / math.Sqrt(1-approxE2*sin2*sin2)
	r1, r2 := n1*cos1, n2*cos2
	dr := r2 - r1
	dz := (1 - approxE2) * (n2*sin2 - n1*sin1)
	// |P2 - P1|^2 = (r2 - r1)^2 + 2 r1 r2 (1 - cos dlon) + dz^2, with
	// 1 - cos dlon = 2 sin^2(dlon/2) to avoid cancellation.
	h := math.Sin(dlon / 2)
	c := math.Sqrt(dr*dr + dz*dz + 4*r1*r2*h*h)

	path := approxPolarRadius * (math.Abs(q.Lat-p.Lat)*degreeInRad + math.Min(cos1, cos2)*math.Abs(dlon))
	if !(path <= approxMaxPath) {
		// Too far apart for a useful bound; the chord is still a lower
		// bound of the distance.
		return Bounded{D: c, Err: math.Inf(1)}
	}
	e := approxErrCoeff * c * c * c
	return Bounded{D: c + e/2, Err: e/2 + approxPad}
}

const (
	approxE2          = wgs84Flattening * (2 - wgs84Flattening)
	approxMinorAxis   = wgs84SemiMajor * (1 - wgs84Flattening)               // b
	approxCurvature   = wgs84SemiMajor / (approxMinorAxis * approxMinorAxis) // k = a/b^2
	approxPolarRadius = wgs84SemiMajor * wgs84SemiMajor / approxMinorAxis    // a^2/b
	approxMaxPath     = 100e3                                                // Smax, metres
	approxPad         = 1e-5                                                 // round-off, metres
	approxKSmax2      = approxCurvature * approxCurvature * approxMaxPath * approxMaxPath
	approxGrowth      = 1 / (1 - approxKSmax2/24) // g
	approxErrCoeff    = 1.1 * approxCurvature * approxCurvature / 24 *
		approxGrowth * approxGrowth * approxGrowth // E / c^3
)
