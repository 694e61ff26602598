package simulator_test

import (
	"math"
	"testing"

	"github.com/proxmon/proxmon/geo"
	"github.com/proxmon/proxmon/simulator"
)

// speedsWithin checks a track against a speed limit two ways: the speed
// the track reports, and the geodesic distance between samples over their
// time apart.
func speedsWithin(t *testing.T, name string, track []simulator.Sample, limit float64) {
	t.Helper()
	// The local plane's scale differs from the geodesic one by far less
	// than 0.1 % within the area.
	const tol = 1.001
	for i, s := range track {
		if s.Speed > limit*tol {
			t.Fatalf("%s: speed %.2f m/s at %.1f s, limit %.1f", name, s.Speed, s.T, limit)
		}
		if i == 0 {
			continue
		}
		prev := track[i-1]
		if v := geo.Distance(prev.P, s.P) / (s.T - prev.T); v > limit*tol {
			t.Fatalf("%s: moved at %.2f m/s between %.1f and %.1f s, limit %.1f", name, v, prev.T, s.T, limit)
		}
	}
}

func TestJourneySpeedLimits(t *testing.T) {
	tests := []struct {
		mode       simulator.Mode
		dist, bend float64
		peak       float64
	}{
		{simulator.Walk, 800, 0.2, 1.9},
		{simulator.Walk, 50, -0.2, 5}, // a peak above the mode's limit is capped
		{simulator.Cycle, 3000, 0.1, 7.5},
		{simulator.Cycle, 1000, -0.25, 8},
		{simulator.Drive, 10_000, 0.05, 21},
		{simulator.Drive, 400, 0.25, 40},
	}
	for _, tt := range tests {
		name := tt.mode.String()
		track := simulator.JourneyTrack(tt.mode, tt.dist, tt.bend, tt.peak, 0.05)
		speedsWithin(t, name, track, min(tt.peak, tt.mode.MaxSpeed()))
		// A journey starts and ends at rest, at its ends.
		first, last := track[0], track[len(track)-1]
		if first.Speed != 0 || last.Speed > 0.05*tt.mode.MaxSpeed() {
			t.Errorf("%s: starts at %.2f m/s, ends at %.2f m/s; want at rest", name, first.Speed, last.Speed)
		}
		if d := geo.Distance(first.P, last.P); math.Abs(d-tt.dist) > tt.dist*0.01+1 {
			t.Errorf("%s: covers %.0f m, want %.0f", name, d, tt.dist)
		}
		// Smooth: no jump in speed between samples 50 ms apart beyond
		// what a car's acceleration allows (well under 1 g).
		for i := 1; i < len(track); i++ {
			if a := math.Abs(track[i].Speed-track[i-1].Speed) / 0.05; a > 9.81 {
				t.Fatalf("%s: accelerates at %.1f m/s² at %.1f s", name, a, track[i].T)
			}
		}
	}
}

func TestRoutineStaysInItsDiscAtItsSpeeds(t *testing.T) {
	const radius = 1500
	centre := simulator.Rotterdam.Center
	for seed := range uint64(5) {
		track := simulator.RoutineTrack(seed, radius, 6, 1)
		speedsWithin(t, "routine", track, simulator.Drive.MaxSpeed())
		moving, still := 0, 0
		for _, s := range track {
			if d := geo.Distance(centre, s.P); d > radius*1.001 {
				t.Fatalf("seed %d: %.0f m from the centre at %.0f s, disc of %d m", seed, d, s.T, radius)
			}
			if s.Speed > 0 {
				moving++
			} else {
				still++
			}
		}
		// People stop (at home, at work) and go.
		if moving < len(track)/20 || still < len(track)/5 {
			t.Errorf("seed %d: moving %d s, still %d s of %d", seed, moving, still, len(track))
		}
	}
}

func TestFixErrorsWithinAccuracy(t *testing.T) {
	centre := simulator.Rotterdam.Center
	for _, acc := range []float64{0.5, 5, 12, 200} {
		pts := simulator.FixErrors(uint64(acc*10), 20_000, acc)
		inner := 0
		for _, p := range pts {
			d := geo.Distance(centre, p)
			if d > acc {
				t.Fatalf("accuracy %v m: error of %.3f m", acc, d)
			}
			if d <= acc/2 {
				inner++
			}
		}
		// A circular normal error whose 95 % radius is acc has about
		// 53 % of its draws within acc/2: the noise matches the accuracy
		// rather than being a token jitter.
		if share := float64(inner) / float64(len(pts)); share < 0.48 || share > 0.6 {
			t.Errorf("accuracy %v m: %.2f of the errors within half of it, want about 0.53", acc, share)
		}
	}
}

func TestAccuracies(t *testing.T) {
	good := simulator.Accuracies(1, 10_000, 1, 0)
	for _, a := range good {
		if a < 3 || a > simulator.MaxGoodAccuracy {
			t.Fatalf("good fix accuracy %v m, want 3-%v", a, simulator.MaxGoodAccuracy)
		}
	}
	poor := 0
	for _, a := range simulator.Accuracies(2, 10_000, 1, 0.05) {
		if a > simulator.MaxGoodAccuracy {
			poor++
		}
	}
	if poor < 400 || poor > 600 {
		t.Errorf("%d poor fixes of 10,000 at a share of 5 %%", poor)
	}
	for _, a := range simulator.Accuracies(3, 1000, 0.1, 0) {
		if a > simulator.MaxGoodAccuracy*0.1 {
			t.Fatalf("accuracy %v m at scale 0.1", a)
		}
	}
}
