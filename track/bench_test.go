package track_test

import (
	"io"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/stream"
	"github.com/proxmon/proxmon/track"
)

// BenchmarkExport exports a track of b.N fixes (one device at 1 Hz) from
// a real JetStream log. It reports fixes/s and, sampled every 10 ms during
// the export, how far the Go heap in use rose above its level before the
// export (export-heap-MB: what the export holds; the embedded server runs
// in this process, and its own memory for the stored log is the baseline),
// and the process's peak RSS (server included). For the figures of
// docs/TRACK.md:
//
//	go test -run '^$' -bench 'BenchmarkExport' -benchtime 1000000x ./track
//	go test -run '^$' -bench 'BenchmarkExport' -benchtime 100000x ./track
func BenchmarkExport(b *testing.B) {
	for _, f := range []track.Format{track.NDJSON, track.GeoJSON} {
		b.Run(string(f), func(b *testing.B) { benchExport(b, f) })
	}
}

func benchExport(b *testing.B, format track.Format) {
	// A short deduplication window: the server would otherwise keep every
	// message id of the load in memory, which is no part of the export.
	js := MustJetStream(b, stream.Config{Duplicates: time.Second})
	n := b.N
	t0 := time.Now().UTC().Add(-time.Duration(n) * time.Second).Truncate(time.Second)
	l := stream.NewLog(js, nil)
	var (
		mu    sync.Mutex
		first error
	)
	done := func(err error) {
		if err != nil {
			mu.Lock()
			first = err
			mu.Unlock()
		}
	}
	for i := range n {
		r := proxmon.Record{Kind: proxmon.RecordFix, Fix: proxmon.Fix{Device: "tag-1", Seq: uint64(i),
			Time: t0.Add(time.Duration(i) * time.Second), Lat: 51.92 + float64(i%1000)*1e-5, Lon: 4.47 + float64(i%777)*1e-5,
			AccuracyM: 6, Source: proxmon.SourceGNSS, Satellites: 8, SpeedMps: 1.4, HeadingDeg: 90}}
		if err := l.Append(&r, done); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Close(b.Context()); err != nil || first != nil {
		b.Fatal(err, first)
	}
	runtime.GC()
	base := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(base)
	q := track.Query{Device: "tag-1", From: t0, To: t0.Add(time.Duration(n) * time.Second)}

	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var max uint64
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			max = maxU(max, s[0].Value.Uint64())
			select {
			case <-stop:
				peak <- max
				return
			case <-tick.C:
			}
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	got, err := track.Export(b.Context(), stream.NewArchive(js), q, format, io.Discard)
	b.StopTimer()
	close(stop)
	heap := <-peak
	if err != nil {
		b.Fatal(err)
	}
	if got != n {
		b.Fatalf("exported %d points, want %d", got, n)
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "fixes/s")
	b.ReportMetric(float64(heap-min(heap, base[0].Value.Uint64()))/(1<<20), "export-heap-MB")
	b.ReportMetric(float64(ru.Maxrss)/1024, "maxrss-MB")
	b.Log("exported " + strconv.Itoa(n) + " fixes")
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}
