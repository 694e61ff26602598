package geo

// API outline; the implementation replaces this file.

// Distance returns the WGS84 geodesic distance in metres between p and q.
func Distance(p, q Point) float64 { panic("unimplemented") }

// ApproxDistance returns a fast approximation of Distance with a proven
// error bound.
func ApproxDistance(p, q Point) Bounded { panic("unimplemented") }
