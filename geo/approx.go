package geo

import "math"

// Derivation of ApproxDistance's bound.
//
// Let s be the geodesic distance and c the chord.
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
// Beyond Smax the bound is wide but still valid: c <= s <= U with
// U = min(P, H), where H is half a meridian (20003931.4586 m). H bounds every
// distance because the paths from p over the north pole to q and over the
// south pole together make up exactly one whole meridian, so the shorter is
// at most half of it. D = (c + U)/2 and Err = (U - c)/2 + pad, which lets a
// caller settle that points hundreds of kilometres apart are beyond a
// kilometre-scale threshold without the iteration. Err is infinite only for
// invalid points, where D is NaN.
//
// Everything holds at any latitude, the poles included, and across the
// antimeridian, because the chord depends on the longitudes only through
// sin^2(dlon/2).

// ApproxDistance approximates Distance by the chord, the straight line
// through the Earth between p and q on the WGS84 ellipsoid, at the cost of a
// few short polynomials and three square roots instead of an iteration. It
// does not allocate.
//
// Its bound, derived in the comment above, grows with the cube of the
// distance: about 0.07 mm at 5 km, 7 cm at 50 km and 0.6 m at 100 km.
// Beyond 100 km the bound is wide but still valid, and D - Err, the chord,
// stays close to the distance, so thresholds well below it are still
// decided. For invalid points D is NaN and Err is +Inf.
func ApproxDistance(p, q Point) Bounded {
	if !p.Valid() || !q.Valid() {
		return Bounded{D: math.NaN(), Err: math.Inf(1)}
	}
	dlon := q.Lon - p.Lon
	if dlon > halfTurnInDeg {
		dlon -= fullTurnInDeg
	} else if dlon < -halfTurnInDeg {
		dlon += fullTurnInDeg
	}
	dlon *= degreeInRad

	// The latitudes as mid-latitude plus or minus half their difference,
	// angles within a right angle, so three short sine polynomials do.
	sinm, cosm := approxSincos((p.Lat + q.Lat) * (degreeInRad / 2))
	dlat := (q.Lat - p.Lat) * degreeInRad
	sinh, cosh := approxSincos(dlat / 2)
	sin1, cos1 := sinm*cosh-cosm*sinh, cosm*cosh+sinm*sinh
	sin2, cos2 := sinm*cosh+cosm*sinh, cosm*cosh-sinm*sinh

	// Each point as its distance r from the axis and its height z above the
	// equatorial plane: r = N cos(lat), z = (1 - e^2) N sin(lat), with N the
	// radius of curvature in the prime vertical.
	n1 := wgs84SemiMajor / math.Sqrt(1-approxE2*sin1*sin1)
	n2 := wgs84SemiMajor / math.Sqrt(1-approxE2*sin2*sin2)
	r1, r2 := n1*cos1, n2*cos2
	dr := r2 - r1
	dz := (1 - approxE2) * (n2*sin2 - n1*sin1)
	// |P2 - P1|^2 = (r2 - r1)^2 + 2 r1 r2 (1 - cos dlon) + dz^2, with
	// 1 - cos dlon = 2 sin^2(dlon/2) to avoid cancellation.
	sinhl, _ := approxSincos(dlon / 2)
	c := math.Sqrt(dr*dr + dz*dz + 4*r1*r2*sinhl*sinhl)

	path := approxPolarRadius * (math.Abs(dlat) + max(0, min(cos1, cos2))*math.Abs(dlon))
	if path <= approxMaxPath {
		e := approxErrCoeff * c * c * c
		return Bounded{D: c + e/2, Err: e/2 + approxPad}
	}
	u := min(path, approxHalfMeridian)
	return Bounded{D: (c + u) / 2, Err: (u-c)/2 + approxPad}
}

// approxSincos returns sin x and cos x for |x| <= pi/2, faster than
// math.Sincos because it needs no argument reduction. Within pi/4 it sums
// the Taylor series to x^15 and x^16, whose truncation errors (below
// (pi/4)^17/17! = 5e-17 and (pi/4)^18/18! = 2e-18) stay under half a unit
// in the last place of the result; beyond, it uses the complement
// pi/2 - |x|, exact to 1.2e-16. Errors of 1e-16 move a point by 1e-9 m.
func approxSincos(x float64) (sinx, cosx float64) {
	if ax := math.Abs(x); ax > math.Pi/4 {
		y := math.Pi/2 - ax
		return math.Copysign(taylorCos(y), x), taylorSin(y)
	}
	return taylorSin(x), taylorCos(x)
}

func taylorSin(x float64) float64 {
	x2 := x * x
	return x * (1 + x2*(-1.0/6+x2*(1.0/120+x2*(-1.0/5040+x2*(1.0/362880+
		x2*(-1.0/39916800+x2*(1.0/6227020800+x2*(-1.0/1307674368000))))))))
}

func taylorCos(x float64) float64 {
	x2 := x * x
	return 1 + x2*(-1.0/2+x2*(1.0/24+x2*(-1.0/720+x2*(1.0/40320+
		x2*(-1.0/3628800+x2*(1.0/479001600+x2*(-1.0/87178291200+x2*(1.0/20922789888000))))))))
}

const (
	approxE2           = wgs84Flattening * (2 - wgs84Flattening)
	approxMinorAxis    = wgs84SemiMajor * (1 - wgs84Flattening)               // b
	approxCurvature    = wgs84SemiMajor / (approxMinorAxis * approxMinorAxis) // k = a/b^2
	approxPolarRadius  = wgs84SemiMajor * wgs84SemiMajor / approxMinorAxis    // a^2/b
	approxHalfMeridian = 20003931.4586 + 0.01                                 // H, metres, rounded up
	approxMaxPath      = 100e3                                                // Smax, metres
	approxPad          = 1e-5                                                 // round-off, metres
	approxKSmax2       = approxCurvature * approxCurvature * approxMaxPath * approxMaxPath
	approxGrowth       = 1 / (1 - approxKSmax2/24) // g
	approxErrCoeff     = 1.1 * approxCurvature * approxCurvature / 24 *
		approxGrowth * approxGrowth * approxGrowth // E / c^3
)
