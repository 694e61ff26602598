package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/centre"
	"github.com/proxmon/proxmon/stream"
)

// A case manager puts a case in force through the API of a running
// service; the engine uses it at once (a fix inside its zone raises a
// breach); an edit over the revision read makes a second version; the
// history names who made each and why; the CLI reads the case and the
// history and deletes the case; the audit trail lists every call about
// the case.
func TestCasesThroughAPI(t *testing.T) {
	const cmToken, adminToken = "case-manager-token-for-tests", "admin-token-for-tests"
	s, base := startWithUsers(t, serveCases, nil, apiUser{"cm-1", centre.CaseManager, cmToken, nil}, apiUser{"adm-1", centre.Admin, adminToken, nil})
	defer closeService(t, s)
	put := func(body, reason, ifMatch string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest("PUT", base+"/api/v1/cases/case-2", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+cmToken)
		req.Header.Set("X-Reason", reason)
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), res.Header.Get("ETag")
	}

	// case-2 bans tag-1 (of case-1) from the victim's home; it brings tag-1
	// without its MQTT secret, which stays the one in force.
	case2 := `{"case":{"id":"case-2","risk":"high","offender":"tag-1",
	  "zones":[{"id":"home","kind":"exclusion","circle":{"center":[4.47,51.92],"radius_m":250}}]},
	 "devices":[{"id":"tag-1","kind":"tag","report_interval_s":600}]}`
	code, body, etag := put(case2, "court order 17", "")
	if code != http.StatusCreated || etag == "" {
		t.Fatalf("PUT: %d %s", code, body)
	}
	tag := device(t, s, "tag-1") // its secret still works
	fix := tagAt(1, time.Now().UTC().Truncate(time.Millisecond), 100)
	publishStored(t, s, tag, fix)
	waitFor(t, "a zone breach of case-2", func() bool {
		for _, ev := range events(t, s.js) {
			if ev.Case == "case-2" && ev.Type == proxmon.ZoneBreach && ev.Zone == "home" {
				return true
			}
		}
		return false
	})

	if code, body, _ := put(strings.Replace(case2, `"radius_m":250`, `"radius_m":300`, 1), "bigger zone", `"1"`); code != http.StatusPreconditionFailed {
		t.Fatalf("PUT over an old revision: %d %s", code, body)
	}
	if code, body, _ := put(strings.Replace(case2, `"radius_m":250`, `"radius_m":300`, 1), "bigger zone", etag); code != http.StatusOK {
		t.Fatalf("PUT over the revision read: %d %s", code, body)
	}

	cli := cliAt(t, base)
	if code, out := cli(cmToken, "cases", "get", "case-2"); code != exitOK || !strings.Contains(out, `"radius_m": 300`) || strings.Contains(out, "mqtt_password") {
		t.Fatalf("cases get: %d %s", code, out)
	}
	code, out := cli(cmToken, "cases", "history", "case-2")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitOK || len(lines) != 3 || !strings.Contains(lines[1], "put") || !strings.Contains(lines[1], "cm-1") ||
		!strings.Contains(lines[1], "court order 17") || !strings.Contains(lines[2], "bigger zone") {
		t.Fatalf("cases history: %d\n%s", code, out)
	}
	if code, out := cli(cmToken, "cases", "delete", "case-2"); code != exitUsage || !strings.Contains(out, "--reason") {
		t.Fatalf("cases delete without a reason: %d %s", code, out)
	}
	if code, out := cli(cmToken, "cases", "delete", "case-2", "--reason", "order lifted"); code != exitOK || !strings.Contains(out, "case-2 deleted") {
		t.Fatalf("cases delete: %d %s", code, out)
	}
	if code, out := cli(cmToken, "cases", "get", "case-2"); code != exitFault || !strings.Contains(out, "404") {
		t.Fatalf("cases get of a deleted case: %d %s", code, out)
	}
	deleted := false
	for _, m := range messages(t, s.js, stream.Fixes) {
		if r, err := proxmon.ParseRecord(m.Data); err == nil && r.Kind == proxmon.RecordCaseDeleted && r.CaseID == "case-2" {
			deleted = true
		}
	}
	if !deleted {
		t.Error("no case_deleted record of case-2 in FIXES")
	}

	if code, out := cli(cmToken, "audit", "list", "--case", "case-2"); code != exitFault || !strings.Contains(out, "403") {
		t.Fatalf("audit list as a case manager: %d %s", code, out)
	}
	code, out = cli(adminToken, "audit", "list", "--case", "case-2")
	if code != exitOK {
		t.Fatalf("audit list: %d %s", code, out)
	}
	for _, want := range []string{"PUT", "/api/v1/cases/case-2/history", "DELETE", "order lifted", "cm-1"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit list --case case-2 lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "PUT"); n != 3 {
		t.Errorf("audit list: %d PUTs, want 3 (created, refused, edited):\n%s", n, out)
	}
}
