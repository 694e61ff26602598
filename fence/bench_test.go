//go:build unix

package fence_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/fence"
	"github.com/proxmon/proxmon/geo"
)

// The engine benchmarks replay a synthetic national load: half the devices
// are ankle tags, half victims' devices, one case per tag with one contact
// ban, a circle exclusion zone round the victim's home and a polygon zone,
// all over the land of the Netherlands.
//
// Every device travels a smooth closed loop a whole number of times per
// round of benchRound seconds, and its report interval divides the round, so
// the fixes of one round, generated once and kept in log order, replay round
// after round with times shifted forward: positions continue without a jump
// and the engine stays in its steady state (no GPS anomalies, no signal
// loss). The pool is kept compact and each fix is copied into one reused
// Record before Apply, as a consumer decoding the log would. Ticks and
// heartbeats are interleaved once per second of log time.
//
// Most offenders live far from their victims and zones; about 1 % of the
// cases are laid out so that the offender's loop crosses the thresholds, and
// events open and close every round.

const (
	benchRound    = 1800 // seconds of log time per replayed round
	benchWarm     = 90   // seconds replayed before measuring: every device has reported
	benchNear     = 0.01 // share of cases whose offender passes near the thresholds
	benchSeqStart = 1 << 20
	mPerDegLat    = 111_320.0 // metres per degree of latitude, for laying out; the engine measures exactly
)

var benchSizes = []int{1_000, 10_000, 100_000}

// benchEpoch is the start of the replay: a Monday 06:45 in Amsterdam. The
// weekday schedules switch on at 07:00, some 3.4 million fixes into the
// 100,000-device replay: a run that long includes the burst.
var benchEpoch = time.Date(2026, 3, 2, 5, 45, 0, 0, time.UTC)

// Report intervals in seconds; each divides benchRound.
var (
	benchTagIntervals    = []int{10, 12, 15, 20, 24, 25, 30}
	benchVictimIntervals = []int{30, 36, 40, 45, 50, 60}
)

// benchLand are boxes over the land of the Netherlands (lat, lon), weighted
// by their size when a home is placed.
var benchLand = [...]struct{ lat0, lon0, lat1, lon1 float64 }{
	{51.35, 4.30, 51.75, 6.00}, // Brabant
	{51.30, 3.60, 51.60, 4.20}, // Zeeland
	{51.75, 4.20, 52.45, 6.00}, // Randstad, Utrecht, Gelderland
	{51.80, 6.00, 52.60, 7.00}, // Achterhoek, Twente
	{52.45, 4.60, 52.95, 5.10}, // Noord-Holland
	{52.30, 5.10, 52.65, 5.90}, // Flevoland
	{52.65, 5.40, 53.35, 7.00}, // Friesland, Groningen, Drenthe
}

// benchFix is one fix of the pool, relative to the start of its round.
type benchFix struct {
	rcv      int64 // log time, ns after the round's start, in [0, round)
	lat, lon float64
	dev      uint32
	seq      int32   // index in the device's round; negative for the previous round's last fix that arrives in this one
	delayMs  int32   // from GPS time to log time
	acc      float32 // 0: none reported
}

// benchFleet is the generated load: the case file (never validated: each
// engine gets a copy) and one round of fixes in log order.
type benchFleet struct {
	cf   *proxmon.CaseFile
	devs []benchDevice
	pool []benchFix
}

// caseFile returns a copy of the fleet's case file to validate, so that
// every engine, and the memory it is measured by, starts from the same
// unvalidated file. Validate writes into zones and schedules only.
func (f *benchFleet) caseFile() *proxmon.CaseFile {
	cf := &proxmon.CaseFile{Devices: f.cf.Devices, Cases: slices.Clone(f.cf.Cases)}
	for i := range cf.Cases {
		c := &cf.Cases[i]
		c.Zones = slices.Clone(c.Zones)
		for j := range c.Zones {
			if s := c.Zones[j].Schedule; s != nil {
				sc := *s
				c.Zones[j].Schedule = &sc
			}
		}
	}
	return cf
}

type benchDevice struct {
	id       string
	perRound int64 // fixes per round
}

