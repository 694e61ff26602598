package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/centre"
)

// Centre is the monitoring centre's state as the API uses it.
type Centre interface {
	View(func(*centre.Book))
	Act(context.Context, centre.Action) (centre.Action, error)
	Audit(context.Context, centre.AuditEntry) error
	AuditEntries(ctx context.Context, since time.Time, keep func(*centre.AuditEntry) bool, limit int) ([]centre.AuditEntry, error)
}

// Alarm is one reason the centre must not trust its silence (the
// dead-man's switch): the engine's ticks stopped, no dispatch terminal is
// connected.
type Alarm struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// maxBody bounds a request body.
const maxBody = 64 << 10

// response is what a handler answers: a status and a JSON body or a
// problem; the wrapper audits it before it is written.
type response struct {
	status  int
	body    any
	problem *Problem
	// header is added to the answer (e.g. an ETag)
	header http.Header
	// audit fields the handler knows
	caseID, alert string
	devices       []string
	revision      uint64 // the CASES revision a case change made
	// stream, when set, is the body, written after the audit (see
	// writeStream); status and body are then unused.
	stream *streamBody
}

func fail(p *Problem) response { return response{status: p.Status, problem: p} }

type handler func(r *http.Request, u *User) response

// route registers an authenticated, audited endpoint.
func (s *Server) route(mux *http.ServeMux, pattern string, perm centre.Permission, h handler) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		u := s.o.Users.user(r)
		var res response
		switch {
		case u == nil:
			res = fail(problem(http.StatusUnauthorized, "unauthenticated", "a valid bearer token is required"))
		case !u.Role.Can(perm):
			res = fail(problem(http.StatusForbidden, "forbidden", "role "+string(u.Role)+" may not "+string(perm)))
		default:
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			res = h(r, u)
		}
		e := centre.AuditEntry{Action: string(perm), Method: r.Method, Path: r.URL.RequestURI(),
			Case: res.caseID, Alert: res.alert, Revision: res.revision, Reason: truncate(r.Header.Get("X-Reason"), 500), Status: res.status,
			Devices: res.devices}
		if u != nil {
			e.Actor, e.Role = u.Name, u.Role
		} else {
			e.Actor = centre.Anonymous
		}
		// Nothing is read without its audit entry.
		if err := s.o.Centre.Audit(r.Context(), e); err != nil {
			s.o.Log.Error("audit failed", "err", err)
			writeProblem(w, problem(http.StatusServiceUnavailable, "audit_unavailable", "the audit trail cannot be written; nothing is served without it"))
			return
		}
		for k, v := range res.header {
			w.Header()[k] = v
		}
		switch {
		case res.problem != nil:
			writeProblem(w, res.problem)
		case res.stream != nil:
			s.writeStream(w, r, res.stream)
		default:
			writeJSON(w, res.status, res.body)
		}
	})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (s *Server) centreRoutes(mux *http.ServeMux) {
	s.route(mux, "GET /api/v1/alerts", centre.ReadAlerts, s.listAlerts)
	s.route(mux, "GET /api/v1/alerts/{id}", centre.ReadAlerts, s.getAlert)
	s.route(mux, "POST /api/v1/alerts/{id}/ack", centre.AckAlerts, s.act(centre.KindAck))
	s.route(mux, "POST /api/v1/alerts/{id}/close", centre.CloseAlerts, s.act(centre.KindClose))
	s.route(mux, "GET /api/v1/reports/alerts", centre.ReadReports, s.report)
	s.route(mux, "GET /api/v1/status", centre.ReadStatus, s.status)
	s.route(mux, "GET /api/v1/audit", centre.ReadAudit, s.audit)
	if s.o.Devices != nil {
		s.route(mux, "GET /api/v1/devices", centre.ReadDevices, s.listDevices)
		s.route(mux, "GET /api/v1/devices/{id}", centre.ReadDevices, s.getDevice)
	}
	if s.o.Cases != nil {
		s.caseRoutes(mux)
	}
	if s.o.Dispatch != nil {
		s.route(mux, "POST /api/v1/dispatch/{terminal}/next", centre.ReadAlerts, s.next)
	}
	if s.o.Devices != nil && s.o.Archive != nil {
		s.route(mux, "GET /api/v1/devices/{id}/track", centre.ReadTracks, s.getTrack)
		s.route(mux, "GET /api/v1/track/near", centre.ReadTracks, s.trackNear)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, problem(http.StatusNotFound, "not_found", "no such endpoint"))
	})
}

