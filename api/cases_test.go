package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/api"
	"github.com/proxmon/proxmon/centre"
	"github.com/proxmon/proxmon/natsd"
	"github.com/proxmon/proxmon/natsd/natsdtest"
	"github.com/proxmon/proxmon/stream"
)

// secret is tag-1's MQTT secret hash: written, never read back.
var secret = "$2a$04$" + strings.Repeat("s", 53)

// case1 is case-1 as a PUT body.
const case1 = `{"case":{"id":"case-1","offender":"tag-1","contact_bans":[{"protected":"phone-1","alert_m":500,"warn_m":1500}]},
 "devices":[{"id":"tag-1","kind":"tag"},{"id":"phone-1","kind":"victim"}]}`

// case2 is case-2 as a PUT body: tag-2 and a zone.
const case2 = `{"case":{"id":"case-2","offender":"tag-2","zones":[{"id":"home","kind":"exclusion","circle":{"center":[4.47,51.92],"radius_m":250}}]},
 "devices":[{"id":"tag-2","kind":"tag"}]}`

// newCases returns the cases of a fresh embedded NATS server, with case-1
// in force (tag-1 with an MQTT secret, phone-1).
func newCases(t testing.TB) (*stream.CaseStore, jetstream.JetStream) {
	t.Helper()
	_, _, js := natsdtest.MustJetStream(t, natsd.Options{})
	ctx := context.Background()
	if err := stream.Setup(ctx, js, stream.Config{}); err != nil {
		t.Fatal(err)
	}
	cf, err := proxmon.ParseCaseFile([]byte(`
devices:
  - {id: tag-1, kind: tag, mqtt_password_bcrypt: "` + secret + `"}
  - {id: phone-1, kind: victim}
cases:
  - {id: case-1, offender: tag-1, contact_bans: [{protected: phone-1, alert_m: 500, warn_m: 1500}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.ApplyCases(ctx, js, cf); err != nil {
		t.Fatal(err)
	}
	s, err := stream.OpenCaseStore(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	return s, js
}

// The case endpoints of TestAuthMatrix. The case manager may see every
// case. A delete of no case is refused (403) or not found (404), so that
// the order of the roles does not matter.
var caseEndpoints = []struct {
	method, path, body string
	want               map[centre.Role]int
}{
	{"GET", "/api/v1/cases", "", map[centre.Role]int{centre.Operator: 403, centre.CaseManager: 200, centre.Supervisor: 200, centre.Admin: 200}},
	{"GET", "/api/v1/cases/case-1", "", map[centre.Role]int{centre.Operator: 403, centre.CaseManager: 200, centre.Supervisor: 200, centre.Admin: 200}},
	{"PUT", "/api/v1/cases/case-1", case1, map[centre.Role]int{centre.Operator: 403, centre.CaseManager: 200, centre.Supervisor: 403, centre.Admin: 200}},
	{"DELETE", "/api/v1/cases/case-9", "", map[centre.Role]int{centre.Operator: 403, centre.CaseManager: 422, centre.Supervisor: 403, centre.Admin: 422}},
	{"GET", "/api/v1/cases/case-1/history", "", map[centre.Role]int{centre.Operator: 403, centre.CaseManager: 200, centre.Supervisor: 200, centre.Admin: 200}},
}

const limitedToken = "tok-cm-limited"

// newCasesServer serves the centre and the cases, to the users of every
// role and to a case manager limited to case-2 (limitedToken).
func newCasesServer(t testing.TB) (*httptest.Server, *memCentre, jetstream.JetStream) {
	t.Helper()
	var b strings.Builder
	b.WriteString("users:\n")
	for role, tok := range tokens {
		b.WriteString("  - {name: " + strings.ReplaceAll(string(role), "_", "-") + "-1, role: " + string(role) + ", token_sha256: " + api.HashToken(tok) + "}\n")
	}
	b.WriteString("  - {name: cm-limited, role: case_manager, cases: [case-2], token_sha256: " + api.HashToken(limitedToken) + "}\n")
	users, err := api.ParseUsers([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	cases, js := newCases(t)
	m := &memCentre{book: centre.NewBook(centre.Options{})}
	ts := httptest.NewServer(api.New(api.Options{Centre: m, Users: users, Cases: cases}).Handler())
	t.Cleanup(ts.Close)
	return ts, m, js
}

// do calls the API with headers and returns the status, the raw body and
// the answer's headers.
func do(t testing.TB, ts *httptest.Server, method, path, token, body string, hdr map[string]string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

// bucketSeq is the last sequence of the CASES bucket's stream and of
// FIXES: what changes when anything is written.
func bucketSeq(t testing.TB, js jetstream.JetStream) [2]uint64 {
	t.Helper()
	var out [2]uint64
	for i, name := range []string{"KV_" + stream.Cases, stream.Fixes} {
		st, err := js.Stream(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out[i] = info.State.LastSeq
	}
	return out
}

func TestCaseLifecycle(t *testing.T) {
	ts, m, _ := newCasesServer(t)
	cm := tokens[centre.CaseManager]
	code, body, hdr := do(t, ts, "PUT", "/api/v1/cases/case-2", cm, case2, map[string]string{"X-Reason": "court order 17"})
	if code != 201 || hdr.Get("ETag") == "" {
		t.Fatalf("create: %d %s %v", code, body, hdr)
	}
	created := hdr.Get("ETag")
	code, body, hdr = do(t, ts, "GET", "/api/v1/cases/case-2", cm, "", nil)
	if code != 200 || hdr.Get("ETag") != created || !strings.Contains(body, `"offender":"tag-2"`) {
		t.Fatalf("get: %d %s %v", code, body, hdr)
	}
	// tag-1's secret is in the bucket, never in an answer.
	for _, path := range []string{"/api/v1/cases", "/api/v1/cases/case-1", "/api/v1/cases/case-1/history"} {
		if code, body, _ := do(t, ts, "GET", path, cm, "", nil); code != 200 || strings.Contains(body, "mqtt_password") || strings.Contains(body, "$2a$") {
			t.Errorf("GET %s: %d %s: a secret read back", path, code, body)
		}
	}
	edited := strings.Replace(case2, `"radius_m":250`, `"radius_m":300`, 1)
	if code, body, _ := do(t, ts, "PUT", "/api/v1/cases/case-2", cm, edited, map[string]string{"If-Match": `"1"`}); code != 412 {
		t.Errorf("stale If-Match: %d %s, want 412", code, body)
	}
	code, body, hdr = do(t, ts, "PUT", "/api/v1/cases/case-2", tokens[centre.Admin], edited, map[string]string{"If-Match": created, "X-Reason": "bigger zone"})
	if code != 200 || hdr.Get("ETag") == created {
		t.Fatalf("update: %d %s", code, body)
	}
	if code, body, _ := do(t, ts, "DELETE", "/api/v1/cases/case-2", cm, "", nil); code != 422 || !strings.Contains(body, "reason_required") {
		t.Errorf("delete without a reason: %d %s", code, body)
	}
	if code, body, _ := do(t, ts, "DELETE", "/api/v1/cases/case-2", cm, "", map[string]string{"X-Reason": "x", "If-Match": created}); code != 412 {
		t.Errorf("delete with a stale If-Match: %d %s, want 412", code, body)
	}
	if code, body, _ := do(t, ts, "DELETE", "/api/v1/cases/case-2", cm, "", map[string]string{"X-Reason": "order lifted"}); code != 200 {
		t.Fatalf("delete: %d %s", code, body)
	}
	if code, _, _ := do(t, ts, "GET", "/api/v1/cases/case-2", cm, "", nil); code != 404 {
		t.Errorf("deleted case read: %d", code)
	}
	if code, _, _ := do(t, ts, "DELETE", "/api/v1/cases/case-2", cm, "", map[string]string{"X-Reason": "again"}); code != 404 {
		t.Errorf("deleted twice: %d", code)
	}
	var hist struct{ Versions []centre.CaseVersion }
	code, body, _ = do(t, ts, "GET", "/api/v1/cases/case-2/history", cm, "", nil)
	if code != 200 || decode(t, body, &hist) != nil || len(hist.Versions) != 3 {
		t.Fatalf("history: %d %s", code, body)
	}
	want := []struct{ op, actor, reason string }{
		{centre.CasePut, "case-manager-1", "court order 17"},
		{centre.CasePut, "admin-1", "bigger zone"},
		{centre.CaseDelete, "case-manager-1", "order lifted"},
	}
	for i, w := range want {
		v := hist.Versions[i]
		if v.Operation != w.op || v.Actor != w.actor || v.Reason != w.reason || v.Time.IsZero() {
			t.Errorf("version %d: %+v, want %+v", i, v, w)
		}
	}
	if r := hist.Versions[1].Case.Zones[0].Circle.RadiusM; r != 300 {
		t.Errorf("version 2 has radius %v, want 300", r)
	}
	// Every call is audited with the case.
	entries, _ := m.AuditEntries(context.Background(), time.Time{}, nil, 0)
	for _, e := range entries {
		if e.Case == "" && e.Path != "/api/v1/cases" {
			t.Errorf("audit entry without its case: %+v", e)
		}
	}
}

// A case manager limited to some cases sees and changes only those, and
// cannot take over a device of another case.
func TestCaseScope(t *testing.T) {
	ts, _, js := newCasesServer(t)
	before := bucketSeq(t, js)
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/api/v1/cases/case-1", "", 403},
		{"GET", "/api/v1/cases/case-1/history", "", 403},
		{"PUT", "/api/v1/cases/case-1", case1, 403},
		{"DELETE", "/api/v1/cases/case-1", "", 403},
		{"PUT", "/api/v1/cases/case-3", strings.ReplaceAll(case2, "case-2", "case-3"), 403},
		{"PUT", "/api/v1/cases/case-2", strings.ReplaceAll(case2, "tag-2", "tag-1"), 403},
	} {
		if code, body, _ := do(t, ts, c.method, c.path, limitedToken, c.body, map[string]string{"X-Reason": "r"}); code != c.want {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, code, body, c.want)
		}
	}
	if after := bucketSeq(t, js); after != before {
		t.Fatalf("refused calls wrote: %v -> %v", before, after)
	}
	if code, body, _ := do(t, ts, "GET", "/api/v1/cases", limitedToken, "", nil); code != 200 || body != `{"cases":[]}`+"\n" {
		t.Errorf("list: %d %s, want no case", code, body)
	}
	if code, body, _ := do(t, ts, "PUT", "/api/v1/cases/case-2", limitedToken, case2, nil); code != 201 {
		t.Fatalf("own case: %d %s", code, body)
	}
	code, body, _ := do(t, ts, "GET", "/api/v1/cases", limitedToken, "", nil)
	if code != 200 || !strings.Contains(body, `"id":"case-2"`) || strings.Contains(body, "case-1") {
		t.Errorf("list: %d %s, want case-2 alone", code, body)
	}
}

// Bad input is a 4xx problem naming the fault, never a 500, and writes
// nothing.
func TestCaseBadInput(t *testing.T) {
	ts, _, js := newCasesServer(t)
	cm := tokens[centre.CaseManager]
	before := bucketSeq(t, js)
	reason := map[string]string{"X-Reason": "r"}
	for _, c := range []struct {
		name, method, path, body string
		hdr                      map[string]string
		want                     int
		field                    string
	}{
		{"bad JSON", "PUT", "/api/v1/cases/case-1", `{"case":`, nil, 400, ""},
		{"YAML", "PUT", "/api/v1/cases/case-1", "case: {id: case-1}", nil, 400, ""},
		{"two values", "PUT", "/api/v1/cases/case-1", case1 + case1, nil, 400, ""},
		{"not an object", "PUT", "/api/v1/cases/case-1", `[]`, nil, 422, ""},
		{"empty", "PUT", "/api/v1/cases/case-1", ``, nil, 400, ""},
		{"huge", "PUT", "/api/v1/cases/case-1", `{"case":{"id":"` + strings.Repeat("x", 70<<10) + `"}}`, nil, 413, ""},
		{"id mismatch", "PUT", "/api/v1/cases/case-1", case2, nil, 422, "case.id"},
		{"no case", "PUT", "/api/v1/cases/case-1", `{"devices":[]}`, nil, 422, "case"},
		{"unknown field", "PUT", "/api/v1/cases/case-1", strings.Replace(case1, `"offender"`, `"colour":"red","offender"`, 1), nil, 422, "case"},
		{"wrong type", "PUT", "/api/v1/cases/case-1", strings.Replace(case1, `"alert_m":500`, `"alert_m":"near"`, 1), nil, 422, "case.contact_bans[0].alert_m"},
		{"invalid geometry", "PUT", "/api/v1/cases/case-2", strings.Replace(case2, `"circle":{"center":[4.47,51.92],"radius_m":250}`, `"geometry":{"type":"Polygon","coordinates":[[[4,51],[5,51]]]}`, 1), nil, 422, "case.zones[0].geometry"},
		{"device not brought", "PUT", "/api/v1/cases/case-2", strings.Replace(case2, `{"id":"tag-2","kind":"tag"}`, ``, 1), nil, 422, "case.offender"},
		{"plain password", "PUT", "/api/v1/cases/case-2", strings.Replace(case2, `"kind":"tag"}`, `"kind":"tag","mqtt_password_bcrypt":"hunter2"}`, 1), nil, 422, "devices[0].mqtt_password_bcrypt"},
		{"bad id", "PUT", "/api/v1/cases/case%201", case1, nil, 400, "id"},
		{"long id", "GET", "/api/v1/cases/" + strings.Repeat("c", 65), "", nil, 400, "id"},
		{"bad If-Match", "PUT", "/api/v1/cases/case-1", case1, map[string]string{"If-Match": "yesterday"}, 400, "If-Match"},
		{"stale If-Match", "PUT", "/api/v1/cases/case-1", case1, map[string]string{"If-Match": `"999"`}, 412, ""},
		{"If-Match on a new case", "PUT", "/api/v1/cases/case-2", case2, map[string]string{"If-Match": `"1"`}, 412, ""},
		{"unknown case", "GET", "/api/v1/cases/case-9", "", nil, 404, ""},
		{"history of an unknown case", "GET", "/api/v1/cases/case-9/history", "", nil, 404, ""},
		{"delete an unknown case", "DELETE", "/api/v1/cases/case-9", "", reason, 404, ""},
		{"delete without a reason", "DELETE", "/api/v1/cases/case-1", "", nil, 422, "X-Reason"},
		{"list parameter", "GET", "/api/v1/cases?risk=high", "", nil, 400, "risk"},
		{"method", "POST", "/api/v1/cases/case-1", case1, nil, 404, ""},
	} {
		code, body, hdr := do(t, ts, c.method, c.path, cm, c.body, c.hdr)
		var p api.Problem
		if code != c.want || decode(t, body, &p) != nil || p.Status != code || !strings.HasPrefix(hdr.Get("Content-Type"), "application/problem+json") {
			t.Errorf("%s: %d %.300s, want a %d problem", c.name, code, body, c.want)
			continue
		}
		if c.field != "" && p.Field != c.field {
			t.Errorf("%s: field %q (%s), want %q", c.name, p.Field, p.Detail, c.field)
		}
	}
	if after := bucketSeq(t, js); after != before {
		t.Fatalf("bad input wrote: %v -> %v", before, after)
	}
}

// FuzzCasePut: no body makes the API answer 5xx, and a body it refuses
// writes nothing.
func FuzzCasePut(f *testing.F) {
	for _, s := range []string{case1, case2, `{}`, `{"case":null}`, `[]`, `null`, `{"case":{"id":"case-1"}}`,
		strings.Replace(case1, `"alert_m":500`, `"alert_m":-1`, 1)} {
		f.Add(s)
	}
	ts, _, js := newCasesServer(f)
	f.Fuzz(func(t *testing.T, body string) {
		before := bucketSeq(t, js)
		code, res, _ := do(t, ts, "PUT", "/api/v1/cases/case-1", tokens[centre.Admin], body, nil)
		if code >= 500 {
			t.Fatalf("%q: %d %s", body, code, res)
		}
		if code/100 != 2 && bucketSeq(t, js) != before {
			t.Fatalf("%q: refused (%d) but written", body, code)
		}
	})
}

func decode(t testing.TB, body string, out any) error {
	t.Helper()
	return json.Unmarshal([]byte(body), out)
}
