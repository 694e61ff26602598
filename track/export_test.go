package track_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proxmon/proxmon/stream"
	"github.com/proxmon/proxmon/track"
)

// base is the GPS time of the test tracks: half an hour before the log
// stores them (so inside the default late window).
func base() time.Time { return time.Now().UTC().Add(-30 * time.Minute).Truncate(time.Second) }

// exportFixture stores a track of tag-1 with a late fix and an anomaly,
// and fixes of another device, and returns the query over it.
func exportFixture(t *testing.T) (*stream.Archive, track.Query) {
	t.Helper()
	js := MustJetStream(t, stream.Config{})
	t0 := base()
	MustAppend(t, js,
		fix("tag-1", 1, t0, 0),
		fix("tag-2", 1, t0, 5000),
		fix("tag-1", 2, t0.Add(10*time.Second), 100),
		fix("tag-1", 3, t0.Add(5*time.Second), 50),      // late: older than the position
		fix("tag-1", 4, t0.Add(20*time.Second), 50_000), // 50 km in 10 s: anomaly
		fix("tag-1", 5, t0.Add(30*time.Second), 200),
		fix("tag-1", 6, t0.Add(time.Hour), 300), // after the period
	)
	return stream.NewArchive(js), track.Query{Device: "tag-1", From: t0, To: t0.Add(time.Minute)}
}

var wantFlags = [][]string{nil, nil, {"out_of_order"}, {"anomaly"}, nil}

