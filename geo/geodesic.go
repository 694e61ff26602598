package geo

// The inverse geodesic problem on the WGS84 ellipsoid, ported from
//
//	C. F. F. Karney, "Algorithms for geodesics", J. Geodesy 87, 43-55 (2013),
//	https://doi.org/10.1007/s00190-012-0578-z,
//
// following the structure of its reference implementation, GeographicLib's
// geodesic.c Inverse (MIT/X11 licence), reduced to the distance output. The
// series are carried to order 6 in the third flattening, which for WGS84
// keeps the error, round-off included, to about 15 nm at any distance.
//
// Equation numbers in comments refer to the paper.
//
// The reference implementation also serves prolate ellipsoids (f < 0); WGS84
// is oblate, so those branches are omitted here.

import "math"

// WGS84 defining parameters.
const (
	wgs84SemiMajor   = 6378137.0                // a, metres
	wgs84Flattening  = 1 / 298.257223563        // f
	geodesicOrder    = 6                        // order of the series in n and eps
	geodesicCoeffs   = geodesicOrder + 1        // slice length of a series' coefficients
	maxNewtonSteps   = 20                       // Newton steps before bisection only
	maxInverseSteps  = maxNewtonSteps + 53 + 10 // then one bisection per mantissa bit, and some
	quarterTurnInDeg = 90.0
	halfTurnInDeg    = 180.0
	fullTurnInDeg    = 360.0
	degreeInRad      = math.Pi / halfTurnInDeg
)

// Tolerances of the inverse solution, as chosen in the reference
// implementation for IEEE doubles.
var (
	geodTiny    = math.Sqrt(0x1p-1022)                         // sqrt of the smallest normal double
	geodTol0    = 0x1p-52                                      // machine epsilon
	geodTol1    = 200 * geodTol0                               // strip near the cut of the astroid
	geodTol2    = math.Sqrt(geodTol0)                          // 1.5e-8
	geodTolB    = geodTol0                                     // bisection interval
	geodXThresh = 1000 * geodTol2                              // astroid x threshold
	wgs84       = newGeodesic(wgs84SemiMajor, wgs84Flattening) // the ellipsoid in use
)

// geodesic holds an ellipsoid and the coefficients of its series that depend
// only on the ellipsoid (A3 and C3, polynomials in eps once n is fixed).
type geodesic struct {
	a, f, f1, e2, ep2, n, b float64
	// etol2 bounds sig12 for "really short" lines, where the auxiliary
	// sphere with the radius at the mid-latitude is already exact to
	// round-off and no Newton iteration is needed.
	etol2 float64
	a3x   [geodesicOrder]float64
	c3x   [(geodesicOrder * (geodesicOrder - 1)) / 2]float64
}

func newGeodesic(a, f float64) *geodesic {
	g := &geodesic{a: a, f: f}
	g.f1 = 1 - f
	g.e2 = f * (2 - f)
	g.ep2 = g.e2 / (g.f1 * g.f1)
	g.n = f / (2 - f)
	g.b = a * g.f1
	// The relative error of the azimuth check with the mid-latitude sphere
	// is sig12^2 * f * (1 - f/2) / 2; setting it to epsilon (with a safety
	// factor of 100) gives the threshold.
	g.etol2 = 0.1 * geodTol2 / math.Sqrt(math.Max(0.001, math.Abs(f))*math.Min(1, 1-f/2)/2)
	g.initA3()
	g.initC3()
	return g
}

// Distance returns the WGS84 geodesic distance in metres between p and q: the
// length of the shortest path on the ellipsoid. It is accurate to well under
// a micrometre at every distance (the algorithm's error is about 15 nm) and
// returns NaN only when p or q is not Valid. It is deterministic and does
// not allocate; it takes about a microsecond.
func Distance(p, q Point) float64 {
	if !p.Valid() || !q.Valid() {
		return math.NaN()
	}
	return wgs84.inverse(p.Lat, p.Lon, q.Lat, q.Lon)
}

