package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/centre"
	"github.com/proxmon/proxmon/geo"
)

// Devices is where the devices are now (see stream.Positions).
type Devices interface {
	Device(id string) (centre.Device, bool)
	Devices() []centre.Device
	Near(pt geo.Point, radiusM float64, keep func(*centre.Device) bool, limit int) []centre.Device
}

// Bounds of a search near a place.
const (
	maxRadiusM    = 100_000
	maxNearResult = 1000
)

// mayLocate reports whether u may see d's position: an offender's tag for
// an operator or a supervisor; a victim's device (or one of no known kind)
// only for a supervisor who states a reason (X-Reason), which the audit
// entry keeps. The victim's location never reaches anyone without a role
// that needs it.
func mayLocate(u *User, r *http.Request, d *centre.Device) bool {
	if d.Kind == proxmon.DeviceTag {
		return u.Role == centre.Operator || u.Role == centre.Supervisor
	}
	return u.Role == centre.Supervisor && strings.TrimSpace(r.Header.Get("X-Reason")) != ""
}

// visible reports whether u may see d at all: a user limited to some
// cases sees only their devices.
func visible(u *User, d *centre.Device) bool {
	if len(u.Cases) == 0 {
		return true
	}
	for _, c := range d.Cases {
		if u.caseAllowed(c) {
			return true
		}
	}
	return false
}

// finish redacts what u may not see and counts each device's open alerts.
func (s *Server) finish(r *http.Request, u *User, devs []centre.Device) []centre.Device {
	open := map[string]int{}
	if s.o.Centre != nil {
		s.o.Centre.View(func(b *centre.Book) {
			for _, a := range b.List(centre.Filter{Open: true}, s.o.Now()) {
				open[a.Event.Device]++
			}
		})
	}
	out := make([]centre.Device, 0, len(devs))
	for _, d := range devs {
		if !visible(u, &d) {
			continue
		}
		if d.Position != nil && !mayLocate(u, r, &d) {
			d.Position, d.Redacted = nil, true
		}
		d.OpenAlerts = open[d.ID]
		out = append(out, d)
	}
	return out
}

// placeParam reads the parameter name of q as LAT,LON in WGS84 degrees.
func placeParam(q url.Values, name string) (geo.Point, *Problem) {
	lat, lon, ok := strings.Cut(q.Get(name), ",")
	var pt geo.Point
	var err1, err2 error
	pt.Lat, err1 = strconv.ParseFloat(strings.TrimSpace(lat), 64)
	pt.Lon, err2 = strconv.ParseFloat(strings.TrimSpace(lon), 64)
	if !ok || err1 != nil || err2 != nil || !pt.Valid() {
		return pt, problem(http.StatusBadRequest, "bad_parameter", name+": want LAT,LON in WGS84 degrees").withField(name)
	}
	return pt, nil
}

// radiusParam reads radius_m of q, a search radius: metres, more than 0,
// at most maxRadiusM.
func radiusParam(q url.Values) (float64, *Problem) {
	r, err := strconv.ParseFloat(q.Get("radius_m"), 64)
	if err != nil || !(r > 0 && r <= maxRadiusM) {
		return r, problem(http.StatusBadRequest, "bad_parameter", fmt.Sprintf("radius_m: want metres, more than 0 and at most %d", maxRadiusM)).withField("radius_m")
	}
	return r, nil
}

// listDevices is GET /api/v1/devices, and with near=LAT,LON&radius_m=R
// the devices near a place now, nearest first, with their distances.
func (s *Server) listDevices(r *http.Request, u *User) response {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "near", "radius_m", "limit":
		default:
			return fail(problem(http.StatusBadRequest, "bad_parameter", "unknown parameter "+k).withField(k))
		}
	}
	if q.Get("near") == "" {
		if q.Has("radius_m") || q.Has("limit") {
			return fail(problem(http.StatusBadRequest, "bad_parameter", "radius_m and limit go with near").withField("near"))
		}
		return response{status: http.StatusOK, body: map[string]any{"devices": s.finish(r, u, s.o.Devices.Devices())}}
	}
	pt, p := placeParam(q, "near")
	if p != nil {
		return fail(p)
	}
	radius, p := radiusParam(q)
	if p != nil {
		return fail(p)
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > maxNearResult {
			return fail(problem(http.StatusBadRequest, "bad_parameter", "limit: want 1 to 1000").withField("limit"))
		}
		limit = n
	}
	// A device whose position u may not see is left out: its distance
	// from a place would give it away.
	near := s.o.Devices.Near(pt, radius, func(d *centre.Device) bool { return visible(u, d) && mayLocate(u, r, d) }, limit)
	return response{status: http.StatusOK, body: map[string]any{"devices": s.finish(r, u, near)}}
}

// getDevice is GET /api/v1/devices/{id}.
func (s *Server) getDevice(r *http.Request, u *User) response {
	id := r.PathValue("id")
	if !proxmon.ValidID(id) {
		return fail(problem(http.StatusBadRequest, "bad_id", "device id: want 1-64 characters of [A-Za-z0-9_-]").withField("id"))
	}
	d, ok := s.o.Devices.Device(id)
	if ok {
		devs := s.finish(r, u, []centre.Device{d})
		if ok = len(devs) == 1; ok {
			d = devs[0]
		}
	}
	if !ok {
		return fail(problem(http.StatusNotFound, "not_found", "no device "+id))
	}
	res := response{status: http.StatusOK, body: d}
	if len(d.Cases) == 1 {
		res.caseID = d.Cases[0]
	}
	return res
}
