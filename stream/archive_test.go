package stream_test

import (
	"testing"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/stream"
)

// A scan leaves no consumer behind: the API scans on every track read,
// and a stream holds at most 1,000 consumers.
func TestArchiveScanLeavesNoConsumer(t *testing.T) {
	js := installation(t)
	ctx := t.Context()
	now := time.Now().UTC()
	r := proxmon.Record{Kind: proxmon.RecordFix, Fix: proxmon.Fix{Device: "tag-1", Seq: 1, Time: now, Lat: 51.92, Lon: 4.47}}
	if _, err := stream.AppendSync(ctx, js, &r); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, stream.Fixes)
	if err != nil {
		t.Fatal(err)
	}
	consumers := func() int {
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Consumers
	}
	before := consumers()
	a := stream.NewArchive(js)
	for range 20 {
		n := 0
		if err := a.ScanFixes(ctx, "tag-1", now.Add(-time.Hour), time.Time{}, func(uint64, *proxmon.Fix) error { n++; return nil }); err != nil || n != 1 {
			t.Fatalf("scan: %d fixes, %v", n, err)
		}
	}
	if after := consumers(); after != before {
		t.Errorf("%d consumers on FIXES after 20 scans, %d before", after, before)
	}
}