// benchFleets keeps the fleets generated, by size, so that the benchmarks
// and their -count repetitions generate each fleet once.
var benchFleets = map[int]*benchFleet{}

// fleetOf returns the fleet of n devices, generating it on first use.
func fleetOf(tb testing.TB, n int) *benchFleet {
	tb.Helper()
	if f := benchFleets[n]; f != nil {
		return f
	}
	f := newBenchFleet(n)
	benchFleets[n] = f
	return f
}

// benchPath is a closed, smooth loop: an ellipse bent by a second harmonic,
// travelled laps times per round at a speed that varies along the way.
type benchPath struct {
	lat, lon   float64 // centre
	ax, ay     float64 // semi-axes, metres
	sinR, cosR float64 // rotation of the axes
	h2, phi    float64 // second harmonic, relative to the axes
	laps       float64
	warp       float64 // stop and go; below laps so the device never turns back
	start      float64 // position at the round's start, in laps
	ext        float64 // no point of the loop is farther from the centre (noise included)
}

// at returns the point reached after frac of a round, in metres east and
// north of the centre.
func (p *benchPath) at(frac float64) (east, north float64) {
	const m = 3 // speed cycles per round
	th := 2 * math.Pi * (p.laps*frac + p.start + p.warp*math.Sin(2*math.Pi*m*frac)/(2*math.Pi*m))
	x := p.ax * (math.Cos(th) + p.h2*math.Cos(2*th+p.phi))
	y := p.ay * (math.Sin(th) + p.h2*math.Sin(2*th+p.phi))
	return x*p.cosR - y*p.sinR, x*p.sinR + y*p.cosR
}

// randomPath returns a loop round (lat, lon): a device at rest (its GPS
// noise aside), walking, cycling or driving. A moving device always moves.
func randomPath(r *rand.Rand, lat, lon float64, moving bool) benchPath {
	p := benchPath{lat: lat, lon: lon, ext: 60}
	mode := r.Float64()
	if moving {
		mode = 0.3 + 0.7*mode
	}
	var v float64 // mean speed, m/s
	switch {
	case mode < 0.3:
		return p
	case mode < 0.6:
		v, p.laps = 1.1+0.6*r.Float64(), 1
	case mode < 0.8:
		v, p.laps = 3.5+2.5*r.Float64(), 1
	default:
		v, p.laps = 8+8*r.Float64(), 2
	}
	rad := v * benchRound / (2 * math.Pi * p.laps)
	e := 0.3 * r.Float64()
	p.ax, p.ay = rad*(1+e), rad*(1-e)
	rot := 2 * math.Pi * r.Float64()
	p.sinR, p.cosR = math.Sincos(rot)
	p.h2, p.phi = 0.15*r.Float64(), 2*math.Pi*r.Float64()
	p.warp = 0.5 * p.laps * r.Float64()
	p.start = r.Float64()
	p.ext = p.ax*(1+p.h2) + 60
	return p
}

// landPoint returns a random point over land.
func landPoint(r *rand.Rand) (lat, lon float64) {
	total := 0.0
	for _, b := range benchLand {
		total += (b.lat1 - b.lat0) * (b.lon1 - b.lon0)
	}
	x := r.Float64() * total
	for _, b := range benchLand {
		w := (b.lat1 - b.lat0) * (b.lon1 - b.lon0)
		if x < w || b == benchLand[len(benchLand)-1] {
			return b.lat0 + (b.lat1-b.lat0)*r.Float64(), b.lon0 + (b.lon1-b.lon0)*r.Float64()
		}
		x -= w
	}
	panic("unreachable")
}

// offset returns the point east and north metres from (lat, lon).
func offset(lat, lon, east, north float64) (float64, float64) {
	return lat + north/mPerDegLat, lon + east/(mPerDegLat*math.Cos(lat*math.Pi/180))
}

// bearing returns the point dist metres from (lat, lon) in direction th
// (radians, counter-clockwise from east).
func bearing(lat, lon, dist, th float64) (float64, float64) {
	return offset(lat, lon, dist*math.Cos(th), dist*math.Sin(th))
}

