package fence

import (
	"slices"

	"github.com/proxmon/proxmon"
)

// ingestState follows the ingest heartbeats.
type ingestState struct {
	seen    bool
	last    int64
	down    openRef
	resumed int64 // when ingest_down last closed
}

// outageState is an open network_outage: the devices it covers and how many
// of them are still unheard.
type outageState struct {
	ref     openRef
	devices map[*device]bool // covered device -> still unheard
	unheard int
}

func systemEvent(typ proxmon.EventType, t int64) proxmon.Event {
	return proxmon.Event{Type: typ, Severity: proxmon.SeverityCritical, Case: proxmon.SystemCase, Time: timeOf(t)}
}

func (e *Engine) heartbeat(t int64) {
	trig := trigger("heartbeat", "", 0, t)
	e.judgeCases(t, trig)
	if !e.ingest.seen || t > e.ingest.last {
		e.ingest.last, e.ingest.seen = t, true
	}
	if e.ingest.down.isOpen() {
		e.close(&e.ingest.down, systemEvent(proxmon.IngestDown, t), trig)
		e.ingest.resumed = t
		e.armAll() // no longer covered
	}
}

// tick judges what only the passing of time reveals: silent ingest, network
// outages, silent devices, stale positions, and zones whose schedule
// changed.
func (e *Engine) tick(t int64) {
	trig := trigger("tick", "", 0, t)
	if t < e.lastTick || e.exhaustive {
		e.armAll() // due times assumed ticks do not go back
		if e.exhaustive {
			for _, cs := range e.cases {
				e.armCase(cs, always)
				for _, z := range cs.zones {
					e.armZone(z, always)
				}
			}
		}
	}
	e.judgeCases(t, trig)
	e.lastTick = t
	if e.ingest.seen && !e.ingest.down.isOpen() && t-e.ingest.last > ingestTimeout {
		e.open(&e.ingest.down, systemEvent(proxmon.IngestDown, t), trig)
	}
	if !e.outage.ref.isOpen() {
		e.detectOutage(t, trig)
	}
	for i, due := range e.due {
		if t > due {
			d := e.devList[i]
			e.liveness(d, t, trig)
			e.due[i] = e.deviceDue(d)
		}
	}
	for e.zoneAlarms.dueBy(t) {
		a := e.zoneAlarms.pop()
		z := a.v
		if z.armed != a.due {
			continue // superseded
		}
		z.armed = never
		if !z.cs.linked {
			continue // the zone's case is out of force or gone
		}
		e.evalZone(z, t, trig, false)
		if z.zone.Schedule != nil {
			e.armZone(z, z.schedUntil)
		}
	}
}

// covered reports whether a system event already covers the device's
// silence.
func (e *Engine) covered(d *device) bool {
	return e.ingest.down.isOpen() || e.outage.devices[d]
}

// detectOutage opens network_outage when more than outageFraction of the
// devices heard in the last outageWindow, and at least outageMinDevices,
// have gone unheard for more than outageSilence. Only devices in a case in
// force count: a tag whose case was deleted or suspended stops reporting
// with good reason.
func (e *Engine) detectOutage(t int64, trig proxmon.Trigger) {
	if e.heard.covers(t) {
		// The ring bounds the counts without visiting the devices; only
		// when the bounds cannot rule an outage out are they counted.
		recentLo, recentHi := e.heard.since(t - outageWindow)
		freshLo, _ := e.heard.since(t - outageSilence)
		silentHi := recentHi - freshLo
		if silentHi < outageMinDevices || float64(silentHi) <= outageFraction*float64(recentLo) {
			return
		}
	}
	recent, silent := 0, 0
	for _, d := range e.devices {
		if !d.counted() || !d.everHeard || t-d.heard > outageWindow {
			continue
		}
		recent++
		if t-d.heard > outageSilence {
			silent++
		}
	}
	if silent < outageMinDevices || float64(silent) <= outageFraction*float64(recent) {
		return
	}
	e.outage.devices = make(map[*device]bool, silent)
	ids := make([]string, 0, silent)
	for _, d := range e.devices {
		if d.counted() && d.everHeard && t-d.heard <= outageWindow && t-d.heard > outageSilence {
			e.outage.devices[d] = true
			ids = append(ids, d.id)
		}
	}
	slices.Sort(ids)
	e.outage.unheard = len(ids)
	ev := systemEvent(proxmon.NetworkOutage, t)
	ev.Devices = ids
	e.open(&e.outage.ref, ev, trig)
}

// outageHeard counts a covered device heard again; the outage closes when
// fewer than half of its devices are still unheard.
func (e *Engine) outageHeard(d *device, trig proxmon.Trigger) {
	if !e.outage.ref.isOpen() || !e.outage.devices[d] {
		return
	}
	e.outage.devices[d] = false
	e.outage.unheard--
	if 2*e.outage.unheard < len(e.outage.devices) {
		e.close(&e.outage.ref, systemEvent(proxmon.NetworkOutage, nanos(trig.Time)), trig)
		e.outage.devices, e.outage.unheard = nil, 0
		e.armAll() // no longer covered
	}
}
