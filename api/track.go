package api

import (
	"context"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/centre"
	"github.com/proxmon/proxmon/track"
)

// Bounds of a track query: a period defaults to the last day and may not
// exceed a month (a longer track is several requests, or the CLI's).
const (
	defaultPeriod = 24 * time.Hour
	maxPeriod     = 31 * 24 * time.Hour
)

// streamBody is an answer written as it is read (a track), after the
// audit entry, in constant memory.
type streamBody struct {
	contentType string
	filename    string // offered by Content-Disposition
	write       func(ctx context.Context, w io.Writer) error
}

// writeStream writes b. The status and headers go out with the first
// byte, so an error before it is still answered with a problem (503). An
// error after it is logged and aborts the response: the client sees a
// broken transfer (no final chunk), never a short track that looks whole.
func (s *Server) writeStream(w http.ResponseWriter, r *http.Request, b *streamBody) {
	sw := &startWriter{w: w, start: func() {
		h := w.Header()
		h.Set("Content-Type", b.contentType)
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": b.filename}))
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
	}}
	err := b.write(r.Context(), sw)
	switch {
	case err == nil:
		sw.begin() // an empty body still has its headers
		return
	case r.Context().Err() == nil:
		s.o.Log.Error("stream failed", "path", r.URL.Path, "started", sw.started, "err", err)
	}
	if sw.started {
		panic(http.ErrAbortHandler)
	}
	if r.Context().Err() == nil {
		writeProblem(w, problem(http.StatusServiceUnavailable, "archive_unavailable", "the archive cannot be read now; try again"))
	}
}

// startWriter calls start before the first byte it writes.
type startWriter struct {
	w       io.Writer
	start   func()
	started bool
}

func (s *startWriter) Write(p []byte) (int, error) {
	s.begin()
	return s.w.Write(p)
}

func (s *startWriter) begin() {
	if !s.started {
		s.started = true
		s.start()
	}
}

// mayTrack returns nil when u may read d's archived track (or see it pass
// a place), else the problem to answer. A tag is always the offender of
// its cases (a case file's offender is a tag, its protected persons are
// victims' devices): an operator and a supervisor read it, a case manager
// only when it is the offender of one of his cases. A protected person's
// device (or one of no known kind) only a supervisor who states a reason,
// as for positions (mayLocate).
func mayTrack(u *User, r *http.Request, d *centre.Device) *Problem {
	if d.Kind == proxmon.DeviceTag && u.Role == centre.CaseManager {
		if slices.ContainsFunc(d.Cases, u.caseAllowed) {
			return nil
		}
		return problem(http.StatusForbidden, "forbidden", "a case manager reads the tracks of his own cases' offenders only")
	}
	switch {
	case mayLocate(u, r, d):
		return nil
	case d.Kind == proxmon.DeviceTag:
		return problem(http.StatusForbidden, "forbidden", "role "+string(u.Role)+" may not read an offender's track")
	case u.Role == centre.Supervisor:
		return problem(http.StatusForbidden, "reason_required",
			"the track of a protected person's device is read only with a stated reason: give it in the X-Reason header (it is audited)").withField("X-Reason")
	}
	return problem(http.StatusForbidden, "forbidden", "the track of a protected person's device is for a supervisor only, with a stated reason")
}

// auditCase is the case through which u reads d: the first of d's cases u
// may see.
func auditCase(u *User, d *centre.Device) string {
	if i := slices.IndexFunc(d.Cases, u.caseAllowed); i >= 0 {
		return d.Cases[i]
	}
	return ""
}

// params returns r's query, refusing one that does not parse, a
// parameter not in names, and one given twice.
func params(r *http.Request, names ...string) (url.Values, *Problem) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return q, problem(http.StatusBadRequest, "bad_query", "the query string does not parse: "+err.Error())
	}
	for k, v := range q {
		switch {
		case !slices.Contains(names, k):
			return q, problem(http.StatusBadRequest, "bad_parameter", "unknown parameter "+strconv.Quote(k)).withField(k)
		case len(v) > 1:
			return q, problem(http.StatusBadRequest, "bad_parameter", strconv.Quote(k)+": given more than once").withField(k)
		}
	}
	return q, nil
}

