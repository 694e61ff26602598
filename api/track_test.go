package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/api"
	"github.com/proxmon/proxmon/centre"
	"github.com/proxmon/proxmon/natsd"
	"github.com/proxmon/proxmon/natsd/natsdtest"
	"github.com/proxmon/proxmon/stream"
	"github.com/proxmon/proxmon/track"
)

// Track users: a case manager for each case, beside the roles' users.
const (
	tokOp, tokSup, tokAdmin, tokCM1, tokCM2 = "tok-op", "tok-sup", "tok-admin", "tok-cm1", "tok-cm2"
)

const trackUsers = `users:
  - {name: op-1, role: operator, token_sha256: %op}
  - {name: sup-1, role: supervisor, token_sha256: %sup}
  - {name: admin-1, role: admin, token_sha256: %admin}
  - {name: cm-1, role: case_manager, token_sha256: %cm1, cases: [case-1]}
  - {name: cm-2, role: case_manager, token_sha256: %cm2, cases: [case-2]}
`

// trackFixture is an api server over a real archive (FIXES on an embedded
// server) holding 3 fixes of tag-1 (offender of case-1), 2 of phone-1
// (its victim) and 1 of tag-2 (offender of case-2), all near place.
type trackFixture struct {
	ts    *httptest.Server
	m     *memCentre
	h     http.Handler
	start time.Time // GPS time of the first fix
}

const place = "51.92,4.47"

func newTrackFixture(tb testing.TB, archive func(track.Log) track.Log) *trackFixture {
	tb.Helper()
	_, _, js := natsdtest.MustJetStream(tb, natsd.Options{})
	if err := stream.Setup(tb.Context(), js, stream.Config{}); err != nil {
		tb.Fatal(err)
	}
	start := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	fix := func(dev string, seq uint64, after time.Duration, northM float64) proxmon.Record {
		return proxmon.Record{Kind: proxmon.RecordFix, Fix: proxmon.Fix{Device: dev, Seq: seq, Time: start.Add(after),
			Lat: 51.92 + northM/111_200, Lon: 4.47, AccuracyM: 5, Source: proxmon.SourceGNSS}}
	}
	for _, r := range []proxmon.Record{
		fix("tag-1", 1, 0, 300), fix("phone-1", 1, 10*time.Second, 0), fix("tag-1", 2, time.Minute, 200),
		fix("tag-2", 1, time.Minute, 100), fix("tag-1", 3, 2*time.Minute, 150), fix("phone-1", 2, 3*time.Minute, 0),
	} {
		if _, err := stream.AppendSync(tb.Context(), js, &r); err != nil {
			tb.Fatal(err)
		}
	}
	users, err := api.ParseUsers([]byte(strings.NewReplacer("%op", api.HashToken(tokOp), "%sup", api.HashToken(tokSup),
		"%admin", api.HashToken(tokAdmin), "%cm1", api.HashToken(tokCM1), "%cm2", api.HashToken(tokCM2)).Replace(trackUsers)))
	if err != nil {
		tb.Fatal(err)
	}
	var log track.Log = stream.NewArchive(js)
	if archive != nil {
		log = archive(log)
	}
	m := &memCentre{book: centre.NewBook(centre.Options{})}
	srv := api.New(api.Options{Centre: m, Users: users, Archive: log, Devices: &memDevices{devs: []centre.Device{
		{ID: "tag-1", Kind: proxmon.DeviceTag, Cases: []string{"case-1"}},
		{ID: "phone-1", Kind: proxmon.DeviceVictim, Cases: []string{"case-1"}},
		{ID: "tag-2", Kind: proxmon.DeviceTag, Cases: []string{"case-2"}},
	}}})
	ts := httptest.NewServer(srv.Handler())
	tb.Cleanup(ts.Close)
	return &trackFixture{ts: ts, m: m, h: srv.Handler(), start: start}
}

