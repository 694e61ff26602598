package fence

import (
	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/geo"
)

// Device conditions, one open/close pair per (case, device).
const (
	condSignalLost = iota
	condGPSLost
	condTamper
	condJamming
	condBattery
	condAnomaly
	numConds
)

var condTypes = [numConds]proxmon.EventType{
	condSignalLost: proxmon.SignalLost,
	condGPSLost:    proxmon.GPSLost,
	condTamper:     proxmon.Tamper,
	condJamming:    proxmon.Jamming,
	condBattery:    proxmon.BatteryLow,
	condAnomaly:    proxmon.GPSAnomaly,
}

var condSeverity = [numConds]proxmon.Severity{
	condSignalLost: proxmon.SeverityHigh,
	condGPSLost:    proxmon.SeverityHigh,
	condTamper:     proxmon.SeverityCritical,
	condJamming:    proxmon.SeverityHigh,
	condBattery:    proxmon.SeverityInfo,
	condAnomaly:    proxmon.SeverityInfo,
}

// device is everything the engine knows of one device.
type device struct {
	id         string
	idx        int // in Engine.devList and Engine.due
	info       proxmon.Device
	staleAfter int64 // ns: 3 x report interval
	defAcc     float64

	// Position: the latest valid fix by GPS time.
	hasPos   bool
	pos      geo.Point
	posTime  int64
	posAcc   float64 // accuracy that counts (default when unknown)
	posKnown bool    // the fix reported its accuracy
	posVer   uint64  // changes whenever the position does

	recent  [recentFixes]fixKey // the latest fixes, to drop duplicates
	nRecent int

	heard     int64 // latest receipt of a fix or status
	everHeard bool
	since     int64 // when the device entered a case, for one never heard
	sinceSet  bool
	pending   bool // waits for the next record's time as its since

	statusTime int64
	hasStatus  bool
	strapOpen  proxmon.Flag // the latest reported state of each flag
	caseTamper proxmon.Flag

	chain  [anomalyChain - 1]fixCtx // consecutive anomalous fixes, consistent with each other
	nChain int

	members     []*member      // one per case the device belongs to, by case id
	nOpen       [numConds]int  // members with each condition open
	offenderOf  []*caseState   // cases whose offender it is, by case id
	protectedBy []*contactRule // contact bans that protect it
}

type fixKey struct {
	seq  uint64
	time int64
}

// fixCtx is a fix reduced to what the engine evaluates.
type fixCtx struct {
	p     geo.Point
	t     int64
	acc   float64
	known bool
	trig  proxmon.Trigger
}

// member is a device's part in one case: the device conditions it has open
// there.
type member struct {
	cs   *caseState
	dev  *device
	open [numConds]openRef
	// since is when the case last came back in force: the device's
	// silence counts in this case from then at the earliest. always if it
	// never did.
	since int64
}

func (e *Engine) upsertDevice(info *proxmon.Device) *device {
	d := e.devices[info.ID]
	if d == nil {
		d = &device{id: info.ID, idx: len(e.devList)}
		e.devices[info.ID] = d
		e.devList = append(e.devList, d)
		e.due = append(e.due, never)
	}
	d.info = *info
	d.staleAfter = staleFactor * int64(info.ReportInterval())
	d.defAcc = info.Accuracy()
	return d
}

func (d *device) stale(t int64) bool {
	dt := t - d.posTime
	if dt < 0 {
		dt = -dt
	}
	return dt > d.staleAfter
}

// duplicate reports whether the device sent this (seq, time) recently, and
// remembers it otherwise.
func (d *device) duplicate(k fixKey) bool {
	for i := 0; i < d.nRecent; i++ {
		if d.recent[i] == k {
			return true
		}
	}
	copy(d.recent[1:], d.recent[:recentFixes-1])
	d.recent[0] = k
	if d.nRecent < recentFixes {
		d.nRecent++
	}
	return false
}

// deviceEvent returns the skeleton of a device condition's event.
func deviceEvent(m *member, cond int, t int64) proxmon.Event {
	return proxmon.Event{
		Type: condTypes[cond], Severity: condSeverity[cond], Case: m.cs.c.ID,
		Device: m.dev.id, Time: timeOf(t), Drill: m.cs.c.Drill,
	}
}

