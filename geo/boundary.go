package geo

import (
	"math"
	"slices"
)

// Distance from a point to a polygon shape's boundary.
//
// The boundary is made of edges that are straight in lon/lat. The distance
// from p to an edge is f = min over t of Distance(p, E(t)), E(t) the point a
// fraction t along the edge. Both the exact and the approximate computation
// start from a local model of the ellipsoid around p, the affine map
//
//	e0 = r_p dlon,  n0 = M_p dlat,  g = sqrt(e0^2 + n0^2)
//
// (dlat, dlon in radians from p; M_p the meridian radius of curvature at p,
// r_p = N_p cos(lat_p) the radius of its parallel). The map is affine, so an
// edge maps to a straight segment and its nearest point to the origin, g*,
// costs a few multiplications.
//
// The bound. For a point q with model distance g <= G, where G is the range
// chosen by newFrame, the geodesic distance s from p to q satisfies
//
//	|s - g| <= E(g) = A2 g^2 + E3 g^3.
//
// Proof. Write Q - P (the points in space) in p's east, north and up
// directions as (e, n, u), and let v = (e, n), v0 = (e0, n0), w = v - v0.
// With r(lat) the radius of the parallel and z(lat) the height above the
// equator, dr = -M sin(lat) dlat and dz = M cos(lat) dlat, which gives
// exactly
//
//	e = r(lat_q) sin(dlon)
//	n = int_0^dlat M(lat_p+x) cos(x) dx + sin(lat_p) r(lat_q) (1 - cos(dlon))
//	u = -int_0^dlat M(lat_p+x) sin(x) dx - cos(lat_p) r(lat_q) (1 - cos(dlon)).
//
// Taylor's theorem with remainder splits w into a quadratic part
//
//	w2 = (-M_p sin(lat_p) dlat dlon,  D1M_p dlat^2/2 + sin(lat_p) r_p dlon^2/2)
//
// and a remainder w3 whose components are bounded by third powers of dlat
// and dlon times maxima of M, its derivatives and r over the range (see
// modelBound; |dlat| <= g/M_p and |dlon| <= g/r_p). Then:
//
//  1. ||v|| - g lies in [rho, rho + |w|^2/(2g)], rho = v0.w/g: from below
//     by projecting v on v0, from above because sqrt(g^2+x) <= g + x/(2g).
//     In rho the quadratic part becomes, with dlon = e0/r_p, dlat = n0/M_p,
//     (-sin(lat_p) e0^2 n0/(2 r_p) + D1M_p n0^3/(2 M_p^2)) / g, and since
//     |cos^2(a) sin(a)| <= 2/(3 sqrt 3) < 0.385,
//     |rho| <= A2 g^2 + A3 g^3 with
//     A2 = (0.385 |tan(lat_p)|/N_p + |D1M_p|/M_p^2)/2 (D1M_p: dM/dlat at p).
//  2. The chord c = sqrt(||v||^2 + u^2) exceeds ||v|| by at most
//     u^2/(2||v||) <= U^2 g^3, as |u| <= U g^2 and ||v|| >= g/2.
//  3. c <= s <= c + k^2 (gamma c)^3/24 as in ApproxDistance: k = a/b^2 is
//     the largest normal curvature, Schur's comparison theorem bounds the
//     chord of a curve of bounded curvature, and s is bounded beforehand by
//     the path along a meridian and a parallel, G (M_max/M_p + r_max/r_p).
//
// Adding up, -E(g) <= s - g <= E(g) with E3 = A3 + W^2/2 + U^2 + k^2
// gamma^3 (1 + (W+U) G)^3/24, where |w| <= W g^2.
//
// From points to edges. newFrame picks G with E(G) <= G/10, so that
// x - E(x) increases on [0, G]. A point q of an edge with g(q) <= G is
// then at least g* - E(g*) from p. A point with g(q) > G is farther than
// G - E(G) >= g* - E(g*) (when g* <= G): the geodesic from p to it leaves
// the region g <= G through a point x with g(x) = G, and s(p, x) >= G -
// E(G). (The longitude difference does not jump on the way: G <= r_p/4
// keeps the region within a quarter turn of p's meridian, and each edge is
// mapped from its midpoint's longitude difference, so the part of it within
// a quarter turn of p is mapped without a jump.) Hence for every edge
//
//	min_t f >= lb(g*) = min(g*, G) - E(min(g*, G)),
//
// and min_t f <= f(t*) <= g* + E(g*) at the model's nearest point t*.
// Over all edges the distance to the boundary therefore lies within
// E(g*_min) of the least g*: that is ApproxSignedDistance.
//
// SignedDistance evaluates the exact distance only on the edges whose lb
// does not exceed the best exact distance found so far, and on each only
// over the part where the model allows a smaller one. It returns the least
// exact distance it evaluated, which is never less than the true distance
// and, as it always includes f(t*) on the edge with the least g*, never more
// than g*_min + E(g*_min). So the approximation's bound holds against
// SignedDistance's result whatever the accuracy of its search (which is a
// millimetre, tested). Both use the same inside test for the sign.

