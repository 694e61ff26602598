package simulator

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/proxmon/proxmon"
)

// Kind is a scripted episode: something a case's offender or his tag does
// that must raise stated events.
type Kind string

// Episode kinds.
const (
	// Approach: the offender drives up to a protected person until the
	// ban's alert distance is breached, waits, and drives away:
	// contact_warning and contact_breach open and close.
	Approach Kind = "approach"
	// EnterZone: the offender cycles or drives into the exclusion zone
	// round the protected person's home and leaves: zone_approach and
	// zone_breach open and close.
	EnterZone Kind = "enter_zone"
	// Curfew: during his curfew the offender leaves the inclusion zone
	// round his home and comes back: curfew_breach opens and closes.
	Curfew Kind = "curfew"
	// Silent: the tag sends nothing for a while: signal_lost opens at
	// the tick 3 report intervals after it was last heard, closes when it
	// is heard again.
	Silent Kind = "silent"
	// Strap: the strap is opened and closed again: tamper.
	Strap Kind = "strap"
	// Battery: the battery runs down below 20 % and is charged to 25 %
	// or more: battery_low.
	Battery Kind = "battery"
	// GPSJump: one fix lands kilometres away: gps_anomaly opens on it and
	// closes on the next.
	GPSJump Kind = "gps_jump"
	// Jamming: the tag reports GNSS jamming, then no more: jamming.
	Jamming Kind = "jamming"
)

// Kinds lists every episode kind.
var Kinds = []Kind{Approach, EnterZone, Curfew, Silent, Strap, Battery, GPSJump, Jamming}

// ParseKind returns the kind named s.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown episode kind %q", s)
}

// maxSilentCases bounds the cases that go silent: fewer than 10 tags
// silent at once can never make a network_outage (DESIGN.md: at least 10
// devices), which would cover their signal_lost instead.
const maxSilentCases = 5

// Zone ids of the simulated cases.
const (
	zoneHome      = "victim-home"
	zoneWorkplace = "workplace"
	zoneCurfew    = "curfew"
)

// simCase is one simulated case: its case definition, its devices and,
// for a case with episodes, where they happen.
type simCase struct {
	idx     int
	c       *proxmon.Case // in fleet.cf, validated
	kind    Kind          // "" for a case without episodes
	tag     *device
	victims []*device

	// Episode layout in the local plane.
	park  vec     // where the offender stays between episodes
	goal  vec     // where an episode's journey turns back
	mode  Mode    // of the episode's journeys
	away  vec     // a unit vector away from every protected person and zone
	jumpM float64 // length of a GPS jump

	rules []*truthRule

	// shard runs the case; set once it starts, read by its devices'
	// connections (commands).
	shard atomic.Pointer[shard]

	// Run state, owned by the case's shard.
	liveAt  float64 // when its devices started reporting
	nextEp  float64 // when its next episode starts; +Inf: none
	episode int     // episodes planned
}

// fleet is the generated world: the case file and its devices.
type fleet struct {
	cf      *proxmon.CaseFile
	cases   []*simCase
	byCase  map[string]*simCase
	devices map[string]*device
	// devIndex: a device's place in cf.Devices.
	devIndex map[string]int
}

// geometry holds the distances of a fleet at its scale.
type geometry struct {
	s       float64 // scale
	hC, hZ  float64 // hysteresis of contact bans and zones
	bandC   float64 // contact: twice the sum of two good accuracies
	bandZ   float64 // zone: twice one good accuracy
	poorC   float64 // the same for devices that send poor fixes
	poorZ   float64
	margin  float64
	rVictim float64 // radius of a protected person's day
	rChild  float64
	rOff    float64 // radius of an offender's day
}

func newGeometry(s float64) geometry {
	return geometry{
		s: s, hC: proxmon.DefaultContactHysteresis * s, hZ: proxmon.DefaultZoneHysteresis * s,
		bandC: 4 * goodMaxM * s, bandZ: 2 * goodMaxM * s,
		poorC: 4 * poorMaxM * s, poorZ: 2 * poorMaxM * s,
		margin: 100 * s, rVictim: 1500 * s, rChild: 600 * s, rOff: 1500 * s,
	}
}