// inverse solves the inverse problem and returns the distance
// s12 in metres.
func (g *geodesic) inverse(lat1, lon1, lat2, lon2 float64) float64 {
	// The longitude difference is computed exactly (as a sum with its error)
	// so that points just either side of the antimeridian are treated as
	// neighbours, and made non-negative.
	lon12, lon12s := angDiff(lon1, lon2)
	if math.Signbit(lon12) {
		lon12, lon12s = -lon12, -lon12s
	}
	lam12 := lon12 * degreeInRad
	slam12, clam12 := sincosde(lon12, lon12s)
	// The supplementary longitude difference decides whether an equatorial
	// line is the shortest one.
	lon12s = (halfTurnInDeg - lon12) - lon12s

	// Bring the points into the canonical configuration
	//   -90 <= lat1 <= -0, lat1 <= lat2 <= -lat1, 0 <= lon12 <= 180,
	// by swapping them and reflecting in the equator. The distance is
	// invariant under these symmetries, and solving only the canonical
	// case makes the result symmetric in p and q.
	lat1, lat2 = angRound(lat1), angRound(lat2)
	if math.Abs(lat1) < math.Abs(lat2) {
		lat1, lat2 = lat2, lat1
	}
	if !math.Signbit(lat1) {
		lat1, lat2 = -lat1, -lat2
	}

	// Reduced latitudes beta (eq. 6); cos(beta) is kept at least tiny so
	// that a pole has a well-defined azimuth.
	sbet1, cbet1 := sincosd(lat1)
	sbet1 *= g.f1
	sbet1, cbet1 = norm2(sbet1, cbet1)
	cbet1 = math.Max(geodTiny, cbet1)
	sbet2, cbet2 := sincosd(lat2)
	sbet2 *= g.f1
	sbet2, cbet2 = norm2(sbet2, cbet2)
	cbet2 = math.Max(geodTiny, cbet2)

	// When |bet1| and |bet2| are equal to round-off, make them exactly
	// equal: lambda12 relies on the sign of their difference.
	if cbet1 < -sbet1 {
		if cbet2 == cbet1 {
			sbet2 = math.Copysign(sbet1, sbet2)
		}
	} else if math.Abs(sbet2) == -sbet1 {
		cbet2 = cbet1
	}

	dn1 := math.Sqrt(1 + g.ep2*sbet1*sbet1)
	dn2 := math.Sqrt(1 + g.ep2*sbet2*sbet2)

	var s12x float64
	meridian := lat1 == -quarterTurnInDeg || slam12 == 0
	if meridian {
		// Both points lie on one full meridian, so the geodesic may be the
		// meridian itself: it is, unless the points are nearly antipodal
		// and a shorter path passes the pole's other side (then m12 < 0).
		calp1 := clam12 // head to the target longitude
		calp2 := 1.0    // at the target we head north
		// tan(bet) = tan(sig) * cos(alp)
		ssig1, csig1 := sbet1, calp1*cbet1
		ssig2, csig2 := sbet2, calp2*cbet2
		sig12 := math.Atan2(math.Max(0, csig1*ssig2-ssig1*csig2)+0, csig1*csig2+ssig1*ssig2)
		s12b, m12b := g.lengths(g.n, sig12, ssig1, csig1, dn1, ssig2, csig2, dn2, true)
		if sig12 < 1 || m12b >= 0 {
			// Coincident points may come out with a tiny negative length.
			if sig12 < 3*geodTiny || (sig12 < geodTol0 && (s12b < 0 || m12b < 0)) {
				s12b = 0
			}
			s12x = s12b * g.b
		} else {
			meridian = false
		}
	}

	switch {
	case meridian:
		// done above
	case sbet1 == 0 && lon12s >= g.f*halfTurnInDeg:
		// Both points on the equator (sbet2 == 0 follows from the canonical
		// order) and far enough from antipodal that the equator is the
		// shortest path.
		s12x = g.a * lam12
	default:
		s12x = g.inverseGeneral(sbet1, cbet1, dn1, sbet2, cbet2, dn2, lam12, slam12, clam12)
	}
	return 0 + s12x // turn -0 into 0
}