// WGS84 quantities used by the model.
const (
	shapeE2      = wgs84Flattening * (2 - wgs84Flattening)
	shapeB       = wgs84SemiMajor * (1 - wgs84Flattening)
	shapeRadMax  = wgs84SemiMajor * wgs84SemiMajor / shapeB      // max of M and N (poles)
	shapeMeriMin = wgs84SemiMajor * (1 - shapeE2)                // min of M (equator)
	shapeCurv    = wgs84SemiMajor / (shapeB * shapeB)            // k, the largest curvature
	shapeDM      = 1.5 * shapeE2 / (1 - shapeE2) * shapeRadMax   // bounds |D1 M|
	shapeDDM     = 0.0205 * shapeRadMax                          // bounds |D2 M|, see modelBound
	shapeRange   = 200e3                                         // G at most, metres
	shapeMinG    = 1e3                                           // below this G the model is not used
	shapePad     = 1e-6                                          // round-off and Distance's error, metres
	shapeRelPad  = 1e-12                                         // round-off relative to the distance
	shapeTolM    = 1e-3                                          // SignedDistance's target accuracy, metres
	shapeDegRad  = degreeInRad                                   // radians per degree
	shapeRadDeg  = 1 / degreeInRad                               // degrees per radian
	shapeMaxFrac = 0.1                                           // E(G)/G at most
	shapeCubeTie = 2 / (3 * 1.7320508075688772) * (1 + 1.0/1000) // 2/(3 sqrt 3), rounded up
)

// frame is the model around a point p.
type frame struct {
	p      Point
	kx, ky float64 // metres per degree of longitude (r_p) and latitude (M_p)
	cosLat float64
	g      float64 // the range G; 0 when the model is not used
	a2, e3 float64 // E(g) = a2 g^2 + e3 g^3
}

func newFrame(p Point) frame {
	sin, cos := math.Sincos(p.Lat * shapeDegRad)
	cos = math.Max(cos, 0)
	w := 1 - shapeE2*sin*sin
	nr := wgs84SemiMajor / math.Sqrt(w) // N_p
	mr := nr * (1 - shapeE2) / w        // M_p
	rp := nr * cos                      // r_p
	f := frame{p: p, kx: rp * shapeDegRad, ky: mr * shapeDegRad, cosLat: cos}
	g := math.Min(shapeRange, rp/4)
	for ; g >= shapeMinG; g /= 2 {
		if f.modelBound(g, sin, mr, rp) {
			return f
		}
	}
	f.g = 0
	return f
}