// newFleet lays out o.Cases cases. Layouts and routines come from o.Seed;
// secrets from crypto/rand.
func newFleet(o *Options) (*fleet, error) {
	r := mrand.New(mrand.NewPCG(o.Seed, 0x70726f786d6f6e))
	g := newGeometry(o.Scale)
	f := &fleet{cf: &proxmon.CaseFile{}, byCase: map[string]*simCase{}, devices: map[string]*device{}, devIndex: map[string]int{}}
	fr := newFrame(o.Area.Center)
	nEp := max(int(math.Round(o.EpisodeShare*float64(o.Cases))), 0)
	if o.EpisodeShare > 0 && nEp == 0 {
		nEp = 1
	}
	kinds := episodeKinds(o.Kinds, nEp)
	for i := range o.Cases {
		cs := &simCase{idx: i}
		if i < len(kinds) {
			cs.kind = kinds[i]
		}
		c := proxmon.Case{ID: fmt.Sprintf("%s-c%05d", o.Prefix, i+1), Offender: fmt.Sprintf("%s-t%05d", o.Prefix, i+1), Drill: true}
		tag := &device{id: c.Offender, kind: proxmon.DeviceTag, cs: cs, interval: o.TagInterval}
		victims := []*device{{id: fmt.Sprintf("%s-v%05d", o.Prefix, i+1), kind: proxmon.DeviceVictim, cs: cs, interval: o.VictimInterval}}
		if r.Float64() < 0.4 {
			victims = append(victims, &device{id: fmt.Sprintf("%s-w%05d", o.Prefix, i+1), kind: proxmon.DeviceVictim, cs: cs, interval: o.VictimInterval})
		}
		alert, warn := 500.0, 1500.0
		switch x := r.Float64(); {
		case x < 0.4:
			c.Risk = proxmon.RiskHigh
		case x < 0.8:
			c.Risk, alert, warn = proxmon.RiskMedium, 300, 1000
		default:
			c.Risk, alert, warn = proxmon.RiskLow, 200, 800
		}
		alert, warn = alert*g.s, warn*g.s
		for _, v := range victims {
			b := proxmon.ContactBan{Protected: v.id, AlertM: alert, WarnM: warn, HysteresisM: g.hyst(g.hC)}
			c.ContactBans = append(c.ContactBans, b)
		}
		rHome := (150 + 100*r.Float64()) * g.s
		home := proxmon.Zone{ID: zoneHome, Kind: proxmon.ZoneExclusion, BufferM: 300 * g.s, HysteresisM: g.hyst(g.hZ)}
		var zones []proxmon.Zone
		if cs.kind == "" {
			zones = layBackground(r, &g, fr, o, cs, tag, victims, warn, home, rHome)
		} else {
			zones = layEpisode(r, &g, fr, o, cs, tag, victims, alert, warn, home, rHome)
		}
		c.Zones = zones
		f.cf.Cases = append(f.cf.Cases, c)
		for _, d := range append([]*device{tag}, victims...) {
			f.devIndex[d.id] = len(f.cf.Devices)
			f.cf.Devices = append(f.cf.Devices, proxmon.Device{ID: d.id, Kind: d.kind, ReportIntervalS: d.interval.Seconds()})
			f.devices[d.id] = d
		}
		cs.tag, cs.victims = tag, victims
		f.cases = append(f.cases, cs)
	}
	if err := f.cf.Validate(); err != nil {
		return nil, fmt.Errorf("simulator: generated case file: %w", err)
	}
	for i, cs := range f.cases {
		cs.c = &f.cf.Cases[i]
		f.byCase[cs.c.ID] = cs
		cs.rules = truthRules(cs, fr)
	}
	if err := f.secrets(o.BcryptCost); err != nil {
		return nil, err
	}
	return f, nil
}

// hyst returns an explicit hysteresis at a scale other than 1, nil (the
// default) at scale 1.
func (g *geometry) hyst(h float64) *float64 {
	if g.s == 1 {
		return nil
	}
	return &h
}

// episodeKinds assigns kinds to n cases in turn, with at most
// maxSilentCases silent ones.
func episodeKinds(kinds []Kind, n int) []Kind {
	out := make([]Kind, 0, n)
	silent := 0
	for i := 0; len(out) < n; i++ {
		k := kinds[i%len(kinds)]
		if k == Silent {
			if silent >= maxSilentCases {
				if len(kinds) == 1 {
					break
				}
				continue
			}
			silent++
		}
		out = append(out, k)
	}
	return out
}

// inArea returns a random point within share of the area's radius.
func inArea(r *mrand.Rand, o *Options, share float64) vec {
	return polar(o.Area.RadiusM*share*math.Sqrt(r.Float64()), 2*math.Pi*r.Float64())
}

