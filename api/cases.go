package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/centre"
)

// Cases are the cases in force (see stream.CaseStore). Versions never
// carry devices' MQTT secrets. A change is based on a revision of the
// case (0: it must not be in force) and fails with centre.ErrCaseChanged
// when another revision came first.
type Cases interface {
	Cases(ctx context.Context) ([]centre.CaseVersion, error)
	Case(ctx context.Context, id string) (centre.CaseVersion, error)
	PutCase(ctx context.Context, c *proxmon.Case, devices []proxmon.Device, last uint64) (centre.CaseVersion, error)
	DeleteCase(ctx context.Context, id string, last uint64) (centre.CaseVersion, error)
	CaseHistory(ctx context.Context, id string) ([]centre.CaseVersion, error)
}

func (s *Server) caseRoutes(mux *http.ServeMux) {
	s.route(mux, "GET /api/v1/cases", centre.ReadCases, s.listCases)
	s.route(mux, "GET /api/v1/cases/{id}", centre.ReadCases, s.getCase)
	s.route(mux, "PUT /api/v1/cases/{id}", centre.WriteCases, s.putCase)
	s.route(mux, "DELETE /api/v1/cases/{id}", centre.WriteCases, s.deleteCase)
	s.route(mux, "GET /api/v1/cases/{id}/history", centre.ReadCases, s.caseHistory)
}

var errStore = problem(http.StatusServiceUnavailable, "store_unavailable", "the cases cannot be read or written now; try again")

func (s *Server) storeFailed(id string, err error) response {
	s.o.Log.Error("cases store failed", "case", id, "err", err)
	return failCase(id, errStore)
}

// failCase is fail for a call about case id: its audit entry names it.
func failCase(id string, p *Problem) response {
	res := fail(p)
	res.caseID = id
	return res
}

// changed is the answer to a change that another one overtook.
func changed(id string) response {
	return failCase(id, problem(http.StatusConflict, "changed", "case "+id+" changed meanwhile: read it again"))
}

// caseID reads the case id of the path: a user limited to some cases may
// not touch (or create) any other, and is told so.
func caseID(r *http.Request, u *User) (string, *Problem) {
	id := r.PathValue("id")
	if !proxmon.ValidID(id) {
		return "", problem(http.StatusBadRequest, "bad_id", "case id: want 1-64 characters of [A-Za-z0-9_-]").withField("id")
	}
	if !u.caseAllowed(id) {
		return id, problem(http.StatusForbidden, "forbidden", "case "+id+" is not one of your cases")
	}
	return id, nil
}

// etag is the entity tag of a case version: its bucket revision.
func etag(rev uint64) string { return `"` + strconv.FormatUint(rev, 10) + `"` }

// ifMatch reads If-Match: absent (0, true), or one revision as etag
// writes it (quotes optional).
func ifMatch(r *http.Request) (rev uint64, ok bool) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" {
		return 0, true
	}
	n, err := strconv.ParseUint(strings.Trim(strings.TrimPrefix(v, "W/"), `"`), 10, 64)
	return n, err == nil && n > 0
}

// current returns the case in force (ok false when there is none) and
// checks it against If-Match.
func (s *Server) current(r *http.Request, id string) (cur centre.CaseVersion, ok bool, res *response) {
	want, valid := ifMatch(r)
	if !valid {
		p := problem(http.StatusBadRequest, "bad_header", `If-Match: want the ETag of the case, e.g. "12"`).withField("If-Match")
		return cur, false, new(failCase(id, p))
	}
	cur, err := s.o.Cases.Case(r.Context(), id)
	switch {
	case errors.Is(err, centre.ErrNoCase):
		err = nil
	case err == nil:
		ok = true
	}
	if err != nil {
		f := s.storeFailed(id, err)
		return cur, false, &f
	}
	if want != 0 && (!ok || cur.Revision != want) {
		p := problem(http.StatusPreconditionFailed, "changed", "case "+id+" is not at revision "+strconv.FormatUint(want, 10)+" any more: read it again")
		return cur, ok, new(failCase(id, p))
	}
	return cur, ok, nil
}

