package simulator

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/geo"
)

// NopRegistrar registers nothing, for tests without a service.
type NopRegistrar struct{}

func (NopRegistrar) Register(context.Context, *proxmon.CaseFile) error { return nil }
func (NopRegistrar) Unregister(context.Context, []string) error        { return nil }

// PlanEpisodes plans the first episode of every case with episodes, as if
// the run had started at epoch, records the expectations and returns them
// by case.
func (s *Simulator) PlanEpisodes(epoch time.Time) (map[string][]*Expectation, error) {
	s.epoch = epoch
	sh := newShard(s)
	out := map[string][]*Expectation{}
	for _, cs := range s.fleet.cases {
		if cs.kind == "" {
			continue
		}
		ep, err := sh.build(cs, 10)
		if err != nil {
			return nil, err
		}
		if ep != nil {
			out[cs.c.ID] = ep.exps
			for _, e := range ep.exps {
				s.ledger.expect(e)
			}
		}
	}
	return out, nil
}

// Kind returns the episode kind of a case, "" for background.
func (s *Simulator) Kind(caseID string) Kind { return s.fleet.byCase[caseID].kind }

// Sample is a point of a track: the true position and the speed the track
// reports there, at T seconds.
type Sample struct {
	T     float64
	P     geo.Point
	Speed float64
}

// JourneyTrack samples a journey of dist metres in mode every step
// seconds, round Rotterdam.
func JourneyTrack(mode Mode, dist, bend, peak, step float64) []Sample {
	fr := newFrame(Rotterdam.Center)
	l := journey(0, vec{}, polar(dist, 0.7), mode, bend, peak)
	var out []Sample
	for t := 0.0; t <= l.t1; t += step {
		p, v := l.at(t)
		out = append(out, Sample{t, fr.point(p), v.len()})
	}
	return out
}

// RoutineTrack samples a day of a background person's routine in a disc of
// radius metres round Rotterdam's centre, every step seconds.
func RoutineTrack(seed uint64, radius, hours, step float64) []Sample {
	fr := newFrame(Rotterdam.Center)
	r := rand.New(rand.NewPCG(seed, 1))
	places := []vec{}
	for range 5 {
		places = append(places, polar(radius*0.9*math.Sqrt(r.Float64()), 2*math.Pi*r.Float64()))
	}
	rt := &routine{r: r, area: disc{r: radius}, places: places, stayMin: 60, stayMax: 600}
	p := path{plan: rt.plan}
	var out []Sample
	for t := 0.0; t <= hours*3600; t += step {
		q, v := p.at(t)
		p.trim(t - 60)
		out = append(out, Sample{t, fr.point(q), v.len()})
	}
	return out
}

// FixErrors returns n measured positions of fixes of accuracy acc round
// Rotterdam's centre.
func FixErrors(seed uint64, n int, acc float64) []geo.Point {
	fr := newFrame(Rotterdam.Center)
	r := rand.New(rand.NewPCG(seed, 2))
	out := make([]geo.Point, n)
	for i := range out {
		out[i] = fr.point(fixError(r, acc))
	}
	return out
}

// Accuracies draws n accuracies of a device's fixes.
func Accuracies(seed uint64, n int, scale, poorShare float64) []float64 {
	q := quality{scale: scale, poorShare: poorShare}
	r := rand.New(rand.NewPCG(seed, 3))
	out := make([]float64, n)
	for i := range out {
		out[i], _, _ = q.draw(r)
	}
	return out
}

// MaxGoodAccuracy is the largest accuracy of a good fix at scale 1.
const MaxGoodAccuracy = goodMaxM

// Crossing is what Crossings returns.
type Crossing struct {
	Type               proxmon.EventType
	Phase              proxmon.Phase
	From, Truth, Until float64
}

// Crossings runs the ground truth of one threshold rule on value.
func Crossings(value func(float64) float64, typ proxmon.EventType, level, hyst, band, t0, t1, dt, interval, slack float64) ([]Crossing, error) {
	tr := &truthRule{rule: "test", levels: []truthLevel{{typ, level}}, hyst: hyst, band: band, value: value}
	cs, err := tr.crossings(t0, t1, dt, interval, slack)
	out := make([]Crossing, len(cs))
	for i, c := range cs {
		out[i] = Crossing{c.typ, c.phase, c.from, c.truth, c.till}
	}
	return out, err
}

// ErrAmbiguous is errAmbiguous.
var ErrAmbiguous = errAmbiguous

// BackgroundClear samples every rule of every case without episodes over
// hours from the epoch, every dt seconds, and returns the first threshold
// it comes near (within the level plus its band).
func (s *Simulator) BackgroundClear(epoch time.Time, hours, dt float64) error {
	s.epoch = epoch
	for _, cs := range s.fleet.cases {
		if cs.kind != "" {
			continue
		}
		for _, r := range cs.rules {
			for t := 0.0; t <= hours*3600; t += dt {
				x := r.value(t)
				for _, lv := range r.levels {
					if x <= lv.level+r.band {
						return fmt.Errorf("case %s %s %s: %.1f at %.0f s, level %.1f, band %.1f", cs.c.ID, r.rule, lv.typ, x, t, lv.level, r.band)
					}
				}
			}
		}
	}
	return nil
}

// PercentilesOf is percentiles.
func PercentilesOf(xs []float64) Percentiles { return percentiles(xs) }

// HistogramOf returns the percentiles of ds as the histogram keeps them.
func HistogramOf(ds []time.Duration) Percentiles {
	var h histogram
	for _, d := range ds {
		h.add(d)
	}
	return h.percentiles()
}
