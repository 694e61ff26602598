package stream_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/natsd"
	"github.com/proxmon/proxmon/natsd/natsdtest"
	"github.com/proxmon/proxmon/stream"
)

// installation starts an embedded server with proxmon's streams: one
// installation of proxmon.
func installation(t *testing.T) jetstream.JetStream {
	t.Helper()
	return installationWith(t, stream.Config{})
}

func installationWith(t *testing.T, cfg stream.Config) jetstream.JetStream {
	t.Helper()
	_, _, js := natsdtest.MustJetStream(t, natsd.Options{Dir: t.TempDir()})
	if err := stream.Setup(t.Context(), js, cfg); err != nil {
		t.Fatal(err)
	}
	return js
}

// An archive moved to another installation and exported from there has
// the contents hash (and bytes) of the original export; it lands outside
// FIXES, so the live engine there never sees it.
func TestArchiveRoundTrip(t *testing.T) {
	a := installation(t)
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	for i := range 50 {
		r := proxmon.Record{Kind: proxmon.RecordFix, Fix: proxmon.Fix{Device: "tag-1", Seq: uint64(i), Time: t0.Add(time.Duration(i) * time.Second),
			Lat: 51.92 + float64(i)/1e4, Lon: 4.47, AccuracyM: 5, Source: proxmon.SourceGNSS}}
		if _, err := stream.AppendSync(t.Context(), a, &r); err != nil {
			t.Fatal(err)
		}
	}
	tick := proxmon.Record{Kind: proxmon.RecordTick, Time: t0}
	if _, err := stream.AppendSync(t.Context(), a, &tick); err != nil {
		t.Fatal(err)
	}
	l := stream.NewLog(a, nil)
	done := make(chan error, 1)
	if err := l.Reject("decode", "proxmon/v1/devices/tag-1/fix", "bad protobuf", []byte{0xff, 0x00}, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	dirA := filepath.Join(t.TempDir(), "a")
	sumA, err := stream.ExportArchive(t.Context(), a, time.Time{}, time.Time{}, dirA, "")
	if err != nil {
		t.Fatal(err)
	}
	if sumA.Streams[stream.Fixes].Messages != 51 || sumA.Streams[stream.Rejected].Messages != 1 {
		t.Fatalf("exported %+v, want 51 log records and 1 rejection", sumA.Streams)
	}

	b := installation(t)
	for range 2 { // a second import stores nothing twice
		n, err := stream.ImportArchive(t.Context(), b, dirA, "from-a")
		if err != nil {
			t.Fatal(err)
		}
		if n[stream.Fixes] != 51 || n[stream.Rejected] != 1 {
			t.Fatalf("imported %v", n)
		}
	}
	for _, name := range []string{stream.Fixes, stream.Rejected} {
		s, err := b.Stream(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		if msgs := s.CachedInfo().State.Msgs; msgs != 0 {
			t.Errorf("the import put %d messages into %s", msgs, name)
		}
	}
	s, err := b.Stream(t.Context(), stream.Imported)
	if err != nil {
		t.Fatal(err)
	}
	if msgs := s.CachedInfo().State.Msgs; msgs != 52 {
		t.Errorf("%s holds %d messages, want 52", stream.Imported, msgs)
	}
	dirB := filepath.Join(t.TempDir(), "b")
	sumB, err := stream.ExportArchive(t.Context(), b, time.Time{}, time.Time{}, dirB, "from-a")
	if err != nil {
		t.Fatal(err)
	}
	for name, ss := range sumA.Streams {
		got := sumB.Streams[name]
		if got.Contents != ss.Contents || got.FileHash != ss.FileHash || got.Messages != ss.Messages {
			t.Errorf("%s after the round trip: %+v, want %+v", name, got, ss)
		}
	}

	// A period: only what was stored in it.
	sumP, err := stream.ExportArchive(t.Context(), a, time.Now().Add(time.Hour), time.Time{}, filepath.Join(t.TempDir(), "p"), "")
	if err != nil {
		t.Fatal(err)
	}
	if n := sumP.Streams[stream.Fixes].Messages; n != 0 {
		t.Errorf("%d messages stored after a future time", n)
	}
}