// inverseGeneral solves the inverse problem for a geodesic that is neither
// meridional nor equatorial: it finds the azimuth alp1 at the
// first point for which the geodesic reaches the second point's longitude,
// by Newton's method on lambda12(alp1) - lam12 = 0 from a starting guess
// that is good enough to converge in a few steps everywhere, including for
// nearly antipodal points (from the solution of an astroid problem).
func (g *geodesic) inverseGeneral(sbet1, cbet1, dn1, sbet2, cbet2, dn2, lam12, slam12, clam12 float64) float64 {
	guess := g.inverseStart(sbet1, cbet1, sbet2, cbet2, lam12, slam12, clam12)
	if guess.sig12 >= 0 {
		// Really short line: the auxiliary sphere scaled at the
		// mid-latitude is exact to round-off.
		return guess.sig12 * g.b * guess.dnm
	}

	salp1, calp1 := guess.salp1, guess.calp1
	// The root is bracketed by (alp1a, alp1b) in (0, pi); lambda12 - lam12
	// is negative below the root and positive above it. A Newton step
	// that leaves (0, pi), or a non-positive derivative, falls back to
	// bisecting the bracket, so the root cannot be lost; after
	// maxNewtonSteps only bisection is used, and maxInverseSteps caps the
	// work.
	salp1a, calp1a := geodTiny, 1.0
	salp1b, calp1b := geodTiny, -1.0
	tripn, tripb := false, false
	var lam lambdaState
	for numit := 0; ; numit++ {
		diff := numit < maxNewtonSteps
		lam = g.lambda12(sbet1, cbet1, dn1, sbet2, cbet2, dn2, salp1, calp1, slam12, clam12, diff)
		v := lam.lam12
		tol := geodTol0
		if tripn {
			tol *= 8
		}
		// Written so that a NaN ends the loop.
		if tripb || !(math.Abs(v) >= tol) || numit == maxInverseSteps {
			break
		}
		if v > 0 && (numit > maxNewtonSteps || calp1/salp1 > calp1b/salp1b) {
			salp1b, calp1b = salp1, calp1
		} else if v < 0 && (numit > maxNewtonSteps || calp1/salp1 < calp1a/salp1a) {
			salp1a, calp1a = salp1, calp1
		}
		if diff && lam.dlam12 > 0 {
			if dalp1 := -v / lam.dlam12; math.Abs(dalp1) < math.Pi {
				sdalp1, cdalp1 := math.Sincos(dalp1)
				if nsalp1 := salp1*cdalp1 + calp1*sdalp1; nsalp1 > 0 {
					calp1 = calp1*cdalp1 - salp1*sdalp1
					salp1 = nsalp1
					salp1, calp1 = norm2(salp1, calp1)
					// Where the slope vanishes convergence is only
					// linear; then demand an epsilon-sized residual
					// rather than one of sqrt(epsilon).
					tripn = math.Abs(v) <= 16*geodTol0
					continue
				}
			}
		}
		salp1 = (salp1a + salp1b) / 2
		calp1 = (calp1a + calp1b) / 2
		salp1, calp1 = norm2(salp1, calp1)
		tripn = false
		tripb = math.Abs(salp1a-salp1)+(calp1a-calp1) < geodTolB ||
			math.Abs(salp1-salp1b)+(calp1-calp1b) < geodTolB
	}
	s12b, _ := g.lengths(lam.eps, lam.sig12, lam.ssig1, lam.csig1, dn1, lam.ssig2, lam.csig2, dn2, false)
	return s12b * g.b
}

// inverseGuess is the starting guess of the inverse solution. sig12 >= 0
// marks a really short line whose distance is sig12 * b * dnm without
// iteration.
type inverseGuess struct {
	salp1, calp1 float64
	sig12, dnm   float64
}

