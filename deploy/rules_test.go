// Package deploy_test checks the deployment files: the Prometheus rules
// parse as a rule file, and every metric they use is one proxmon registers.
package deploy_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v2"

	"github.com/proxmon/proxmon/alerting"
	"github.com/proxmon/proxmon/ingest"
	"github.com/proxmon/proxmon/stream"
)

// ruleFile is Prometheus's rule file format (rule_files in
// prometheus.yml), alerting rules only.
type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval,omitempty"`
		Rules    []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for,omitempty"`
			Labels      map[string]string `yaml:"labels,omitempty"`
			Annotations map[string]string `yaml:"annotations,omitempty"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// assumedMetrics are used by the rules but registered by no package this
// test can import: cmd/proxmon (a main package) registers them. An alert on
// a metric that never exists never fires, so each must be registered under
// this name.
var assumedMetrics = map[string]string{
	"proxmon_ready":                   "cmd/proxmon serve_roles.go: 1 while /readyz passes",
	"proxmon_nats_connected":          "cmd/proxmon serve_roles.go: 1 while the service's NATS connection is up",
	"proxmon_dispatch_terminals":      "cmd/proxmon serve_centre.go: dispatch terminals connected now",
	"proxmon_dispatch_pending_events": "cmd/proxmon serve_centre.go: events the most up-to-date terminal has still to show",
	"proxmon_engine_tick_age_seconds": "cmd/proxmon serve_centre.go: seconds since the engine's last tick",
}

func TestPrometheusRules(t *testing.T) {
	data, err := os.ReadFile("prometheus/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.UnmarshalStrict(data, &rf); err != nil {
		t.Fatalf("rules.yml is not a rule file: %v", err)
	}
	registered := registeredMetrics(t)
	alertName := regexp.MustCompile(`^[A-Z][A-Za-z0-9]+$`)
	metricName := regexp.MustCompile(`\bproxmon_[a-z0-9_]+`)
	seen := map[string]bool{}
	for _, g := range rf.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: needs a name and rules", g.Name)
		}
		for _, r := range g.Rules {
			where := g.Name + "/" + r.Alert
			switch {
			case !alertName.MatchString(r.Alert):
				t.Errorf("%s: alert name is not CamelCase", where)
			case seen[r.Alert]:
				t.Errorf("%s: alert defined twice", where)
			}
			seen[r.Alert] = true
			if err := checkExpr(r.Expr); err != nil {
				t.Errorf("%s: expr: %v", where, err)
			}
			if r.For != "" {
				if !promDuration.MatchString(r.For) {
					t.Errorf("%s: for %q is not a Prometheus duration", where, r.For)
				}
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", where, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: needs a summary and a description", where)
			}
			for _, m := range metricName.FindAllString(r.Expr, -1) {
				base := m
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					base = strings.TrimSuffix(base, suf)
				}
				if registered[base] {
					continue
				}
				if why, ok := assumedMetrics[base]; ok {
					t.Logf("%s: uses %s, assumed (%s) and not registered yet", where, base, why)
					continue
				}
				t.Errorf("%s: metric %s is registered by no package (and not in assumedMetrics)", where, m)
			}
		}
	}
	// An assumed metric that is now registered should leave the list.
	for m := range assumedMetrics {
		if registered[m] {
			t.Errorf("%s is registered now: remove it from assumedMetrics", m)
		}
	}
}

// registeredMetrics returns the names of the metrics proxmon's packages
// register.
func registeredMetrics(t *testing.T) map[string]bool {
	t.Helper()
	reg := &nameRecorder{names: map[string]bool{}}
	if _, err := ingest.NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.NewRunnerMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := alerting.NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(stream.NewStorageCollector(nil, &stream.Runner{})); err != nil {
		t.Fatal(err)
	}
	return reg.names
}

// nameRecorder is a Registerer that only notes the metric names.
type nameRecorder struct{ names map[string]bool }

var fqName = regexp.MustCompile(`fqName: "([a-z0-9_]+)"`)

func (r *nameRecorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 64)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	return nil
}

func (r *nameRecorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		r.Register(c)
	}
}

func (r *nameRecorder) Unregister(prometheus.Collector) bool { return false }

// checkExpr catches what breaks a PromQL expression most often short of a
// parser: unbalanced brackets and quotes, and an empty expression.
func checkExpr(expr string) error {
	if strings.TrimSpace(expr) == "" {
		return errEmpty
	}
	var stack []rune
	var quote rune
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	for _, c := range expr {
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '(' || c == '[' || c == '{':
			stack = append(stack, c)
		case pairs[c] != 0:
			if len(stack) == 0 || stack[len(stack)-1] != pairs[c] {
				return errUnbalanced
			}
			stack = stack[:len(stack)-1]
		}
	}
	if quote != 0 || len(stack) != 0 {
		return errUnbalanced
	}
	return nil
}

type exprError string

func (e exprError) Error() string { return string(e) }

const (
	errEmpty      = exprError("empty")
	errUnbalanced = exprError("unbalanced brackets or quotes")
)

// promDuration is Prometheus's duration syntax: 30s, 5m, 1h30m, 0m.
var promDuration = regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w|y))+$`)
