package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/stream"
)

// toolArgs are the flags that connect a tool to the test service.
func toolArgs(s *Service) []string {
	return []string{"--nats", s.srv.ClientURL(), "--secret-file", filepath.Join(s.cfg.Data, "service-secret")}
}

func appendFixes(t *testing.T, s *Service, fixes ...proxmon.Fix) {
	t.Helper()
	for _, f := range fixes {
		r := proxmon.Record{Kind: proxmon.RecordFix, Fix: f}
		if _, err := stream.AppendSync(t.Context(), s.js, &r); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTrackExport(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir, "")
	defer closeService(t, s)
	t0 := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	appendFixes(t, s, tagAt(1, t0, 3000), tagAt(2, t0.Add(time.Minute), 2000), tagAt(3, t0.Add(30*time.Second), 2500))

	for _, format := range []string{"ndjson", "csv", "geojson", "gpx"} {
		args := append([]string{"track", "export", "--device", "tag-1", "--from", t0.Format(time.RFC3339),
			"--to", t0.Add(time.Hour).Format(time.RFC3339), "--format", format}, toolArgs(s)...)
		r := runCmd(t, "", args...)
		if r.code != exitOK {
			t.Fatalf("%s: exit %d: %s", format, r.code, r.stderr)
		}
		if !strings.Contains(r.stdout, "out_of_order") {
			t.Errorf("%s: the late fix is not flagged:\n%s", format, r.stdout)
		}
		if format == "ndjson" {
			if n := strings.Count(r.stdout, "\n"); n != 3 {
				t.Errorf("ndjson: %d lines, want 3", n)
			}
			var p map[string]any
			if err := json.Unmarshal([]byte(strings.SplitN(r.stdout, "\n", 2)[0]), &p); err != nil || p["device"] != "tag-1" {
				t.Errorf("first line %v (%v)", p, err)
			}
		}
	}
	r := runCmd(t, "", append([]string{"track", "export", "--device", "tag-1", "--from", "yesterday"}, toolArgs(s)...)...)
	if r.code != exitUsage {
		t.Errorf("a bad --from: exit %d", r.code)
	}
}

func TestTrackEvidence(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir, "")
	defer closeService(t, s)
	t0 := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	appendFixes(t, s, tagAt(1, t0, 3000), tagAt(2, t0.Add(time.Minute), 2000), tagAt(3, t0.Add(2*time.Minute), 1000))
	key := filepath.Join(dir, "keys", "evidence-key")
	pkg := filepath.Join(dir, "case-17-evidence")
	args := append([]string{"track", "export", "--device", "tag-1", "--from", t0.Format(time.RFC3339),
		"--to", t0.Add(time.Hour).Format(time.RFC3339), "--evidence", pkg, "--key", key}, toolArgs(s)...)
	if r := runCmd(t, "", args...); r.code != exitOK || !strings.Contains(r.stdout, "3 records of tag-1") {
		t.Fatalf("export --evidence: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if r := runCmd(t, "", "track", "verify", "--pub", key+".pub", pkg); r.code != exitOK || !strings.Contains(r.stdout, "ok: 3 records") {
		t.Fatalf("verify: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	records := filepath.Join(pkg, "records.ndjson")
	b, err := os.ReadFile(records)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	if err := os.WriteFile(records, []byte(lines[0]+lines[2]), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCmd(t, "", "track", "verify", pkg); r.code != exitFault || !strings.Contains(r.stdout, "record 1 missing") {
		t.Errorf("verify of a package without record 1: exit %d: %s", r.code, r.stdout)
	}
}

func TestTrackNear(t *testing.T) {
	s := startService(t, t.TempDir(), "")
	defer closeService(t, s)
	t0 := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	appendFixes(t, s, tagAt(1, t0, 3000), tagAt(2, t0.Add(time.Minute), 120), tagAt(3, t0.Add(2*time.Minute), 2000))
	r := runCmd(t, "", append([]string{"track", "near", "--at", "51.92,4.47", "--radius-m", "500",
		"--from", t0.Format(time.RFC3339), "--to", t0.Add(time.Hour).Format(time.RFC3339)}, toolArgs(s)...)...)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var p struct {
		Device    string    `json:"device"`
		DistanceM float64   `json:"distance_m"`
		Time      time.Time `json:"time"`
		Fixes     int       `json:"fixes"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil || p.Device != "tag-1" || p.Fixes != 1 ||
		!p.Time.Equal(t0.Add(time.Minute)) || p.DistanceM < 119 || p.DistanceM > 121 {
		t.Errorf("near: %q (%v)", r.stdout, err)
	}
}

func TestArchiveCommands(t *testing.T) {
	s := startService(t, t.TempDir(), "")
	defer closeService(t, s)
	t0 := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	appendFixes(t, s, tagAt(1, t0, 3000), tagAt(2, t0.Add(time.Minute), 2000))
	out := filepath.Join(t.TempDir(), "archive")
	r := runCmd(t, "", append([]string{"archive", "export", "--to", time.Now().UTC().Format(time.RFC3339Nano)}, append(toolArgs(s), out)...)...)
	if r.code != exitOK || !strings.Contains(r.stdout, "FIXES: ") {
		t.Fatalf("export: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	first := strings.SplitN(r.stdout, "\n", 2)[0]
	r = runCmd(t, "", append([]string{"archive", "import", "--name", "old-site"}, append(toolArgs(s), out)...)...)
	if r.code != exitOK || !strings.Contains(r.stdout, "imported as old-site") {
		t.Fatalf("import: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	back := filepath.Join(t.TempDir(), "back")
	r = runCmd(t, "", append([]string{"archive", "export", "--imported", "old-site"}, append(toolArgs(s), back)...)...)
	if r.code != exitOK || strings.SplitN(r.stdout, "\n", 2)[0] != first {
		t.Errorf("export of the import: %q, want %q", r.stdout, first)
	}
}