// inverseStart returns a starting azimuth for Newton's method:
// the great-circle azimuth on the auxiliary sphere, and for nearly antipodal
// points the solution of an astroid problem, without which Newton's
// method can fail to converge there.
func (g *geodesic) inverseStart(sbet1, cbet1, sbet2, cbet2, lam12, slam12, clam12 float64) inverseGuess {
	st := inverseGuess{sig12: -1}
	// bet12 = bet2 - bet1 in [0, pi); bet12a = bet2 + bet1 in (-pi, 0].
	sbet12 := sbet2*cbet1 - cbet2*sbet1
	cbet12 := cbet2*cbet1 + sbet2*sbet1
	sbet12a := sbet2*cbet1 + cbet2*sbet1
	shortline := cbet12 >= 0 && sbet12 < 0.5 && cbet2*lam12 < 0.5
	var somg12, comg12 float64
	if shortline {
		// Scale the longitude difference with the radius at the
		// mid-latitude: sin((bet1+bet2)/2)^2 from the half-angle formula.
		sbetm2 := (sbet1 + sbet2) * (sbet1 + sbet2)
		sbetm2 /= sbetm2 + (cbet1+cbet2)*(cbet1+cbet2)
		st.dnm = math.Sqrt(1 + g.ep2*sbetm2)
		omg12 := lam12 / (g.f1 * st.dnm)
		somg12, comg12 = math.Sincos(omg12)
	} else {
		somg12, comg12 = slam12, clam12
	}

	salp1 := cbet2 * somg12
	var calp1 float64
	if comg12 >= 0 {
		calp1 = sbet12 + cbet2*sbet1*somg12*somg12/(1+comg12)
	} else {
		calp1 = sbet12a - cbet2*sbet1*somg12*somg12/(1-comg12)
	}
	ssig12 := math.Hypot(salp1, calp1)
	csig12 := sbet1*sbet2 + cbet1*cbet2*comg12

	switch {
	case shortline && ssig12 < g.etol2:
		st.sig12 = math.Atan2(ssig12, csig12)
	case math.Abs(g.n) > 0.1 || csig12 >= 0 || ssig12 >= 6*math.Abs(g.n)*math.Pi*cbet1*cbet1:
		// Not nearly antipodal: the spherical estimate is good enough.
	default:
		// Nearly antipodal. Scale to coordinates (x, y) in which the
		// antipode is the origin and the singular point is (-1, 0).
		lam12x := math.Atan2(-slam12, -clam12) // lam12 - pi
		k2 := sbet1 * sbet1 * g.ep2
		eps := k2 / (2*(1+math.Sqrt(1+k2)) + k2)
		lamscale := g.f * cbet1 * g.a3f(eps) * math.Pi
		betscale := lamscale * cbet1
		x := lam12x / lamscale
		y := sbet12a / betscale
		if y > -geodTol1 && x > -1-geodXThresh {
			// In the strip near the cut the astroid is degenerate; the
			// azimuth follows from x directly.
			salp1 = math.Min(1, -x)
			calp1 = -math.Sqrt(1 - salp1*salp1)
		} else {
			// Estimating omg12 from the astroid and then alp1 with the
			// spherical formula needs fewer Newton steps than taking
			// alp1 from the astroid directly.
			k := astroid(x, y)
			omg12a := lamscale * (-x * k / (1 + k))
			somg12, comg12 = math.Sincos(omg12a)
			comg12 = -comg12
			salp1 = cbet2 * somg12
			calp1 = sbet12a - cbet2*sbet1*somg12*somg12/(1-comg12)
		}
	}
	// Sanity check of the guess, written so that NaN takes the fallback.
	if !(salp1 <= 0) {
		st.salp1, st.calp1 = norm2(salp1, calp1)
	} else {
		st.salp1, st.calp1 = 1, 0
	}
	return st
}

// lambdaState is the state of the geodesic with a given alp1 at the second
// point's latitude.
type lambdaState struct {
	lam12      float64 // longitude difference reached, minus the target
	dlam12     float64 // derivative with respect to alp1
	sig12, eps float64
	ssig1      float64
	csig1      float64
	ssig2      float64
	csig2      float64
}

