package stream_test

import (
	"context"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/ingest"
	"github.com/proxmon/proxmon/natsd"
	"github.com/proxmon/proxmon/stream"
)

// sizingDevices is the fleet of BenchmarkSizing: 500 contact bans, a tag
// and a victim's phone each.
const sizingDevices = 1000

// BenchmarkSizing measures what the log and its companions store, for
// docs/SIZING.md. It applies 500 cases (1,000 devices), appends b.N fixes
// round robin as ingest does (each decoded from the devices' protobuf, so
// numbers carry what a device sends), runs the engine over them, and
// reports:
//
//   - fix-B: bytes of FIXES' state per fix (JetStream's message size:
//     subject, headers with Nats-Msg-Id, JSON record);
//
//   - fix-disk-B: bytes of FIXES' files on disk per fix (block files and
//     indexes);
//
//   - tick-B, heartbeat-B: the same per tick and heartbeat record;
//
//   - event-B: bytes of EVENTS' state per event;
//
//   - snapshot-B: the engine's snapshot with 1,000 devices and 500 cases.
//
//     go test -run '^$' -bench BenchmarkSizing -benchtime 100000x ./stream
func BenchmarkSizing(b *testing.B) {
	dir := b.TempDir()
	srv, err := natsd.Start(natsd.Options{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := nats.Connect("", nats.InProcessServer(srv.InProcess()))
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := stream.Setup(ctx, js, stream.Config{}); err != nil {
		b.Fatal(err)
	}
	if _, err := stream.ApplyCases(ctx, js, sizingCaseFile(b)); err != nil {
		b.Fatal(err)
	}
	fixesDir := filepath.Join(dir, "jetstream", "jetstream", "$G", "streams", stream.Fixes)
	state := func() (bytes, disk uint64) {
		s, err := js.Stream(ctx, stream.Fixes)
		if err != nil {
			b.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			b.Fatal(err)
		}
		return info.State.Bytes, dirSize(b, fixesDir)
	}

	// Ticks and heartbeats: 1,000 of each.
	bytes0, _ := state()
	for i := range 2000 {
		rec := proxmon.Record{Kind: proxmon.RecordTick, Time: time.Now().UTC()}
		if i%2 == 1 {
			rec.Kind = proxmon.RecordHeartbeat
		}
		if _, err := stream.AppendSync(ctx, js, &rec); err != nil {
			b.Fatal(err)
		}
	}
	bytes1, disk1 := state()
	beatB := float64(bytes1-bytes0) / 2000

	// Fixes, as ingest appends them.
	log := stream.NewLog(js, nil)
	start := time.Now().UTC().Add(-time.Duration(b.N/sizingDevices+1) * 10 * time.Second)
	failed := make(chan error, 1)
	b.ResetTimer()
	for i := range b.N {
		f := sizingFix(b, i, start)
		rec := proxmon.Record{Kind: proxmon.RecordFix, Fix: f}
		if err := log.Append(&rec, func(err error) {
			if err != nil {
				select {
				case failed <- err:
				default:
				}
			}
		}); err != nil {
			b.Fatal(err)
		}
	}
	if err := log.Close(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	select {
	case err := <-failed:
		b.Fatal(err)
	default:
	}
	bytes2, disk2 := state()

	// The engine over it all.
	r := stream.NewRunner(js, stream.RunnerOptions{TickEvery: -1, SnapshotEvery: time.Hour})
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	if err := r.Drain(ctx); err != nil {
		b.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			b.Fatal(err)
		}
	case <-time.After(5 * time.Minute):
		b.Fatal("engine did not drain in 5 minutes")
	}
	ev, err := js.Stream(ctx, stream.Events)
	if err != nil {
		b.Fatal(err)
	}
	evInfo, err := ev.Info(ctx)
	if err != nil {
		b.Fatal(err)
	}
	obs, err := js.ObjectStore(ctx, stream.Snapshots)
	if err != nil {
		b.Fatal(err)
	}
	snap, err := obs.GetInfo(ctx, "fence-"+stream.Partition)
	if err != nil {
		b.Fatal(err)
	}

	b.ReportMetric(float64(bytes2-bytes1)/float64(b.N), "fix-B")
	b.ReportMetric(float64(disk2-disk1)/float64(b.N), "fix-disk-B")
	b.ReportMetric(beatB, "tick-B")
	if evInfo.State.Msgs > 0 {
		b.ReportMetric(float64(evInfo.State.Bytes)/float64(evInfo.State.Msgs), "event-B")
		b.ReportMetric(float64(evInfo.State.Msgs)/float64(b.N)*1000, "events/1000fixes")
	}
	b.ReportMetric(float64(snap.Size), "snapshot-B")
	b.ReportMetric(0, "ns/op")
}

// sizingCaseFile returns 500 cases: tag-NNNN must keep 500 m from
// phone-NNNN.
func sizingCaseFile(b *testing.B) *proxmon.CaseFile {
	b.Helper()
	yaml := "devices:\n"
	for i := range sizingDevices / 2 {
		yaml += fmt.Sprintf("  - {id: tag-%04d, kind: tag, report_interval_s: 10}\n  - {id: phone-%04d, kind: victim, report_interval_s: 60}\n", i, i)
	}
	yaml += "cases:\n"
	for i := range sizingDevices / 2 {
		yaml += fmt.Sprintf("  - id: case-%04d\n    risk: high\n    offender: tag-%04d\n    contact_bans:\n      - {protected: phone-%04d, alert_m: 500, warn_m: 1500}\n", i, i, i)
	}
	cf, err := proxmon.ParseCaseFile([]byte(yaml))
	if err != nil {
		b.Fatal(err)
	}
	return cf
}

// sizingFix returns the i-th fix of the fleet, round robin over its
// devices, 10 s apart per device, as the device's protobuf decodes: pairs
// spread over the Netherlands, each tag circling its victim at 1-3 km and
// coming within 1,200 m (a contact warning) now and then.
func sizingFix(b *testing.B, i int, start time.Time) proxmon.Fix {
	b.Helper()
	pair, round := (i/2)%(sizingDevices/2), i/sizingDevices
	lat := 51.5 + float64(pair%25)*0.05
	lon := 4.0 + float64(pair/25)*0.08
	f := proxmon.Fix{Seq: uint64(round + 1), Time: start.Add(time.Duration(round) * 10 * time.Second),
		AccuracyM: 4.8, Source: proxmon.SourceGNSS, Satellites: 9}
	if i%2 == 0 {
		f.Device = fmt.Sprintf("tag-%04d", pair)
		d := 2000 + 900*math.Cos(float64(round)/7)
		angle := float64(round) / 11
		f.Lat = lat + d*math.Cos(angle)/111_200
		f.Lon = lon + d*math.Sin(angle)/(111_200*math.Cos(lat*math.Pi/180))
		f.SpeedMps, f.HeadingDeg = 1.4, math.Mod(angle*180/math.Pi+90, 360)
	} else {
		f.Device = fmt.Sprintf("phone-%04d", pair)
		f.Lat, f.Lon = lat, lon
		f.AccuracyM, f.Source, f.Satellites = 12.5, proxmon.SourceWiFi, 0
	}
	got, err := ingest.DecodeFix(f.Device, ingest.EncodeFix(f))
	if err != nil {
		b.Fatal(err)
	}
	return got
}

// dirSize returns the bytes of the files under dir.
func dirSize(b *testing.B, dir string) uint64 {
	b.Helper()
	var n uint64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += uint64(info.Size())
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