func metresBetween(lat0, lon0, lat1, lon1 float64) float64 {
	return geo.Distance(geo.Point{Lat: lat0, Lon: lon0}, geo.Point{Lat: lat1, Lon: lon1})
}

// starPolygon returns the coordinates of a GeoJSON Polygon of 8-20 vertices
// between rmin and rmax metres of (lat, lon). Vertices go round in order of
// angle, at most 72 degrees apart, so the ring is simple and every edge
// stays farther than 0.8 rmin from the centre.
func starPolygon(r *rand.Rand, lat, lon, rmin, rmax float64) json.RawMessage {
	n := 8 + r.IntN(13)
	rot := 2 * math.Pi * r.Float64()
	b := make([]byte, 0, 32*(n+1)+8)
	b = append(b, "[["...)
	var first []byte
	for k := 0; k < n; k++ {
		th := rot + 2*math.Pi*(float64(k)+0.5+0.6*(r.Float64()-0.5))/float64(n)
		plat, plon := bearing(lat, lon, rmin+(rmax-rmin)*r.Float64(), th)
		at := len(b)
		b = append(b, '[')
		b = strconv.AppendFloat(b, plon, 'f', 7, 64)
		b = append(b, ',')
		b = strconv.AppendFloat(b, plat, 'f', 7, 64)
		b = append(b, "],"...)
		if k == 0 {
			first = b[at : len(b)-1]
		}
	}
	b = append(b, first...)
	return append(b, "]]"...)
}

// benchSchedule returns a schedule in force through 2026: weekdays 07:00 to
// 19:00 for an exclusion zone (her work), nights for an inclusion zone (his
// curfew).
func benchSchedule(inclusion bool) *proxmon.Schedule {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	until := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	w := proxmon.Window{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "07:00", End: "19:00"}
	if inclusion {
		w = proxmon.Window{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, Start: "22:00", End: "07:00"}
	}
	return &proxmon.Schedule{From: &from, Until: &until, TZ: "Europe/Amsterdam", Windows: []proxmon.Window{w}}
}

