package track

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Format is an export format.
type Format string

// Export formats.
const (
	GeoJSON Format = "geojson"
	GPX     Format = "gpx"
	CSV     Format = "csv"
	NDJSON  Format = "ndjson"
)

// Formats lists the export formats.
var Formats = []Format{GeoJSON, GPX, CSV, NDJSON}

// ParseFormat returns the format named s.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("%w: format %q: want geojson, gpx, csv or ndjson", ErrQuery, s)
}

// ContentType is the media type of the format, for an HTTP response.
func (f Format) ContentType() string {
	switch f {
	case GeoJSON:
		return "application/geo+json"
	case GPX:
		return "application/gpx+xml"
	case CSV:
		return "text/csv; charset=utf-8"
	default:
		return "application/x-ndjson"
	}
}

// Export writes the track q selects to w in format f and returns the
// number of points written. Points come in log order; each carries its
// accuracy, source and flags. The line of GeoJSON and the track of GPX hold
// the positions the engine took (in GPS time order, since a position is
// always newer than the one before); flagged fixes are points (GeoJSON) or
// waypoints (GPX) of their own. GeoJSON and GPX read the log twice.
// Output is buffered (64 KiB); on an error, the buffer is not flushed.
func Export(ctx context.Context, log Log, q Query, f Format, w io.Writer) (int, error) {
	if err := q.check(); err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var (
		n   int
		err error
	)
	switch f {
	case NDJSON:
		n, err = exportNDJSON(ctx, log, q, bw)
	case CSV:
		n, err = exportCSV(ctx, log, q, bw)
	case GeoJSON:
		n, err = exportGeoJSON(ctx, log, q, bw)
	case GPX:
		n, err = exportGPX(ctx, log, q, bw)
	default:
		_, err = ParseFormat(string(f))
	}
	if err != nil {
		// What is still buffered is dropped: an error within the first
		// 64 KiB leaves w untouched, so a caller that has written nothing
		// yet (the API) can still answer with an error instead of a
		// truncated track.
		return n, err
	}
	return n, bw.Flush()
}

// pointJSON is a point in NDJSON and in evidence records.
type pointJSON struct {
	LogSeq     uint64    `json:"log_seq"`
	Device     string    `json:"device"`
	Seq        uint64    `json:"seq"`
	Time       time.Time `json:"time"`
	Received   time.Time `json:"received"`
	Lat        float64   `json:"lat"`
	Lon        float64   `json:"lon"`
	AccuracyM  float64   `json:"accuracy_m,omitempty"`
	SpeedMps   float64   `json:"speed_mps,omitempty"`
	HeadingDeg float64   `json:"heading_deg,omitempty"`
	Source     string    `json:"source,omitempty"`
	Satellites int       `json:"satellites,omitempty"`
	Flags      []string  `json:"flags,omitempty"`
}

func (p *Point) json() pointJSON {
	f := &p.Fix
	return pointJSON{LogSeq: p.LogSeq, Device: f.Device, Seq: f.Seq, Time: f.Time.UTC(), Received: f.ReceivedOrTime().UTC(),
		Lat: f.Lat, Lon: f.Lon, AccuracyM: f.AccuracyM, SpeedMps: f.SpeedMps, HeadingDeg: f.HeadingDeg,
		Source: string(f.Source), Satellites: f.Satellites, Flags: p.Flags.Names()}
}

func exportNDJSON(ctx context.Context, log Log, q Query, w io.Writer) (int, error) {
	enc := json.NewEncoder(w)
	n := 0
	err := Points(ctx, log, q, func(p *Point) error {
		n++
		j := p.json()
		return enc.Encode(&j)
	})
	return n, err
}

var csvHeader = []string{"log_seq", "device", "seq", "time", "received", "lat", "lon", "accuracy_m",
	"speed_mps", "heading_deg", "source", "satellites", "flags"}

func exportCSV(ctx context.Context, log Log, q Query, w io.Writer) (int, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return 0, err
	}
	row := make([]string, len(csvHeader))
	n := 0
	err := Points(ctx, log, q, func(p *Point) error {
		n++
		f := &p.Fix
		row[0] = strconv.FormatUint(p.LogSeq, 10)
		row[1] = f.Device
		row[2] = strconv.FormatUint(f.Seq, 10)
		row[3] = f.Time.UTC().Format(time.RFC3339Nano)
		row[4] = f.ReceivedOrTime().UTC().Format(time.RFC3339Nano)
		row[5] = num(f.Lat)
		row[6] = num(f.Lon)
		row[7] = num(f.AccuracyM)
		row[8] = num(f.SpeedMps)
		row[9] = num(f.HeadingDeg)
		row[10] = string(f.Source)
		row[11] = strconv.Itoa(f.Satellites)
		row[12] = p.Flags.String()
		return cw.Write(row)
	})
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	return n, err
}

// num writes a number in plain decimal notation (no exponent): what
// xsd:decimal, GeoJSON readers and spreadsheets all accept.
func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func appendNum(b []byte, v float64) []byte { return strconv.AppendFloat(b, v, 'f', -1, 64) }

func newLineWriter(w io.Writer) *bufio.Writer { return bufio.NewWriterSize(w, 64<<10) }
