package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/api"
	"github.com/proxmon/proxmon/centre"
)

const dispatchUsage = `usage: proxmon dispatch --terminal ID [--open] [--api URL] [--token-file FILE]

A monitoring centre's terminal: every alert as it arrives, one line each,
once; the open alerts, most urgent first, at start and whenever you type
"o" and Enter (--open: print them and exit). A loud warning, repeated,
whenever the engine's ticks stop, the centre cannot be reached, or the
terminal falls behind: silence never means safety here.

Through the HTTP API (--api, PROXMON_API) with the token in PROXMON_TOKEN
or --token-file: every read is authenticated and audited. Each terminal id
has its own cursor on EVENTS (dispatch-ID): use one id per terminal.
`

// dispatchCmd is `proxmon dispatch`.
func dispatchCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dispatch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, dispatchUsage); fs.PrintDefaults() }
	var c apiClient
	tokenFile := c.flags(fs)
	term := fs.String("terminal", envOr("PROXMON_TERMINAL", ""), "this terminal's `id` (1-64 of [A-Za-z0-9_-]); its cursor on EVENTS [PROXMON_TERMINAL]")
	open := fs.Bool("open", false, "print the open alerts, most urgent first, and exit")
	wait := fs.Duration("wait", 5*time.Second, "how long one call waits for an alert (at most 25s)")
	colour := fs.String("colour", "auto", "severity colours: auto (when stdout is a terminal), always, never")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 0 || (!*open && !proxmon.ValidID(*term)) || *wait <= 0 || *wait > 25*time.Second {
		fs.Usage()
		return exitUsage
	}
	if err := c.loadToken(*tokenFile); err != nil {
		fmt.Fprintf(stderr, "proxmon dispatch: %v\n", err)
		return exitUsage
	}
	c.http.Timeout = *wait + 15*time.Second
	d := &dispatchTerminal{c: &c, id: *term, wait: *wait, out: stdout, seen: map[string]bool{}}
	switch *colour {
	case "always":
		d.colour = true
	case "auto":
		d.colour = isTerminal(stdout)
	case "never":
	default:
		fs.Usage()
		return exitUsage
	}
	if *open {
		if err := d.printOpen(ctx); err != nil {
			fmt.Fprintf(stderr, "proxmon dispatch: %v\n", err)
			return exitFault
		}
		return exitOK
	}
	return d.run(ctx, stdin)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// dispatchTerminal is one running terminal.
type dispatchTerminal struct {
	c      *apiClient
	id     string
	wait   time.Duration
	colour bool

	mu   sync.Mutex // the output, lastOK
	out  io.Writer
	seen map[string]bool // event ids shown
	ids  []string        // seen, oldest first, to bound it
	// lastOK is when the centre last answered.
	lastOK time.Time
}

// maxSeen bounds the ids remembered for deduplication; a redelivery comes
// long before that many later events.
const maxSeen = 100_000

// deadManAfter is how long without an answer from the centre makes the
// terminal say it is blind.
const deadManAfter = 10 * time.Second

func (d *dispatchTerminal) run(ctx context.Context, stdin io.Reader) int {
	d.lastOK = time.Now()
	if err := d.printOpen(ctx); err != nil {
		d.warn("CANNOT READ THE OPEN ALERTS: " + err.Error())
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go d.commands(ctx, stdin, cancel)
	go d.watchdog(ctx)

	var shown uint64
	wait := d.wait
	for ctx.Err() == nil {
		var ans struct {
			Events []centre.Delivery
			Cursor uint64
			Alarms []api.Alarm
		}
		q := url.Values{"shown": {fmt.Sprint(shown)}, "wait": {wait.String()}}
		err := d.c.do(ctx, "POST", "/api/v1/dispatch/"+url.PathEscape(d.id)+"/next?"+q.Encode(), nil, &ans)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			d.warn("CANNOT REACH THE CENTRE: alerts are NOT being shown: " + err.Error())
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		d.mu.Lock()
		d.lastOK = time.Now()
		d.mu.Unlock()
		for i := range ans.Events {
			d.show(&ans.Events[i])
		}
		shown = max(shown, ans.Cursor)
		alarmed := false
		for _, a := range ans.Alarms {
			if a.Code == "no_dispatch" {
				continue // this terminal is connected: it just asked
			}
			alarmed = true
			d.warn(strings.ToUpper(strings.ReplaceAll(a.Code, "_", " ")) + ": " + a.Detail)
		}
		wait = d.wait
		if alarmed {
			wait = min(wait, 2*time.Second) // say it again soon
		}
	}
	// Confirm what was shown, so a restart shows none of it again.
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer ccancel()
	q := url.Values{"shown": {fmt.Sprint(shown)}, "max": {"0"}}
	var ans struct{}
	if err := d.c.do(cctx, "POST", "/api/v1/dispatch/"+url.PathEscape(d.id)+"/next?"+q.Encode(), nil, &ans); err != nil {
		d.warn("could not confirm the alerts shown; the next start shows them again: " + err.Error())
		return exitFault
	}
	return exitOK
}

// commands reads the person's commands: "o" (or an empty line) prints
// the open alerts, "q" quits.
func (d *dispatchTerminal) commands(ctx context.Context, stdin io.Reader, quit func()) {
	if stdin == nil {
		return
	}
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		switch strings.TrimSpace(sc.Text()) {
		case "", "o", "open":
			if err := d.printOpen(ctx); err != nil {
				d.warn("CANNOT READ THE OPEN ALERTS: " + err.Error())
			}
		case "q", "quit":
			quit()
			return
		default:
			d.mu.Lock()
			fmt.Fprintln(d.out, `commands: "o" or Enter: the open alerts; "q": quit`)
			d.mu.Unlock()
		}
	}
}