// newBenchFleet generates n devices (n/2 cases) and one round of their fixes.
func newBenchFleet(n int) *benchFleet {
	r := rand.New(rand.NewPCG(20260302, uint64(n)))
	nCases := n / 2
	f := &benchFleet{cf: &proxmon.CaseFile{}, devs: make([]benchDevice, 0, n)}
	paths := make([]benchPath, 0, n)
	intervals := make([]int, 0, n)
	risks := [...]proxmon.Risk{proxmon.RiskLow, proxmon.RiskMedium, proxmon.RiskHigh}
	for i := range nCases {
		tag, victim := fmt.Sprintf("tag-%06d", i), fmt.Sprintf("phone-%06d", i)
		near := r.Float64() < benchNear

		vLat, vLon := landPoint(r)
		vPath := randomPath(r, vLat, vLon, false)
		alert := 200 + 800*r.Float64()
		warn := alert + 500 + 1500*r.Float64()
		home := proxmon.Zone{ID: "victim-home", Kind: proxmon.ZoneExclusion,
			Circle:  &proxmon.Circle{Center: []float64{vLon, vLat}, RadiusM: 100 + 300*r.Float64()},
			BufferM: 300 + 700*r.Float64()}
		area := proxmon.Zone{ID: "area", Kind: proxmon.ZoneExclusion, BufferM: 500 * r.Float64()}
		if r.Float64() < 0.4 {
			area.Kind, area.BufferM = proxmon.ZoneInclusion, 0
		}
		if r.Float64() < 0.3 {
			area.Schedule = benchSchedule(area.Kind == proxmon.ZoneInclusion)
		}

		var oPath benchPath
		var aLat, aLon, aMin, aMax float64 // the area polygon
		if near {
			// His loop passes the victim's home within a few hundred
			// metres, and crosses the edge of the area.
			oPath = randomPath(r, 0, 0, true)
			mean := (oPath.ax + oPath.ay) / 2
			oPath.lat, oPath.lon = bearing(vLat, vLon, mean-600+2100*r.Float64(), 2*math.Pi*r.Float64())
			if area.Kind == proxmon.ZoneInclusion {
				aLat, aLon, aMin = oPath.lat, oPath.lon, oPath.ay*(0.7+0.2*r.Float64())
				aMax = aMin * (1 + 0.4*r.Float64())
			} else {
				aLat, aLon = bearing(oPath.lat, oPath.lon, mean, 2*math.Pi*r.Float64())
				aMin = 200 + 400*r.Float64()
				aMax = aMin * (1.2 + 0.6*r.Float64())
			}
		} else {
			// Her work lies a few kilometres from her home; he lives far
			// from both, and his curfew area holds all his movements.
			wLat, wLon := bearing(vLat, vLon, 1000+4000*r.Float64(), 2*math.Pi*r.Float64())
			wMin := 200 + 800*r.Float64()
			wMax := wMin * (1.2 + 0.6*r.Float64())
			for {
				oLat, oLon := landPoint(r)
				oPath = randomPath(r, oLat, oLon, false)
				if metresBetween(oLat, oLon, vLat, vLon) > oPath.ext+vPath.ext+warn+home.Circle.RadiusM+home.BufferM+3000 &&
					metresBetween(oLat, oLon, wLat, wLon) > oPath.ext+wMax+area.BufferM+2000 {
					break
				}
			}
			if area.Kind == proxmon.ZoneInclusion {
				aLat, aLon = oPath.lat, oPath.lon
				aMin = (oPath.ext + 1000 + 3000*r.Float64()) / 0.8
				aMax = aMin * (1.1 + 0.4*r.Float64())
			} else {
				aLat, aLon, aMin, aMax = wLat, wLon, wMin, wMax
			}
		}
		area.Geometry = &proxmon.Geometry{Type: "Polygon", Coordinates: starPolygon(r, aLat, aLon, aMin, aMax)}

		tagInterval := benchTagIntervals[r.IntN(len(benchTagIntervals))]
		victimInterval := benchVictimIntervals[r.IntN(len(benchVictimIntervals))]
		f.cf.Devices = append(f.cf.Devices,
			proxmon.Device{ID: tag, Kind: proxmon.DeviceTag, ReportIntervalS: float64(tagInterval)},
			proxmon.Device{ID: victim, Kind: proxmon.DeviceVictim, ReportIntervalS: float64(victimInterval)})
		f.cf.Cases = append(f.cf.Cases, proxmon.Case{
			ID: fmt.Sprintf("case-%06d", i), Risk: risks[r.IntN(len(risks))], Offender: tag,
			ContactBans: []proxmon.ContactBan{{Protected: victim, AlertM: alert, WarnM: warn}},
			Zones:       []proxmon.Zone{home, area},
		})
		f.devs = append(f.devs, benchDevice{id: tag}, benchDevice{id: victim})
		paths = append(paths, oPath, vPath)
		intervals = append(intervals, tagInterval, victimInterval)
	}

	// Put the fixes in log order: by second of receipt first, which is
	// much cheaper than sorting millions of them at once.
	seconds := make([][]benchFix, benchRound)
	total := 0
	for dev := range f.devs {
		total += f.addFixes(r, dev, &paths[dev], intervals[dev], seconds)
	}
	f.pool = make([]benchFix, 0, total)
	for _, fixes := range seconds {
		slices.SortFunc(fixes, func(a, b benchFix) int {
			return cmp.Or(cmp.Compare(a.rcv, b.rcv), cmp.Compare(a.dev, b.dev))
		})
		f.pool = append(f.pool, fixes...)
	}
	return f
}

