package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/api"
	"github.com/proxmon/proxmon/centre"
)

// memCentre is an in-memory Centre: a book, and the audit trail.
type memCentre struct {
	mu    sync.Mutex
	book  *centre.Book
	seq   uint64
	audit []centre.AuditEntry
}

func (m *memCentre) View(f func(*centre.Book)) { m.mu.Lock(); defer m.mu.Unlock(); f(m.book) }
func (m *memCentre) Act(_ context.Context, a centre.Action) (centre.Action, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.book.Check(&a); err != nil {
		return a, err
	}
	m.seq++
	a.Seq, a.Time = m.seq, t0.Add(time.Duration(m.seq)*time.Second)
	m.book.ApplyAction(a)
	return a, nil
}
func (m *memCentre) Audit(_ context.Context, e centre.AuditEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.audit = append(m.audit, e)
	return nil
}
func (m *memCentre) AuditEntries(_ context.Context, _ time.Time, keep func(*centre.AuditEntry) bool, _ int) ([]centre.AuditEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []centre.AuditEntry
	for _, e := range m.audit {
		if keep == nil || keep(&e) {
			out = append(out, e)
		}
	}
	return out, nil
}
func (m *memCentre) changes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int(m.seq)
}

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

var tokens = map[centre.Role]string{
	centre.Operator: "tok-operator", centre.CaseManager: "tok-cm", centre.Supervisor: "tok-sup", centre.Admin: "tok-admin",
}

