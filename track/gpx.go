package track

import (
	"context"
	"encoding/xml"
	"io"
	"strconv"
	"time"
)

// GPX 1.1 (https://www.topografix.com/GPX/1/1/gpx.xsd). The schema fixes
// the order of elements: in gpx, metadata, wpt*, rte*, trk*, extensions;
// in a point (wptType), ele, time, ..., src, ..., type, ..., sat, ...,
// extensions; in trk, name, ..., type, extensions, trkseg*. Extensions
// must be in another namespace (xsd:any namespace="##other").
const (
	gpxNS     = "http://www.topografix.com/GPX/1/1"
	gpxSchema = "http://www.topografix.com/GPX/1/1 http://www.topografix.com/GPX/1/1/gpx.xsd"
	// ExtNS is the namespace of proxmon's point extensions (accuracy,
	// sequence numbers, flags).
	ExtNS = "https://proxmon.github.io/gpx/1"
)

// exportGPX writes a GPX 1.1 document: the flagged fixes (late, anomalous,
// duplicate) as waypoints, then one track whose segment holds the
// positions the engine took. The schema puts waypoints before tracks, so
// the log is read once for each.
func exportGPX(ctx context.Context, log Log, q Query, w io.Writer) (int, error) {
	var b []byte
	b = append(b, xml.Header...)
	b = append(b, `<gpx version="1.1" creator="proxmon" xmlns="`+gpxNS+`" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:pm="`+ExtNS+`" xsi:schemaLocation="`+gpxSchema+`">`+"\n"...)
	b = append(b, "<metadata><name>"...)
	b = appendXML(b, q.Device)
	b = append(b, "</name><desc>fixes with GPS time in ["...)
	b = q.From.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ", "...)
	b = q.To.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ")</desc></metadata>\n"...)
	if _, err := w.Write(b); err != nil {
		return 0, err
	}
	n := 0
	err := Points(ctx, log, q, func(p *Point) error {
		if p.Flags.Position() {
			return nil
		}
		n++
		b = appendGPXPoint(b[:0], "wpt", p)
		_, err := w.Write(b)
		return err
	})
	if err != nil {
		return n, err
	}
	b = append(b[:0], "<trk><name>"...)
	b = appendXML(b, q.Device)
	b = append(b, "</name><type>track</type><trkseg>\n"...)
	if _, err := w.Write(b); err != nil {
		return n, err
	}
	err = Points(ctx, log, q, func(p *Point) error {
		if !p.Flags.Position() {
			return nil
		}
		n++
		b = appendGPXPoint(b[:0], "trkpt", p)
		_, err := w.Write(b)
		return err
	})
	if err != nil {
		return n, err
	}
	_, err = io.WriteString(w, "</trkseg></trk>\n</gpx>\n")
	return n, err
}

func appendGPXPoint(b []byte, elem string, p *Point) []byte {
	f := &p.Fix
	b = append(b, '<')
	b = append(b, elem...)
	b = append(b, ` lat="`...)
	b = appendNum(b, f.Lat)
	b = append(b, `" lon="`...)
	b = appendNum(b, f.Lon)
	b = append(b, `"><time>`...)
	b = f.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, "</time>"...)
	if f.Source != "" {
		b = append(b, "<src>"...)
		b = appendXML(b, string(f.Source))
		b = append(b, "</src>"...)
	}
	if !p.Flags.Position() {
		b = append(b, "<type>"...)
		b = append(b, p.Flags.String()...)
		b = append(b, "</type>"...)
	}
	if f.Satellites > 0 {
		b = append(b, "<sat>"...)
		b = strconv.AppendInt(b, int64(f.Satellites), 10)
		b = append(b, "</sat>"...)
	}
	b = append(b, "<extensions><pm:log_seq>"...)
	b = strconv.AppendUint(b, p.LogSeq, 10)
	b = append(b, "</pm:log_seq><pm:seq>"...)
	b = strconv.AppendUint(b, f.Seq, 10)
	b = append(b, "</pm:seq><pm:received>"...)
	b = f.ReceivedOrTime().UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, "</pm:received>"...)
	if f.AccuracyM > 0 {
		b = append(b, "<pm:accuracy_m>"...)
		b = appendNum(b, f.AccuracyM)
		b = append(b, "</pm:accuracy_m>"...)
	}
	if f.SpeedMps > 0 {
		b = append(b, "<pm:speed_mps>"...)
		b = appendNum(b, f.SpeedMps)
		b = append(b, "</pm:speed_mps>"...)
	}
	if f.HeadingDeg > 0 {
		b = append(b, "<pm:heading_deg>"...)
		b = appendNum(b, f.HeadingDeg)
		b = append(b, "</pm:heading_deg>"...)
	}
	if !p.Flags.Position() {
		b = append(b, "<pm:flags>"...)
		b = append(b, p.Flags.String()...)
		b = append(b, "</pm:flags>"...)
	}
	b = append(b, "</extensions></"...)
	b = append(b, elem...)
	return append(b, ">\n"...)
}

// appendXML appends s escaped as XML character data.
func appendXML(b []byte, s string) []byte {
	w := sliceWriter{b}
	_ = xml.EscapeText(&w, []byte(s))
	return w.b
}

type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