// lambda12 follows the geodesic leaving the first point with azimuth alp1 to
// the second point's latitude and returns how far its longitude overshoots
// the target (eqs. 7 and 8, with the series for I3) and, if diff, the
// derivative with respect to alp1, which is proportional to the reduced
// length m12.
func (g *geodesic) lambda12(sbet1, cbet1, dn1, sbet2, cbet2, dn2, salp1, calp1, slam120, clam120 float64, diff bool) lambdaState {
	if sbet1 == 0 && calp1 == 0 {
		// Break the degeneracy of the equatorial line (handled by the
		// caller).
		calp1 = -geodTiny
	}
	// sin(alp1) cos(bet1) = sin(alp0), Clairaut's relation.
	salp0 := salp1 * cbet1
	calp0 := math.Hypot(calp1, salp1*sbet1) // > 0

	// tan(bet1) = tan(sig1) cos(alp1); tan(omg1) = sin(alp0) tan(sig1).
	ssig1, csig1 := norm2(sbet1, calp1*cbet1)
	somg1, comg1 := salp0*sbet1, calp1*cbet1

	// Enforce the symmetry |bet2| = -bet1 exactly, which would otherwise
	// make the Newton iteration singular.
	calp2 := math.Abs(calp1)
	if cbet2 != cbet1 || math.Abs(sbet2) != -sbet1 {
		// cos(alp2) = sqrt(cos(alp0)^2 - sin(bet2)^2) / cos(bet2),
		// rearranged to avoid cancellation.
		var d float64
		if cbet1 < -sbet1 {
			d = (cbet2 - cbet1) * (cbet1 + cbet2)
		} else {
			d = (sbet1 - sbet2) * (sbet1 + sbet2)
		}
		calp2 = math.Sqrt((calp1*cbet1)*(calp1*cbet1)+d) / cbet2
	}
	ssig2, csig2 := norm2(sbet2, calp2*cbet2)
	somg2, comg2 := salp0*sbet2, calp2*cbet2

	// sig12 = sig2 - sig1 and omg12 = omg2 - omg1, both in [0, pi].
	sig12 := math.Atan2(math.Max(0, csig1*ssig2-ssig1*csig2)+0, csig1*csig2+ssig1*ssig2)
	somg12 := math.Max(0, comg1*somg2-somg1*comg2) + 0
	comg12 := comg1*comg2 + somg1*somg2
	// eta = omg12 - lam120
	eta := math.Atan2(somg12*clam120-comg12*slam120, comg12*clam120+somg12*slam120)

	k2 := calp0 * calp0 * g.ep2
	eps := k2 / (2*(1+math.Sqrt(1+k2)) + k2)
	var c3 [geodesicOrder]float64
	g.c3f(eps, &c3)
	b312 := sinSeries(ssig2, csig2, c3[:geodesicOrder]) - sinSeries(ssig1, csig1, c3[:geodesicOrder])
	domg12 := -g.f * g.a3f(eps) * salp0 * (sig12 + b312)

	l := lambdaState{
		lam12: eta + domg12,
		sig12: sig12, eps: eps,
		ssig1: ssig1, csig1: csig1, ssig2: ssig2, csig2: csig2,
	}
	if diff {
		if calp2 == 0 {
			l.dlam12 = -2 * g.f1 * dn1 / sbet1
		} else {
			_, m12b := g.lengths(eps, sig12, ssig1, csig1, dn1, ssig2, csig2, dn2, true)
			l.dlam12 = m12b * g.f1 / (calp2 * cbet2)
		}
	}
	return l
}

// lengths returns the distance s12/b (eq. 7, by its series I1) and, if
// reduced, the reduced length m12/b, both in units of b.
func (g *geodesic) lengths(eps, sig12, ssig1, csig1, dn1, ssig2, csig2, dn2 float64, reduced bool) (s12b, m12b float64) {
	var c1, c2 [geodesicCoeffs]float64
	a1 := a1m1f(eps)
	c1f(eps, &c1)
	b1 := sinSeries(ssig2, csig2, c1[:]) - sinSeries(ssig1, csig1, c1[:])
	s12b = (1 + a1) * (sig12 + b1)
	if !reduced {
		return s12b, 0
	}
	a2 := a2m1f(eps)
	c2f(eps, &c2)
	m0 := a1 - a2
	b2 := sinSeries(ssig2, csig2, c2[:]) - sinSeries(ssig1, csig1, c2[:])
	j12 := m0*sig12 + ((1+a1)*b1 - (1+a2)*b2)
	// Parenthesised so that coincident points cancel exactly.
	m12b = dn2*(csig1*ssig2) - dn1*(ssig1*csig2) - csig1*csig2*j12
	return s12b, m12b
}

