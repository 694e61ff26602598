package simulator

import (
	"context"
	"errors"
	"math"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/proto/proxmonv1"
)

// MQTT topics (DESIGN.md "MQTT").
const (
	topicPrefix = "proxmon/v1/devices/"
	fixLevel    = "/fix"
	statusLevel = "/status"
	warnLevel   = "/warning"
	cmdLevel    = "/command"
)

// device is one simulated tag or protected person's device.
type device struct {
	id, secret string
	kind       proxmon.DeviceKind
	cs         *simCase
	interval   time.Duration // configured
	path       path
	q          quality
	rng        *mrand.Rand

	// Reporting state, owned by the case's shard.
	seq         uint64
	gen         uint32 // of the fix scheduled
	lastFix     int64  // ns since the epoch, of the last fix sent
	lastHeard   int64  // of the last fix or status sent
	silent      bool   // sends nothing (an episode)
	jumping     bool   // the next fix is displaced by jump
	jump        vec    //
	onFix       func(t time.Time)
	battery     int
	batteryHeld bool // an episode sets the battery
	charging    bool
	strapOpen   bool
	jamming     bool

	// Pursuit and other commands, set by the connection's reader.
	mu        sync.Mutex
	fast      time.Duration
	fastUntil time.Time

	c    atomic.Pointer[conn]
	sent sentRing
	acks ackRing
	sim  *Simulator
}

func (d *device) setRoutine(r *mrand.Rand, g *geometry, o *Options, area disc, places []vec) {
	d.rng = mrand.New(mrand.NewPCG(r.Uint64(), r.Uint64()))
	rt := &routine{r: mrand.New(mrand.NewPCG(r.Uint64(), r.Uint64())), area: area, places: places,
		stayMin: 60, stayMax: 600}
	d.path.plan = rt.plan
	d.q = quality{scale: g.s, poorShare: o.PoorShare}
	d.battery = 40 + r.IntN(61)
}

func (d *device) setParked(r *mrand.Rand, g *geometry, at vec) {
	d.rng = mrand.New(mrand.NewPCG(r.Uint64(), r.Uint64()))
	d.path.plan = parked(at)
	d.q = quality{scale: g.s}
	d.battery = 60 + d.rng.IntN(41)
}

// effective returns the report interval in force at now: the configured
// one, or a faster one a SetReportInterval command asked for until it
// expires. A device never reports slower than configured: the engine
// judges its positions stale after 3 configured intervals.
func (d *device) effective(now time.Time) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fast > 0 && d.fast < d.interval && now.Before(d.fastUntil) {
		return d.fast
	}
	return d.interval
}

// sentRing remembers the device times of the latest records a device
// sent, with when they were published, for transport latency.
type sentRing struct {
	mu   sync.Mutex
	n    int
	gps  [32]int64
	wall [32]int64
}

func (r *sentRing) put(gps, wall int64) {
	r.mu.Lock()
	r.gps[r.n%len(r.gps)], r.wall[r.n%len(r.wall)] = gps, wall
	r.n++
	r.mu.Unlock()
}

func (r *sentRing) find(gps int64) (int64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.gps {
		if r.gps[i] == gps && r.wall[i] != 0 {
			return r.wall[i], true
		}
	}
	return 0, false
}

// ackRing remembers when the latest QoS 1 publishes went out, by packet
// id, for the broker's acknowledgement latency.
type ackRing struct {
	mu   sync.Mutex
	id   [64]uint16
	wall [64]int64
}

func (r *ackRing) put(id uint16, wall int64) {
	r.mu.Lock()
	r.id[id%64], r.wall[id%64] = id, wall
	r.mu.Unlock()
}

func (r *ackRing) take(id uint16) (int64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.id[id%64] != id || r.wall[id%64] == 0 {
		return 0, false
	}
	w := r.wall[id%64]
	r.wall[id%64] = 0
	return w, true
}

// sendFix publishes the device's fix at now: its true position plus an
// error within the accuracy it reports.
func (d *device) sendFix(now time.Time) {
	s := d.sim
	t := s.seconds(now)
	d.path.trim(t - 60)
	p, v := d.path.at(t)
	acc, src, sats := d.q.draw(d.rng)
	m := p.add(fixError(d.rng, acc))
	if d.jumping {
		m, d.jumping = m.add(d.jump), false
	}
	pt := s.frame.point(m)
	speed := v.len()
	heading := 0.0
	if speed < 0.3 {
		speed = 0
	} else {
		heading = math.Mod(math.Atan2(v.E, v.N)*180/math.Pi+360, 360)
	}
	d.seq++
	f := proxmon.Fix{Device: d.id, Seq: d.seq, Time: now, Lat: pt.Lat, Lon: pt.Lon,
		// Rounded up: the error must stay within what is reported.
		AccuracyM: math.Ceil(acc*10) / 10, SpeedMps: math.Round(speed*10) / 10,
		HeadingDeg: math.Round(heading), Source: src, Satellites: sats}
	d.lastFix, d.lastHeard = now.UnixNano()-s.epoch.UnixNano(), now.UnixNano()-s.epoch.UnixNano()
	if d.publish(d.topic(fixLevel), now, func(b []byte) []byte { return proxmonv1.AppendFix(b, &f) }) {
		s.stats.fixes.Add(1)
	}
	if d.onFix != nil {
		fn := d.onFix
		d.onFix = nil
		fn(now)
	}
}

