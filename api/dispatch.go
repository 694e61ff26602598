package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/centre"
)

// Dispatch hands EVENTS to the centre's dispatch terminals: each terminal
// its own cursor, confirmed by the terminal once it showed the events (see
// stream.Dispatcher).
type Dispatch interface {
	Next(ctx context.Context, terminal string, shown uint64, max int, wait time.Duration) ([]centre.Delivery, error)
}

// Bounds of a dispatch call.
const (
	dispatchMaxWait  = 25 * time.Second
	dispatchMaxBatch = 500
)

// dispatchAnswer is the answer of POST /api/v1/dispatch/{terminal}/next.
type dispatchAnswer struct {
	Events []centre.Delivery `json:"events"`
	// Cursor is the sequence to confirm at the next call once the events
	// are shown; it also covers events of cases the user may not see.
	Cursor uint64 `json:"cursor"`
	// Alarms are the dead-man's switch's, as /api/v1/status has them.
	Alarms []Alarm `json:"alarms"`
}

// next is POST /api/v1/dispatch/{terminal}/next?shown=SEQ&max=N&wait=5s:
// confirm what the terminal showed, take what it has not.
func (s *Server) next(r *http.Request, u *User) response {
	term := r.PathValue("terminal")
	if !proxmon.ValidID(term) {
		return fail(problem(http.StatusBadRequest, "bad_id", "terminal: want 1-64 characters of [A-Za-z0-9_-]").withField("terminal"))
	}
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "shown", "max", "wait":
		default:
			return fail(problem(http.StatusBadRequest, "bad_parameter", "unknown parameter "+k).withField(k))
		}
	}
	var shown uint64
	if v := q.Get("shown"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fail(problem(http.StatusBadRequest, "bad_parameter", "shown: want the EVENTS sequence last shown").withField("shown"))
		}
		shown = n
	}
	batch := 100
	if v := q.Get("max"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > dispatchMaxBatch {
			return fail(problem(http.StatusBadRequest, "bad_parameter", "max: want 0 to 500").withField("max"))
		}
		batch = n
	}
	wait := 5 * time.Second
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > dispatchMaxWait {
			return fail(problem(http.StatusBadRequest, "bad_parameter", "wait: want a duration up to 25s").withField("wait"))
		}
		wait = d
	}
	got, err := s.o.Dispatch.Next(r.Context(), term, shown, batch, wait)
	if err != nil && !errors.Is(err, context.Canceled) {
		s.o.Log.Error("dispatch failed", "terminal", term, "err", err)
		return fail(problem(http.StatusServiceUnavailable, "store_unavailable", "the events cannot be read now; try again"))
	}
	ans := dispatchAnswer{Events: []centre.Delivery{}, Cursor: shown, Alarms: []Alarm{}}
	for _, d := range got {
		ans.Cursor = max(ans.Cursor, d.Seq)
		if u.caseAllowed(d.Event.Case) {
			ans.Events = append(ans.Events, d)
		}
	}
	if s.o.Alarms != nil {
		ans.Alarms = append(ans.Alarms, s.o.Alarms(r.Context())...)
	}
	res := response{status: http.StatusOK, body: ans}
	if len(ans.Events) == 1 {
		res.caseID, res.alert = ans.Events[0].Event.Case, ans.Events[0].Event.ID
	}
	return res
}