// withPosition adds the device's latest position to its event: as Position
// for a tag, as the centre-only ProtectedPosition for a protected person's
// device.
func withPosition(ev proxmon.Event, d *device) proxmon.Event {
	if !d.hasPos {
		return ev
	}
	p := d.pos
	if d.info.Kind == proxmon.DeviceVictim {
		ev.ProtectedPosition = &p
	} else {
		ev.Position = &p
	}
	return ev
}

// setCond opens or closes a device condition in every case of the device.
func (e *Engine) setCond(d *device, cond int, on bool, trig proxmon.Trigger) {
	if on && d.nOpen[cond] == len(d.members) || !on && d.nOpen[cond] == 0 {
		return
	}
	t := nanos(trig.Time)
	for _, m := range d.members {
		ref := &m.open[cond]
		switch {
		case on && !ref.isOpen():
			e.open(ref, withPosition(deviceEvent(m, cond, t), d), trig)
			d.nOpen[cond]++
		case !on && ref.isOpen():
			e.close(ref, deviceEvent(m, cond, t), trig)
			d.nOpen[cond]--
		}
	}
}

// recount recomputes how many of the device's members have each condition
// open, after its members changed.
func (d *device) recount() {
	d.nOpen = [numConds]int{}
	for _, m := range d.members {
		for c := range m.open {
			if m.open[c].isOpen() {
				d.nOpen[c]++
			}
		}
	}
}

// hear records that the device was heard at rcv: it closes signal_lost and
// counts towards the end of a network outage.
func (e *Engine) hear(d *device, rcv int64, trig proxmon.Trigger) {
	if !d.everHeard || rcv > d.heard {
		if d.counted() {
			if d.everHeard {
				e.heard.remove(d.heard)
			}
			e.heard.add(rcv)
		}
		d.heard, d.everHeard = rcv, true
	}
	e.setCond(d, condSignalLost, false, trig)
	e.outageHeard(d, trig)
}

func (e *Engine) fix(f *proxmon.Fix) {
	d := e.devices[f.Device]
	if d == nil {
		return
	}
	t := nanos(f.Time)
	if d.duplicate(fixKey{f.Seq, t}) {
		return
	}
	fc := fixCtx{p: f.Point(), t: t, acc: f.AccuracyM, known: f.AccuracyM > 0,
		trig: trigger("fix", f.Device, f.Seq, t)}
	if !fc.known {
		fc.acc = d.defAcc
	}
	e.judgeCases(t, fc.trig)
	e.hear(d, nanos(f.ReceivedOrTime()), fc.trig)
	if d.hasPos && t <= d.posTime {
		e.lateFix(d, &fc)
		e.arm(d)
		return
	}
	if d.hasPos && e.anomalous(d, &fc) {
		e.arm(d)
		return
	}
	d.nChain = 0
	e.setCond(d, condAnomaly, false, fc.trig)
	e.setCond(d, condGPSLost, false, fc.trig)
	d.hasPos, d.pos, d.posTime, d.posAcc, d.posKnown = true, fc.p, t, fc.acc, fc.known
	d.posVer++
	e.where.Set(d.id, fc.p)
	e.moved(d, &fc)
	e.arm(d)
}

// anomalous reports whether the fix implies an impossible speed from the
// current position; such a fix opens gps_anomaly and is not used, unless it
// is the last of a chain of consistent anomalous fixes, which shows that the
// old position was the wrong one.
func (e *Engine) anomalous(d *device, fc *fixCtx) bool {
	if !d.anomalous(fc) {
		return false
	}
	e.setCond(d, condAnomaly, true, fc.trig)
	return true
}

// anomalous is the device's part of Engine.anomalous: it decides and keeps
// the chain, without events (Classifier shares it).
func (d *device) anomalous(fc *fixCtx) bool {
	cur := fixCtx{p: d.pos, t: d.posTime, acc: d.posAcc}
	if !tooFast(&cur, fc) {
		return false
	}
	if d.nChain > 0 && tooFast(&d.chain[d.nChain-1], fc) {
		d.nChain = 0
	}
	if d.nChain == anomalyChain-1 {
		return false // re-anchor on this fix
	}
	d.chain[d.nChain] = *fc
	d.nChain++
	return true
}

