package centre

import (
	"fmt"
	"strings"
	"time"

	"github.com/proxmon/proxmon"
)

// Deadlines says how soon an alert must be acknowledged, per severity and,
// overriding that, per case risk and severity. A severity without a
// deadline never escalates.
type Deadlines struct {
	BySeverity map[proxmon.Severity]time.Duration
	ByRisk     map[proxmon.Risk]map[proxmon.Severity]time.Duration
}

// DefaultDeadlines: critical 60 s, high 5 min (the agreed values).
func DefaultDeadlines() Deadlines {
	return Deadlines{BySeverity: map[proxmon.Severity]time.Duration{
		proxmon.SeverityCritical: time.Minute,
		proxmon.SeverityHigh:     5 * time.Minute,
	}}
}

// For returns the deadline of an alert of severity s in a case of risk r;
// false: none.
func (d Deadlines) For(s proxmon.Severity, r proxmon.Risk) (time.Duration, bool) {
	if v, ok := d.ByRisk[r][s]; ok {
		return v, v > 0
	}
	v, ok := d.BySeverity[s]
	return v, ok && v > 0
}

// ParseDeadlines reads "critical=60s,high=5m,high/critical=30s" (risk/severity
// overrides a severity's deadline for cases of that risk; 0 turns one off)
// over the defaults.
func ParseDeadlines(s string) (Deadlines, error) {
	d := DefaultDeadlines()
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		key, val, ok := strings.Cut(item, "=")
		dur, err := time.ParseDuration(val)
		if !ok || err != nil || dur < 0 {
			return d, fmt.Errorf("deadline %q: want severity=duration or risk/severity=duration, e.g. critical=60s", item)
		}
		risk, sev, hasRisk := strings.Cut(key, "/")
		if !hasRisk {
			sev = key
		}
		switch proxmon.Severity(sev) {
		case proxmon.SeverityCritical, proxmon.SeverityHigh, proxmon.SeverityInfo:
		default:
			return d, fmt.Errorf("deadline %q: severity %q: want critical, high or info", item, sev)
		}
		if !hasRisk {
			d.BySeverity[proxmon.Severity(sev)] = dur
			continue
		}
		switch proxmon.Risk(risk) {
		case proxmon.RiskLow, proxmon.RiskMedium, proxmon.RiskHigh:
		default:
			return d, fmt.Errorf("deadline %q: risk %q: want low, medium or high", item, risk)
		}
		if d.ByRisk == nil {
			d.ByRisk = map[proxmon.Risk]map[proxmon.Severity]time.Duration{}
		}
		if d.ByRisk[proxmon.Risk(risk)] == nil {
			d.ByRisk[proxmon.Risk(risk)] = map[proxmon.Severity]time.Duration{}
		}
		d.ByRisk[proxmon.Risk(risk)][proxmon.Severity(sev)] = dur
	}
	return d, nil
}