func TestExportNDJSON(t *testing.T) {
	a, q := exportFixture(t)
	var buf bytes.Buffer
	n, err := track.Export(t.Context(), a, q, track.NDJSON, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Fatalf("%d points, want 5", n)
	}
	dec := json.NewDecoder(&buf)
	var seqs []uint64
	for i := 0; dec.More(); i++ {
		var p struct {
			Seq       uint64   `json:"seq"`
			LogSeq    uint64   `json:"log_seq"`
			Device    string   `json:"device"`
			AccuracyM float64  `json:"accuracy_m"`
			Source    string   `json:"source"`
			Flags     []string `json:"flags"`
			Received  time.Time
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.Device != "tag-1" || p.AccuracyM != 5 || p.Source != "gnss" || p.LogSeq == 0 {
			t.Errorf("point %d: %+v", i, p)
		}
		if !slices.Equal(p.Flags, wantFlags[i]) {
			t.Errorf("point %d (seq %d): flags %v, want %v", i, p.Seq, p.Flags, wantFlags[i])
		}
		seqs = append(seqs, p.Seq)
	}
	if !slices.Equal(seqs, []uint64{1, 2, 3, 4, 5}) {
		t.Errorf("seqs %v, want 1..5 in log order", seqs)
	}
}

func TestExportCSV(t *testing.T) {
	a, q := exportFixture(t)
	var buf bytes.Buffer
	if _, err := track.Export(t.Context(), a, q, track.CSV, &buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 || rows[0][0] != "log_seq" || rows[0][12] != "flags" {
		t.Fatalf("rows %q", rows)
	}
	if rows[3][12] != "out_of_order" || rows[4][12] != "anomaly" || rows[1][12] != "" {
		t.Errorf("flags column: %q %q %q", rows[1][12], rows[3][12], rows[4][12])
	}
	if rows[1][5] != "51.92" || rows[1][6] != "4.47" || rows[1][7] != "5" || rows[1][10] != "gnss" {
		t.Errorf("first row %q", rows[1])
	}
}

func TestExportGeoJSON(t *testing.T) {
	a, q := exportFixture(t)
	var buf bytes.Buffer
	if _, err := track.Export(t.Context(), a, q, track.GeoJSON, &buf); err != nil {
		t.Fatal(err)
	}
	var fc struct {
		Type     string
		Features []struct {
			Type       string
			Properties map[string]any
			Geometry   struct {
				Type        string
				Coordinates json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &fc); err != nil {
		t.Fatalf("%v\n%s", err, buf.Bytes())
	}
	if fc.Type != "FeatureCollection" || len(fc.Features) != 6 {
		t.Fatalf("%s with %d features, want a FeatureCollection of a line and 5 points", fc.Type, len(fc.Features))
	}
	line := fc.Features[0]
	var coords [][2]float64
	if err := json.Unmarshal(line.Geometry.Coordinates, &coords); err != nil {
		t.Fatal(err)
	}
	if line.Geometry.Type != "LineString" || len(coords) != 3 {
		t.Fatalf("line %s with %d positions, want a LineString of the 3 positions", line.Geometry.Type, len(coords))
	}
	if coords[0] != [2]float64{4.47, 51.92} {
		t.Errorf("first position %v, want [lon, lat]", coords[0])
	}
	for i, f := range fc.Features[1:] {
		if f.Geometry.Type != "Point" {
			t.Errorf("feature %d: %s", i+1, f.Geometry.Type)
		}
	}
	if fl := fc.Features[4].Properties["flags"]; fl == nil || fl.([]any)[0] != "anomaly" {
		t.Errorf("4th point flags %v", fl)
	}
}

// GPX 1.1 as its schema has it: the namespace, the order of elements in
// gpx (metadata, wpt, trk) and in a point, extensions in their own
// namespace, decimal coordinates.
func TestExportGPX(t *testing.T) {
	a, q := exportFixture(t)
	var buf bytes.Buffer
	if _, err := track.Export(t.Context(), a, q, track.GPX, &buf); err != nil {
		t.Fatal(err)
	}
	type wpt struct {
		Lat  string    `xml:"lat,attr"`
		Lon  string    `xml:"lon,attr"`
		Time time.Time `xml:"http://www.topografix.com/GPX/1/1 time"`
		Type string    `xml:"http://www.topografix.com/GPX/1/1 type"`
		Ext  struct {
			Acc float64 `xml:"https://proxmon.github.io/gpx/1 accuracy_m"`
		} `xml:"http://www.topografix.com/GPX/1/1 extensions"`
	}
	var doc struct {
		XMLName xml.Name
		Version string `xml:"version,attr"`
		Creator string `xml:"creator,attr"`
		Wpt     []wpt  `xml:"http://www.topografix.com/GPX/1/1 wpt"`
		Trk     []struct {
			Seg []struct {
				Pt []wpt `xml:"http://www.topografix.com/GPX/1/1 trkpt"`
			} `xml:"http://www.topografix.com/GPX/1/1 trkseg"`
		} `xml:"http://www.topografix.com/GPX/1/1 trk"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.XMLName.Space != "http://www.topografix.com/GPX/1/1" || doc.XMLName.Local != "gpx" || doc.Version != "1.1" || doc.Creator == "" {
		t.Fatalf("root %v version %q creator %q", doc.XMLName, doc.Version, doc.Creator)
	}
	if len(doc.Wpt) != 2 || doc.Wpt[0].Type != "out_of_order" || doc.Wpt[1].Type != "anomaly" {
		t.Errorf("waypoints %+v, want the late fix and the anomaly", doc.Wpt)
	}
	if len(doc.Trk) != 1 || len(doc.Trk[0].Seg) != 1 || len(doc.Trk[0].Seg[0].Pt) != 3 {
		t.Fatalf("track %+v, want one segment of 3 positions", doc.Trk)
	}
	pt := doc.Trk[0].Seg[0].Pt[0]
	if pt.Lat != "51.92" || pt.Lon != "4.47" || pt.Ext.Acc != 5 || !pt.Time.Equal(q.From) {
		t.Errorf("first trkpt %+v", pt)
	}
	checkGPXOrder(t, buf.Bytes())
}

// gpxOrder is the sequence of child elements the schema allows, per
// parent; a child must not come after one listed later.
var gpxOrder = map[string][]string{
	"gpx":      {"metadata", "wpt", "rte", "trk", "extensions"},
	"metadata": {"name", "desc", "author", "copyright", "link", "time", "keywords", "bounds", "extensions"},
	"trk":      {"name", "cmt", "desc", "src", "link", "number", "type", "extensions", "trkseg"},
	"trkseg":   {"trkpt", "extensions"},
	"wpt": {"ele", "time", "magvar", "geoidheight", "name", "cmt", "desc", "src", "link", "sym", "type",
		"fix", "sat", "hdop", "vdop", "pdop", "ageofdgpsdata", "dgpsid", "extensions"},
}

func checkGPXOrder(t *testing.T, doc []byte) {
	t.Helper()
	gpxOrder["trkpt"] = gpxOrder["wpt"]
	const ns = "http://www.topografix.com/GPX/1/1"
	type frame struct {
		name string
		last int
	}
	var stack []frame
	dec := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if len(stack) > 0 && stack[len(stack)-1].name == "extensions" {
				if el.Name.Space == ns {
					t.Errorf("extension element %s in the GPX namespace", el.Name.Local)
				}
			}
			if len(stack) > 0 {
				top := &stack[len(stack)-1]
				if order, ok := gpxOrder[top.name]; ok {
					if el.Name.Space != ns {
						t.Errorf("<%s> in %s: namespace %q", el.Name.Local, top.name, el.Name.Space)
					}
					i := slices.Index(order, el.Name.Local)
					if i < 0 || i < top.last {
						t.Errorf("<%s> out of schema order in <%s>", el.Name.Local, top.name)
					}
					top.last = max(top.last, i)
				}
			}
			stack = append(stack, frame{name: el.Name.Local})
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if !strings.HasPrefix(string(doc), "<?xml") {
		t.Error("no XML declaration")
	}
}

func TestQueryChecked(t *testing.T) {
	a, q := exportFixture(t)
	for _, bad := range []track.Query{{Device: "x y", From: q.From, To: q.To}, {Device: "tag-1", From: q.To, To: q.From}, {Device: "tag-1"}} {
		if _, err := track.Export(t.Context(), a, bad, track.CSV, &bytes.Buffer{}); err == nil {
			t.Errorf("query %+v accepted", bad)
		}
	}
}