// parseSince reads an RFC 3339 time or a duration back from now.
func parseSince(v string, now time.Time) (time.Time, bool) {
	if v == "" {
		return time.Time{}, true
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), true
	}
	t, err := time.Parse(time.RFC3339, v)
	return t, err == nil
}

func (s *Server) filter(r *http.Request, u *User) (centre.Filter, *Problem) {
	q := r.URL.Query()
	var f centre.Filter
	for k := range q {
		switch k {
		case "open", "case", "severity", "since", "limit", "sort":
		default:
			return f, problem(http.StatusBadRequest, "bad_parameter", "unknown parameter "+k).withField(k)
		}
	}
	if v := q.Get("open"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return f, problem(http.StatusBadRequest, "bad_parameter", "open: want true or false").withField("open")
		}
		f.Open = b
	}
	if v := q.Get("case"); v != "" {
		if !proxmon.ValidID(v) {
			return f, problem(http.StatusBadRequest, "bad_parameter", "case: want 1-64 characters of [A-Za-z0-9_-]").withField("case")
		}
		f.Case = v
	}
	switch sev := proxmon.Severity(q.Get("severity")); sev {
	case "", proxmon.SeverityCritical, proxmon.SeverityHigh, proxmon.SeverityInfo:
		f.Severity = sev
	default:
		return f, problem(http.StatusBadRequest, "bad_parameter", "severity: want critical, high or info").withField("severity")
	}
	since, ok := parseSince(q.Get("since"), s.o.Now())
	if !ok {
		return f, problem(http.StatusBadRequest, "bad_parameter", "since: want an RFC 3339 time or a duration such as 24h").withField("since")
	}
	f.Since = since
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return f, problem(http.StatusBadRequest, "bad_parameter", "limit: want a number").withField("limit")
		}
		f.Limit = n
	}
	if v := q.Get("sort"); v != "" && v != "severity" && v != "stored" {
		return f, problem(http.StatusBadRequest, "bad_parameter", "sort: want severity or stored").withField("sort")
	}
	if len(u.Cases) > 0 {
		f.Cases = u.caseAllowed
	}
	return f, nil
}

func (s *Server) listAlerts(r *http.Request, u *User) response {
	f, p := s.filter(r, u)
	if p != nil {
		return fail(p)
	}
	var alerts []centre.Alert
	s.o.Centre.View(func(b *centre.Book) { alerts = b.List(f, s.o.Now()) })
	if r.URL.Query().Get("sort") == "severity" {
		centre.SortBySeverity(alerts)
	}
	if alerts == nil {
		alerts = []centre.Alert{}
	}
	return response{status: http.StatusOK, body: map[string]any{"alerts": alerts}, caseID: f.Case}
}

func (s *Server) lookup(r *http.Request, u *User) (centre.Alert, *Problem) {
	id := r.PathValue("id")
	if !proxmon.ValidID(id) {
		return centre.Alert{}, problem(http.StatusBadRequest, "bad_id", "alert id: want 1-64 characters of [A-Za-z0-9_-]").withField("id")
	}
	var a centre.Alert
	var ok bool
	s.o.Centre.View(func(b *centre.Book) { a, ok = b.Get(id, s.o.Now()) })
	if !ok || !u.caseAllowed(a.Event.Case) {
		return a, problem(http.StatusNotFound, "not_found", "no alert "+id)
	}
	return a, nil
}

func (s *Server) getAlert(r *http.Request, u *User) response {
	a, p := s.lookup(r, u)
	if p != nil {
		return fail(p)
	}
	return response{status: http.StatusOK, body: a, caseID: a.Event.Case, alert: a.Event.ID}
}

// actionBody is the body of ack and close.
type actionBody struct {
	Note   string `json:"note"`
	Reason string `json:"reason"`
	Force  bool   `json:"force"`
}

