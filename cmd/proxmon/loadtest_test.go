//go:build loadtest

package main

// The load test: `make loadtest` (go test -tags loadtest -run TestLoad).
// It runs proxmon serve in this process, with the durable settings of the
// live service (the defaults of `proxmon serve`: --fsync always, ingest,
// fence, alerting and api), and `proxmon simulate` as a child process
// against it, at a series of fleet sizes, each device reporting every
// second; it writes the figures into docs/PERFORMANCE.md between the
// loadtest markers. The service is in this process so that its CPU (and
// its profile) are apart from the simulator's, which reports its own.
//
// Each step starts a fresh service on a fresh data directory, so that no
// step inherits another's log, engine state or MQTT sessions.
//
// Environment:
//
//	PROXMON_LOAD_STEP   steady time of a step after the ramp-up (default 60s)
//	PROXMON_LOAD_RATES  fsync=rate,rate;... (default below)

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/proxmon/proxmon/simulator"
)

// loadPlan is the fixed load: the durable default (--fsync always) at
// increasing rates past its knee, then --fsync interval past the durable
// knee up to 10,000 devices, to show what the CPU allows. (10,000 devices
// with --fsync always is twelve times past its knee: the ramp-up itself
// does not finish, as the broker drops connections whose QoS 1 publishes
// JetStream has not stored within 5 s.)
var loadPlan = []loadSeries{
	{fsync: fsyncAlways, rates: []int{100, 200, 300, 400, 500, 600, 700, 800}},
	{fsync: fsyncInterval, rates: []int{1000, 1500, 2000, 3000, 4000, 6000, 10000}},
}

type loadSeries struct {
	fsync string
	rates []int
}

// loadStep is one measured step.
type loadStep struct {
	Fsync        string            `json:"fsync"`
	Rate         int               `json:"rate"`
	Report       *simulator.Report `json:"report"`
	ServiceCPU   float64           `json:"service_cpu_pct"`   // of one core, over the simulator's run
	HeapMB       float64           `json:"service_heap_mb"`   // in use, late in the run, after a GC
	HeapPerDevB  float64           `json:"heap_per_device_b"` // above the idle service's
	EngineLag    uint64            `json:"engine_lag"`        // records behind at the end of the steady time
	Fsyncs       float64           `json:"fsyncs_per_s"`      // counted with strace, when there is one
	BrokerErrors int               `json:"broker_errors"`     // "JetStream failed a pipelined QoS1" lines
	Profile      string            `json:"profile,omitempty"`
	// Note holds the simulator's own complaints (its stderr), if any.
	Note string `json:"note,omitempty"`
}

// sustained reports whether the step held: the rate achieved (97 % of the
// planned), nothing missing or unexpected, every fix acknowledged, no
// device disconnected, and p99 of the end-to-end latency under 50 ms.
func (s *loadStep) sustained() bool {
	r := s.Report
	return r.Fixes.RatePerS >= 0.97*r.Fixes.PlannedPerS && r.Events.Missing == 0 && r.Events.Unexpected == 0 &&
		r.Fixes.Disconnects == 0 && r.Fixes.ConnectFailures == 0 && r.Latency.Transport.Count > 0 && r.Latency.Transport.P99 < 50
}