// period is the query of the fixture's whole period.
func (f *trackFixture) period() string {
	return "from=" + f.start.Add(-time.Minute).Format(time.RFC3339) + "&to=" + f.start.Add(10*time.Minute).Format(time.RFC3339)
}

type answer struct {
	code int
	hdr  http.Header
	body []byte
	err  error // reading the body
}

func (a answer) problem() map[string]any {
	var p map[string]any
	_ = json.Unmarshal(a.body, &p)
	return p
}

func (f *trackFixture) get(tb testing.TB, path, token, reason string) answer {
	tb.Helper()
	return getAs(tb, f.ts.URL+path, token, reason)
}

// getAs GETs url with a bearer token and a reason (X-Reason) unless "".
func getAs(tb testing.TB, url, token, reason string) answer {
	tb.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if reason != "" {
		req.Header.Set("X-Reason", reason)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return answer{res.StatusCode, res.Header, b, err}
}

// lastAudit returns the audit entry of the last call.
func (f *trackFixture) lastAudit() centre.AuditEntry {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	return f.m.audit[len(f.m.audit)-1]
}

// Who reads which track: the offenders' an operator and a supervisor, a
// case manager his own case's offender only, a victim's only a supervisor
// with a reason, an admin none; every call audited with its device, case
// and reason.
func TestTrackRoles(t *testing.T) {
	f := newTrackFixture(t, nil)
	const reason = "incident 4711"
	for _, c := range []struct {
		token, reason, device string
		code                  int
		problem               string
		points                int
	}{
		{"", "", "tag-1", 401, "unauthenticated", 0},
		{"wrong-token", "", "tag-1", 401, "unauthenticated", 0},
		{tokAdmin, reason, "tag-1", 403, "forbidden", 0},
		{tokOp, "", "tag-1", 200, "", 3},
		{tokOp, "", "tag-2", 200, "", 1},
		{tokOp, reason, "phone-1", 403, "forbidden", 0},
		{tokSup, "", "tag-1", 200, "", 3},
		{tokSup, "", "phone-1", 403, "reason_required", 0},
		{tokSup, "  ", "phone-1", 403, "reason_required", 0},
		{tokSup, reason, "phone-1", 200, "", 2},
		{tokCM1, "", "tag-1", 200, "", 3},
		{tokCM1, "", "tag-2", 404, "not_found", 0},
		{tokCM1, reason, "phone-1", 403, "forbidden", 0},
		{tokCM2, "", "tag-2", 200, "", 1},
		{tokCM2, "", "tag-1", 404, "not_found", 0},
		{tokOp, "", "nobody", 404, "not_found", 0},
	} {
		path := "/api/v1/devices/" + c.device + "/track?format=ndjson&" + f.period()
		a := f.get(t, path, c.token, c.reason)
		name := c.token + " " + c.device + " reason " + c.reason
		if a.code != c.code {
			t.Errorf("%s: %d %s, want %d", name, a.code, a.body, c.code)
			continue
		}
		e := f.lastAudit()
		if e.Path != path || e.Status != c.code || e.Reason != strings.TrimSpace(c.reason) {
			t.Errorf("%s: audit %+v", name, e)
		}
		if c.code != 200 {
			if p := a.problem(); p["code"] != c.problem || !strings.HasPrefix(a.hdr.Get("Content-Type"), "application/problem+json") {
				t.Errorf("%s: %s, want problem %s", name, a.body, c.problem)
			}
			if len(e.Devices) != 0 {
				t.Errorf("%s: refused, yet the audit says %v was given", name, e.Devices)
			}
			continue
		}
		if n := bytes.Count(a.body, []byte("\n")); n != c.points || !bytes.Contains(a.body, []byte(`"device":"`+c.device+`"`)) {
			t.Errorf("%s: %d points, want %d:\n%s", name, n, c.points, a.body)
		}
		if !slices.Equal(e.Devices, []string{c.device}) || e.Case == "" {
			t.Errorf("%s: audit without device or case: %+v", name, e)
		}
	}
}

// Each format: its media type, a file name, and the shape of its body.
func TestTrackFormats(t *testing.T) {
	f := newTrackFixture(t, nil)
	for _, c := range []struct {
		format, contentType string
		check               func([]byte) error
	}{
		{"", "application/geo+json", checkGeoJSON},
		{"geojson", "application/geo+json", checkGeoJSON},
		{"gpx", "application/gpx+xml", func(b []byte) error {
			var g struct {
				XMLName xml.Name
				Trk     struct {
					Seg struct {
						Pts []struct{} `xml:"trkpt"`
					} `xml:"trkseg"`
				} `xml:"trk"`
			}
			if err := xml.Unmarshal(b, &g); err != nil {
				return err
			}
			if g.XMLName.Local != "gpx" || len(g.Trk.Seg.Pts) != 3 {
				return errors.New("not a gpx with a track of 3 points")
			}
			return nil
		}},
		{"csv", "text/csv; charset=utf-8", func(b []byte) error {
			if !bytes.HasPrefix(b, []byte("log_seq,device,")) || bytes.Count(b, []byte("\n")) != 4 {
				return errors.New("not a header and 3 rows")
			}
			return nil
		}},
		{"ndjson", "application/x-ndjson", func(b []byte) error {
			if bytes.Count(b, []byte("\n")) != 3 {
				return errors.New("not 3 lines")
			}
			return nil
		}},
	} {
		a := f.get(t, "/api/v1/devices/tag-1/track?format="+c.format+"&"+f.period(), tokOp, "")
		ext := c.format
		if ext == "" {
			ext = "geojson"
		}
		if a.code != 200 || a.err != nil || a.hdr.Get("Content-Type") != c.contentType {
			t.Errorf("format %q: %d %v %q", c.format, a.code, a.err, a.hdr.Get("Content-Type"))
			continue
		}
		if cd := a.hdr.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename=tag-1_`) || !strings.HasSuffix(cd, "."+ext) {
			t.Errorf("format %q: Content-Disposition %q", c.format, cd)
		}
		if err := c.check(a.body); err != nil {
			t.Errorf("format %q: %v:\n%s", c.format, err, a.body)
		}
	}
}

func checkGeoJSON(b []byte) error {
	var g struct {
		Type     string
		Features []struct {
			Geometry struct{ Type string }
		}
	}
	if err := json.Unmarshal(b, &g); err != nil {
		return err
	}
	if g.Type != "FeatureCollection" || len(g.Features) != 4 || g.Features[0].Geometry.Type != "LineString" {
		return errors.New("not a FeatureCollection of a line and 3 points")
	}
	return nil
}

// Who passed the place: each user sees only the devices whose tracks he
// may read; the audit names the devices given.
func TestTrackNearRoles(t *testing.T) {
	f := newTrackFixture(t, nil)
	path := "/api/v1/track/near?at=" + place + "&radius_m=250&" + f.period()
	for _, c := range []struct {
		token, reason string
		code          int
		devices       []string
	}{
		{"", "", 401, nil},
		{tokAdmin, "", 403, nil},
		{tokOp, "", 200, []string{"tag-2", "tag-1"}},
		{tokOp, "incident", 200, []string{"tag-2", "tag-1"}},
		{tokSup, "", 200, []string{"tag-2", "tag-1"}},
		{tokSup, "incident", 200, []string{"phone-1", "tag-2", "tag-1"}},
		{tokCM1, "incident", 200, []string{"tag-1"}},
		{tokCM2, "", 200, []string{"tag-2"}},
	} {
		a := f.get(t, path, c.token, c.reason)
		if a.code != c.code {
			t.Errorf("%s %q: %d %s", c.token, c.reason, a.code, a.body)
			continue
		}
		if c.code != 200 {
			continue
		}
		var out struct{ Passes []track.PassJSON }
		if err := json.Unmarshal(a.body, &out); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range out.Passes {
			got = append(got, p.Device)
		}
		if !slices.Equal(got, c.devices) {
			t.Errorf("%s %q: %v, want %v", c.token, c.reason, got, c.devices)
		}
		if p := out.Passes[len(out.Passes)-1]; p.Device == "tag-1" && (p.Fixes != 2 || !p.Time.Equal(f.start.Add(2*time.Minute)) || p.DistanceM < 149 || p.DistanceM > 151) {
			t.Errorf("tag-1's pass: %+v", p)
		}
		if e := f.lastAudit(); !slices.Equal(e.Devices, c.devices) || e.Status != 200 {
			t.Errorf("%s %q: audit %+v", c.token, c.reason, e)
		}
	}
}

// Bad parameters: 400 problems naming the parameter, never a 500.
func TestTrackBadParameters(t *testing.T) {
	f := newTrackFixture(t, nil)
	now := time.Now().UTC()
	ts := func(d time.Duration) string { return url.QueryEscape(now.Add(d).Format(time.RFC3339)) }
	for _, c := range []struct{ path, field string }{
		{"/api/v1/devices/tag-1/track?format=kml", "format"},
		{"/api/v1/devices/tag-1/track?format=", ""},
		{"/api/v1/devices/tag-1/track?from=yesterday", "from"},
		{"/api/v1/devices/tag-1/track?from=-1h", "from"},
		{"/api/v1/devices/tag-1/track?to=soon", "to"},
		{"/api/v1/devices/tag-1/track?from=1h&to=2h", "to"},
		{"/api/v1/devices/tag-1/track?from=" + ts(-time.Hour) + "&to=" + ts(-time.Hour), "to"},
		{"/api/v1/devices/tag-1/track?from=" + ts(-32*24*time.Hour), "from"},
		{"/api/v1/devices/tag-1/track?from=1h&from=2h", "from"},
		{"/api/v1/devices/tag-1/track?device=tag-2", "device"},
		{"/api/v1/devices/bad.id/track", "id"},
		{"/api/v1/track/near?radius_m=100", "at"},
		{"/api/v1/track/near?at=91,4&radius_m=100", "at"},
		{"/api/v1/track/near?at=51.9+4.4&radius_m=100", "at"},
		{"/api/v1/track/near?at=51.9;4.4&radius_m=100", ""},
		{"/api/v1/track/near?at=NaN,4&radius_m=100", "at"},
		{"/api/v1/track/near?at=" + place, "radius_m"},
		{"/api/v1/track/near?at=" + place + "&radius_m=0", "radius_m"},
		{"/api/v1/track/near?at=" + place + "&radius_m=Inf", "radius_m"},
		{"/api/v1/track/near?at=" + place + "&radius_m=100001", "radius_m"},
		{"/api/v1/track/near?at=" + place + "&radius_m=100&from=32d", "from"},
		{"/api/v1/track/near?at=" + place + "&radius_m=100&from=800h", "from"},
		{"/api/v1/track/near?at=" + place + "&radius_m=100&to=" + ts(-2*time.Hour) + "&from=1h", "to"},
		{"/api/v1/track/near?at=" + place + "&radius_m=100&limit=5", "limit"},
		{"/api/v1/track/near?at=" + place + "&radius_m=100&from=%zz", ""},
	} {
		a := f.get(t, c.path, tokSup, "audit of the tests")
		switch {
		case strings.Contains(c.path, "%zz") || strings.Contains(c.path, ";"):
			if p := a.problem(); a.code != 400 || p["code"] != "bad_query" {
				t.Errorf("%s: %d %s, want a 400 problem: the query does not parse", c.path, a.code, a.body)
			}
			continue
		case c.field == "": // an empty format is the default
			if a.code != 200 {
				t.Errorf("%s: %d %s", c.path, a.code, a.body)
			}
			continue
		}
		if p := a.problem(); a.code != 400 || p["field"] != c.field || p["status"] != float64(400) || p["detail"] == "" {
			t.Errorf("%s: %d %s, want a 400 problem naming %s", c.path, a.code, a.body, c.field)
		}
	}
}

// failAfter is the archive failing after n points of a device's track
// (the store lost, say).
type failAfter struct {
	track.Log
	n int
}

func (l failAfter) ScanFixes(ctx context.Context, device string, from, to time.Time, fn func(uint64, *proxmon.Fix) error) error {
	mid := from.Add(to.Sub(from) / 2) // within the period asked for
	for i := range l.n {
		f := proxmon.Fix{Device: device, Seq: uint64(i + 1), Time: mid.Add(time.Duration(i) * time.Millisecond), Lat: 51.92, Lon: 4.47}
		if err := fn(uint64(i+1), &f); err != nil {
			return err
		}
	}
	return errors.New("archive lost")
}

// An archive failing before the first byte is a 503 problem; after it,
// the transfer breaks: the client cannot take a part for the whole.
func TestTrackArchiveFailure(t *testing.T) {
	for _, c := range []struct {
		n       int
		code    int
		readErr bool
	}{{0, 503, false}, {10, 503, false}, {5000, 200, true}} {
		f := newTrackFixture(t, func(l track.Log) track.Log { return failAfter{l, c.n} })
		a := f.get(t, "/api/v1/devices/tag-1/track?format=ndjson", tokOp, "")
		if a.code != c.code || (a.err != nil) != c.readErr {
			t.Errorf("failure after %d points: %d, read error %v", c.n, a.code, a.err)
		}
		if c.code == 503 && a.problem()["code"] != "archive_unavailable" {
			t.Errorf("failure after %d points: %s", c.n, a.body)
		}
		a = f.get(t, "/api/v1/track/near?at="+place+"&radius_m=100", tokOp, "")
		if a.code != 503 || a.problem()["code"] != "archive_unavailable" {
			t.Errorf("near, failure after %d points: %d %s", c.n, a.code, a.body)
		}
	}
}

// Whatever the query, a track or near search answers 200, or a 4xx
// problem that says what is wrong (and names the parameter at fault, but
// for one without a name).
func FuzzTrackQuery(f *testing.F) {
	fx := newTrackFixture(f, nil)
	for _, s := range []string{"", "format=gpx&from=1h", fx.period(), "from=2026-03-01T10:00:00Z&to=2026-03-02T10:00:00Z",
		"at=" + place + "&radius_m=100", "at=1e400,5&radius_m=1e-400", "from=9223372036854775807ns", "to=%zz", "format=csv&format=csv"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, path := range []string{"/api/v1/devices/tag-1/track", "/api/v1/track/near"} {
			req := httptest.NewRequest("GET", path, nil)
			req.URL.RawQuery = raw
			req.Header.Set("Authorization", "Bearer "+tokSup)
			req.Header.Set("X-Reason", "fuzz")
			rec := httptest.NewRecorder()
			fx.h.ServeHTTP(rec, req)
			switch {
			case rec.Code == 200:
			case rec.Code >= 400 && rec.Code < 500:
				var p map[string]any
				if json.Unmarshal(rec.Body.Bytes(), &p) != nil || p["status"] != float64(rec.Code) || p["detail"] == "" ||
					(p["field"] == nil && p["code"] != "bad_query" && !strings.HasPrefix(p["detail"].(string), `unknown parameter ""`)) ||
					rec.Header().Get("Content-Type") != "application/problem+json" {
					t.Errorf("%s?%s: %d %s: not a problem naming a parameter", path, raw, rec.Code, rec.Body)
				}
			default:
				t.Errorf("%s?%s: %d %s", path, raw, rec.Code, rec.Body)
			}
		}
	})
}
