package ingest_test

import (
	"encoding/json"
	"math"
	"regexp"
	"testing"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/ingest"
)

var validID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// FuzzDecodeFix feeds the decoder arbitrary topics and payloads, starting
// from every payload in the catalogue. Whatever the bytes, DecodeFix must
// not panic and must return either a fix that keeps every invariant the
// engine relies on, or the zero Fix and an error with a reason of its own.
func FuzzDecodeFix(f *testing.F) {
	for _, c := range fixCases {
		f.Add(c.topicDevice(), c.payload())
	}
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		fix, err := ingest.DecodeFix(topic, payload)
		if err != nil {
			if fix != (proxmon.Fix{}) {
				t.Fatalf("DecodeFix returned %+v with error %v", fix, err)
			}
			if r := ingest.Reason(err); r == "other" || r == "" {
				t.Fatalf("error %v has reason %q", err, r)
			}
			return
		}
		checkFix(t, topic, fix)
		// Decoding what EncodeFix makes of a decoded fix gives it back:
		// the simulator and the tests can rely on the pair.
		again, err := ingest.DecodeFix(topic, ingest.EncodeFix(fix))
		if err != nil {
			t.Fatalf("re-encoded fix rejected: %v", err)
		}
		assertFix(t, again, fix)
	})
}

func checkFix(t *testing.T, topic string, fix proxmon.Fix) {
	t.Helper()
	switch {
	case fix.Device != topic || !validID.MatchString(fix.Device):
		t.Fatalf("device %q accepted on topic %q", fix.Device, topic)
	case fix.Time.IsZero() || fix.Time.Location() != time.UTC:
		t.Fatalf("time %v accepted", fix.Time)
	case !fix.Point().Valid() || fix.Lat == 0 && fix.Lon == 0:
		t.Fatal("invalid position accepted") // no coordinates in test logs either
	case !finiteNonNegative(fix.AccuracyM) || !finiteNonNegative(fix.SpeedMps):
		t.Fatalf("accuracy %v or speed %v accepted", fix.AccuracyM, fix.SpeedMps)
	case !(fix.HeadingDeg >= 0 && fix.HeadingDeg < 360):
		t.Fatalf("heading %v accepted", fix.HeadingDeg)
	case fix.Satellites < 0:
		t.Fatalf("satellites %d accepted", fix.Satellites)
	}
	switch fix.Source {
	case "", proxmon.SourceGNSS, proxmon.SourceWiFi, proxmon.SourceCell:
	default:
		t.Fatalf("source %q accepted", fix.Source)
	}
	// The log's readers take the record back: a fix they skipped would be
	// acknowledged and stored but never judged.
	rec := proxmon.Record{Kind: proxmon.RecordFix, Fix: fix}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatalf("fix as a record: %v", err)
	}
	back, err := proxmon.ParseRecord(b)
	if err != nil {
		t.Fatalf("the log's readers skip the record of an accepted fix: %v", err)
	}
	if back.Fix != fix {
		t.Fatalf("the log's record of fix %+v reads back as %+v", fix, back.Fix)
	}
}

func finiteNonNegative(v float64) bool { return v >= 0 && !math.IsInf(v, 1) }

// FuzzDecodeStatus is FuzzDecodeFix for statuses.
func FuzzDecodeStatus(f *testing.F) {
	for _, c := range statusCases {
		f.Add(c.topicDevice(), c.payload())
	}
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		s, err := ingest.DecodeStatus(topic, payload)
		if err != nil {
			if s != (proxmon.Status{}) {
				t.Fatalf("DecodeStatus returned %+v with error %v", s, err)
			}
			if r := ingest.Reason(err); r == "other" || r == "" {
				t.Fatalf("error %v has reason %q", err, r)
			}
			return
		}
		switch {
		case s.Device != topic || !validID.MatchString(s.Device):
			t.Fatalf("device %q accepted on topic %q", s.Device, topic)
		case s.Time.IsZero() || s.Time.Location() != time.UTC:
			t.Fatalf("time %v accepted", s.Time)
		case s.BatteryPct < 0 || s.BatteryPct > 100 || !s.HasBattery && s.BatteryPct != 0:
			t.Fatalf("battery %v/%d accepted", s.HasBattery, s.BatteryPct)
		}
		for _, f := range []proxmon.Flag{s.StrapOpen, s.CaseTamper, s.Charging, s.Jamming} {
			if f > proxmon.FlagOn {
				t.Fatalf("flag value %d in %+v", f, s)
			}
		}
		again, err := ingest.DecodeStatus(topic, ingest.EncodeStatus(s))
		if err != nil {
			t.Fatalf("re-encoded status rejected: %v", err)
		}
		if !again.Time.Equal(s.Time) {
			t.Fatalf("re-encoded time %v, want %v", again.Time, s.Time)
		}
		again.Time = s.Time
		if again != s {
			t.Fatalf("re-encoded status\n got %+v\nwant %+v", again, s)
		}
		// The log's readers take the record back, as for fixes.
		b, err := json.Marshal(proxmon.Record{Kind: proxmon.RecordStatus, Status: s})
		if err != nil {
			t.Fatalf("status as a record: %v", err)
		}
		back, err := proxmon.ParseRecord(b)
		if err != nil {
			t.Fatalf("the log's readers skip the record of an accepted status: %v", err)
		}
		if back.Status != s {
			t.Fatalf("the log's record of status %+v reads back as %+v", s, back.Status)
		}
	})
}