// parsePeriod reads from and to (GPS time): each an RFC 3339 time or a
// duration back from now; to defaults to now, from to a day before to.
func parsePeriod(q url.Values, now time.Time) (from, to time.Time, p *Problem) {
	to = now
	if v := q.Get("to"); v != "" {
		t, ok := parseSince(v, now)
		if !ok {
			return from, to, problem(http.StatusBadRequest, "bad_parameter", "to: want an RFC 3339 time or a duration back from now such as 1h").withField("to")
		}
		to = t
	}
	from = to.Add(-defaultPeriod)
	if v := q.Get("from"); v != "" {
		t, ok := parseSince(v, now)
		if !ok {
			return from, to, problem(http.StatusBadRequest, "bad_parameter", "from: want an RFC 3339 time or a duration back from now such as 24h").withField("from")
		}
		from = t
	}
	switch {
	case !from.Before(to):
		return from, to, problem(http.StatusBadRequest, "bad_parameter", "to: must be after from").withField("to")
	case to.Sub(from) > maxPeriod:
		return from, to, problem(http.StatusBadRequest, "bad_parameter", "from: the period is limited to 31 days").withField("from")
	}
	return from.UTC(), to.UTC(), nil
}

// getTrack is GET /api/v1/devices/{id}/track?from=&to=&format=: the
// device's fixes with GPS time in [from, to), streamed from the archive
// in log order (track.Export) as geojson (default), gpx, csv or ndjson.
func (s *Server) getTrack(r *http.Request, u *User) response {
	id := r.PathValue("id")
	if !proxmon.ValidID(id) {
		return fail(problem(http.StatusBadRequest, "bad_id", "device id: want 1-64 characters of [A-Za-z0-9_-]").withField("id"))
	}
	q, p := params(r, "from", "to", "format")
	if p != nil {
		return fail(p)
	}
	format := track.GeoJSON
	if v := q.Get("format"); v != "" {
		f, err := track.ParseFormat(v)
		if err != nil {
			return fail(problem(http.StatusBadRequest, "bad_parameter", "format: want geojson, gpx, csv or ndjson").withField("format"))
		}
		format = f
	}
	from, to, p := parsePeriod(q, s.o.Now())
	if p != nil {
		return fail(p)
	}
	d, ok := s.o.Devices.Device(id)
	if !ok || !visible(u, &d) {
		return fail(problem(http.StatusNotFound, "not_found", "no device "+id))
	}
	res := response{caseID: auditCase(u, &d)}
	if p := mayTrack(u, r, &d); p != nil {
		res.status, res.problem = p.Status, p
		return res
	}
	tq := track.Query{Device: id, From: from, To: to}
	const stamp = "20060102T150405Z"
	res.status, res.devices = http.StatusOK, []string{id}
	res.stream = &streamBody{contentType: format.ContentType(),
		filename: id + "_" + from.Format(stamp) + "_" + to.Format(stamp) + "." + string(format),
		write: func(ctx context.Context, w io.Writer) error {
			_, err := track.Export(ctx, s.o.Archive, tq, format, w)
			return err
		}}
	return res
}

// trackNear is GET /api/v1/track/near?at=LAT,LON&radius_m=R&from=&to=:
// the devices with a fix within R metres of the place in the period,
// closest first, as `proxmon track near` prints them. A device whose
// track u may not read is left out: that it passed would give it away.
func (s *Server) trackNear(r *http.Request, u *User) response {
	q, p := params(r, "at", "radius_m", "from", "to")
	if p != nil {
		return fail(p)
	}
	at, p := placeParam(q, "at")
	if p != nil {
		return fail(p)
	}
	radius, p := radiusParam(q)
	if p != nil {
		return fail(p)
	}
	from, to, p := parsePeriod(q, s.o.Now())
	if p != nil {
		return fail(p)
	}
	passes, err := track.Near(r.Context(), s.o.Archive, track.NearQuery{At: at, RadiusM: radius, From: from, To: to})
	if err != nil {
		if r.Context().Err() == nil {
			s.o.Log.Error("near search failed", "err", err)
		}
		return fail(problem(http.StatusServiceUnavailable, "archive_unavailable", "the archive cannot be read now; try again"))
	}
	out := make([]track.PassJSON, 0, len(passes))
	var devs []string
	for i := range passes {
		d, ok := s.o.Devices.Device(passes[i].Device)
		if !ok {
			d = centre.Device{ID: passes[i].Device}
		}
		if !visible(u, &d) || mayTrack(u, r, &d) != nil {
			continue
		}
		out = append(out, passes[i].JSON())
		devs = append(devs, d.ID)
	}
	return response{status: http.StatusOK, body: map[string]any{"passes": out}, devices: devs}
}
