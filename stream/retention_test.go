package stream_test

import (
	"testing"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/stream"
)

// FIXES and REJECTED keep records for the retention period: older ones
// go, and none younger is missing.
func TestRetention(t *testing.T) {
	const retention = 2 * time.Second
	js := installationWith(t, stream.Config{Retention: retention})
	appendN := func(n int, tag string) (first, last uint64, at time.Time) {
		at = time.Now()
		for i := range n {
			r := proxmon.Record{Kind: proxmon.RecordFix, Fix: proxmon.Fix{Device: tag, Seq: uint64(i), Time: at.Add(time.Duration(i) * time.Millisecond), Lat: 51.9, Lon: 4.4}}
			seq, err := stream.AppendSync(t.Context(), js, &r)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = seq
			}
			last = seq
		}
		return first, last, at
	}
	_, oldLast, oldAt := appendN(20, "old-tag")
	l := stream.NewLog(js, nil)
	done := make(chan error, 1)
	if err := l.Reject("decode", "proxmon/v1/devices/old-tag/fix", "bad protobuf", []byte{1}, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The young records are stored half a retention later, so they are
	// still young when the old ones expire.
	time.Sleep(retention / 2)
	youngFirst, youngLast, youngAt := appendN(20, "young-tag")

	fixes, err := js.Stream(t.Context(), stream.Fixes)
	if err != nil {
		t.Fatal(err)
	}
	rejected, err := js.Stream(t.Context(), stream.Rejected)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		fi, err := fixes.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		ri, err := rejected.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if fi.State.FirstSeq > oldLast && ri.State.Msgs == 0 {
			if age := time.Since(oldAt); age < retention {
				t.Fatalf("old records gone after %v, before the retention of %v", age, retention)
			}
			if age := time.Since(youngAt); age >= retention {
				t.Fatalf("the check came too late (young records %v old)", age)
			}
			if fi.State.FirstSeq != youngFirst || fi.State.LastSeq != youngLast || fi.State.Msgs != youngLast-youngFirst+1 {
				t.Fatalf("FIXES holds %d..%d (%d), want all of the young %d..%d", fi.State.FirstSeq, fi.State.LastSeq, fi.State.Msgs, youngFirst, youngLast)
			}
			break
		}
		if time.Since(oldAt) < retention && fi.State.FirstSeq > 1 {
			t.Fatalf("records removed before the retention passed")
		}
		if time.Now().After(deadline) {
			t.Fatalf("old records still there after %v (FIXES from %d, REJECTED %d)", time.Since(oldAt), fi.State.FirstSeq, ri.State.Msgs)
		}
		time.Sleep(20 * time.Millisecond) // expiry is JetStream's timer: polled
	}
	n := 0
	if err := stream.NewArchive(js).ScanFixes(t.Context(), "", time.Time{}, time.Time{}, func(_ uint64, f *proxmon.Fix) error {
		if f.Device != "young-tag" {
			t.Errorf("an old fix is still read: %s %d", f.Device, f.Seq)
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 20 {
		t.Errorf("read %d young fixes, want 20", n)
	}
}
