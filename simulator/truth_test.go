package simulator_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/simulator"
)

// A value that falls from 1000 to 0 over 100 s, stays there 10 s and
// rises back over 100 s: an offender driving up to a protected person at
// 10 m/s and away.
func vee(t float64) float64 {
	switch {
	case t < 100:
		return 1000 - 10*t
	case t < 110:
		return 0
	default:
		return min(10*(t-110), 1000)
	}
}

func TestCrossingsWindows(t *testing.T) {
	const (
		level, hyst, band = 500.0, 50.0, 48.0
		interval, slack   = 30.0, 2.0
	)
	got, err := simulator.Crossings(vee, proxmon.ContactBreach, level, hyst, band, 0, 220, 0.01, interval, slack)
	if err != nil {
		t.Fatal(err)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 0.02 }
	want := []simulator.Crossing{
		// Opens not before the value is within the band (t = 45.2 s),
		// at the latest one interval after the true crossing (50 s).
		{proxmon.ContactBreach, proxmon.PhaseOpen, 45.2, 50, 50 + interval + slack},
		// Closes not before the value passes level + hysteresis (165 s),
		// at the latest one interval after it passes that and the band
		// (169.8 s).
		{proxmon.ContactBreach, proxmon.PhaseClose, 165, 165, 169.8 + interval + slack},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Type != w.Type || g.Phase != w.Phase || !near(g.From, w.From) || !near(g.Truth, w.Truth) || !near(g.Until, w.Until) {
			t.Errorf("crossing %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestCrossingsAmbiguous(t *testing.T) {
	tests := []struct {
		name  string
		value func(float64) float64
	}{
		// Into the band short of the level, and out again: the engine
		// may or may not open.
		{"grazes the band", func(t float64) float64 { return 520 + math.Abs(t-50) }},
		// Starts inside the band.
		{"starts in the band", func(t float64) float64 { return 530 + t }},
		// Opens, and the run ends before it closes.
		{"never leaves", func(t float64) float64 { return 1000 - 10*t }},
		// Leaves past level + hysteresis, then turns back before passing
		// the band beyond it: the engine may have closed, or not.
		{"turns back", func(t float64) float64 {
			if t < 50 {
				return 400
			}
			return 560 - math.Abs(t-60)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := simulator.Crossings(tt.value, proxmon.ContactBreach, 500, 50, 48, 0, 100, 0.01, 30, 2)
			if !errors.Is(err, simulator.ErrAmbiguous) {
				t.Errorf("err = %v, want ErrAmbiguous", err)
			}
		})
	}
}

func TestCrossingsClear(t *testing.T) {
	got, err := simulator.Crossings(func(t float64) float64 { return 600 + math.Sin(t) }, proxmon.ContactBreach, 500, 50, 48, 0, 100, 0.01, 30, 2)
	if err != nil || len(got) != 0 {
		t.Errorf("got %+v, %v; want nothing", got, err)
	}
}

func newSim(t *testing.T, o simulator.Options) *simulator.Simulator {
	t.Helper()
	o.Broker, o.Registrar = "tcp://127.0.0.1:1", simulator.NopRegistrar{}
	s, err := simulator.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBackgroundKeepsClear(t *testing.T) {
	hours := 2.0
	if testing.Short() {
		hours = 0.5
	}
	for _, scale := range []float64{1, 0.1} {
		s := newSim(t, simulator.Options{Cases: 30, Scale: scale, EpisodeShare: -1, PoorShare: 0.1})
		if err := s.BackgroundClear(time.Now(), hours, 5); err != nil {
			t.Errorf("scale %v: %v", scale, err)
		}
	}
}

func TestCaseFile(t *testing.T) {
	s := newSim(t, simulator.Options{Cases: 40, Prefix: "sim-test", EpisodeShare: 0.5})
	cf := s.CaseFile()
	if len(cf.Cases) != 40 || len(cf.Devices) != s.Devices() || len(cf.Devices) < 80 {
		t.Fatalf("%d cases, %d devices", len(cf.Cases), len(cf.Devices))
	}
	for _, c := range cf.Cases {
		if !c.Drill {
			t.Errorf("case %s is not a drill", c.ID)
		}
		if len(c.ContactBans) == 0 || len(c.Zones) == 0 {
			t.Errorf("case %s: %d contact bans, %d zones", c.ID, len(c.ContactBans), len(c.Zones))
		}
	}
	for _, d := range cf.Devices {
		if d.MQTTPasswordBcrypt == "" || d.ReportIntervalS == 0 {
			t.Errorf("device %s: no secret hash or no report interval", d.ID)
		}
	}
	if err := cf.Validate(); err != nil {
		t.Fatal(err)
	}
}

// Every kind of episode, laid out at full and at compressed scale, states
// the events it must raise.
func TestEpisodesStateTheirEvents(t *testing.T) {
	want := map[simulator.Kind][]proxmon.EventType{
		simulator.Approach:  {proxmon.ContactBreach, proxmon.ContactWarning},
		simulator.EnterZone: {proxmon.ZoneBreach, proxmon.ZoneApproach},
		simulator.Curfew:    {proxmon.CurfewBreach},
		simulator.Silent:    {proxmon.SignalLost},
		simulator.Strap:     {proxmon.Tamper},
		simulator.Battery:   {proxmon.BatteryLow},
		simulator.GPSJump:   {proxmon.GPSAnomaly},
		simulator.Jamming:   {proxmon.Jamming},
	}
	for _, scale := range []float64{1, 0.5, 0.05} {
		s := newSim(t, simulator.Options{Cases: 48, Scale: scale, EpisodeShare: 1, Seed: 7,
			TagInterval: 5 * time.Second, VictimInterval: 10 * time.Second})
		exps, err := s.PlanEpisodes(time.Now())
		if err != nil {
			t.Fatalf("scale %v: %v", scale, err)
		}
		if len(exps) < 40 {
			t.Errorf("scale %v: %d of 48 cases planned an episode", scale, len(exps))
		}
		for cs, es := range exps {
			kind := s.Kind(cs)
			types := map[proxmon.EventType][2]int{}
			for _, e := range es {
				if e.Optional {
					// A silent tag may show gps_lost first, a
					// late fix in a zone a late_zone_breach (see
					// episode.go); nothing else is optional.
					if !(kind == simulator.Silent && e.Type == proxmon.GPSLost || kind == simulator.EnterZone && e.Type == proxmon.LateZoneBreach) {
						t.Errorf("scale %v, %s: optional %+v", scale, kind, e)
					}
					continue
				}
				n := types[e.Type]
				if e.Phase == proxmon.PhaseOpen {
					n[0]++
				} else {
					n[1]++
				}
				types[e.Type] = n
				if !e.From.Before(e.Until) || e.Case != cs {
					t.Errorf("scale %v, %s: %+v", scale, kind, e)
				}
			}
			for _, typ := range want[kind] {
				if n := types[typ]; n[0] == 0 || n[0] != n[1] {
					t.Errorf("scale %v, %s (%s): %s opens %d, closes %d", scale, cs, kind, typ, n[0], n[1])
				}
			}
			if len(types) != len(want[kind]) {
				t.Errorf("scale %v, %s (%s): types %v, want %v", scale, cs, kind, types, want[kind])
			}
		}
	}
}