// modelBound sets the coefficients of E for range g and reports whether
// the model holds there (E(g) <= g/10 and W g <= 1/2).
//
// Remainders, for |dlat| <= g/M_p (=: P) and |dlon| <= g/r_p (=: L), with
// D1 and D2 the first and second derivatives by latitude:
//
//	|w3_e| <= (|D1 M| + M)_max P^2 L/2 + r_max L^3/6
//	|w3_n| <= (|D2 M| + 2|D1 M| + M)_max P^3/6 + |sin lat_p| (M_max P L^2/2 + r_p L^4/24)
//
// from D2 r = -D1 M sin - M cos, D2 (M(lat_p+x) cos x) = D2 M cos x -
// 2 D1 M sin x - M cos x, |r(lat) - r_p| <= M_max |dlat|, and the Taylor
// remainders of sin and cos. M = C w^(-3/2) with w = 1 - e^2 sin^2 gives
// |D1 M| <= 1.5 e^2 M_max/(1-e^2) and |D2 M| <= (3 e^2 + 3.75 e^4/(1-e^2))
// M_max/(1-e^2) = 0.02036 M_max < 0.0205 M_max. The maxima of M are taken over the whole ellipsoid
// and r_max = r_p + M_max P.
func (f *frame) modelBound(g, sin, mr, rp float64) bool {
	if !(rp > 0) {
		return false
	}
	asin := math.Abs(sin)
	dm := 3 * shapeE2 * asin * f.cosLat * mr / (1 - shapeE2*sin*sin) // |D1 M| at p
	pp, ll := 1/mr, 1/rp                                             // per metre of g
	rmax := rp + shapeRadMax*g*pp
	a2 := (shapeCubeTie*asin/rp + dm/(mr*mr)) / 2
	a3 := (shapeDM+shapeRadMax)*pp*pp*ll/2 + rmax*ll*ll*ll/6 +
		(shapeDDM+2*shapeDM+shapeRadMax)*pp*pp*pp/6 +
		asin*(shapeRadMax*pp*ll*ll/2+rp*ll*ll*ll*ll*g/24)
	ww := asin/rp + dm/(2*mr*mr) + a3*g
	uu := shapeRadMax*pp*pp/2 + rmax*ll*ll/2
	smax := g * (shapeRadMax*pp + rmax*ll)
	gamma := 1 / (1 - shapeCurv*shapeCurv*smax*smax/24)
	grow := 1 + (ww+uu)*g
	e3 := a3 + ww*ww/2 + uu*uu + shapeCurv*shapeCurv*gamma*gamma*gamma*grow*grow*grow/24
	if !(ww*g <= 0.5 && (a2*g+e3*g*g) <= shapeMaxFrac && gamma > 0) {
		return false
	}
	// 1.001 covers the rounding of these formulas.
	f.g, f.a2, f.e3 = g, a2*1.001, e3*1.001
	return true
}

// bound returns E(x) plus round-off, for 0 <= x <= f.g.
func (f *frame) bound(x float64) float64 {
	return (f.a2+f.e3*x)*x*x + shapePad + shapeRelPad*x
}

// lower returns lb(x) = min(x, G) - E(min(x, G)).
func (f *frame) lower(x float64) float64 {
	x = math.Min(x, f.g)
	return x - f.bound(x)
}

// nearest returns the model distance g* from p to edge e and the fraction
// t* along it of the nearest point.
func (f *frame) nearest(e *edge) (g, t float64) {
	d2, t := f.nearest2(e)
	return math.Sqrt(d2), t
}

// nearest2 is nearest with the distance squared, for the hot loop.
func (f *frame) nearest2(e *edge) (d2, t float64) {
	dm := e.lonMid - f.p.Lon
	if dm >= 180 {
		dm -= 360
	} else if dm < -180 {
		dm += 360
	}
	x0 := (dm - e.halfExt) * f.kx
	dx := 2 * e.halfExt * f.kx
	y0 := (e.lat0 - f.p.Lat) * f.ky
	dy := (e.lat1 - e.lat0) * f.ky
	dot := -(x0*dx + y0*dy)
	if dot <= 0 {
		return x0*x0 + y0*y0, 0
	}
	l2 := dx*dx + dy*dy
	if dot >= l2 {
		x1, y1 := x0+dx, y0+dy
		return x1*x1 + y1*y1, 1
	}
	t = dot / l2
	x, y := x0+t*dx, y0+t*dy
	return x*x + y*y, t
}