// watchdog says so, every 2 s, while the centre has not answered for
// deadManAfter (a hung connection, not only a refused one).
func (d *dispatchTerminal) watchdog(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.mu.Lock()
		since := time.Since(d.lastOK)
		d.mu.Unlock()
		if since > deadManAfter+d.wait {
			d.warn(fmt.Sprintf("NO ANSWER FROM THE CENTRE FOR %s: alerts are NOT being shown", since.Round(time.Second)))
		}
	}
}

func (d *dispatchTerminal) printOpen(ctx context.Context) error {
	var out struct{ Alerts []centre.Alert }
	if err := d.c.do(ctx, "GET", "/api/v1/alerts?open=true&sort=severity", nil, &out); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(d.out, "--- open alerts: %d, most urgent first ---\n", len(out.Alerts))
	var real, drills []centre.Alert
	for _, a := range out.Alerts {
		if a.Event.Drill {
			drills = append(drills, a)
		} else {
			real = append(real, a)
		}
	}
	printAlerts(d.out, real, time.Now())
	if len(drills) > 0 {
		fmt.Fprintf(d.out, "--- drills (not real), open: %d ---\n", len(drills))
		printAlerts(d.out, drills, time.Now())
	}
	fmt.Fprintln(d.out, "---")
	return nil
}

// ANSI styles.
const (
	ansiReset   = "\x1b[0m"
	ansiBoldRed = "\x1b[1;31m"
	ansiYellow  = "\x1b[33m"
	ansiCyan    = "\x1b[36m"
	ansiDim     = "\x1b[2m"
	ansiAlarm   = "\x1b[1;97;41m"
)

// show prints one event, unless its id was shown already.
func (d *dispatchTerminal) show(dl *centre.Delivery) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ev := &dl.Event
	if d.seen[ev.ID] {
		return
	}
	d.seen[ev.ID] = true
	d.ids = append(d.ids, ev.ID)
	if len(d.ids) > maxSeen {
		delete(d.seen, d.ids[0])
		d.ids = d.ids[1:]
	}
	fmt.Fprintln(d.out, d.line(dl, time.Now()))
}

// line is an event as a person reads it: time, severity, case, type,
// certainty, distance, age; drills marked and never in alarm colours.
func (d *dispatchTerminal) line(dl *centre.Delivery, now time.Time) string {
	ev := &dl.Event
	sev := strings.ToUpper(string(ev.Severity))
	what := string(ev.Type)
	switch {
	case ev.Type == proxmon.Escalation:
		what = fmt.Sprintf("ESCALATION level %d: alert %s not acknowledged", ev.Level, ev.Alert)
	case ev.Phase == proxmon.PhaseClose:
		what += " ended"
	}
	dist := "-"
	if ev.DistanceM != nil {
		dist = fmt.Sprintf("%.0f m", *ev.DistanceM)
	}
	about := ev.Device
	if ev.Protected != "" {
		about += " near " + ev.Protected
	} else if ev.Zone != "" {
		about += " zone " + ev.Zone
	}
	age := now.Sub(ev.Time).Round(time.Second)
	line := fmt.Sprintf("%s  %-8s  %s  %s  %s  %s  age %s  %s  %s", ev.Time.Local().Format("2006-01-02 15:04:05"),
		sev, ev.Case, what, orDash(string(ev.Certainty)), dist, age, about, ev.ID)
	if ev.Drill {
		line = "[DRILL, not real] " + line
	}
	if !d.colour {
		return line
	}
	switch {
	case ev.Drill || ev.Phase == proxmon.PhaseClose:
		return ansiDim + line + ansiReset
	case ev.Severity == proxmon.SeverityCritical:
		return "\a" + ansiBoldRed + line + ansiReset
	case ev.Severity == proxmon.SeverityHigh:
		return ansiYellow + line + ansiReset
	default:
		return ansiCyan + line + ansiReset
	}
}

// warn prints a warning no one can miss.
func (d *dispatchTerminal) warn(msg string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	line := fmt.Sprintf("!!!!! %s  WARNING: %s !!!!!", time.Now().Format("15:04:05"), msg)
	if d.colour {
		line = "\a" + ansiAlarm + line + ansiReset
	}
	fmt.Fprintln(d.out, line)
}
