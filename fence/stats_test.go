package fence_test

import (
	"testing"

	"github.com/proxmon/proxmon/fence"
)

func TestStats(t *testing.T) {
	s := newScene(t, livenessCase)
	if got, want := s.e.Stats(), (fence.Stats{Tracked: 2}); got != want {
		t.Fatalf("at start: %+v, want %+v", got, want)
	}
	away := north(home, -20_000)
	s.fix("phone-1", 0, north(home, -10_000), 3)
	s.fix("tag-1", 0, away, 5)
	s.tick(90*sec + 1) // the tag's 3 x 30 s have passed, the phone's 3 x 60 s not
	if got, want := s.e.Stats(), (fence.Stats{Tracked: 2, SignalLost: 1}); got != want {
		t.Errorf("tag silent: %+v, want %+v", got, want)
	}
	s.status("tag-1", 100*sec, `"battery_pct":80`) // heard, but its position is stale
	s.tick(101 * sec)
	if got, want := s.e.Stats(), (fence.Stats{Tracked: 2, GPSLost: 1}); got != want {
		t.Errorf("tag heard without a position: %+v, want %+v", got, want)
	}
}