// astroid returns the positive root k of
// k^4 + 2k^3 - (x^2 + y^2 - 1)k^2 - 2y^2 k - y^2 = 0, solved in
// closed form the way the geocentric-to-geodetic conversion is.
func astroid(x, y float64) float64 {
	p := x * x
	q := y * y
	r := (p + q - 1) / 6
	if q == 0 && r <= 0 {
		// y = 0 with |x| <= 1: the root is 0.
		return 0
	}
	// The equations for s and t are multiplied by r^3 and r so that
	// r = 0 does not divide by zero.
	s := p * q / 4 // r^3 s
	r2 := r * r
	r3 := r * r2
	// The discriminant of the quadratic for T^3; zero on the evolute
	// p^(1/3) + q^(1/3) = 1.
	disc := s * (s + 2*r3)
	u := r
	if disc >= 0 {
		t3 := s + r3
		// The sign of the root that maximises |t3| avoids cancellation;
		// the choice does not change u.
		if t3 < 0 {
			t3 -= math.Sqrt(disc)
		} else {
			t3 += math.Sqrt(disc)
		}
		t := math.Cbrt(t3) // r t
		if t != 0 {
			u += t + r2/t
		}
	} else {
		// T is complex but u is real; take the cube root that avoids
		// cancellation (disc < 0 implies r < 0).
		ang := math.Atan2(math.Sqrt(-disc), -(s + r3))
		u += 2 * r * math.Cos(ang/3)
	}
	v := math.Sqrt(u*u + q) // > 0
	var uv float64          // u + v > 0, computed without cancellation
	if u < 0 {
		uv = q / (v - u)
	} else {
		uv = u + v
	}
	w := (uv - q) / (2 * v)
	return uv / (math.Sqrt(uv+w*w) + w)
}

// sinSeries evaluates sum(c[i] sin(2 i sigma), i = 1..len(c)-1) by Clenshaw
// summation from sin(sigma) and cos(sigma); c[0] is unused.
func sinSeries(sinx, cosx float64, c []float64) float64 {
	n := len(c) - 1
	ar := 2 * (cosx - sinx) * (cosx + sinx) // 2 cos(2 sigma)
	var y0, y1 float64
	if n&1 != 0 {
		y0 = c[n]
		n--
	}
	// Unrolled twice so that the accumulators return to their roles.
	for ; n > 0; n -= 2 {
		y1 = ar*y0 - y1 + c[n]
		y0 = ar*y1 - y0 + c[n-1]
	}
	return 2 * sinx * cosx * y0 // sin(2 sigma) y0
}

// polyval evaluates the polynomial p[0] x^n + ... + p[n] with n = len(p)-1.
func polyval(p []float64, x float64) float64 {
	y := 0.0
	for _, c := range p {
		y = y*x + c
	}
	return y
}

// The series coefficients below are those of the paper and its
// addenda, to order 6; each row is a polynomial (highest power first)
// followed by its denominator.

// a1m1f returns A1 - 1, A1 being the secular coefficient of the distance
// integral I1.
func a1m1f(eps float64) float64 {
	// (1-eps) A1 - 1, a polynomial in eps^2 of order 3.
	coeff := [...]float64{1, 4, 64, 0, 256}
	const m = geodesicOrder / 2
	t := polyval(coeff[:m+1], eps*eps) / coeff[m+1]
	return (t + eps) / (1 - eps)
}

// c1f sets c[1..6] to the Fourier coefficients C1l of I1.
func c1f(eps float64, c *[geodesicCoeffs]float64) {
	coeff := [...]float64{
		-1, 6, -16, 32, // C1[1]/eps, polynomial in eps^2 of order 2
		-9, 64, -128, 2048, // C1[2]/eps^2, order 2
		9, -16, 768, // C1[3]/eps^3, order 1
		3, -5, 512, // C1[4]/eps^4, order 1
		-7, 1280, // C1[5]/eps^5, order 0
		-7, 2048, // C1[6]/eps^6, order 0
	}
	evenSeries(eps, coeff[:], c)
}

