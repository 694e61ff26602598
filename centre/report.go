package centre

import (
	"slices"
	"time"

	"github.com/proxmon/proxmon"
)

// Report shows, per severity, how fast alerts were acknowledged and which
// missed their deadline: how the agreed deadlines are shown to be kept.
// Drill alerts are counted apart and never mixed into the figures.
type Report struct {
	Since      time.Time        `json:"since"`
	Until      time.Time        `json:"until"`
	Severities []SeverityReport `json:"severities"`
	Drills     int              `json:"drills"`
}

// SeverityReport is one severity's line of a Report. Durations are
// seconds; the percentiles cover acknowledged alerts.
type SeverityReport struct {
	Severity     proxmon.Severity `json:"severity"`
	Count        int              `json:"count"`
	Acknowledged int              `json:"acknowledged"`
	DeadlineS    float64          `json:"deadline_s,omitempty"`
	AckP50S      float64          `json:"ack_p50_s"`
	AckP95S      float64          `json:"ack_p95_s"`
	AckMaxS      float64          `json:"ack_max_s"`
	OverDeadline []Late           `json:"over_deadline"`
}

// Late is an alert acknowledged after its deadline, or not at all.
type Late struct {
	Alert     string            `json:"alert"`
	Case      string            `json:"case"`
	Type      proxmon.EventType `json:"type"`
	Stored    time.Time         `json:"stored"`
	DeadlineS float64           `json:"deadline_s"`
	// AckS is the time to acknowledge; absent: not acknowledged by Until.
	AckS *float64 `json:"ack_s,omitempty"`
}

// Report covers the alerts stored in [since, now].
func (b *Book) Report(since, now time.Time) Report {
	r := Report{Since: since.UTC(), Until: now.UTC()}
	for _, sev := range []proxmon.Severity{proxmon.SeverityCritical, proxmon.SeverityHigh, proxmon.SeverityInfo} {
		sr := SeverityReport{Severity: sev, OverDeadline: []Late{}}
		if d, ok := b.o.Deadlines.BySeverity[sev]; ok && d > 0 {
			sr.DeadlineS = d.Seconds()
		}
		var delays []float64
		for _, a := range b.order {
			if a.Event.Severity != sev || a.Stored.Before(since) || a.Stored.After(now) {
				continue
			}
			if a.Event.Drill {
				r.Drills++
				continue
			}
			sr.Count++
			at, acked := a.AckTime()
			acked = acked && !at.After(now)
			var delay float64
			if acked {
				delay = at.Sub(a.Stored).Seconds()
				delays = append(delays, delay)
				sr.Acknowledged++
			}
			d, has := b.deadline(a)
			switch {
			case !has:
			case acked && delay > d.Seconds():
				sr.OverDeadline = append(sr.OverDeadline, Late{Alert: a.Event.ID, Case: a.Event.Case, Type: a.Event.Type,
					Stored: a.Stored, DeadlineS: d.Seconds(), AckS: &delay})
			case !acked && now.Sub(a.Stored) > d:
				sr.OverDeadline = append(sr.OverDeadline, Late{Alert: a.Event.ID, Case: a.Event.Case, Type: a.Event.Type,
					Stored: a.Stored, DeadlineS: d.Seconds()})
			}
		}
		slices.Sort(delays)
		sr.AckP50S, sr.AckP95S = percentile(delays, 0.50), percentile(delays, 0.95)
		if len(delays) > 0 {
			sr.AckMaxS = delays[len(delays)-1]
		}
		r.Severities = append(r.Severities, sr)
	}
	return r
}

// percentile is the nearest-rank percentile of sorted xs; 0 when empty.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	i := int(p*float64(len(xs))+0.999999) - 1
	return xs[min(max(i, 0), len(xs)-1)]
}
