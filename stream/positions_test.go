package stream_test

import (
	"testing"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/centre"
	"github.com/proxmon/proxmon/geo"
	"github.com/proxmon/proxmon/stream"
)

// Positions loads the latest fix and status of each device from FIXES,
// follows new ones (a late fix moves nothing), and answers who is near a
// place, nearest first.
func TestPositions(t *testing.T) {
	js := setup(t) // case-1: tag-1, phone-1
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	appendFix(t, js, "tag-1", 1, t0, 0)
	appendFix(t, js, "tag-1", 2, t0.Add(time.Minute), 1000) // 1 km north
	st := proxmon.Record{Kind: proxmon.RecordStatus, Status: proxmon.Status{Device: "tag-1", Time: t0, HasBattery: true, BatteryPct: 40}}
	if _, err := stream.AppendSync(t.Context(), js, &st); err != nil {
		t.Fatal(err)
	}
	book, err := stream.WatchCaseBook(t.Context(), js, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := stream.WatchPositions(t.Context(), js, book, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := p.Device("tag-1")
	if !ok || d.Position == nil || d.Position.Time != t0.Add(time.Minute) || d.BatteryPct == nil || *d.BatteryPct != 40 ||
		d.Kind != proxmon.DeviceTag || len(d.Cases) != 1 || d.Cases[0] != "case-1" || d.LastSeen == nil {
		t.Fatalf("loaded: %+v", d)
	}
	if v, ok := p.Device("phone-1"); !ok || v.Position != nil || v.LastSeen != nil {
		t.Fatalf("never heard: %+v %v", v, ok)
	}
	if _, ok := p.Device("nobody"); ok {
		t.Fatal("an unknown device")
	}
	appendFix(t, js, "phone-1", 1, t0.Add(2*time.Minute), 1200)
	appendFix(t, js, "tag-1", 3, t0.Add(30*time.Second), 5000) // late: no move
	waitCond(t, "the victim's fix", func() bool { v, _ := p.Device("phone-1"); return v.Position != nil })
	waitCond(t, "the late fix heard", func() bool { v, _ := p.Device("tag-1"); return v.LastSeen.After(*d.LastSeen) })
	if v, _ := p.Device("tag-1"); v.Position.Time != t0.Add(time.Minute) {
		t.Fatalf("a late fix moved the tag: %+v", v.Position)
	}
	place := geo.Point{Lat: 51.92 + 1300.0/111_200, Lon: 4.47}
	near := p.Near(place, 500, nil, 0)
	if len(near) != 2 || near[0].ID != "phone-1" || near[1].ID != "tag-1" || *near[0].DistanceM > *near[1].DistanceM {
		t.Fatalf("near: %+v", near)
	}
	if near := p.Near(place, 500, func(d *centre.Device) bool { return d.Kind == proxmon.DeviceTag }, 0); len(near) != 1 || near[0].ID != "tag-1" {
		t.Fatalf("near, tags only: %+v", near)
	}
	if all := p.Devices(); len(all) != 2 {
		t.Fatalf("devices: %+v", all)
	}
}