// addFixes generates one round of a device's fixes into seconds, by second
// of receipt, and returns how many: GPS times on whole seconds every
// interval, accuracy 3-30 m (none from a few devices and a few fixes), noise
// to match, and 0.15-2 s until the log stores them.
func (f *benchFleet) addFixes(r *rand.Rand, dev int, p *benchPath, interval int, seconds [][]benchFix) int {
	const roundNs = int64(benchRound) * int64(time.Second)
	n := benchRound / interval
	f.devs[dev].perRound = int64(n)
	phase := r.IntN(interval)
	base := 3 + 12*r.Float64()
	noAcc := r.Float64() < 0.05
	for k := range n {
		t := phase + k*interval
		acc := min(30, max(3, base*math.Exp(0.35*r.NormFloat64())))
		sigma := acc / 2.45 // 95 % of 2-D normal errors lie within 2.45 sigma
		east, north := p.at(float64(t) / benchRound)
		lat, lon := offset(p.lat, p.lon, east+sigma*r.NormFloat64(), north+sigma*r.NormFloat64())
		if noAcc || r.Float64() < 0.02 {
			acc = 0
		}
		delay := 150 + r.Int32N(1850)
		rcv := int64(t)*int64(time.Second) + int64(delay)*int64(time.Millisecond)
		seq := int32(k)
		if rcv >= roundNs {
			rcv -= roundNs
			seq -= int32(n)
		}
		sec := rcv / int64(time.Second)
		seconds[sec] = append(seconds[sec], benchFix{rcv: rcv, lat: lat, lon: lon, dev: uint32(dev), seq: seq, delayMs: delay, acc: float32(acc)})
	}
	return n
}

// benchReplay feeds a fleet's log to an engine, round after round.
type benchReplay struct {
	f       *benchFleet
	e       *fence.Engine
	rec     proxmon.Record
	tick    proxmon.Record
	beat    proxmon.Record
	out     []proxmon.Event
	i       int   // next fix of the pool
	round   int64 // rounds replayed
	base    int64 // log time at the start of the round, ns
	next    int64 // log time of the next tick, ns
	fixes   int
	ticks   int
	events  int
	tickCPU time.Duration // spent in ticks and heartbeats, when timeIt
	timeIt  bool
}

// startReplay validates the fleet's case file, builds an engine and replays
// the first benchWarm seconds. It returns the growth of the heap per device
// for the engine (built and warmed) and for what validation built (zone
// shapes, schedules).
func startReplay(tb testing.TB, f *benchFleet) (rp *benchReplay, engineB, zonesB float64) {
	tb.Helper()
	heap := func() int64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	cf := f.caseFile()
	h0 := heap()
	if err := cf.Validate(); err != nil {
		tb.Fatal(err)
	}
	h1 := heap()
	e, err := fence.New(cf)
	if err != nil {
		tb.Fatal(err)
	}
	rp = &benchReplay{f: f, e: e, base: benchEpoch.UnixNano(), next: benchEpoch.UnixNano(),
		rec: proxmon.Record{Kind: proxmon.RecordFix}, tick: proxmon.Record{Kind: proxmon.RecordTick},
		beat: proxmon.Record{Kind: proxmon.RecordHeartbeat}, out: make([]proxmon.Event, 0, 64)}
	for rp.next < benchEpoch.UnixNano()+benchWarm*int64(time.Second) {
		rp.fix(tb)
	}
	h2 := heap()
	rp.fixes, rp.ticks, rp.events = 0, 0, 0
	n := float64(len(f.devs))
	return rp, float64(h2-h1) / n, float64(h1-h0) / n
}

// fix applies the ticks due before the next fix, then the fix.
func (rp *benchReplay) fix(tb testing.TB) {
	pf := &rp.f.pool[rp.i]
	rcv := rp.base + pf.rcv
	for rp.next <= rcv {
		rp.second(tb)
	}
	dev := &rp.f.devs[pf.dev]
	rp.rec.Fix = proxmon.Fix{
		Device:   dev.id,
		Seq:      uint64(benchSeqStart + rp.round*dev.perRound + int64(pf.seq)),
		Time:     time.Unix(0, rcv-int64(pf.delayMs)*int64(time.Millisecond)).UTC(),
		Received: time.Unix(0, rcv).UTC(),
		Lat:      pf.lat, Lon: pf.lon, AccuracyM: float64(pf.acc),
		Source: proxmon.SourceGNSS, Satellites: 9,
	}
	var err error
	if rp.out, err = rp.e.Apply(&rp.rec, rp.out[:0]); err != nil {
		tb.Fatal(err)
	}
	rp.events += len(rp.out)
	rp.fixes++
	if rp.i++; rp.i == len(rp.f.pool) {
		rp.i = 0
		rp.round++
		rp.base += benchRound * int64(time.Second)
	}
}

