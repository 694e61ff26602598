package main

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/centre"
	"github.com/proxmon/proxmon/stream"
)

const (
	drillSecret         = "drill-tag-secret-0123456789"
	trackSupervisorTok  = "supervisor-token-for-track-tests"
	trackCaseManagerTok = "case-manager-token-for-track-tests"
)

// startTrackService runs serve with every role, the HTTP API (a
// supervisor, and a case manager of case-1) and serveCases plus a drill
// case whose offender drill-tag has the MQTT secret drillSecret.
func startTrackService(t *testing.T) (s *Service, base string) {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(drillSecret), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cases := strings.Replace(serveCases, "cases:\n", fmt.Sprintf("  - {id: drill-tag, kind: tag, report_interval_s: 600, mqtt_password_bcrypt: %q}\n", hash)+
		"cases:\n  - {id: drill-1, risk: low, offender: drill-tag, drill: true}\n", 1)
	s, base = startWithUsers(t, cases, nil,
		apiUser{"sup-1", centre.Supervisor, trackSupervisorTok, nil},
		apiUser{"cm-1", centre.CaseManager, trackCaseManagerTok, []string{"case-1"}})
	t.Cleanup(func() { closeService(t, s) })
	return s, base
}

// A track recorded in FIXES, played at 40x under the drill device's id
// over MQTT, arrives in FIXES under that id: the same positions in order,
// fresh seqs and times, the gaps divided by 40; the late fix left out.
func TestTrackPlay(t *testing.T) {
	s, _ := startTrackService(t)
	t0 := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	recorded := []proxmon.Fix{tagAt(1, t0, 3000), tagAt(2, t0.Add(20*time.Second), 2500), tagAt(3, t0.Add(60*time.Second), 2000),
		tagAt(4, t0.Add(30*time.Second), 2200), tagAt(5, t0.Add(62*time.Second), 1900)} // seq 4 is late
	appendFixes(t, s, recorded...)
	played := []proxmon.Fix{recorded[0], recorded[1], recorded[2], recorded[4]}
	wantGaps := []time.Duration{500 * time.Millisecond, time.Second, 50 * time.Millisecond}

	pw := filepath.Join(t.TempDir(), "drill-secret")
	if err := os.WriteFile(pw, []byte(drillSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	play := func(as string, extra ...string) result {
		args := []string{"track", "play", "--device", "tag-1", "--from", t0.Add(-time.Minute).Format(time.RFC3339),
			"--to", t0.Add(5 * time.Minute).Format(time.RFC3339), "--as", as, "--mqtt", s.srv.MQTTURL(), "--password-file", pw}
		return runCmd(t, "", append(append(args, extra...), toolArgs(s)...)...)
	}
	for _, c := range []struct {
		as    string
		extra []string
		code  int
		say   string
	}{
		{"phone-1", nil, exitFault, "case case-1 uses this device and is not a drill"},
		{"nobody", nil, exitFault, "no case in force uses this device"},
		{"tag-1", nil, exitUsage, "must differ from --device"},
		{"drill-tag", []string{"--speed", "0x"}, exitUsage, "want a factor more than 0"},
		{"bad.id", nil, exitUsage, `--as "bad.id"`},
	} {
		if r := play(c.as, c.extra...); r.code != c.code || !strings.Contains(r.stderr, c.say) {
			t.Errorf("--as %s %v: exit %d %q, want %d saying %q", c.as, c.extra, r.code, r.stderr, c.code, c.say)
		}
	}

	before := time.Now().UTC()
	if r := play("drill-tag", "--speed", "40x"); r.code != exitOK || !strings.Contains(r.stdout, "playing 4 fixes of tag-1 as drill-tag at 40x: 1.55s") {
		t.Fatalf("play: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	after := time.Now().UTC()
	var got []proxmon.Fix
	waitFor(t, "the played fixes in FIXES", func() bool {
		got = got[:0]
		err := stream.NewArchive(s.js).ScanFixes(t.Context(), "drill-tag", before.Add(-time.Second), time.Time{}, func(_ uint64, f *proxmon.Fix) error {
			got = append(got, *f)
			return nil
		})
		return err == nil && len(got) >= len(played)
	})
	if len(got) != len(played) {
		t.Fatalf("%d fixes of drill-tag, want %d: %+v", len(got), len(played), got)
	}
	for i, f := range got {
		if f.Seq != uint64(i+1) || f.Lat != played[i].Lat || f.Lon != played[i].Lon || f.AccuracyM != played[i].AccuracyM ||
			f.Time.Before(before) || f.Time.After(after) {
			t.Errorf("fix %d: %+v, want seq %d at %v,%v sent in [%v, %v]", i, f, i+1, played[i].Lat, played[i].Lon, before, after)
		}
		if i == 0 {
			continue
		}
		// Never early; late by at most what a shared machine and the
		// broker's PUBACK (a sync of its store) may add.
		if gap, want := f.Time.Sub(got[i-1].Time), wantGaps[i-1]; gap < want-5*time.Millisecond || gap > want+400*time.Millisecond {
			t.Errorf("gap before fix %d: %v, want %v", i, gap, want)
		}
	}
}

// A track exported over HTTP from a running serve in each format, by a
// supervisor and by the case manager of its case; the victim's only with
// a reason; each read in the audit trail with its device and case.
func TestTrackHTTP(t *testing.T) {
	s, base := startTrackService(t)
	t0 := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	v := victim
	v.Seq, v.Time = 1, t0.Add(10*time.Second)
	appendFixes(t, s, tagAt(1, t0, 3000), v, tagAt(2, t0.Add(time.Minute), 2000), tagAt(3, t0.Add(2*time.Minute), 1000))
	period := "from=" + t0.Format(time.RFC3339) + "&to=" + t0.Add(time.Hour).Format(time.RFC3339)
	get := func(token, reason, path string) (int, http.Header, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if reason != "" {
			req.Header.Set("X-Reason", reason)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return res.StatusCode, res.Header, b
	}

	for _, format := range []string{"geojson", "gpx", "csv", "ndjson"} {
		for _, token := range []string{trackSupervisorTok, trackCaseManagerTok} {
			code, hdr, body := get(token, "", "/api/v1/devices/tag-1/track?format="+format+"&"+period)
			if code != 200 || !strings.HasSuffix(hdr.Get("Content-Disposition"), "."+format) {
				t.Fatalf("%s: %d %v %s", format, code, hdr, body)
			}
			switch format {
			case "geojson":
				var g struct {
					Type     string `json:"type"`
					Features []struct {
						Geometry struct {
							Type        string `json:"type"`
							Coordinates json.RawMessage
						} `json:"geometry"`
					} `json:"features"`
				}
				if err := json.Unmarshal(body, &g); err != nil || g.Type != "FeatureCollection" || len(g.Features) != 4 ||
					g.Features[0].Geometry.Type != "LineString" || g.Features[1].Geometry.Type != "Point" {
					t.Errorf("geojson (%v): %s", err, body)
				}
			case "gpx":
				var g struct {
					XMLName xml.Name
					Version string `xml:"version,attr"`
					Pts     []struct {
						Lat float64 `xml:"lat,attr"`
					} `xml:"trk>trkseg>trkpt"`
				}
				if err := xml.Unmarshal(body, &g); err != nil || g.XMLName.Local != "gpx" || g.Version != "1.1" || len(g.Pts) != 3 || g.Pts[2].Lat != tagAt(3, t0, 1000).Lat {
					t.Errorf("gpx (%v): %+v %s", err, g, body)
				}
			case "csv":
				if lines := strings.Split(strings.TrimSpace(string(body)), "\n"); len(lines) != 4 || !strings.HasPrefix(lines[0], "log_seq,") {
					t.Errorf("csv: %s", body)
				}
			case "ndjson":
				if n := strings.Count(string(body), "\n"); n != 3 {
					t.Errorf("ndjson: %d lines: %s", n, body)
				}
			}
		}
	}
	if code, _, body := get(trackSupervisorTok, "", "/api/v1/devices/phone-1/track?"+period); code != 403 || !strings.Contains(string(body), "reason_required") {
		t.Errorf("the victim's track without a reason: %d %s", code, body)
	}
	if code, _, body := get(trackCaseManagerTok, "court order 17", "/api/v1/devices/phone-1/track?"+period); code != 403 {
		t.Errorf("the victim's track for a case manager: %d %s", code, body)
	}
	if code, _, body := get(trackSupervisorTok, "court order 17", "/api/v1/devices/phone-1/track?format=ndjson&"+period); code != 200 || strings.Count(string(body), "\n") != 1 {
		t.Errorf("the victim's track with a reason: %d %s", code, body)
	}
	code, _, body := get(trackCaseManagerTok, "", "/api/v1/track/near?at=51.92,4.47&radius_m=1500&"+period)
	if code != 200 || !strings.Contains(string(body), `"device":"tag-1"`) || strings.Contains(string(body), "phone-1") {
		t.Errorf("near for the case manager: %d %s", code, body)
	}

	var audit struct{ Entries []centre.AuditEntry }
	code, _, body = get(trackSupervisorTok, "", "/api/v1/audit?case=case-1")
	if err := json.Unmarshal(body, &audit); code != 200 || err != nil {
		t.Fatalf("audit: %d %s", code, body)
	}
	var reads, victimReads, refused int
	for _, e := range audit.Entries {
		if e.Action != string(centre.ReadTracks) || e.Case != "case-1" {
			continue
		}
		switch {
		case e.Status == 200 && slices.Equal(e.Devices, []string{"tag-1"}) && strings.HasPrefix(e.Path, "/api/v1/devices/tag-1/track"):
			reads++
		case e.Status == 200 && slices.Equal(e.Devices, []string{"phone-1"}) && e.Actor == "sup-1" && e.Reason == "court order 17":
			victimReads++
		case e.Status == 403 && len(e.Devices) == 0:
			refused++
		}
	}
	if reads != 8 || victimReads != 1 || refused != 2 {
		t.Errorf("audit: %d reads of tag-1's track (want 8), %d of the victim's (1), %d refused (2): %+v", reads, victimReads, refused, audit.Entries)
	}
}