// a2m1f returns A2 - 1, A2 being the secular coefficient of I2, which
// enters the reduced length.
func a2m1f(eps float64) float64 {
	// (1+eps) A2 - 1, a polynomial in eps^2 of order 3.
	coeff := [...]float64{-11, -28, -192, 0, 256}
	const m = geodesicOrder / 2
	t := polyval(coeff[:m+1], eps*eps) / coeff[m+1]
	return (t - eps) / (1 + eps)
}

// c2f sets c[1..6] to the Fourier coefficients C2l of I2.
func c2f(eps float64, c *[geodesicCoeffs]float64) {
	coeff := [...]float64{
		1, 2, 16, 32, // C2[1]/eps, polynomial in eps^2 of order 2
		35, 64, 384, 2048, // C2[2]/eps^2, order 2
		15, 80, 768, // C2[3]/eps^3, order 1
		7, 35, 512, // C2[4]/eps^4, order 1
		63, 1280, // C2[5]/eps^5, order 0
		77, 2048, // C2[6]/eps^6, order 0
	}
	evenSeries(eps, coeff[:], c)
}

// evenSeries sets c[l] = eps^l P_l(eps^2) / d_l for l = 1..6, where the
// rows of coeff hold P_l, of order (6-l)/2, followed by d_l.
func evenSeries(eps float64, coeff []float64, c *[geodesicCoeffs]float64) {
	eps2 := eps * eps
	d := eps
	o := 0
	for l := 1; l <= geodesicOrder; l++ {
		m := (geodesicOrder - l) / 2
		c[l] = d * polyval(coeff[o:o+m+1], eps2) / coeff[o+m+1]
		o += m + 2
		d *= eps
	}
}

// initA3 sets the coefficients of A3, the secular coefficient of the
// longitude integral I3, as a polynomial in eps for this ellipsoid's n.
func (g *geodesic) initA3() {
	coeff := [...]float64{
		-3, 128, // eps^5, polynomial in n of order 0
		-2, -3, 64, // eps^4, order 1
		-1, -3, -1, 16, // eps^3, order 2
		3, -1, -2, 8, // eps^2, order 2
		1, -1, 2, // eps^1, order 1
		1, 1, // eps^0, order 0
	}
	o, k := 0, 0
	for j := geodesicOrder - 1; j >= 0; j-- {
		m := min(geodesicOrder-j-1, j)
		g.a3x[k] = polyval(coeff[o:o+m+1], g.n) / coeff[o+m+1]
		k++
		o += m + 2
	}
}

// initC3 sets the Fourier coefficients C3l of I3 as polynomials in eps for
// this ellipsoid's n.
func (g *geodesic) initC3() {
	coeff := [...]float64{
		3, 128, // C3[1], eps^5, polynomial in n of order 0
		2, 5, 128, // C3[1], eps^4, order 1
		-1, 3, 3, 64, // C3[1], eps^3, order 2
		-1, 0, 1, 8, // C3[1], eps^2, order 2
		-1, 1, 4, // C3[1], eps^1, order 1
		5, 256, // C3[2], eps^5, order 0
		1, 3, 128, // C3[2], eps^4, order 1
		-3, -2, 3, 64, // C3[2], eps^3, order 2
		1, -3, 2, 32, // C3[2], eps^2, order 2
		7, 512, // C3[3], eps^5, order 0
		-10, 9, 384, // C3[3], eps^4, order 1
		5, -9, 5, 192, // C3[3], eps^3, order 2
		7, 512, // C3[4], eps^5, order 0
		-14, 7, 512, // C3[4], eps^4, order 1
		21, 2560, // C3[5], eps^5, order 0
	}
	o, k := 0, 0
	for l := 1; l < geodesicOrder; l++ {
		for j := geodesicOrder - 1; j >= l; j-- {
			m := min(geodesicOrder-j-1, j)
			g.c3x[k] = polyval(coeff[o:o+m+1], g.n) / coeff[o+m+1]
			k++
			o += m + 2
		}
	}
}

// a3f returns A3(eps).
func (g *geodesic) a3f(eps float64) float64 {
	return polyval(g.a3x[:], eps)
}

