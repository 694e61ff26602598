package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os/exec"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/centre"
)

// AlertBook is the centre's alert state as the escalator uses it.
type AlertBook interface {
	View(func(*centre.Book))
	Raise(context.Context, *proxmon.Event) (dup bool, err error)
}

// Notify delivers an escalation (or pattern) to people away from the
// terminal.
type Notify func(context.Context, *proxmon.Event) error

// Webhook returns a Notify that POSTs the event as JSON to url and wants
// a 2xx answer.
func Webhook(url string, client *http.Client) Notify {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return func(ctx context.Context, ev *proxmon.Event) error {
		data, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode/100 != 2 {
			return fmt.Errorf("webhook answered %s", res.Status)
		}
		return nil
	}
}

// Command returns a Notify that runs argv with the event as JSON on its
// standard input and wants it to exit 0.
func Command(argv []string) Notify {
	return func(ctx context.Context, ev *proxmon.Event) error {
		data, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Stdin = bytes.NewReader(data)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w: %.200s", argv[0], err, out)
		}
		return nil
	}
}

// Escalator raises the centre's events: an escalation for every alert
// not acknowledged by its deadline (and at each further deadline), and a
// pattern when a case piles up small incidents. Both go to EVENTS (their
// ids are deterministic, so a restart or a second escalator raises each
// once) and to the notifiers. Deadlines count from the alerts' stored
// times, so a restart does not reset them.
type Escalator struct {
	Book      AlertBook
	Notifiers []Notify
	Every     time.Duration // how often deadlines are checked; default 1 s
	Now       func() time.Time
	Log       *slog.Logger
	// raised remembers what this process raised, until the book shows it.
	raised map[string]bool
}

// Run checks deadlines until ctx ends.
func (e *Escalator) Run(ctx context.Context) error {
	if e.Every == 0 {
		e.Every = time.Second
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Log == nil {
		e.Log = slog.New(slog.DiscardHandler)
	}
	e.raised = map[string]bool{}
	t := time.NewTicker(e.Every)
	defer t.Stop()
	for {
		e.Check(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Check raises what is due now.
func (e *Escalator) Check(ctx context.Context) {
	var due []proxmon.Event
	e.Book.View(func(b *centre.Book) {
		due = append(b.DueEscalations(e.Now()), b.DuePatterns()...)
	})
	for i := range due {
		ev := &due[i]
		if e.raised[ev.ID] {
			continue
		}
		dup, err := e.Book.Raise(ctx, ev)
		if err != nil {
			e.Log.Error("escalation not stored", "event", ev.ID, "alert", ev.Alert, "err", err)
			continue // again at the next check
		}
		e.raised[ev.ID] = true
		if dup {
			continue
		}
		e.Log.Warn("centre event raised", "type", ev.Type, "case", ev.Case, "alert", ev.Alert, "level", ev.Level)
		for _, n := range e.Notifiers {
			go func() {
				// Retried for a while: people away from the terminal must
				// hear of it; the event itself is safe in EVENTS.
				for wait := time.Second; wait < 2*time.Minute; wait *= 2 {
					nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					err := n(nctx, ev)
					cancel()
					if err == nil || ctx.Err() != nil {
						return
					}
					e.Log.Error("notifier failed", "event", ev.ID, "err", err)
					select {
					case <-ctx.Done():
						return
					case <-time.After(wait):
					}
				}
			}()
		}
	}
}