// modelLength returns the model length of edge e in metres.
func (f *frame) modelLength(e *edge) float64 {
	return math.Hypot(2*e.halfExt*f.kx, (e.lat1-e.lat0)*f.ky)
}

// at returns the point a fraction t along edge e.
func (e *edge) at(t float64) Point {
	lat := e.lat0 + t*(e.lat1-e.lat0)
	lon := e.lonMid + (2*t-1)*e.halfExt
	// Keep within range against rounding at the ends.
	return Point{Lat: math.Min(math.Max(lat, -90), 90), Lon: math.Min(math.Max(lon, -180), 180)}
}

// SignedDistance returns the distance in metres from p to the shape's
// boundary, negative inside. For a circle it is Distance(center, p) - radius.
// For polygons it is an exact geodesic distance from p to a point of the
// boundary, and exceeds the true distance by at most a millimetre for p
// within 200 km of the boundary below latitude 88 (tested); farther away,
// or nearer a pole, it is found by a search that is accurate to well under
// 0.5 m in tests. It returns NaN for an invalid p.
func (s *Shape) SignedDistance(p Point) float64 {
	if !p.Valid() {
		return math.NaN()
	}
	if s.circle {
		return Distance(s.center, p) - s.radius
	}
	d := s.boundaryDistance(p)
	if s.inside(p) {
		return -d
	}
	return d
}

// ApproxSignedDistance returns a fast approximation of SignedDistance with
// an error bound: |SignedDistance(p) - D| <= Err. For a polygon shape the
// bound is tight for points within about 200 km of the boundary below
// latitude 88 (about 4 cm at 1 km in the Netherlands, growing with the
// square of the distance and the tangent of the latitude); farther away or
// nearer a pole it is a wide interval that still decides thresholds far
// from the distance. For a circle it is ApproxDistance's bound, which may
// be +Inf. The caller falls back to SignedDistance when the bound does not
// decide. No allocation. For an invalid p, D is NaN and Err is +Inf.
func (s *Shape) ApproxSignedDistance(p Point) Bounded {
	if !p.Valid() {
		return Bounded{D: math.NaN(), Err: math.Inf(1)}
	}
	if s.circle {
		b := ApproxDistance(s.center, p)
		// The subtraction rounds by at most an ulp of the larger operand.
		return Bounded{D: b.D - s.radius, Err: b.Err + 1e-15*(b.D+s.radius)}
	}
	f := newFrame(p)
	gmin := s.modelMin(&f)
	var b Bounded
	if f.g > 0 && gmin <= f.g {
		b = Bounded{D: gmin, Err: f.bound(gmin)}
	} else {
		// Beyond the model's reach (or no model, near a pole): at least
		// lb(G), and at least the meridian distance to the shape's
		// latitudes, which changes no faster than the distance travelled;
		// at most the length of a path to the nearest vertex.
		lo := shapeMeriMin * shapeDegRad * math.Max(0, math.Max(s.minLat-p.Lat, p.Lat-s.maxLat))
		if f.g > 0 {
			lo = math.Max(lo, f.lower(f.g))
		}
		lo *= 1 - 1e-12
		hi := math.Max(s.pathBound(&f), lo)
		b = Bounded{D: (lo + hi) / 2, Err: (hi-lo)/2 + shapePad + shapeRelPad*hi}
	}
	if s.inside(p) {
		b.D = -b.D
	}
	return b
}

// modelMin returns the least model distance g* over the edges.
func (s *Shape) modelMin(f *frame) float64 {
	min2 := math.Inf(1)
	for i := range s.edges {
		if d2, _ := f.nearest2(&s.edges[i]); d2 < min2 {
			min2 = d2
		}
	}
	return math.Sqrt(min2)
}

