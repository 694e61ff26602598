package track_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/natsd"
	"github.com/proxmon/proxmon/natsd/natsdtest"
	"github.com/proxmon/proxmon/stream"
)

// MustJetStream starts an embedded server (no listeners) with proxmon's
// streams and returns a JetStream context on it.
func MustJetStream(tb testing.TB, cfg stream.Config) jetstream.JetStream {
	tb.Helper()
	_, _, js := natsdtest.MustJetStream(tb, natsd.Options{Dir: tb.TempDir()})
	if err := stream.Setup(tb.Context(), js, cfg); err != nil {
		tb.Fatal(err)
	}
	return js
}

// MustAppend appends records to FIXES.
func MustAppend(tb testing.TB, js jetstream.JetStream, recs ...proxmon.Record) {
	tb.Helper()
	for i := range recs {
		if _, err := stream.AppendSync(tb.Context(), js, &recs[i]); err != nil {
			tb.Fatal(err)
		}
	}
}

// fix returns a fix record of dev, northM metres north of a point in
// Rotterdam.
func fix(dev string, seq uint64, at time.Time, northM float64) proxmon.Record {
	return proxmon.Record{Kind: proxmon.RecordFix, Fix: proxmon.Fix{Device: dev, Seq: seq, Time: at,
		Lat: 51.92 + northM/111_200, Lon: 4.47, AccuracyM: 5, Source: proxmon.SourceGNSS, Satellites: 9}}
}
