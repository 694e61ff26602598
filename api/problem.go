package api

import (
	"encoding/json"
	"net/http"
)

// Problem is an error answer (RFC 9457 problem details). Code is a
// machine-readable extension; Field names the input at fault, Faults
// every fault when there are several (an invalid case).
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Code   string       `json:"code,omitempty"`
	Field  string       `json:"field,omitempty"`
	Faults []FieldFault `json:"faults,omitempty"`
}

// FieldFault is one fault of the input: where (a path such as
// "case.zones[0].geometry") and what.
type FieldFault struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

func problem(status int, code, detail string) *Problem {
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Code: code, Detail: detail}
}

func (p *Problem) withField(f string) *Problem { p.Field = f; return p }

func writeProblem(w http.ResponseWriter, p *Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="proxmon"`)
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