func newCentreServer(t testing.TB) (*httptest.Server, *memCentre) {
	t.Helper()
	var b strings.Builder
	b.WriteString("users:\n")
	for role, tok := range tokens {
		fmt.Fprintf(&b, "  - {name: %s-1, role: %s, token_sha256: %s}\n", strings.ReplaceAll(string(role), "_", "-"), role, api.HashToken(tok))
	}
	users, err := api.ParseUsers([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	m := &memCentre{book: centre.NewBook(centre.Options{})}
	m.book.ApplyEvent(proxmon.Event{ID: "a1", Type: proxmon.ContactBreach, Phase: proxmon.PhaseOpen,
		Severity: proxmon.SeverityCritical, Case: "case-1", Time: t0, Device: "tag-1"}, 1, t0)
	m.book.ApplyEvent(proxmon.Event{ID: "a2", Type: proxmon.Tamper, Phase: proxmon.PhaseOpen,
		Severity: proxmon.SeverityCritical, Case: "case-1", Time: t0, Device: "tag-1"}, 2, t0)
	m.book.ApplyEvent(proxmon.Event{ID: "c2", OpenID: "a2", Type: proxmon.Tamper, Phase: proxmon.PhaseClose,
		Severity: proxmon.SeverityCritical, Case: "case-1", Time: t0, Device: "tag-1"}, 3, t0)
	cases, _ := newCases(t)
	srv := api.New(api.Options{Centre: m, Users: users, Cases: cases, Now: func() time.Time { return t0.Add(time.Hour) }})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts, m
}

func call(t *testing.T, ts *httptest.Server, method, path, token, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out, res.Header
}

// Every endpoint, every role, no token and a wrong one.
func TestAuthMatrix(t *testing.T) {
	ts, m := newCentreServer(t)
	const ok, created, denied, unauth = 200, 201, 403, 401
	endpoints := []struct {
		method, path, body string
		want               map[centre.Role]int
	}{
		{"GET", "/api/v1/alerts", "", map[centre.Role]int{centre.Operator: ok, centre.CaseManager: ok, centre.Supervisor: ok, centre.Admin: denied}},
		{"GET", "/api/v1/alerts/a1", "", map[centre.Role]int{centre.Operator: ok, centre.CaseManager: ok, centre.Supervisor: ok, centre.Admin: denied}},
		{"POST", "/api/v1/alerts/a1/ack", `{"note":"seen"}`, map[centre.Role]int{centre.Operator: created, centre.CaseManager: denied, centre.Supervisor: created, centre.Admin: denied}},
		{"POST", "/api/v1/alerts/a1/close", `{"reason":"x"}`, map[centre.Role]int{centre.Operator: 409, centre.CaseManager: denied, centre.Supervisor: 409, centre.Admin: denied}},
		{"GET", "/api/v1/reports/alerts?since=24h", "", map[centre.Role]int{centre.Operator: denied, centre.CaseManager: denied, centre.Supervisor: ok, centre.Admin: denied}},
		{"GET", "/api/v1/status", "", map[centre.Role]int{centre.Operator: ok, centre.CaseManager: ok, centre.Supervisor: ok, centre.Admin: ok}},
		{"GET", "/api/v1/audit?case=case-1", "", map[centre.Role]int{centre.Operator: denied, centre.CaseManager: denied, centre.Supervisor: ok, centre.Admin: ok}},
	}
	endpoints = append(endpoints, caseEndpoints...)
	for _, e := range endpoints {
		for _, tok := range []string{"", "wrong-token"} {
			code, body, hdr := call(t, ts, e.method, e.path, tok, e.body)
			if code != unauth || body["status"] != float64(unauth) || !strings.HasPrefix(hdr.Get("Content-Type"), "application/problem+json") {
				t.Errorf("%s %s with token %q: %d %v, want 401 problem", e.method, e.path, tok, code, body)
			}
		}
		for role, want := range e.want {
			code, body, _ := call(t, ts, e.method, e.path, tokens[role], e.body)
			if code != want {
				t.Errorf("%s %s as %s: %d %v, want %d", e.method, e.path, role, code, body, want)
			}
		}
	}
	// Every call is in the audit trail, refusals included.
	var n int
	for _, e := range endpoints {
		n += 2 + len(e.want)
	}
	if got, _ := m.AuditEntries(context.Background(), time.Time{}, nil, 0); len(got) != n {
		t.Fatalf("%d audit entries, want %d", len(got), n)
	}
}

func TestAlertActions(t *testing.T) {
	ts, m := newCentreServer(t)
	op, sup := tokens[centre.Operator], tokens[centre.Supervisor]
	steps := []struct {
		name, token, path, body string
		want                    int
		code                    string
	}{
		{"close without reason", op, "/api/v1/alerts/a2/close", `{}`, 422, "reason_required"},
		{"operator closes what the engine closed", op, "/api/v1/alerts/a2/close", `{"reason":"strap refitted"}`, 201, ""},
		{"closed twice", op, "/api/v1/alerts/a2/close", `{"reason":"again"}`, 409, "closed"},
		{"operator cannot close an engine-open alert", op, "/api/v1/alerts/a1/close", `{"reason":"tag retired"}`, 409, "engine_open"},
		{"operator cannot force", op, "/api/v1/alerts/a1/close", `{"reason":"tag retired","force":true}`, 403, "forbidden"},
		{"supervisor forces with a reason", sup, "/api/v1/alerts/a1/close", `{"reason":"tag retired","force":true}`, 201, ""},
	}
	for _, s := range steps {
		code, body, _ := call(t, ts, "POST", s.path, s.token, s.body)
		if code != s.want || (s.code != "" && body["code"] != s.code) {
			t.Errorf("%s: %d %v, want %d %s", s.name, code, body, s.want, s.code)
		}
	}
	code, body, _ := call(t, ts, "GET", "/api/v1/alerts?open=true", op, "")
	if code != 200 || len(body["alerts"].([]any)) != 0 {
		t.Fatalf("open alerts: %d %v", code, body)
	}
	if m.changes() != 2 {
		t.Fatalf("%d changes stored, want 2", m.changes())
	}
}

// Bad input is a 4xx problem, never a 500, and changes nothing.
func TestBadInput(t *testing.T) {
	ts, m := newCentreServer(t)
	op := tokens[centre.Operator]
	huge := `{"note":"` + strings.Repeat("x", 70<<10) + `"}`
	cases := []struct{ method, path, body string }{
		{"POST", "/api/v1/alerts/a1/ack", `{`},
		{"POST", "/api/v1/alerts/a1/ack", `[]`},
		{"POST", "/api/v1/alerts/a1/ack", `{"note":1}`},
		{"POST", "/api/v1/alerts/a1/ack", `{"nope":"x"}`},
		{"POST", "/api/v1/alerts/a1/ack", `{} {}`},
		{"POST", "/api/v1/alerts/a1/ack", huge},
		{"POST", "/api/v1/alerts/a1/ack", `{"note":"` + strings.Repeat("x", 3000) + `"}`},
		{"POST", "/api/v1/alerts/bad%20id/ack", `{}`},
		{"POST", "/api/v1/alerts/" + strings.Repeat("a", 65) + "/ack", `{}`},
		{"POST", "/api/v1/alerts/unknown/ack", `{}`},
		{"GET", "/api/v1/alerts?open=maybe", ""},
		{"GET", "/api/v1/alerts?severity=urgent", ""},
		{"GET", "/api/v1/alerts?since=yesterday", ""},
		{"GET", "/api/v1/alerts?case=a.b", ""},
		{"GET", "/api/v1/alerts?limit=-1", ""},
		{"GET", "/api/v1/alerts?color=red", ""},
		{"GET", "/api/v1/nothing", ""},
	}
	for _, c := range cases {
		code, body, hdr := call(t, ts, c.method, c.path, op, c.body)
		if code < 400 || code >= 500 || body["status"] != float64(code) || !strings.HasPrefix(hdr.Get("Content-Type"), "application/problem+json") {
			t.Errorf("%s %s %.40q: %d %v, want a 4xx problem", c.method, c.path, c.body, code, body)
		}
	}
	if m.changes() != 0 {
		t.Fatalf("bad input changed %d alerts", m.changes())
	}
}

func FuzzAlertAction(f *testing.F) {
	for _, s := range []string{`{}`, `{"note":"x"}`, `{"reason":"y","force":true}`, `{`, `null`, `"x"`} {
		f.Add("a1", s)
	}
	ts, _ := newCentreServer(f)
	f.Fuzz(func(t *testing.T, id, body string) {
		req, err := http.NewRequest("POST", ts.URL+"/api/v1/alerts/"+strings.ReplaceAll(id, "/", "")+"/close", strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+tokens[centre.Operator])
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		res.Body.Close()
		if res.StatusCode >= 500 {
			t.Fatalf("%q %q: %d", id, body, res.StatusCode)
		}
	})
}

func TestParseUsers(t *testing.T) {
	h := api.HashToken("x")
	for _, bad := range []string{
		"users: [{name: a, role: god, token_sha256: " + h + "}]",
		"users: [{name: 'a b', role: operator, token_sha256: " + h + "}]",
		"users: [{name: a, role: operator, token_sha256: secret}]",
		"users: [{name: a, role: operator, token_sha256: " + h + "}, {name: b, role: admin, token_sha256: " + h + "}]",
		"users: [{name: a, role: operator, token: x}]",
	} {
		if _, err := api.ParseUsers([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
