package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/proxmon/proxmon/centre"
)

const casesAPIUsage = `usage:
  proxmon cases get ID [--json]
  proxmon cases history ID [--json]
  proxmon cases delete ID --reason TEXT
  proxmon audit list [--case ID] [--actor NAME] [--since 24h] [--limit N] [--json]

Through the HTTP API (--api, PROXMON_API) with the token in PROXMON_TOKEN
or --token-file: every call is authenticated and audited. A case is put in
force with PUT /api/v1/cases/{id}, or from a file with proxmon cases apply.
`

// casesAPICmd is `proxmon cases get|history|delete` and `proxmon audit
// list`: the case managers' and auditors' side of the API.
func casesAPICmd(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, casesAPIUsage)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet(cmd+" "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c apiClient
	tokenFile := c.flags(fs)
	asJSON := fs.Bool("json", false, "JSON instead of text")
	reason := fs.String("reason", "", "why the case is deleted (delete; required, kept in the audit trail)")
	caseID := fs.String("case", "", "only calls about this `case` (audit list)")
	actor := fs.String("actor", "", "only calls by this `user` (audit list)")
	since := fs.String("since", "24h", "calls since: a `duration` back or an RFC 3339 time (audit list)")
	limit := fs.Int("limit", 0, "at most the newest `n` calls (audit list; default the API's)")
	var id string
	if cmd == "cases" && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	valid := map[string]bool{"cases get": true, "cases history": true, "cases delete": true, "audit list": true}
	if fs.NArg() != 0 || !valid[cmd+" "+sub] || (cmd == "cases") != (id != "") {
		fmt.Fprint(stderr, casesAPIUsage)
		return exitUsage
	}
	if sub == "delete" && strings.TrimSpace(*reason) == "" {
		fmt.Fprintln(stderr, "proxmon cases delete: --reason is required")
		return exitUsage
	}
	if err := c.loadToken(*tokenFile); err != nil {
		fmt.Fprintf(stderr, "proxmon %s: %v\n", cmd, err)
		return exitUsage
	}
	path := "/api/v1/cases/" + url.PathEscape(id)
	var err error
	switch sub {
	case "get":
		var v centre.CaseVersion
		if err = c.do(ctx, "GET", path, nil, &v); err == nil {
			if *asJSON {
				err = json.NewEncoder(stdout).Encode(v)
			} else {
				err = printCase(stdout, &v)
			}
		}
	case "history":
		var out struct{ Versions []centre.CaseVersion }
		if err = c.do(ctx, "GET", path+"/history", nil, &out); err == nil {
			if *asJSON {
				err = json.NewEncoder(stdout).Encode(out.Versions)
			} else {
				printHistory(stdout, out.Versions)
			}
		}
	case "delete":
		c.reason = *reason
		var v centre.CaseVersion
		if err = c.do(ctx, "DELETE", path, nil, &v); err == nil {
			fmt.Fprintf(stdout, "case %s deleted: revision %d at %s\n", v.ID, v.Revision, v.Time.Format(time.RFC3339))
		}
	case "list":
		q := url.Values{}
		for k, v := range map[string]string{"case": *caseID, "actor": *actor, "since": *since} {
			if v != "" {
				q.Set(k, v)
			}
		}
		if *limit > 0 {
			q.Set("limit", fmt.Sprint(*limit))
		}
		var out struct{ Entries []centre.AuditEntry }
		if err = c.do(ctx, "GET", "/api/v1/audit?"+q.Encode(), nil, &out); err == nil {
			if *asJSON {
				err = json.NewEncoder(stdout).Encode(out.Entries)
			} else {
				printAudit(stdout, out.Entries)
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "proxmon %s %s: %v\n", cmd, sub, err)
		return exitFault
	}
	return exitOK
}

// printCase writes a case version's revision and then the case record,
// which is the body a PUT takes.
func printCase(w io.Writer, v *centre.CaseVersion) error {
	fmt.Fprintf(w, "# case %s, revision %d, written %s\n", v.ID, v.Revision, v.Time.Format(time.RFC3339))
	b, err := json.MarshalIndent(map[string]any{"case": v.Case, "devices": v.Devices}, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func printHistory(w io.Writer, vs []centre.CaseVersion) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REVISION\tTIME\tOPERATION\tBY\tROLE\tREASON")
	for _, v := range vs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", v.Revision, v.Time.Local().Format("2006-01-02 15:04:05"), v.Operation,
			orDash(v.Actor), orDash(string(v.Role)), orDash(v.Reason))
	}
	tw.Flush()
}

func printAudit(w io.Writer, es []centre.AuditEntry) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTOR\tROLE\tACTION\tMETHOD\tPATH\tSTATUS\tCASE\tREASON")
	for _, e := range es {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.Time.Local().Format("2006-01-02 15:04:05"), e.Actor,
			orDash(string(e.Role)), e.Action, e.Method, e.Path, e.Status, orDash(e.Case), orDash(e.Reason))
	}
	tw.Flush()
}
