package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/api"
	"github.com/proxmon/proxmon/centre"
)

// A breach travels MQTT -> engine -> EVENTS -> the centre's API; nobody
// acknowledges it, so it escalates (to EVENTS and the webhook); an
// operator acknowledges it through the CLI; closing it while the engine
// holds it is refused; the report shows the time to acknowledge; every
// call is in the audit trail.
func TestCentre(t *testing.T) {
	const opToken, supToken = "operator-token-for-tests", "supervisor-token-for-tests"
	var (
		hookMu sync.Mutex
		hooks  []proxmon.Event
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev proxmon.Event
		if json.NewDecoder(r.Body).Decode(&ev) == nil {
			hookMu.Lock()
			hooks = append(hooks, ev)
			hookMu.Unlock()
		}
	}))
	defer hook.Close()

	s, base := startWithUsers(t, serveCases, func(c *serveConfig) { c.Deadlines, c.EscalationWebhook = "high/critical=1s", hook.URL },
		apiUser{"op-1", centre.Operator, opToken, nil}, apiUser{"sup-1", centre.Supervisor, supToken, nil})
	defer closeService(t, s)
	devs := devices(t, s)

	start := time.Now().UTC().Add(-3 * time.Minute).Truncate(time.Millisecond)
	v := victim
	v.Seq, v.Time = 1, start
	breach := tagAt(1, start.Add(60*time.Second), 400)
	for _, f := range []proxmon.Fix{v, breach} {
		publishStored(t, s, devs[f.Device], f)
	}
	breachID := contactID(proxmon.ContactBreach, proxmon.PhaseOpen, breach)

	get := func(token, path string, out any) int {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if out != nil {
			_ = json.NewDecoder(res.Body).Decode(out)
		}
		return res.StatusCode
	}
	waitFor(t, "the breach in /api/v1/alerts", func() bool {
		var out struct{ Alerts []centre.Alert }
		get(opToken, "/api/v1/alerts?severity=critical", &out)
		return len(out.Alerts) > 0 && out.Alerts[0].Event.ID == breachID
	})
	if code := get("", "/api/v1/alerts", nil); code != http.StatusUnauthorized {
		t.Fatalf("without a token: %d", code)
	}

	// Unacknowledged for 1 s: escalated, in EVENTS and at the webhook.
	waitFor(t, "an escalation of the breach", func() bool {
		for _, ev := range events(t, s.js) {
			if ev.Type == proxmon.Escalation && ev.Alert == breachID && ev.Level >= 1 {
				hookMu.Lock()
				defer hookMu.Unlock()
				return len(hooks) > 0 && hooks[0].Alert == breachID
			}
		}
		return false
	})

	cli := cliAt(t, base)
	if code, out := cli(opToken, "alerts", "ack", breachID, "--note", "police informed"); code != exitOK {
		t.Fatalf("ack: %d %s", code, out)
	}
	if code, out := cli(opToken, "alerts", "close", breachID, "--reason", "handled"); code != exitFault || !strings.Contains(out, "engine still has") {
		t.Fatalf("close of an engine-open alert: %d %s", code, out)
	}
	if code, out := cli(opToken, "alerts", "list", "--open"); code != exitOK || !strings.Contains(out, breachID) || !strings.Contains(out, "acknowledged") {
		t.Fatalf("list: %d %s", code, out)
	}
	code, out := cli(supToken, "alerts", "report", "--since", "1h", "--json")
	var rep centre.Report
	if code != exitOK || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("report: %d %s", code, out)
	}
	if c := rep.Severities[0]; c.Count < 1 || c.Acknowledged < 1 || c.AckMaxS < 1 || len(c.OverDeadline) < 1 {
		t.Fatalf("report: %+v", c)
	}
	if code, out := cli(opToken, "alerts", "report"); code != exitFault || !strings.Contains(out, "403") {
		t.Fatalf("report as operator: %d %s", code, out)
	}

	// The dead-man's switch: no dispatch terminal is connected.
	var st struct {
		OK     bool
		Alarms []api.Alarm
	}
	get(opToken, "/api/v1/status", &st)
	if st.OK || !strings.Contains(fmt.Sprint(st.Alarms), "no_dispatch") {
		t.Fatalf("status: %+v", st)
	}

	var audit struct{ Entries []centre.AuditEntry }
	get(supToken, "/api/v1/audit?actor=op-1", &audit)
	var acks int
	for _, e := range audit.Entries {
		if e.Action == string(centre.AckAlerts) && e.Alert == breachID && e.Status == http.StatusCreated {
			acks++
		}
	}
	if acks != 1 {
		t.Fatalf("audit of op-1: %+v", audit.Entries)
	}
}

// apiUser is one user of the users file of a test.
type apiUser struct {
	name  string
	role  centre.Role
	token string
	cases []string // a case manager's cases; none: all
}

// startWithUsers starts the service on the case file caseFile with the
// api role on a free port for the users given, its configuration changed
// further by with (when not nil), and returns it and the API's base URL.
func startWithUsers(t *testing.T, caseFile string, with func(*serveConfig), users ...apiUser) (*Service, string) {
	t.Helper()
	dir := t.TempDir()
	cases := filepath.Join(dir, "cases.yaml")
	if err := os.WriteFile(cases, []byte(caseFile), 0o600); err != nil {
		t.Fatal(err)
	}
	usersFile := writeUsers(t, dir, users...)
	s := startServiceWith(t, filepath.Join(dir, "data"), cases, func(c *serveConfig) {
		c.HTTPListen, c.UsersFile = "127.0.0.1:0", usersFile
		if with != nil {
			with(c)
		}
	})
	return s, "http://" + s.roles.api.Addr()
}

// cliAt returns a runner of proxmon's command lines against the API at
// base with a token; it returns the exit status and the output.
func cliAt(t *testing.T, base string) func(token string, args ...string) (int, string) {
	return func(token string, args ...string) (int, string) {
		t.Helper()
		t.Setenv("PROXMON_TOKEN", token)
		var out, errb bytes.Buffer
		code := run(t.Context(), append(args, "--api", base), strings.NewReader(""), &out, &errb)
		return code, out.String() + errb.String()
	}
}

// writeUsers writes an API users file in dir and returns its name.
func writeUsers(t *testing.T, dir string, users ...apiUser) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("users:\n")
	for _, u := range users {
		fmt.Fprintf(&b, "  - {name: %s, role: %s, token_sha256: %s, cases: [%s]}\n", u.name, u.role, api.HashToken(u.token), strings.Join(u.cases, ", "))
	}
	name := filepath.Join(dir, "users.yaml")
	if err := os.WriteFile(name, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}
