package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/centre"
	"github.com/proxmon/proxmon/geo"
)

// Positions is the api role's view of where the devices are: the latest
// fix of each device (by GPS time), when it was last heard and its
// battery, with the positions in an R-tree (geo.PositionIndex) for "who is
// near this place now". It reads FIXES, not the engine, so the api role
// runs wherever it is needed: on start the last fix and status of each
// device (JetStream keeps the last message per subject), then every record
// as it is stored. Unlike the engine it does not set aside fixes the engine
// judged impossible jumps (gps_anomaly): those alerts are in the book.
// Safe for concurrent use.
type Positions struct {
	book *CaseBook

	mu   sync.RWMutex
	idx  geo.PositionIndex
	devs map[string]*deviceState
}

type deviceState struct {
	fix        proxmon.Fix
	hasFix     bool
	heard      time.Time
	battery    int
	hasBattery bool
	statusTime time.Time
}

// WatchPositions loads the latest fix and status of every device from
// FIXES and keeps following it until ctx ends. book gives each device's
// kind and cases.
func WatchPositions(ctx context.Context, js jetstream.JetStream, book *CaseBook, log *slog.Logger) (*Positions, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Positions{book: book, devs: map[string]*deviceState{}}
	subjects := []string{subjFix + Partition + ".*", subjStatus + Partition + ".*"}
	st, err := js.Stream(ctx, Fixes)
	if err != nil {
		return nil, fmt.Errorf("positions: %w", err)
	}
	pending := 0
	for _, s := range subjects {
		info, err := st.Info(ctx, jetstream.WithSubjectFilter(s))
		if err != nil {
			return nil, fmt.Errorf("positions: %w", err)
		}
		pending += len(info.State.Subjects)
	}
	cons, err := js.OrderedConsumer(ctx, Fixes, jetstream.OrderedConsumerConfig{
		FilterSubjects: subjects, DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy})
	if err != nil {
		return nil, fmt.Errorf("positions: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("positions: %w", err)
	}
	ready := make(chan struct{})
	if pending == 0 {
		close(ready)
	}
	go func() {
		<-ctx.Done()
		it.Stop()
	}()
	go func() {
		for {
			m, err := it.Next()
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					log.Error("positions: read failed", "err", err)
				}
				return
			}
			md, err := m.Metadata()
			if err != nil {
				continue
			}
			if rec, err := proxmon.ParseRecord(m.Data()); err == nil {
				p.apply(&rec, md.Timestamp.UTC())
			}
			if pending > 0 && md.NumPending == 0 {
				close(ready)
				pending = 0
			}
		}
	}()
	select {
	case <-ready:
		return p, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *Positions) apply(r *proxmon.Record, stored time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var id string
	switch r.Kind {
	case proxmon.RecordFix:
		id = r.Fix.Device
	case proxmon.RecordStatus:
		id = r.Status.Device
	default:
		return
	}
	d := p.devs[id]
	if d == nil {
		d = &deviceState{}
		p.devs[id] = d
	}
	if stored.After(d.heard) {
		d.heard = stored
	}
	switch r.Kind {
	case proxmon.RecordFix:
		pt := geo.Point{Lat: r.Fix.Lat, Lon: r.Fix.Lon}
		if pt.Valid() && (!d.hasFix || r.Fix.Time.After(d.fix.Time)) { // late fixes change no position
			d.fix, d.hasFix = r.Fix, true
			p.idx.Set(id, pt)
		}
	case proxmon.RecordStatus:
		if r.Status.HasBattery && !r.Status.Time.Before(d.statusTime) {
			d.battery, d.hasBattery, d.statusTime = r.Status.BatteryPct, true, r.Status.Time
		}
	}
}

// view returns what is known of device id; the caller holds p.mu.
func (p *Positions) view(id string) centre.Device {
	v := centre.Device{ID: id}
	if dev, ok := p.book.Device(id); ok {
		v.Kind = dev.Kind
	}
	v.Cases = p.book.CasesOf(id)
	if d := p.devs[id]; d != nil {
		heard := d.heard
		v.LastSeen = &heard
		if d.hasFix {
			v.Position = &centre.Position{Lat: d.fix.Lat, Lon: d.fix.Lon, AccuracyM: d.fix.AccuracyM, Time: d.fix.Time.UTC()}
		}
		if d.hasBattery {
			b := d.battery
			v.BatteryPct = &b
		}
	}
	return v
}

// Device returns what is known of device id: a device of a case in
// force, or one heard from.
func (p *Positions) Device(id string) (centre.Device, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	_, heard := p.devs[id]
	_, known := p.book.Device(id)
	if !heard && !known {
		return centre.Device{}, false
	}
	return p.view(id), true
}

// Devices returns every device of the cases in force or heard from, by id.
func (p *Positions) Devices() []centre.Device {
	p.mu.RLock()
	defer p.mu.RUnlock()
	ids := p.book.DeviceIDs()
	for id := range p.devs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := make([]centre.Device, 0, len(ids))
	for _, id := range ids {
		out = append(out, p.view(id))
	}
	return out
}

// Near returns the devices within radiusM metres of pt, nearest first,
// with their distances, those keep accepts, at most limit (0: all).
func (p *Positions) Near(pt geo.Point, radiusM float64, keep func(*centre.Device) bool, limit int) []centre.Device {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []centre.Device
	p.idx.Near(pt, radiusM, func(id string, _ geo.Point, dist float64) bool {
		v := p.view(id)
		if keep == nil || keep(&v) {
			v.DistanceM = &dist
			out = append(out, v)
		}
		return limit == 0 || len(out) < limit
	})
	return out
}