func circle(fr frame, c vec, radius float64) *proxmon.Circle {
	p := fr.point(c)
	return &proxmon.Circle{Center: []float64{p.Lon, p.Lat}, RadiusM: radius}
}

// layBackground lays out a case whose people go about their days and
// never come near a threshold: the protected persons' days (home, work,
// shops; a child's home and school) lie in one disc, the offender's in
// another, and the discs are apart by the warning distance plus its
// hysteresis, twice the poorest accuracies of both and a margin. Every
// zone lies in the protected persons' disc, except the offender's curfew
// zone, which holds his whole disc with the same room to spare.
func layBackground(r *mrand.Rand, g *geometry, fr frame, o *Options, cs *simCase, tag *device, victims []*device,
	warn float64, home proxmon.Zone, rHome float64) []proxmon.Zone {
	cv := inArea(r, o, 0.6)
	hv := cv.add(polar(g.rVictim*0.5*math.Sqrt(r.Float64()), 2*math.Pi*r.Float64()))
	wv := cv.add(polar(g.rVictim*(0.3+0.5*r.Float64()), 2*math.Pi*r.Float64()))
	vPlaces := []vec{hv, wv}
	for range 2 {
		vPlaces = append(vPlaces, cv.add(polar(g.rVictim*0.9*math.Sqrt(r.Float64()), 2*math.Pi*r.Float64())))
	}
	victims[0].setRoutine(r, g, o, disc{cv, g.rVictim}, vPlaces)
	if len(victims) > 1 {
		school := hv.add(polar(g.rChild*0.7, 2*math.Pi*r.Float64()))
		victims[1].setRoutine(r, g, o, disc{hv, g.rChild}, []vec{hv, school})
	}
	region := g.rVictim*0.5 + g.rChild // every protected person's place is within this of cv
	sep := region + g.rOff + warn + g.hC + g.poorC + 2*g.margin
	co := cv.add(polar(sep, 2*math.Pi*r.Float64()))
	oPlaces := []vec{co.add(polar(g.rOff*0.3*math.Sqrt(r.Float64()), 2*math.Pi*r.Float64()))}
	for range 3 {
		oPlaces = append(oPlaces, co.add(polar(g.rOff*0.9*math.Sqrt(r.Float64()), 2*math.Pi*r.Float64())))
	}
	tag.setRoutine(r, g, o, disc{co, g.rOff}, oPlaces)

	home.Circle = circle(fr, hv, rHome)
	zones := []proxmon.Zone{home}
	// The protected person's workplace: a rotated rectangle.
	hw, hh, rot := (120+130*r.Float64())*g.s, (150+150*r.Float64())*g.s, math.Pi*r.Float64()
	ring := make([][]float64, 0, 5)
	for _, k := range [][2]float64{{-1, -1}, {1, -1}, {1, 1}, {-1, 1}, {-1, -1}} {
		p := fr.point(wv.add(vec{k[0] * hw, k[1] * hh}.rotate(rot)))
		ring = append(ring, []float64{p.Lon, p.Lat})
	}
	coords, _ := json.Marshal([][][]float64{ring})
	zones = append(zones, proxmon.Zone{ID: zoneWorkplace, Kind: proxmon.ZoneExclusion,
		Geometry: &proxmon.Geometry{Type: "Polygon", Coordinates: coords}, BufferM: 150 * g.s, HysteresisM: g.hyst(g.hZ)})
	if r.Float64() < 0.4 {
		zones = append(zones, proxmon.Zone{ID: zoneCurfew, Kind: proxmon.ZoneInclusion,
			Circle: circle(fr, co, g.rOff+g.hZ+g.poorZ+g.margin), HysteresisM: g.hyst(g.hZ),
			Schedule: &proxmon.Schedule{TZ: "Europe/Amsterdam", Windows: []proxmon.Window{
				{Days: allDays, Start: "22:00", End: "06:00"}}}})
	}
	return zones
}