// pathBound returns an upper bound of the distance from f.p to the nearest
// vertex: the length of the path along p's parallel, then along the
// vertex's meridian, is at most (a^2/b) (|dlat| + cos(lat_p) |dlon|).
func (s *Shape) pathBound(f *frame) float64 {
	best := math.Inf(1)
	for i := range s.edges {
		e := &s.edges[i]
		dm := e.lonMid - e.halfExt - f.p.Lon
		dm = math.Abs(math.Mod(dm+540, 360) - 180)
		best = math.Min(best, math.Abs(e.lat0-f.p.Lat)+f.cosLat*dm)
	}
	return best * shapeDegRad * shapeRadMax * (1 + 1e-12)
}

// boundaryDistance returns the exact distance from p to the nearest point
// of the boundary of a polygon shape.
func (s *Shape) boundaryDistance(p Point) float64 {
	f := newFrame(p)
	if f.g == 0 {
		return s.searchDistance(p, &f)
	}
	gmin := s.modelMin(&f)
	if gmin > f.g {
		return s.searchDistance(p, &f)
	}
	// No edge whose lower bound exceeds this can hold the minimum.
	limit := gmin + f.bound(gmin)
	type cand struct {
		g, t float64
		e    *edge
	}
	var buf [8]cand
	cands := buf[:0]
	for i := range s.edges {
		e := &s.edges[i]
		if g, t := f.nearest(e); f.lower(g) <= limit {
			cands = append(cands, cand{g, t, e})
		}
	}
	slices.SortFunc(cands, func(a, b cand) int { return cmpFloat(a.g, b.g) })
	best := math.Inf(1)
	for _, c := range cands {
		if f.lower(c.g) > best {
			break
		}
		best = math.Min(best, edgeMinimum(p, &f, c.e, c.g, c.t, best))
	}
	return best
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// edgeMinimum returns the least exact distance it finds from p to edge e,
// whose model distance is g at fraction t; best is the least distance found
// on other edges.
func edgeMinimum(p Point, f *frame, e *edge, g, t, best float64) float64 {
	dist := func(t float64) float64 { return Distance(p, e.at(t)) }
	ft := dist(t)
	ub := math.Min(best, ft)
	// Where g(x) - E(g(x)) > ub the edge is farther than ub. As x - E(x)
	// increases and E(x) <= x/10, g(x) - E(g(x)) <= ub implies
	// g(x) <= ub + 2 E(ub). The model's distance grows away from t at
	// least as fast as sqrt(g^2 + (L dt)^2).
	gb := ub + 2*f.bound(math.Min(ub, f.g))
	l := f.modelLength(e)
	if gb <= g || l == 0 {
		return ft
	}
	lo, hi := 0.0, 1.0
	if gb <= f.g {
		half := math.Sqrt(gb*gb-g*g) / l
		lo, hi = math.Max(0, t-half), math.Min(1, t+half)
	}
	// A bracket short enough that the distance varies by under the target
	// accuracy across it needs no search: near a smooth minimum at
	// distance d, a step x changes the distance by at most x^2/(2d), and
	// it never changes by more than x.
	width := math.Max(shapeTolM, math.Sqrt(2*math.Max(g-f.bound(math.Min(g, f.g)), 0)*shapeTolM))
	if (hi-lo)*l <= width {
		return ft
	}
	_, fx := brentMin(dist, lo, hi, t, ft, width/(2*l))
	return math.Min(fx, ft)
}

// searchDistance finds the distance from p to the boundary where the model
// gives no bound (far from the shape, or near a pole): a 1-Lipschitz
// lower bound from the exact distances to the vertices prunes edges, and
// the rest are sampled and searched.
func (s *Shape) searchDistance(p Point, f *frame) float64 {
	best := math.Inf(1)
	type cand struct {
		lb float64
		e  *edge
	}
	cands := make([]cand, 0, len(s.edges))
	for i := range s.edges {
		e := &s.edges[i]
		d0, d1 := Distance(p, e.at(0)), Distance(p, e.at(1))
		best = math.Min(best, math.Min(d0, d1))
		// Every point of the edge is within half its length of a vertex.
		cands = append(cands, cand{(d0 + d1 - edgeLength(e)) / 2, e})
	}
	slices.SortFunc(cands, func(a, b cand) int { return cmpFloat(a.lb, b.lb) })
	for _, c := range cands {
		if c.lb >= best {
			break
		}
		best = math.Min(best, sampledMinimum(p, c.e, best))
	}
	return best
}

// edgeLength returns an upper bound of the length of edge e: at most M_max
// per radian of latitude and a^2/b cos(lat) per radian of longitude, lat
// the latitude nearest the equator on the edge.
func edgeLength(e *edge) float64 {
	lowest := 0.0
	if e.lat0*e.lat1 > 0 {
		lowest = math.Min(math.Abs(e.lat0), math.Abs(e.lat1))
	}
	dlat := (e.lat1 - e.lat0) * shapeDegRad
	dlon := 2 * e.halfExt * shapeDegRad * math.Cos(lowest*shapeDegRad)
	return shapeRadMax * math.Hypot(dlat, dlon) * (1 + 1e-12)
}

// sampledMinimum samples edge e and searches around the best sample.
func sampledMinimum(p Point, e *edge, best float64) float64 {
	const n = 32
	dist := func(t float64) float64 { return Distance(p, e.at(t)) }
	bi, bf := 0, math.Inf(1)
	for i := 0; i <= n; i++ {
		if d := dist(float64(i) / n); d < bf {
			bi, bf = i, d
		}
	}
	lo, hi := float64(max(bi-1, 0))/n, float64(min(bi+1, n))/n
	l := edgeLength(e)
	width := math.Max(shapeTolM, math.Sqrt(2*bf*shapeTolM))
	_, fx := brentMin(dist, lo, hi, float64(bi)/n, bf, width/(2*l))
	return math.Min(math.Min(fx, bf), best)
}

// brentMin minimises f on [a, b] by Brent's method (golden section with
// parabolic steps), starting from x with fx = f(x), until x is known to
// within tol; it returns the best point and value found.
func brentMin(f func(float64) float64, a, b, x, fx, tol float64) (float64, float64) {
	const golden = 0.3819660112501051 // (3 - sqrt 5)/2
	w, v, fw, fv := x, x, fx, fx
	var d, e float64
	for range 100 {
		m := (a + b) / 2
		tol1 := tol + 1e-15*math.Abs(x)
		tol2 := 2 * tol1
		if math.Abs(x-m) <= tol2-(b-a)/2 {
			break
		}
		parabolic := false
		if math.Abs(e) > tol1 {
			r := (x - w) * (fx - fv)
			q := (x - v) * (fx - fw)
			pp := (x-v)*q - (x-w)*r
			q = 2 * (q - r)
			if q > 0 {
				pp = -pp
			} else {
				q = -q
			}
			if math.Abs(pp) < math.Abs(q*e/2) && pp > q*(a-x) && pp < q*(b-x) {
				e, d = d, pp/q
				if u := x + d; u-a < tol2 || b-u < tol2 {
					d = math.Copysign(tol1, m-x)
				}
				parabolic = true
			}
		}
		if !parabolic {
			if x >= m {
				e = a - x
			} else {
				e = b - x
			}
			d = golden * e
		}
		u := x + d
		if math.Abs(d) < tol1 {
			u = x + math.Copysign(tol1, d)
		}
		fu := f(u)
		if fu <= fx {
			if u >= x {
				a = x
			} else {
				b = x
			}
			v, fv, w, fw, x, fx = w, fw, x, fx, u, fu
		} else {
			if u < x {
				a = u
			} else {
				b = u
			}
			if fu <= fw || w == x {
				v, fv, w, fw = w, fw, u, fu
			} else if fu <= fv || v == x || v == w {
				v, fv = u, fu
			}
		}
	}
	return x, fx
}
