package api_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/api"
	"github.com/proxmon/proxmon/centre"
	"github.com/proxmon/proxmon/geo"
)

// memDevices: tag-1 (offender of case-1) and phone-1 (its victim), both
// with a position; Near gives them nearest first, victim first.
type memDevices struct{ devs []centre.Device }

func (m *memDevices) Device(id string) (centre.Device, bool) {
	for _, d := range m.devs {
		if d.ID == id {
			return d, true
		}
	}
	return centre.Device{}, false
}
func (m *memDevices) Devices() []centre.Device { return append([]centre.Device(nil), m.devs...) }
func (m *memDevices) Near(_ geo.Point, _ float64, keep func(*centre.Device) bool, limit int) []centre.Device {
	var out []centre.Device
	for i, d := range []centre.Device{m.devs[1], m.devs[0]} {
		dist := float64(100 * (i + 1))
		if keep(&d) {
			d.DistanceM = &dist
			out = append(out, d)
		}
	}
	return out
}

func newDevicesServer(t *testing.T) (*httptest.Server, *memCentre) {
	t.Helper()
	ts, m := newCentreServer(t)
	ts.Close()
	var b strings.Builder
	b.WriteString("users:\n")
	for role, tok := range tokens {
		b.WriteString("  - {name: " + strings.ReplaceAll(string(role), "_", "-") + "-1, role: " + string(role) + ", token_sha256: " + api.HashToken(tok) + "}\n")
	}
	users, err := api.ParseUsers([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	pos := func(lat float64) *centre.Position {
		return &centre.Position{Lat: lat, Lon: 4.47, AccuracyM: 5, Time: t0}
	}
	devs := &memDevices{devs: []centre.Device{
		{ID: "tag-1", Kind: proxmon.DeviceTag, Cases: []string{"case-1"}, Position: pos(51.92)},
		{ID: "phone-1", Kind: proxmon.DeviceVictim, Cases: []string{"case-1"}, Position: pos(51.921)},
	}}
	srv := api.New(api.Options{Centre: m, Users: users, Devices: devs, Now: func() time.Time { return t0.Add(time.Hour) }})
	ts = httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts, m
}

func callWithReason(t *testing.T, ts *httptest.Server, path, token, reason string) (int, map[string]any) {
	t.Helper()
	a := getAs(t, ts.URL+path, token, reason)
	var out map[string]any
	_ = json.Unmarshal(a.body, &out)
	return a.code, out
}

// Who sees which position: an operator the tags', never a victim's; a
// supervisor a victim's only with a stated reason; an admin none; a case
// manager not the devices at all. Every read is audited, reason included.
func TestDevicesRoles(t *testing.T) {
	ts, m := newDevicesServer(t)
	located := func(body map[string]any) bool { _, ok := body["position"]; return ok }
	for _, c := range []struct {
		role         centre.Role
		reason       string
		code         int
		tag, victim  bool // position shown
		nearExpected int
	}{
		{centre.Operator, "", 200, true, false, 1},
		{centre.Operator, "incident 4711", 200, true, false, 1},
		{centre.Supervisor, "", 200, true, false, 1},
		{centre.Supervisor, "panic button, incident 4711", 200, true, true, 2},
		{centre.Admin, "", 200, false, false, 0},
		{centre.CaseManager, "", 403, false, false, 0},
	} {
		code, tag := callWithReason(t, ts, "/api/v1/devices/tag-1", tokens[c.role], c.reason)
		_, victim := callWithReason(t, ts, "/api/v1/devices/phone-1", tokens[c.role], c.reason)
		if code != c.code || (code == 200 && (located(tag) != c.tag || located(victim) != c.victim)) {
			t.Errorf("%s reason %q: %d tag %v victim %v", c.role, c.reason, code, tag, victim)
		}
		if code == 200 && !c.victim && victim["position_redacted"] != true {
			t.Errorf("%s: a redacted position not said so: %v", c.role, victim)
		}
		code, near := callWithReason(t, ts, "/api/v1/devices?near=51.92,4.47&radius_m=500", tokens[c.role], c.reason)
		if code == 200 {
			if got := len(near["devices"].([]any)); got != c.nearExpected {
				t.Errorf("%s reason %q near: %d devices %v, want %d", c.role, c.reason, got, near, c.nearExpected)
			}
		}
		code, all := callWithReason(t, ts, "/api/v1/devices", tokens[c.role], c.reason)
		if code == 200 {
			devs := all["devices"].([]any)
			if len(devs) != 2 || devs[0].(map[string]any)["open_alerts"] != float64(2) {
				t.Errorf("%s list: %v", c.role, all)
			}
		}
	}
	var withReason int
	for _, e := range m.audit {
		if e.Path == "/api/v1/devices/phone-1" && e.Reason == "panic button, incident 4711" && e.Case == "case-1" && e.Actor == "supervisor-1" {
			withReason++
		}
	}
	if withReason != 1 {
		t.Errorf("the supervisor's read of the victim's position is not audited with its reason: %+v", m.audit)
	}
}

// Bad input: a problem naming the parameter, never a 500.
func TestDevicesBadInput(t *testing.T) {
	ts, _ := newDevicesServer(t)
	for path, field := range map[string]string{
		"/api/v1/devices?near=91,4&radius_m=10":            "near",
		"/api/v1/devices?near=51.9&radius_m=10":            "near",
		"/api/v1/devices?near=x,y&radius_m=10":             "near",
		"/api/v1/devices?near=51.9,4.4":                    "radius_m",
		"/api/v1/devices?near=51.9,4.4&radius_m=-1":        "radius_m",
		"/api/v1/devices?near=51.9,4.4&radius_m=NaN":       "radius_m",
		"/api/v1/devices?near=51.9,4.4&radius_m=1e9":       "radius_m",
		"/api/v1/devices?near=51.9,4.4&radius_m=1&limit=0": "limit",
		"/api/v1/devices?radius_m=10":                      "near",
		"/api/v1/devices?colour=red":                       "colour",
		"/api/v1/devices/bad.id":                           "id",
	} {
		code, body := callWithReason(t, ts, path, tokens[centre.Operator], "")
		if code != 400 || body["field"] != field {
			t.Errorf("%s: %d %v, want 400 naming %s", path, code, body, field)
		}
	}
	for _, tok := range []string{"", "wrong"} {
		if code, _ := callWithReason(t, ts, "/api/v1/devices?near=51.9,4.4&radius_m=10", tok, ""); code != 401 {
			t.Errorf("token %q: %d, want 401", tok, code)
		}
	}
	if code, _ := callWithReason(t, ts, "/api/v1/devices/nobody", tokens[centre.Operator], ""); code != 404 {
		t.Errorf("unknown device: %d", code)
	}
}