var allDays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// layEpisode lays out a case with episodes. The protected persons stay at
// one place each; the offender stays at his park between episodes, clear
// of every threshold by its hysteresis, twice the accuracies and a margin,
// and an episode's journey goes from the park to its goal and back, across
// the thresholds of one rule only. Their devices send good fixes only.
func layEpisode(r *mrand.Rand, g *geometry, fr frame, o *Options, cs *simCase, tag *device, victims []*device,
	alert, warn float64, home proxmon.Zone, rHome float64) []proxmon.Zone {
	dir := polar(1, 2*math.Pi*r.Float64())
	clearC := warn + g.hC + g.bandC + g.margin // from a protected person
	clearZ := rHome + home.BufferM + g.hZ + g.bandZ + g.margin
	var x, hv vec // where the protected person is, her home
	zones := []proxmon.Zone{home}
	cs.mode = Drive
	switch cs.kind {
	case Approach:
		// She is out (at work, in a café); he comes to her.
		x = inArea(r, o, 0.6)
		cs.park = x.add(dir.scale(clearC))
		cs.goal = x.add(dir.rotate(0.3 * (r.Float64() - 0.5)).scale(alert * 0.5))
		hv = x.sub(dir.scale(clearC + 2000*g.s))
		cs.away = dir
	case EnterZone:
		// She is out; he goes into the zone round her home.
		hv = inArea(r, o, 0.6)
		x = hv.sub(dir.scale(clearC + clearZ + 1000*g.s))
		cs.park = hv.add(dir.scale(clearZ))
		cs.goal = hv.add(dir.rotate(0.6 * (r.Float64() - 0.5)).scale(rHome * 0.4))
		cs.away = dir
		if r.IntN(2) == 0 {
			cs.mode = Cycle
		}
	case Curfew:
		// She is at home; he leaves the zone round his own.
		rInc := 400 * g.s
		oh := inArea(r, o, 0.6)
		x = oh.sub(dir.scale(clearC + rInc + 1000*g.s))
		hv = x
		cs.park = oh
		cs.goal = oh.add(dir.scale(rInc + g.hZ + g.bandZ + g.margin))
		cs.mode = Cycle
		cs.away = dir
		zones = append(zones, proxmon.Zone{ID: zoneCurfew, Kind: proxmon.ZoneInclusion,
			Circle: circle(fr, oh, rInc), HysteresisM: g.hyst(g.hZ), Schedule: runCurfew(o.start)})
	default:
		// Device episodes: she is at home, he is well away.
		x = inArea(r, o, 0.6)
		hv = x
		cs.park = x.add(dir.scale(clearC + 1000*g.s))
		cs.away = dir
		cs.jumpM = max(20_000*g.s, 200*o.TagInterval.Seconds())
	}
	home.Circle = circle(fr, hv, rHome)
	zones[0] = home
	// A second protected person (a child) is with the first.
	victims[0].setParked(r, g, x)
	if len(victims) > 1 {
		victims[1].setParked(r, g, x.add(polar(30*g.s, 2*math.Pi*r.Float64())))
	}
	tag.setParked(r, g, cs.park)
	cs.nextEp = math.Inf(1)
	return zones
}

// runCurfew returns a curfew schedule that is active during the run: every
// day, from the hour before start for twelve hours (local time).
func runCurfew(start time.Time) *proxmon.Schedule {
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		loc = time.UTC
	}
	from := start.In(loc).Add(-time.Hour).Truncate(time.Hour)
	tz := "Europe/Amsterdam"
	if loc == time.UTC {
		tz = "UTC"
	}
	return &proxmon.Schedule{TZ: tz, Windows: []proxmon.Window{{Days: allDays,
		Start: from.Format("15:04"), End: from.Add(12 * time.Hour).Format("15:04")}}}
}

// secrets gives every device a random secret and its bcrypt hash at cost,
// hashing on every CPU.
func (f *fleet) secrets(cost int) error {
	devs := make([]*device, 0, len(f.devices))
	for i := range f.cf.Devices {
		devs = append(devs, f.devices[f.cf.Devices[i].ID])
	}
	var (
		wg   sync.WaitGroup
		errs = make(chan error, runtime.GOMAXPROCS(0))
		next = make(chan int)
	)
	for range cap(errs) {
		wg.Go(func() {
			for i := range next {
				b := make([]byte, 24)
				_, _ = rand.Read(b) // crypto/rand.Read never fails
				devs[i].secret = base64.RawURLEncoding.EncodeToString(b)
				h, err := bcrypt.GenerateFromPassword([]byte(devs[i].secret), cost)
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					continue
				}
				f.cf.Devices[i].MQTTPasswordBcrypt = string(h)
			}
		})
	}
	for i := range devs {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return fmt.Errorf("simulator: hash secrets: %w", err)
	default:
		return nil
	}
}