func noCase(id string) response {
	p := problem(http.StatusNotFound, "not_found", "no case "+id)
	return failCase(id, p)
}

func versionResponse(status int, v centre.CaseVersion) response {
	return response{status: status, body: v, caseID: v.ID, header: http.Header{"Etag": {etag(v.Revision)}}}
}

// listCases is GET /api/v1/cases: the cases in force the user may see.
func (s *Server) listCases(r *http.Request, u *User) response {
	for k := range r.URL.Query() {
		return fail(problem(http.StatusBadRequest, "bad_parameter", "unknown parameter "+k).withField(k))
	}
	all, err := s.o.Cases.Cases(r.Context())
	if err != nil {
		return s.storeFailed("", err)
	}
	out := make([]centre.CaseVersion, 0, len(all))
	for _, v := range all {
		if u.caseAllowed(v.ID) {
			out = append(out, v)
		}
	}
	return response{status: http.StatusOK, body: map[string]any{"cases": out}}
}

// getCase is GET /api/v1/cases/{id}, with its revision as ETag.
func (s *Server) getCase(r *http.Request, u *User) response {
	id, p := caseID(r, u)
	if p != nil {
		return failCase(id, p)
	}
	v, err := s.o.Cases.Case(r.Context(), id)
	if errors.Is(err, centre.ErrNoCase) {
		return noCase(id)
	}
	if err != nil {
		return s.storeFailed(id, err)
	}
	return versionResponse(http.StatusOK, v)
}

// putCase is PUT /api/v1/cases/{id}: the body is one case record as the
// log has it, {"case": {...}, "devices": [...]}, checked exactly as a case
// file is. With If-Match, only over that revision.
func (s *Server) putCase(r *http.Request, u *User) response {
	id, p := caseID(r, u)
	if p != nil {
		return failCase(id, p)
	}
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return failCase(id, problem(http.StatusRequestEntityTooLarge, "body_too_large", "the body is limited to 64 KiB"))
	case err != nil:
		return failCase(id, problem(http.StatusBadRequest, "bad_body", "body: "+err.Error()))
	case !json.Valid(body):
		return failCase(id, problem(http.StatusBadRequest, "bad_json", `body: want one JSON object {"case": {...}, "devices": [...]}`))
	}
	c, devs, err := proxmon.ParseCaseRecord(body)
	var verr *proxmon.ValidationError
	if errors.As(err, &verr) {
		return failCase(id, invalid(verr.Faults))
	}
	if err != nil { // ParseCaseRecord reports nothing else; still the input's fault
		return failCase(id, problem(http.StatusUnprocessableEntity, "invalid_case", err.Error()))
	}
	if c.ID != id {
		return failCase(id, problem(http.StatusUnprocessableEntity, "id_mismatch", "case.id "+c.ID+" is not the id of the path, "+id).withField("case.id"))
	}
	cur, exists, res := s.current(r, id)
	if res != nil {
		return *res
	}
	if p := s.foreignDevices(r.Context(), u, id, devs); p != nil {
		return failCase(id, p)
	}
	v, err := s.o.Cases.PutCase(r.Context(), c, devs, cur.Revision)
	switch {
	case errors.Is(err, centre.ErrCaseChanged):
		return changed(id)
	case errors.As(err, &verr):
		return failCase(id, invalid(verr.Faults))
	case err != nil:
		return s.storeFailed(id, err)
	}
	status := http.StatusOK
	if !exists {
		status = http.StatusCreated
	}
	res2 := versionResponse(status, v)
	res2.revision = v.Revision
	return res2
}