// c3f sets c[1..5] to C3l(eps).
func (g *geodesic) c3f(eps float64, c *[geodesicOrder]float64) {
	mult := 1.0
	o := 0
	for l := 1; l < geodesicOrder; l++ {
		m := geodesicOrder - l - 1 // order of the polynomial in eps
		mult *= eps
		c[l] = mult * polyval(g.c3x[o:o+m+1], eps)
		o += m + 1
	}
}

// norm2 scales (sinx, cosx) to unit length. math.Hypot is not monotonic
// (it divides before it takes the root), which can make |sin(bet1)| <
// |sin(bet2)| for |lat1| > |lat2| and then a square root of a negative
// number in lambda12; the plain root of the sum of squares is monotonic.
// The arguments are at most about 1, so the squares cannot overflow.
func norm2(sinx, cosx float64) (float64, float64) {
	r := math.Sqrt(sinx*sinx + cosx*cosx)
	return sinx / r, cosx / r
}

// sumx returns the rounded sum s = u + v and its error t, u + v = s + t
// exactly (Knuth's two-sum).
func sumx(u, v float64) (s, t float64) {
	s = u + v
	up := s - v
	vpp := s - up
	up -= u
	vpp -= v
	if s != 0 {
		t = 0 - (up + vpp)
	} else {
		t = s
	}
	return s, t
}

// angDiff returns y - x reduced to [-180, 180] and its rounding error e, so
// that y - x = d + e exactly. -180 is returned only for west-going
// differences, which keeps symmetric inputs symmetric.
func angDiff(x, y float64) (d, e float64) {
	d, t := sumx(math.Remainder(-x, fullTurnInDeg), math.Remainder(y, fullTurnInDeg))
	// The second sum can change d only when |d| < 128, so one more
	// reduction suffices.
	d, t = sumx(math.Remainder(d, fullTurnInDeg), t)
	if d == 0 || math.Abs(d) == halfTurnInDeg {
		// Take the sign from y - x if the sum is exact; otherwise d and t
		// have opposite signs.
		s := -t
		if t == 0 {
			s = y - x
		}
		d = math.Copysign(d, s)
	}
	return d, t
}

// angRound rounds tiny angles to multiples of 1/16 of a unit in the last
// place of 1/16 degree, so that latitudes within about 1e-20 of the equator
// are treated as on it, where the special-case code handles them exactly.
func angRound(x float64) float64 {
	const z = 1.0 / 16
	y := math.Abs(x)
	w := z - y
	if w > 0 {
		y = z - w
	}
	return math.Copysign(y, x)
}

// sincosd returns sin and cos of x degrees, reducing x exactly to [-45, 45]
// before converting to radians so that, e.g., sincosd(90) is exactly (1, 0).
func sincosd(x float64) (sinx, cosx float64) {
	r, q := remquo90(x)
	return sincosQuadrant(r*degreeInRad, q, x)
}

// sincosde is sincosd of x + t, where t is a small correction to x (the
// rounding error of x), applied after the exact reduction.
func sincosde(x, t float64) (sinx, cosx float64) {
	r, q := remquo90(x)
	return sincosQuadrant(angRound(r+t)*degreeInRad, q, x)
}

// remquo90 returns r = x - 90 q with |r| <= 45 and the quadrant q mod 4.
// Both are exact: math.Remainder is exact and x - r is a multiple of 90.
func remquo90(x float64) (r float64, q int) {
	r = math.Remainder(x, quarterTurnInDeg)
	if math.IsNaN(r) {
		return r, 0
	}
	q = int(math.Mod(math.Round((x-r)/quarterTurnInDeg), 4))
	return r, q & 3
}

func sincosQuadrant(rad float64, q int, x float64) (sinx, cosx float64) {
	s, c := math.Sincos(rad)
	switch q {
	case 0:
		sinx, cosx = s, c
	case 1:
		sinx, cosx = c, -s
	case 2:
		sinx, cosx = -s, -c
	default:
		sinx, cosx = -c, s
	}
	cosx += 0 // turn -0 into +0
	if sinx == 0 {
		sinx = math.Copysign(sinx, x)
	}
	return sinx, cosx
}
