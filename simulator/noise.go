package simulator

import (
	"math"
	"math/rand/v2"

	"github.com/proxmon/proxmon"
)

// A fix reports an accuracy: the radius holding the true position with
// 95 % probability. The simulator draws each fix's error from a circular
// normal distribution that matches its accuracy (95 % of the draws within
// it) and then keeps only draws inside it, so that the true position is
// always within the reported accuracy. Real receivers exceed their 95 %
// radius one fix in twenty; the simulator does not, because its ground
// truth must be exact: the engine's safety-first rules (DESIGN.md,
// "Accuracy") may then be checked against the true positions alone.

// Accuracies of good fixes, in metres at scale 1. goodMaxM bounds every
// fix of a device in an episode: twice the sum of two of them (48 m) stays
// under the default hysteresis of a contact ban (50 m), and twice one
// (24 m) under that of a zone (25 m), so a condition cannot flap while a
// scripted journey crosses its threshold.
const (
	goodMinM = 3.0
	goodMaxM = 12.0
)

// Accuracies of poor fixes (Wi-Fi and cell positioning), in metres at
// scale 1. Only devices far from every threshold send them.
const (
	wifiMinM = 20.0
	wifiMaxM = 60.0
	cellMinM = 100.0
	cellMaxM = 200.0
	poorMaxM = cellMaxM
)

// rayleigh95 is the radius, in standard deviations, that holds 95 % of a
// circular normal distribution: sqrt(-2 ln 0.05).
var rayleigh95 = math.Sqrt(-2 * math.Log(0.05))

// quality is the accuracy model of one device.
type quality struct {
	scale     float64
	poorShare float64 // share of poor fixes; 0 for devices in episodes
}

// draw returns one fix's accuracy, source and satellites.
func (q quality) draw(r *rand.Rand) (acc float64, src proxmon.Source, sats int) {
	if q.poorShare > 0 && r.Float64() < q.poorShare {
		if r.IntN(5) < 3 {
			return q.scale * (wifiMinM + (wifiMaxM-wifiMinM)*r.Float64()), proxmon.SourceWiFi, 0
		}
		return q.scale * (cellMinM + (cellMaxM-cellMinM)*r.Float64()), proxmon.SourceCell, 0
	}
	// Most good fixes are 3-6 m; fewer reach 12 m.
	u := r.Float64()
	return q.scale * (goodMinM + (goodMaxM-goodMinM)*u*u), proxmon.SourceGNSS, 6 + r.IntN(9)
}

// maxAccuracy returns the largest accuracy q draws.
func (q quality) maxAccuracy() float64 {
	if q.poorShare > 0 {
		return q.scale * poorMaxM
	}
	return q.scale * goodMaxM
}

// fixError returns a measurement error for a fix of accuracy acc: a
// displacement of at most 0.99 acc (the local plane's scale differs from
// the geodesic one by far less than 1 %).
func fixError(r *rand.Rand, acc float64) vec {
	sigma := acc / rayleigh95
	for {
		e := vec{r.NormFloat64() * sigma, r.NormFloat64() * sigma}
		if e.len() <= 0.99*acc {
			return e
		}
	}
}
