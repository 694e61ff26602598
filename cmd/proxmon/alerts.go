package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/proxmon/proxmon/api"
	"github.com/proxmon/proxmon/centre"
)

const alertsUsage = `usage:
  proxmon alerts list [--open] [--case ID] [--severity S] [--since 24h]
  proxmon alerts ack ID [--note TEXT]
  proxmon alerts close ID --reason TEXT [--force]
  proxmon alerts report [--since 24h] [--json]

Through the HTTP API (--api, PROXMON_API) with the token in PROXMON_TOKEN
or --token-file: every call is authenticated and audited.
`

// apiClient calls /api/v1 with a bearer token, and the reason for the
// calls (X-Reason), when given, which the audit trail keeps.
type apiClient struct {
	base, token, reason string
	http                *http.Client
}

func (c *apiClient) flags(fs *flag.FlagSet) *string {
	fs.StringVar(&c.base, "api", envOr("PROXMON_API", "http://127.0.0.1:8080"), "the api role's base `URL` [PROXMON_API]")
	return fs.String("token-file", envOr("PROXMON_TOKEN_FILE", ""), "`file` holding the API token; else PROXMON_TOKEN [PROXMON_TOKEN_FILE]")
}

func (c *apiClient) loadToken(file string) error {
	c.token = os.Getenv("PROXMON_TOKEN")
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		c.token = strings.TrimSpace(string(data))
	}
	if c.token == "" {
		return errors.New("no API token: set PROXMON_TOKEN or --token-file")
	}
	c.http = &http.Client{Timeout: 30 * time.Second}
	return nil
}

// do calls the API and decodes a 2xx answer into out; a problem becomes
// the error.
func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.base, "/")+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if c.reason != "" {
		req.Header.Set("X-Reason", c.reason)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		var p api.Problem
		if json.NewDecoder(res.Body).Decode(&p) == nil && p.Title != "" {
			if p.Detail != "" {
				return fmt.Errorf("%d %s: %s", p.Status, p.Title, p.Detail)
			}
			return fmt.Errorf("%d %s", p.Status, p.Title)
		}
		return fmt.Errorf("%s", res.Status)
	}
	return json.NewDecoder(res.Body).Decode(out)
}

func alertsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, alertsUsage)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("alerts "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c apiClient
	tokenFile := c.flags(fs)
	open := fs.Bool("open", false, "only alerts the centre has not closed")
	caseID := fs.String("case", "", "only this `case`")
	severity := fs.String("severity", "", "only this `severity`")
	since := fs.String("since", "", "stored since: a `duration` back (24h) or an RFC 3339 time")
	note := fs.String("note", "", "what was done (ack)")
	reason := fs.String("reason", "", "why it is closed (close; required)")
	force := fs.Bool("force", false, "supervisor: close an alert the engine will never close (device retired, case ended)")
	asJSON := fs.Bool("json", false, "JSON instead of a table")
	var id string
	if (sub == "ack" || sub == "close") && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 0 {
		fmt.Fprint(stderr, alertsUsage)
		return exitUsage
	}
	if err := c.loadToken(*tokenFile); err != nil {
		fmt.Fprintf(stderr, "proxmon alerts: %v\n", err)
		return exitUsage
	}
	var err error
	switch sub {
	case "list":
		q := url.Values{}
		if *open {
			q.Set("open", "true")
			q.Set("sort", "severity")
		}
		for k, v := range map[string]string{"case": *caseID, "severity": *severity, "since": *since} {
			if v != "" {
				q.Set(k, v)
			}
		}
		var out struct{ Alerts []centre.Alert }
		if err = c.do(ctx, "GET", "/api/v1/alerts?"+q.Encode(), nil, &out); err == nil {
			if *asJSON {
				err = json.NewEncoder(stdout).Encode(out.Alerts)
			} else {
				printAlerts(stdout, out.Alerts, time.Now())
			}
		}
	case "ack", "close":
		if id == "" {
			fmt.Fprint(stderr, alertsUsage)
			return exitUsage
		}
		if sub == "close" && strings.TrimSpace(*reason) == "" {
			fmt.Fprintln(stderr, "proxmon alerts close: --reason is required")
			return exitUsage
		}
		var act centre.Action
		body := map[string]any{"note": *note, "reason": *reason, "force": *force}
		if err = c.do(ctx, "POST", "/api/v1/alerts/"+url.PathEscape(id)+"/"+sub, body, &act); err == nil {
			fmt.Fprintf(stdout, "%s %s by %s at %s\n", act.Alert, map[centre.Kind]string{centre.KindAck: "acknowledged", centre.KindClose: "closed"}[act.Kind], act.Actor, act.Time.Format(time.RFC3339))
		}
	case "report":
		s := *since
		if s == "" {
			s = "24h"
		}
		var rep centre.Report
		if err = c.do(ctx, "GET", "/api/v1/reports/alerts?since="+url.QueryEscape(s), nil, &rep); err == nil {
			if *asJSON {
				err = json.NewEncoder(stdout).Encode(rep)
			} else {
				printReport(stdout, &rep)
			}
		}
	default:
		fmt.Fprintf(stderr, "proxmon alerts: unknown command %q\n\n%s", sub, alertsUsage)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "proxmon alerts %s: %v\n", sub, err)
		return exitFault
	}
	return exitOK
}