func TestLoad(t *testing.T) {
	step := 60 * time.Second
	if v := os.Getenv("PROXMON_LOAD_STEP"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		step = d
	}
	plan := loadPlan
	if v := os.Getenv("PROXMON_LOAD_RATES"); v != "" {
		plan = nil
		for s := range strings.SplitSeq(v, ";") {
			fsync, rates, _ := strings.Cut(s, "=")
			ls := loadSeries{fsync: fsync}
			for r := range strings.SplitSeq(rates, ",") {
				n, err := strconv.Atoi(r)
				if err != nil {
					t.Fatal(err)
				}
				ls.rates = append(ls.rates, n)
			}
			plan = append(plan, ls)
		}
	}
	bin := proxmonBinary(t)
	docDir := filepath.Join("..", "..", "docs", "perf")
	profDir := filepath.Join(os.TempDir(), "proxmon-loadtest")
	var steps []*loadStep
	for _, ls := range plan {
		for _, rate := range ls.rates {
			// Profile the last step that holds and the first that does
			// not: decided after the fact, so every step is profiled
			// and the profiles of the others dropped.
			st := runLoadStep(t, bin, ls.fsync, rate, step)
			steps = append(steps, st)
			t.Logf("%s %d/s: %s", ls.fsync, rate, st.summary())
		}
	}
	keepProfiles(t, steps, profDir, docDir)
	if err := writePerformance(filepath.Join("..", "..", "docs", "PERFORMANCE.md"), steps, step); err != nil {
		t.Fatal(err)
	}
	// The figures, with the first few missing and unexpected events of
	// each step.
	for _, st := range steps {
		r := st.Report
		r.Missing, r.Unexpected = r.Missing[:min(len(r.Missing), 5)], r.Unexpected[:min(len(r.Unexpected), 5)]
	}
	b, _ := json.MarshalIndent(steps, "", "  ")
	if err := os.WriteFile(filepath.Join(docDir, "loadtest.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// runLoadStep runs the service and the simulator at rate devices, each
// reporting every second, for step after the ramp-up.
func runLoadStep(t *testing.T, bin, fsync string, rate int, step time.Duration) *loadStep {
	st := &loadStep{Fsync: fsync, Rate: rate}
	data := t.TempDir()
	logFile, err := os.Create(filepath.Join(data, "proxmon.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cfg, err := parseServe([]string{"--data", data, "--fsync", fsync, "--mqtt-listen", "127.0.0.1:0",
		"--nats-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Log = slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s := &Service{cfg: cfg}
	ctx := t.Context()
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	closed := false
	closeService := func() {
		if closed {
			return
		}
		closed = true
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := s.Close(cctx); err != nil {
			t.Logf("close: %v", err)
		}
	}
	defer closeService()
	runtime.GC()
	var idle runtime.MemStats
	runtime.ReadMemStats(&idle)

	// A device reports every second; a case has 2.4 devices on average.
	cases := max(rate*10/24, 1)
	report := filepath.Join(data, "report.json")
	args := []string{"simulate", "--nats", s.srv.ClientURL(), "--mqtt", s.srv.MQTTURL(),
		"--secret-file", filepath.Join(data, "service-secret"),
		"--cases", strconv.Itoa(cases), "--duration", step.String(), "--seed", "1",
		"--tag-interval", "1s", "--victim-interval", "1s", "--status-every", "30s",
		"--episodes", "0.15", "--scale", "0.2", "--episode-every", "30s", "--first-episode-within", "20s",
		"--dwell", "5s", "--report", report, "--connectors", "32", "-q"}
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out

	profile := filepath.Join(data, "cpu.pprof")
	pf, err := os.Create(profile)
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		t.Fatal(err)
	}
	before := rusageSelf()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Late in the steady time: heap, engine lag, and (for 10 s) the
	// syncs to disk.
	var mu sync.Mutex
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		// The steady time starts when every case is registered (and
		// their devices connect right after).
		kv, err := s.js.KeyValue(ctx, "CASES")
		if err != nil {
			return
		}
		for {
			st, err := kv.Status(ctx)
			if err == nil && st.Values() >= uint64(cases) {
				break
			}
			select {
			case <-time.After(500 * time.Millisecond):
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-time.After(step * 3 / 4):
		case <-ctx.Done():
			return
		}
		st.Fsyncs = countFsyncs(10 * time.Second)
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		lag, _ := s.runner.Lag(lctx)
		cancel()
		mu.Lock()
		st.HeapMB = float64(m.HeapInuse) / (1 << 20)
		st.HeapPerDevB = float64(int64(m.HeapInuse)-int64(idle.HeapInuse)) / float64(rate)
		st.EngineLag = lag
		mu.Unlock()
	}()
	err = cmd.Wait()
	elapsed := time.Since(start)
	after := rusageSelf()
	pprof.StopCPUProfile()
	pf.Close()
	<-probed
	if err != nil && !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("simulate: %v\n%s", err, out.String())
	}
	for line := range strings.SplitSeq(out.String(), "\n") {
		if strings.HasPrefix(line, "proxmon simulate: ") || strings.Contains(line, "did not connect") {
			st.Note += strings.TrimSpace(line) + "\n"
		}
	}
	st.ServiceCPU = 100 * (after - before).Seconds() / elapsed.Seconds()
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("simulate wrote no report: %v\n%s", err, out.String())
	}
	st.Report = &simulator.Report{}
	if err := json.Unmarshal(b, st.Report); err != nil {
		t.Fatal(err)
	}
	closeService()
	st.BrokerErrors = countLines(filepath.Join(data, "proxmon.log"), "JetStream failed a pipelined")
	kept := filepath.Join(os.TempDir(), fmt.Sprintf("proxmon-load-%s-%d.pprof", fsync, rate))
	if err := os.Rename(profile, kept); err == nil {
		st.Profile = kept
	}
	return st
}

func rusageSelf() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// countFsyncs counts this process's fsync and fdatasync calls for d with
// perf (kernel tracepoints, no slowdown), if there is one; 0 if not.
func countFsyncs(d time.Duration) float64 {
	path, err := exec.LookPath("perf")
	if err != nil {
		return 0
	}
	out, _ := exec.Command(path, "stat", "-x", ",", "-e", "syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync",
		"-p", strconv.Itoa(os.Getpid()), "--", "sleep", strconv.FormatFloat(d.Seconds(), 'f', -1, 64)).CombinedOutput()
	calls := 0
	for line := range strings.SplitSeq(string(out), "\n") {
		// CSV: count,unit,event,...
		f := strings.Split(line, ",")
		if len(f) >= 3 && strings.HasPrefix(f[2], "syscalls:sys_enter_f") {
			n, _ := strconv.Atoi(f[0])
			calls += n
		}
	}
	return float64(calls) / d.Seconds()
}

func countLines(file, substr string) int {
	f, err := os.Open(file)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), substr) {
			n++
		}
	}
	return n
}