func (s *Server) act(kind centre.Kind) handler {
	return func(r *http.Request, u *User) response {
		a, p := s.lookup(r, u)
		if p != nil {
			return fail(p)
		}
		res := response{caseID: a.Event.Case, alert: a.Event.ID}
		var body actionBody
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				p = problem(http.StatusRequestEntityTooLarge, "body_too_large", "the body is limited to 64 KiB")
			} else {
				p = problem(http.StatusBadRequest, "bad_json", "body: "+err.Error())
			}
			res.status, res.problem = p.Status, p
			return res
		}
		if dec.More() {
			p = problem(http.StatusBadRequest, "bad_json", "body: one JSON object expected")
			res.status, res.problem = p.Status, p
			return res
		}
		body.Note, body.Reason = strings.TrimSpace(body.Note), strings.TrimSpace(body.Reason)
		if len(body.Note) > 2000 || len(body.Reason) > 2000 {
			p = problem(http.StatusBadRequest, "too_long", "note and reason are limited to 2000 bytes")
			res.status, res.problem = p.Status, p
			return res
		}
		stored, err := s.o.Centre.Act(r.Context(), centre.Action{Alert: a.Event.ID, Kind: kind, Actor: u.Name, Role: u.Role,
			Note: body.Note, Reason: body.Reason, Force: body.Force})
		switch {
		case err == nil:
			res.status, res.body = http.StatusCreated, stored
			return res
		case errors.Is(err, centre.ErrReasonRequired):
			p = problem(http.StatusUnprocessableEntity, "reason_required", "closing an alert needs a reason").withField("reason")
		case errors.Is(err, centre.ErrForbidden):
			p = problem(http.StatusForbidden, "forbidden", err.Error())
		case errors.Is(err, centre.ErrEngineOpen):
			p = problem(http.StatusConflict, "engine_open", err.Error())
		case errors.Is(err, centre.ErrClosed):
			p = problem(http.StatusConflict, "closed", err.Error())
		case errors.Is(err, centre.ErrChanged):
			p = problem(http.StatusConflict, "changed", err.Error()+": look at it again")
		case errors.Is(err, centre.ErrNotFound):
			p = problem(http.StatusNotFound, "not_found", "no alert "+a.Event.ID)
		default:
			s.o.Log.Error("alert action failed", "alert", a.Event.ID, "err", err)
			p = problem(http.StatusServiceUnavailable, "store_unavailable", "the action could not be stored; try again")
		}
		res.status, res.problem = p.Status, p
		return res
	}
}

func (s *Server) report(r *http.Request, _ *User) response {
	for k := range r.URL.Query() {
		if k != "since" {
			return fail(problem(http.StatusBadRequest, "bad_parameter", "unknown parameter "+k).withField(k))
		}
	}
	v := r.URL.Query().Get("since")
	if v == "" {
		v = "24h"
	}
	now := s.o.Now()
	since, ok := parseSince(v, now)
	if !ok {
		return fail(problem(http.StatusBadRequest, "bad_parameter", "since: want an RFC 3339 time or a duration such as 24h").withField("since"))
	}
	var rep centre.Report
	s.o.Centre.View(func(b *centre.Book) { rep = b.Report(since, now) })
	return response{status: http.StatusOK, body: rep}
}

func (s *Server) status(r *http.Request, _ *User) response {
	alarms := []Alarm{}
	if s.o.Alarms != nil {
		alarms = append(alarms, s.o.Alarms(r.Context())...)
	}
	return response{status: http.StatusOK, body: map[string]any{"ok": len(alarms) == 0, "alarms": alarms}}
}

func (s *Server) audit(r *http.Request, _ *User) response {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "case", "actor", "since", "limit":
		default:
			return fail(problem(http.StatusBadRequest, "bad_parameter", "unknown parameter "+k).withField(k))
		}
	}
	c, actor := q.Get("case"), q.Get("actor")
	for k, v := range map[string]string{"case": c, "actor": actor} {
		if v != "" && !proxmon.ValidID(v) {
			return fail(problem(http.StatusBadRequest, "bad_parameter", k+": want 1-64 characters of [A-Za-z0-9_-]").withField(k))
		}
	}
	since, ok := parseSince(q.Get("since"), s.o.Now())
	if !ok {
		return fail(problem(http.StatusBadRequest, "bad_parameter", "since: want an RFC 3339 time or a duration").withField("since"))
	}
	limit := 1000
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return fail(problem(http.StatusBadRequest, "bad_parameter", "limit: want a positive number").withField("limit"))
		}
		limit = n
	}
	entries, err := s.o.Centre.AuditEntries(r.Context(), since, func(e *centre.AuditEntry) bool {
		return (c == "" || e.Case == c) && (actor == "" || e.Actor == actor)
	}, limit)
	if err != nil {
		return fail(problem(http.StatusServiceUnavailable, "store_unavailable", "the audit trail cannot be read now"))
	}
	if entries == nil {
		entries = []centre.AuditEntry{}
	}
	return response{status: http.StatusOK, body: map[string]any{"entries": entries}, caseID: c}
}