// second applies the heartbeat and the tick of the next second of log time.
func (rp *benchReplay) second(tb testing.TB) {
	var start time.Duration
	if rp.timeIt {
		start = cpuTime(tb)
	}
	t := time.Unix(0, rp.next).UTC()
	rp.beat.Time, rp.tick.Time = t, t
	var err error
	if rp.out, err = rp.e.Apply(&rp.beat, rp.out[:0]); err != nil {
		tb.Fatal(err)
	}
	rp.events += len(rp.out)
	if rp.out, err = rp.e.Apply(&rp.tick, rp.out[:0]); err != nil {
		tb.Fatal(err)
	}
	rp.events += len(rp.out)
	rp.ticks++
	rp.next += int64(time.Second)
	if rp.timeIt {
		rp.tickCPU += cpuTime(tb) - start
	}
}

// BenchmarkEngine measures the engine under the steady load of the fleet:
// one op is one fix, and the ticks and heartbeats that fall between fixes
// (one each per second of log time) are part of its cost.
func BenchmarkEngine(b *testing.B) {
	for _, n := range benchSizes {
		b.Run("devices="+strconv.Itoa(n), func(b *testing.B) {
			rp, engineB, zonesB := startReplay(b, fleetOf(b, n))
			rp.timeIt = true
			b.ReportAllocs()
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			cpu0 := cpuTime(b)
			// Profiles tell the measured loop from the setup by its label
			// (go tool pprof -tagfocus 'bench=Engine/devices=100000$').
			pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("bench", b.Name())))
			for b.Loop() {
				rp.fix(b)
			}
			pprof.SetGoroutineLabels(context.Background())
			cpu := cpuTime(b) - cpu0
			runtime.ReadMemStats(&m1)
			elapsed := b.Elapsed()
			b.ReportMetric(float64(rp.fixes)/elapsed.Seconds(), "fixes/s")
			b.ReportMetric(float64(elapsed.Nanoseconds())/float64(rp.fixes), "ns/fix")
			// The CPU time of the process (garbage collection included)
			// holds when other processes compete for the cores.
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(rp.fixes), "cpu-ns/fix")
			// allocs/op is rounded down to a whole number; events are rare,
			// so what they allocate shows only per fix.
			b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(rp.fixes), "allocs/fix")
			// The share of cpu-ns/fix spent in ticks and heartbeats.
			b.ReportMetric(float64(rp.tickCPU.Nanoseconds())/float64(rp.fixes), "tick-cpu-ns/fix")
			b.ReportMetric(float64(rp.tickCPU.Nanoseconds())/float64(max(rp.ticks, 1)), "cpu-ns/tick")
			b.ReportMetric(float64(rp.events)/float64(rp.fixes), "events/fix")
			b.ReportMetric(engineB, "B/device")
			b.ReportMetric(zonesB, "zones-B/device")
		})
	}
}

// BenchmarkEngineTick measures a tick of an engine in the steady state of
// BenchmarkEngine. The tick repeats at the time of the last one: it finds
// the state that tick left, so it scans everything a tick scans and changes
// nothing, and the benchmark needs no fixes between ticks. (BenchmarkEngine
// reports ns/tick with fixes in between.)
func BenchmarkEngineTick(b *testing.B) {
	for _, n := range benchSizes {
		b.Run("devices="+strconv.Itoa(n), func(b *testing.B) {
			rp, _, _ := startReplay(b, fleetOf(b, n))
			rp.next -= int64(time.Second)
			b.ReportAllocs()
			pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("bench", b.Name())))
			for b.Loop() {
				rp.second(b)
				rp.next -= int64(time.Second)
			}
			pprof.SetGoroutineLabels(context.Background())
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/device")
			if rp.events > 0 {
				b.Fatalf("a repeated tick raised %d events", rp.events)
			}
		})
	}
}

// cpuTime returns the CPU time the process has used, all threads.
func cpuTime(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