func (s *loadStep) summary() string {
	r := s.Report
	return fmt.Sprintf("%s%d devices, %.0f/%.0f fixes/s, events %d/%d missing %d unexpected %d, e2e p50 %.1f p99 %.1f ms (n=%d), log p99 %.1f ms, PUBACK p99 %.1f ms, disconnects %d, service CPU %.0f %%, simulator CPU %.0f %%, heap %.0f MB, %.0f fsync/s, lag %d; sustained %v",
		s.Note, r.Devices, r.Fixes.RatePerS, r.Fixes.PlannedPerS, r.Events.Matched, r.Events.Expected, r.Events.Missing, r.Events.Unexpected,
		r.Latency.Transport.P50, r.Latency.Transport.P99, r.Latency.Transport.Count, r.Latency.Stored.P99, r.Fixes.AckMs.P99,
		r.Fixes.Disconnects, s.ServiceCPU, r.Process.CPUPercent, s.HeapMB, s.Fsyncs, s.EngineLag, s.sustained())
}

// keepProfiles keeps, per series, the CPU profiles of the last step that
// held and the first that did not, in profDir (outside the repository:
// they are large and binary), and writes the top of each, and the share
// of proxmon's own code, as text into docDir.
func keepProfiles(t *testing.T, steps []*loadStep, profDir, docDir string) {
	for _, d := range []string{profDir, docDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	keep := map[*loadStep]bool{}
	for i, st := range steps {
		last := i == len(steps)-1 || steps[i+1].Fsync != st.Fsync
		if st.sustained() && (last || !steps[i+1].sustained()) {
			keep[st] = true
		}
		if !st.sustained() && (i == 0 || steps[i-1].Fsync != st.Fsync || steps[i-1].sustained()) {
			keep[st] = true
		}
	}
	old, _ := filepath.Glob(filepath.Join(docDir, "*.top.txt"))
	for _, f := range old {
		os.Remove(f)
	}
	for _, st := range steps {
		if st.Profile == "" {
			continue
		}
		if !keep[st] {
			os.Remove(st.Profile)
			st.Profile = ""
			continue
		}
		name := fmt.Sprintf("%s-%d", st.Fsync, st.Rate)
		dst := filepath.Join(profDir, name+".pprof")
		if err := os.Rename(st.Profile, dst); err != nil {
			continue
		}
		st.Profile = dst
		var text bytes.Buffer
		top, _ := exec.Command("go", "tool", "pprof", "-top", "-nodecount=25", dst).CombinedOutput()
		text.Write(top)
		cum, _ := exec.Command("go", "tool", "pprof", "-top", "-cum", "-nodecount=2000", dst).CombinedOutput()
		text.WriteString("\nproxmon's own code (cumulative):\n")
		for line := range strings.SplitSeq(string(cum), "\n") {
			if strings.Contains(line, "github.com/proxmon/proxmon") && !strings.Contains(line, "cmd/proxmon.") {
				text.WriteString(line + "\n")
			}
		}
		_ = os.WriteFile(filepath.Join(docDir, name+".top.txt"), text.Bytes(), 0o644)
	}
}

const (
	perfBegin = "<!-- loadtest:begin: written by make loadtest (cmd/proxmon/loadtest_test.go); edit outside -->"
	perfEnd   = "<!-- loadtest:end -->"
)

// writePerformance replaces the measured section of docs/PERFORMANCE.md.
func writePerformance(path string, steps []*loadStep, step time.Duration) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\nMeasured %s on this machine (%d CPUs, GOMAXPROCS %d), %s, steady time %s per step after the ramp-up.\n\n",
		perfBegin, time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), step)
	for _, fsync := range []string{fsyncAlways, fsyncInterval} {
		var rows []*loadStep
		for _, st := range steps {
			if st.Fsync == fsync {
				rows = append(rows, st)
			}
		}
		if len(rows) == 0 {
			continue
		}
		best := 0
		for _, st := range rows {
			if st.sustained() && st.Rate > best {
				best = st.Rate
			}
		}
		held := "**" + thousands(best) + " fixes/s**"
		if best == 0 {
			held = "**none of these steps**"
		}
		fmt.Fprintf(&b, "### --fsync %s\n\n", fsync)
		fmt.Fprintf(&b, "Highest sustained rate (every fix acknowledged and at the planned rate, no event missing or unexpected, no device disconnected, end-to-end p99 under 50 ms): %s.\n\n", held)
		b.WriteString("| devices (fixes/s planned) | achieved fixes/s | events expected / as expected / missing / unexpected | end to end p50 / p95 / p99 / max ms (events) | log p50 / p99 ms (fixes) | PUBACK p99 ms | disconnects (failed to connect) | service CPU (% of a core) | fsync/s | heap / device | simulator CPU | held |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, st := range rows {
			r := st.Report
			tl, sl := r.Latency.Transport, r.Latency.Stored
			held := "yes"
			if !st.sustained() {
				held = "**no**"
			}
			fmt.Fprintf(&b, "| %s (%s) | %s | %d / %d / %d / %d | %s / %s / %s / %s (%d) | %s / %s | %s | %d (%d) | %.0f | %.0f | %s | %.0f %% | %s |\n",
				thousands(r.Devices), thousands(int(r.Fixes.PlannedPerS)), thousands(int(r.Fixes.RatePerS)),
				r.Events.Expected, r.Events.Matched, r.Events.Missing, r.Events.Unexpected,
				msf(tl.P50), msf(tl.P95), msf(tl.P99), msf(tl.Max), tl.Count, msf(sl.P50), msf(sl.P99), msf(r.Fixes.AckMs.P99),
				r.Fixes.Disconnects, r.Fixes.ConnectFailures, st.ServiceCPU, st.Fsyncs, bytesf(st.HeapPerDevB), r.Process.CPUPercent, held)
		}
		b.WriteString("\n")
	}
	b.WriteString("The tops of the CPU profiles of the last step that held and the first that did not, per series, are in `docs/perf/*.top.txt` (the profiles themselves in `$TMPDIR/proxmon-loadtest/`); every figure is in `docs/perf/loadtest.json`.\n\n")
	b.WriteString(perfEnd)
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	doc := string(old)
	i, j := strings.Index(doc, perfBegin), strings.Index(doc, perfEnd)
	if i < 0 || j < i {
		doc = "# Performance\n\n" + b.String() + "\n"
	} else {
		doc = doc[:i] + b.String() + doc[j+len(perfEnd):]
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}

func msf(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v < 10:
		return fmt.Sprintf("%.1f", v)
	}
	return thousands(int(v + 0.5))
}

func bytesf(v float64) string {
	if v <= 0 {
		return "-"
	}
	if v < 10240 {
		return fmt.Sprintf("%.0f B", v)
	}
	return fmt.Sprintf("%.0f KiB", v/1024)
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