func printAlerts(w io.Writer, alerts []centre.Alert, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STORED\tSEVERITY\tCASE\tTYPE\tCERTAINTY\tDISTANCE\tAGE\tSTATE\tENGINE\tID")
	for _, a := range alerts {
		dist := "-"
		if a.Event.DistanceM != nil {
			dist = fmt.Sprintf("%.0f m", *a.Event.DistanceM)
		}
		sev := string(a.Event.Severity)
		if a.Event.Drill {
			sev += " (drill)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Stored.Local().Format("2006-01-02 15:04:05"), sev,
			a.Event.Case, a.Event.Type, orDash(string(a.Event.Certainty)), dist, now.Sub(a.Stored).Round(time.Second),
			a.State, a.Engine, a.Event.ID)
	}
	tw.Flush()
}

func printReport(w io.Writer, r *centre.Report) {
	fmt.Fprintf(w, "alerts stored %s to %s (drills apart: %d)\n", r.Since.Format(time.RFC3339), r.Until.Format(time.RFC3339), r.Drills)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "SEVERITY\tCOUNT\tACKED\tDEADLINE\tP50\tP95\tMAX\tOVER DEADLINE\t")
	for _, s := range r.Severities {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%.1fs\t%.1fs\t%.1fs\t%d\t\n", s.Severity, s.Count, s.Acknowledged,
			secs(s.DeadlineS), s.AckP50S, s.AckP95S, s.AckMaxS, len(s.OverDeadline))
	}
	tw.Flush()
	for _, s := range r.Severities {
		for _, l := range s.OverDeadline {
			ack := "not acknowledged"
			if l.AckS != nil {
				ack = fmt.Sprintf("acknowledged after %.1fs", *l.AckS)
			}
			fmt.Fprintf(w, "over deadline: %s %s %s %s stored %s, deadline %s, %s\n", s.Severity, l.Case, l.Type, l.Alert,
				l.Stored.Format(time.RFC3339), secs(l.DeadlineS), ack)
		}
	}
}

func secs(s float64) string {
	if s == 0 {
		return "-"
	}
	return (time.Duration(s * float64(time.Second))).String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// usersCmd is `proxmon users token`: a new token and its hash.
func usersCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] != "token" {
		fmt.Fprintln(stderr, "usage: proxmon users token\n\nPrints a new API token and the token_sha256 to put in the --api-users file.\nGive the token to its user; keep only the hash.")
		return exitUsage
	}
	tok := api.NewToken()
	fmt.Fprintf(stdout, "token: %s\ntoken_sha256: %s\n", tok, api.HashToken(tok))
	return exitOK
}