// tooFast reports whether going from a to b needs more than maxSpeed,
// counting both accuracies in the fixes' favour.
func tooFast(a, b *fixCtx) bool {
	dt := float64(b.t-a.t) / 1e9
	if dt < 0 {
		dt = -dt
	}
	limit := a.acc + b.acc + maxSpeed*dt
	approx := geo.ApproxDistance(a.p, b.p)
	if approx.Decides(limit) {
		return approx.D > limit
	}
	return geo.Distance(a.p, b.p) > limit
}

func (e *Engine) status(s *proxmon.Status) {
	d := e.devices[s.Device]
	if d == nil {
		return
	}
	t := nanos(s.Time)
	trig := trigger("status", s.Device, 0, t)
	e.judgeCases(t, trig)
	e.hear(d, nanos(s.ReceivedOrTime()), trig)
	defer e.arm(d)
	if d.hasStatus && t < d.statusTime {
		return
	}
	d.statusTime, d.hasStatus = t, true
	// Tamper holds while the strap or the case was last reported open; a
	// flag a status does not report keeps its last reported state.
	if s.StrapOpen != proxmon.FlagUnknown {
		d.strapOpen = s.StrapOpen
	}
	if s.CaseTamper != proxmon.FlagUnknown {
		d.caseTamper = s.CaseTamper
	}
	if s.StrapOpen != proxmon.FlagUnknown || s.CaseTamper != proxmon.FlagUnknown {
		e.setCond(d, condTamper, d.strapOpen == proxmon.FlagOn || d.caseTamper == proxmon.FlagOn, trig)
	}
	if s.Jamming != proxmon.FlagUnknown {
		e.setCond(d, condJamming, s.Jamming == proxmon.FlagOn, trig)
	}
	if s.HasBattery {
		switch {
		case s.BatteryPct < batteryLowBelow:
			e.setCond(d, condBattery, true, trig)
		case s.BatteryPct >= batteryOkFrom:
			e.setCond(d, condBattery, false, trig)
		}
	}
}

// counted reports whether the device is in a case in force: only then
// does it count, for its own liveness and for network_outage.
func (d *device) counted() bool { return len(d.members) > 0 }

// liveness opens signal_lost and gps_lost at a tick. A device heard within
// its stale time has no signal_lost to open in any case (its silence
// counts from when it was heard at the earliest), so the two never open
// together.
func (e *Engine) liveness(d *device, t int64, trig proxmon.Trigger) {
	if !d.counted() {
		return
	}
	if d.everHeard && t-d.heard <= d.staleAfter && (!d.hasPos || d.stale(t)) {
		e.setCond(d, condGPSLost, true, trig)
	}
	if !e.covered(d) {
		e.openSignalLost(d, t, trig)
	}
}

// silenceRef returns the time from which a device's silence counts in a
// case: when it was last heard, or (never heard) when it entered its case;
// but not before the case came back in force, nor before ingest came back
// after ingest_down, since ingest could hear nothing while it was down.
func (e *Engine) silenceRef(d *device, m *member) (int64, bool) {
	ref, ok := d.heard, d.everHeard
	if !ok {
		ref, ok = d.since, d.sinceSet
	}
	if m.since > ref || !ok && m.since != always {
		ref, ok = m.since, true
	}
	if ok && e.ingest.resumed > ref {
		ref = e.ingest.resumed
	}
	return ref, ok
}

// openSignalLost opens signal_lost in every case where the device has been
// silent for longer than its stale time, critical for a tag whose case has
// a breach open.
func (e *Engine) openSignalLost(d *device, t int64, trig proxmon.Trigger) {
	for _, m := range d.members {
		if ref, ok := e.silenceRef(d, m); !ok || t-ref <= d.staleAfter || m.open[condSignalLost].isOpen() {
			continue
		}
		ev := deviceEvent(m, condSignalLost, t)
		if m.cs.offender == d && m.cs.breachOpen() {
			ev.Severity = proxmon.SeverityCritical
		}
		e.open(&m.open[condSignalLost], withPosition(ev, d), trig)
		d.nOpen[condSignalLost]++
	}
}
