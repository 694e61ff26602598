package track_test

import (
	"testing"
	"time"

	"github.com/proxmon/proxmon/geo"
	"github.com/proxmon/proxmon/stream"
	"github.com/proxmon/proxmon/track"
)

func TestNear(t *testing.T) {
	js := MustJetStream(t, stream.Config{})
	t0 := base()
	MustAppend(t, js,
		fix("tag-1", 1, t0, 1000),
		fix("tag-1", 2, t0.Add(time.Minute), 150), // closest of tag-1
		fix("tag-1", 3, t0.Add(2*time.Minute), 180),
		fix("tag-2", 1, t0.Add(time.Minute), 5000),             // never within
		fix("tag-3", 1, t0.Add(-time.Hour), 0),                 // before the period
		fix("tag-4", 1, t0.Add(90*time.Second), -120),          // closest of all
		fix("tag-5", 1, t0.Add(30*time.Minute+time.Second), 0), // after the period
	)
	q := track.NearQuery{At: geo.Point{Lat: 51.92, Lon: 4.47}, RadiusM: 200, From: t0, To: t0.Add(30 * time.Minute)}
	got, err := track.Near(t.Context(), stream.NewArchive(js), q)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Device != "tag-4" || got[1].Device != "tag-1" {
		t.Fatalf("passes %+v, want tag-4 then tag-1", got)
	}
	if p := got[1]; p.Closest.Seq != 2 || p.Fixes != 2 || p.DistanceM < 149 || p.DistanceM > 151 || !p.Closest.Time.Equal(t0.Add(time.Minute)) {
		t.Errorf("tag-1's pass %+v, want its fix 2 at ~150 m, 2 fixes within", p)
	}
}
