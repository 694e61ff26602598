package proxmonv1_test

import (
	"bytes"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/proto/proxmonv1"
)

// The encoders' field-by-field mapping is tested through ingest's shared
// catalogue (ingest/catalogue_test.go), which decodes what they encode;
// these tests check what is particular to the Append forms.

func TestAppendFix(t *testing.T) {
	f := proxmon.Fix{Device: "tag-17", Seq: 12, Time: time.Date(2026, 3, 1, 10, 0, 0, 123, time.UTC),
		Lat: 51.92, Lon: 4.47, AccuracyM: 5.3, SpeedMps: 1.4, HeadingDeg: 270, Source: proxmon.SourceGNSS, Satellites: 9}
	prefix := []byte("header")
	got := proxmonv1.AppendFix(bytes.Clone(prefix), &f)
	if !bytes.HasPrefix(got, prefix) || !bytes.Equal(got[len(prefix):], proxmonv1.EncodeFix(f)) {
		t.Fatalf("AppendFix = %x, want %q + EncodeFix", got, prefix)
	}
	var m proxmonv1.Fix
	if err := proto.Unmarshal(got[len(prefix):], &m); err != nil {
		t.Fatal(err)
	}
	if m.GetAccuracyM() != 5.3 || m.GetTime().AsTime() != f.Time || m.GetSource() != proxmonv1.Source_SOURCE_GNSS {
		t.Errorf("decoded %v", &m)
	}
}

func TestAppendStatus(t *testing.T) {
	s := proxmon.Status{Device: "tag-17", Time: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		HasBattery: true, BatteryPct: 0, StrapOpen: proxmon.FlagOn, Jamming: proxmon.FlagOff}
	got := proxmonv1.AppendStatus([]byte{1}, &s)
	var m proxmonv1.Status
	if err := proto.Unmarshal(got[1:], &m); err != nil {
		t.Fatal(err)
	}
	// 0 % is a battery level, not an absent one; an unknown flag stays absent.
	if m.BatteryPct == nil || m.GetBatteryPct() != 0 || m.GetStrap() != proxmonv1.Strap_STRAP_OPEN ||
		m.Jamming == nil || m.GetJamming() || m.CaseTamper != nil {
		t.Errorf("decoded %v", &m)
	}
}

func BenchmarkAppendFix(b *testing.B) {
	f := proxmon.Fix{Device: "sim-0000-t00001", Seq: 12, Time: time.Date(2026, 3, 1, 10, 0, 0, 123, time.UTC),
		Lat: 51.92, Lon: 4.47, AccuracyM: 5.3, SpeedMps: 1.4, HeadingDeg: 270, Source: proxmon.SourceGNSS, Satellites: 9}
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = proxmonv1.AppendFix(buf[:0], &f)
	}
}