// invalid is the problem of a case record with faults: the first names
// the field, and every one is listed.
func invalid(faults []proxmon.Fault) *Problem {
	msgs := make([]string, len(faults))
	list := make([]FieldFault, len(faults))
	for i, f := range faults {
		msgs[i], list[i] = f.String(), FieldFault{Field: f.Path, Detail: f.Message}
	}
	p := problem(http.StatusUnprocessableEntity, "invalid_case", strings.Join(msgs, "; "))
	if len(faults) > 0 {
		p.Field = faults[0].Path
	}
	p.Faults = list
	return p
}

// foreignDevices refuses a user limited to some cases a record that
// brings a device another case uses: it would set that device's report
// interval and MQTT secret for a case he may not touch.
func (s *Server) foreignDevices(ctx context.Context, u *User, id string, devs []proxmon.Device) *Problem {
	if len(u.Cases) == 0 {
		return nil
	}
	all, err := s.o.Cases.Cases(ctx)
	if err != nil {
		s.o.Log.Error("cases store failed", "err", err)
		return errStore
	}
	for i, d := range devs {
		for _, v := range all {
			if v.ID != id && !u.caseAllowed(v.ID) && slices.ContainsFunc(v.Devices, func(o proxmon.Device) bool { return o.ID == d.ID }) {
				return problem(http.StatusForbidden, "forbidden", "device "+d.ID+" is used by a case that is not one of yours").withField("devices[" + strconv.Itoa(i) + "].id")
			}
		}
	}
	return nil
}

// deleteCase is DELETE /api/v1/cases/{id}: the case leaves force (the
// engine stops evaluating it). It needs a reason (X-Reason).
func (s *Server) deleteCase(r *http.Request, u *User) response {
	id, p := caseID(r, u)
	if p != nil {
		return failCase(id, p)
	}
	if strings.TrimSpace(r.Header.Get("X-Reason")) == "" {
		return failCase(id, problem(http.StatusUnprocessableEntity, "reason_required", "deleting a case needs a reason (X-Reason)").withField("X-Reason"))
	}
	cur, exists, res := s.current(r, id)
	if res != nil {
		return *res
	}
	if !exists {
		return noCase(id)
	}
	v, err := s.o.Cases.DeleteCase(r.Context(), id, cur.Revision)
	switch {
	case errors.Is(err, centre.ErrNoCase):
		return noCase(id)
	case errors.Is(err, centre.ErrCaseChanged):
		return changed(id)
	case err != nil:
		return s.storeFailed(id, err)
	}
	return response{status: http.StatusOK, body: v, caseID: id, revision: v.Revision}
}

// caseHistory is GET /api/v1/cases/{id}/history: the revisions of the
// case the bucket keeps, oldest first. The bucket keeps no author: who made
// a change and why come from the audit entry of the API call that made it,
// which names the revision (a change made without the API has none).
func (s *Server) caseHistory(r *http.Request, u *User) response {
	id, p := caseID(r, u)
	if p != nil {
		return failCase(id, p)
	}
	hist, err := s.o.Cases.CaseHistory(r.Context(), id)
	if errors.Is(err, centre.ErrNoCase) {
		return noCase(id)
	}
	if err != nil {
		return s.storeFailed(id, err)
	}
	// The audit entry of a change is stored after the change; a minute
	// covers any clock difference between the servers.
	since := hist[0].Time.Add(-time.Minute)
	entries, err := s.o.Centre.AuditEntries(r.Context(), since, func(e *centre.AuditEntry) bool {
		return e.Case == id && e.Revision != 0
	}, 0)
	if err != nil {
		p := problem(http.StatusServiceUnavailable, "store_unavailable", "the audit trail cannot be read now")
		return failCase(id, p)
	}
	for i := range hist {
		for _, e := range entries {
			if e.Revision == hist[i].Revision {
				hist[i].Actor, hist[i].Role, hist[i].Reason = e.Actor, e.Role, e.Reason
			}
		}
	}
	return response{status: http.StatusOK, body: map[string]any{"id": id, "versions": hist}, caseID: id}
}
