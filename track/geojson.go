package track

import (
	"context"
	"encoding/json"
	"io"
	"time"
)

// exportGeoJSON writes an RFC 7946 FeatureCollection: first a LineString
// of the positions the engine took (only when there are two or more: a
// LineString needs two positions), then one Point feature per fix, in log
// order, with its properties. The first pass writes the line, the second
// the points, so neither is held in memory.
func exportGeoJSON(ctx context.Context, log Log, q Query, w io.Writer) (int, error) {
	if _, err := io.WriteString(w, `{"type":"FeatureCollection","features":[`); err != nil {
		return 0, err
	}
	lineProps, err := json.Marshal(struct {
		Device string    `json:"device"`
		Kind   string    `json:"kind"`
		From   time.Time `json:"from"`
		To     time.Time `json:"to"`
	}{q.Device, "track", q.From.UTC(), q.To.UTC()})
	if err != nil {
		return 0, err
	}
	var (
		b       []byte
		first   [2]float64
		nPos    int
		written bool // any feature so far
	)
	err = Points(ctx, log, q, func(p *Point) error {
		if !p.Flags.Position() {
			return nil
		}
		nPos++
		switch nPos {
		case 1:
			first = [2]float64{p.Fix.Lon, p.Fix.Lat}
			return nil
		case 2:
			b = append(b[:0], `{"type":"Feature","properties":`...)
			b = append(b, lineProps...)
			b = append(b, `,"geometry":{"type":"LineString","coordinates":[`...)
			b = appendCoord(b, first[0], first[1])
			b = append(b, ',')
		default:
			b = append(b[:0], ',')
		}
		b = appendCoord(b, p.Fix.Lon, p.Fix.Lat)
		_, err := w.Write(b)
		return err
	})
	if err != nil {
		return 0, err
	}
	if nPos >= 2 {
		if _, err := io.WriteString(w, `]}}`); err != nil {
			return 0, err
		}
		written = true
	}
	n := 0
	err = Points(ctx, log, q, func(p *Point) error {
		n++
		b = b[:0]
		if written {
			b = append(b, ',')
		}
		written = true
		props, err := json.Marshal(p.json())
		if err != nil {
			return err
		}
		b = append(b, `{"type":"Feature","properties":`...)
		b = append(b, props...)
		b = append(b, `,"geometry":{"type":"Point","coordinates":`...)
		b = appendCoord(b, p.Fix.Lon, p.Fix.Lat)
		b = append(b, "}}\n"...)
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		return n, err
	}
	_, err = io.WriteString(w, "]}\n")
	return n, err
}

// appendCoord appends a GeoJSON position: [lon, lat].
func appendCoord(b []byte, lon, lat float64) []byte {
	b = append(b, '[')
	b = appendNum(b, lon)
	b = append(b, ',')
	b = appendNum(b, lat)
	return append(b, ']')
}