// sendStatus publishes the device's state at now.
func (d *device) sendStatus(now time.Time) {
	st := proxmon.Status{Device: d.id, Time: now, HasBattery: true, BatteryPct: d.battery,
		Charging: proxmon.FlagOf(d.charging), Jamming: proxmon.FlagOf(d.jamming)}
	if d.kind == proxmon.DeviceTag {
		st.StrapOpen, st.CaseTamper = proxmon.FlagOf(d.strapOpen), proxmon.FlagOff
	}
	d.lastHeard = now.UnixNano() - d.sim.epoch.UnixNano()
	if d.publish(d.topic(statusLevel), now, func(b []byte) []byte { return proxmonv1.AppendStatus(b, &st) }) {
		d.sim.stats.statuses.Add(1)
	}
}

func (d *device) topic(level string) string { return topicPrefix + d.id + level }

// publish sends one record; at is its device time.
func (d *device) publish(topic string, at time.Time, payload func([]byte) []byte) bool {
	s := d.sim
	c := d.c.Load()
	if c == nil {
		if !s.stopping.Load() { // its case removed: the broker let it go
			s.stats.dropped.Add(1)
		}
		return false
	}
	id, err := c.publish(topic, payload)
	wall := time.Now().UnixNano()
	if err != nil {
		s.stats.sendErrors.Add(1)
		c.nc.Close() // the reader reconnects
		return false
	}
	d.sent.put(at.UnixNano(), wall)
	d.acks.put(id, wall)
	return true
}

// puback counts the broker's acknowledgement of a publish.
func (d *device) puback(id uint16) {
	s := d.sim
	s.stats.acked.Add(1)
	if w, ok := d.acks.take(id); ok {
		s.stats.ackLatency.add(time.Duration(time.Now().UnixNano() - w))
	}
}

// message takes a warning or a command.
func (d *device) message(topic string, payload []byte) {
	s := d.sim
	now := time.Now()
	switch {
	case strings.HasSuffix(topic, warnLevel):
		var w proxmonv1.Warning
		if err := proto.Unmarshal(payload, &w); err != nil {
			s.stats.badMessages.Add(1)
			return
		}
		s.warning(d, &w, now)
	case strings.HasSuffix(topic, cmdLevel):
		var c proxmonv1.Command
		if err := proto.Unmarshal(payload, &c); err != nil {
			s.stats.badMessages.Add(1)
			return
		}
		s.command(d, &c, now)
	}
}

// connect connects the device with its own credentials and subscribes to
// its own warning and command topics. The broker may not know the device
// yet (its case was applied a moment ago), so a refusal is retried for a
// while.
func (d *device) connect(ctx context.Context) (*conn, error) {
	s := d.sim
	filters := []string{d.topic(cmdLevel)}
	if d.kind == proxmon.DeviceVictim {
		filters = append(filters, d.topic(warnLevel))
	}
	wait := 50 * time.Millisecond
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := dial(ctx, s.o.Broker, s.o.TLSConfig, d.id, d.id, d.secret)
		if err == nil {
			if err = c.subscribe(filters...); err == nil {
				return c, nil
			}
			c.nc.Close()
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return nil, errors.Join(err, ctx.Err())
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// serve reads the device's connection, and reconnects when it breaks,
// until the simulator stops.
func (d *device) serve(ctx context.Context, c *conn) {
	s := d.sim
	for {
		err := c.serve(d)
		d.c.CompareAndSwap(c, nil)
		if ctx.Err() != nil || s.stopping.Load() {
			return
		}
		s.stats.disconnects.Add(1)
		s.o.Log.Warn("device connection lost", "device", d.id, "err", err)
		for {
			var cerr error
			c, cerr = d.connect(ctx)
			if cerr == nil {
				break
			}
			if ctx.Err() != nil || s.stopping.Load() {
				return
			}
			s.o.Log.Warn("device reconnect failed", "device", d.id, "err", cerr)
		}
		d.c.Store(c)
	}
}
