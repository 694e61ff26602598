package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon/stream"
	"github.com/proxmon/proxmon/track"
)

// toolConn is a command line tool's connection to the service's NATS
// server (--nats, --secret-file, --tls-ca), as `cases apply` has.
type toolConn struct {
	url string
	sec clientSecurity
}

func (c *toolConn) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.url, "nats", envOr("PROXMON_NATS", "nats://127.0.0.1:4222"), "NATS server `URL` [PROXMON_NATS]")
	c.sec.flags(fs)
}

func (c *toolConn) connect(name string) (*nats.Conn, jetstream.JetStream, error) {
	opts, err := c.sec.natsOptions()
	if err != nil {
		return nil, nil, err
	}
	nc, err := nats.Connect(c.url, append(opts, nats.Name(name))...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect %s: %w%s", c.url, err, c.sec.hint(err))
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// timeFlag is an RFC 3339 time on the command line.
type timeFlag struct{ t time.Time }

func (f *timeFlag) String() string {
	if f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339Nano)
}

func (f *timeFlag) Set(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("want an RFC 3339 time such as 2026-03-01T10:00:00Z")
	}
	f.t = t.UTC()
	return nil
}

// gpsPeriodFlags adds --from and --to: a period [from, to) of GPS time.
func gpsPeriodFlags(fs *flag.FlagSet, from, to *timeFlag) {
	fs.Var(from, "from", "start of the period (GPS time, RFC 3339), inclusive")
	fs.Var(to, "to", "end of the period (GPS time, RFC 3339), exclusive")
}

// parseTool parses a tool's flags; it returns the exit status to return
// when parsing ends the command (help, a usage error), else -1.
func parseTool(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	return -1
}

func trackCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "export":
			return trackExport(ctx, args[1:], stdout, stderr)
		case "verify":
			return trackVerify(args[1:], stdout, stderr)
		case "near":
			return trackNear(ctx, args[1:], stdout, stderr)
		case "play":
			return trackPlay(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprint(stderr, "usage: proxmon track export|verify|near|play ... (-h for each)\n")
	return exitUsage
}

func trackExport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("track export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		conn     toolConn
		from, to timeFlag
		q        track.Query
	)
	conn.flags(fs)
	fs.StringVar(&q.Device, "device", "", "device `id`")
	gpsPeriodFlags(fs, &from, &to)
	format := fs.String("format", "ndjson", "output `format`: geojson, gpx, csv or ndjson")
	fs.DurationVar(&q.Warmup, "warmup", track.DefaultWarmup, "log read before --from to learn the device's position, for the flags")
	fs.DurationVar(&q.Late, "late", track.DefaultLate, "log read after --to for fixes of the period that arrived late")
	fs.Float64Var(&q.DefaultAccuracyM, "default-accuracy-m", 0, "the device's default_accuracy_m (0: 50)")
	evidence := fs.String("evidence", "", "write an evidence package (hash chain, signed manifest) into `dir` instead of --format to stdout")
	keyPath := fs.String("key", defaultEvidenceKey(), "Ed25519 evidence key `file` (PEM), generated with mode 0600 at first use [PROXMON_EVIDENCE_KEY]")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: proxmon track export --device ID --from T1 --to T2 [--format geojson|gpx|csv|ndjson]\n\nWrites the device's fixes with GPS time in [T1, T2) from the archive (FIXES),\nin log order, with accuracy, source and the engine's flags (out_of_order,\nanomaly, duplicate).")
		fs.PrintDefaults()
	}
	if code := parseTool(fs, args); code >= 0 {
		return code
	}
	f, err := track.ParseFormat(*format)
	if err != nil || fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	q.From, q.To = from.t, to.t
	nc, js, err := conn.connect("proxmon track export")
	if err != nil {
		fmt.Fprintf(stderr, "proxmon track export: %v\n", err)
		return exitFault
	}
	defer nc.Close()
	if *evidence != "" {
		key, err := track.LoadOrCreateKey(*keyPath)
		if err != nil {
			fmt.Fprintf(stderr, "proxmon track export: --key: %v\n", err)
			return exitFault
		}
		m, err := track.WriteEvidence(ctx, stream.NewArchive(js), q, *evidence, key)
		if err != nil {
			fmt.Fprintf(stderr, "proxmon track export: %v\n", err)
			return exitFault
		}
		fmt.Fprintf(stdout, "%s: %d records of %s, head %s, signed by key %s\n", *evidence, m.Count, m.Device, m.Head, m.KeyID)
		return exitOK
	}
	if _, err := track.Export(ctx, stream.NewArchive(js), q, f, stdout); err != nil {
		fmt.Fprintf(stderr, "proxmon track export: %v\n", err)
		return exitFault
	}
	return exitOK
}

// archiveTool dispatches the commands that read the archive.
func archiveTool(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) int {
	switch cmd {
	case "track":
		return trackCmd(ctx, args, stdout, stderr)
	case "replay":
		return replay(ctx, args, stdout, stderr)
	case "archive":
		return archiveCmd(ctx, args, stdout, stderr)
	}
	fmt.Fprintf(stderr, "proxmon: unknown command %q\n", cmd)
	return exitUsage
}

func replay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		conn     toolConn
		from, to timeFlag
		q        track.ReplayQuery
	)
	conn.flags(fs)
	fs.Var(&from, "from", "start of the period (log time, RFC 3339), inclusive")
	fs.Var(&to, "to", "end of the period (log time, RFC 3339), exclusive")
	fs.StringVar(&q.Case, "case", "", "print only this case's events")
	casesPath := fs.String("cases", "", "case `file` put in force at --from over the cases of the same id: what would these bans have caught")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: proxmon replay --from T1 --to T2 [--case ID] [--cases FILE]\n\nRuns the engine over the archived log stored in [T1, T2), from the last engine\nsnapshot before T1, and prints the events of the period, one JSON object a\nline. With the cases of the log it prints the events raised live.")
		fs.PrintDefaults()
	}
	if code := parseTool(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() != 0 || from.t.IsZero() || to.t.IsZero() {
		fs.Usage()
		return exitUsage
	}
	q.From, q.To = from.t, to.t
	if *casesPath != "" {
		cf, err := loadCaseFile(*casesPath)
		if err != nil {
			fmt.Fprintf(stderr, "proxmon replay: %v\n", err)
			return exitFault
		}
		q.Cases = cf
	}
	nc, js, err := conn.connect("proxmon replay")
	if err != nil {
		fmt.Fprintf(stderr, "proxmon replay: %v\n", err)
		return exitFault
	}
	defer nc.Close()
	a := stream.NewArchive(js)
	st, err := track.Replay(ctx, a, a, q, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "proxmon replay: %v\n", err)
		return exitFault
	}
	snap := "the start of the log"
	if !st.SnapshotTime.IsZero() {
		snap = "the snapshot of " + st.SnapshotTime.Format(time.RFC3339Nano)
	}
	fmt.Fprintf(stderr, "proxmon replay: %d records from sequence %d (%s), %d events\n", st.Records, st.FromSeq, snap, st.Events)
	return exitOK
}

func defaultEvidenceKey() string {
	return envOr("PROXMON_EVIDENCE_KEY", filepath.Join(defaultDataDir(), "evidence-key"))
}

func trackVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("track verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pubPath := fs.String("pub", "", "PEM public `file` of the service's evidence key (the key file's .pub); without it, the key the manifest names is reported for you to compare")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: proxmon track verify [--pub FILE] DIR\n\nChecks an evidence package: the manifest's signature, then the hash chain;\nnames the first altered, missing or reordered record. Exit status 1 if any.")
		fs.PrintDefaults()
	}
	if code := parseTool(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	var trusted ed25519.PublicKey
	if *pubPath != "" {
		var err error
		if trusted, err = track.LoadPublicKey(*pubPath); err != nil {
			fmt.Fprintf(stderr, "proxmon track verify: --pub: %v\n", err)
			return exitUsage
		}
	}
	dir := fs.Arg(0)
	m, err := track.Verify(dir, trusted)
	if err != nil {
		fmt.Fprintf(stdout, "%s: %v\n", dir, err)
		return exitFault
	}
	fmt.Fprintf(stdout, "%s: ok: %d records of %s in [%s, %s), signed by key %s\n", dir, m.Count, m.Device,
		m.From.Format(time.RFC3339), m.To.Format(time.RFC3339), m.KeyID)
	return exitOK
}

func trackNear(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("track near", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		conn     toolConn
		from, to timeFlag
		q        track.NearQuery
	)
	conn.flags(fs)
	at := fs.String("at", "", "the place, `LAT,LON` (WGS84 degrees)")
	fs.Float64Var(&q.RadiusM, "radius-m", 0, "radius in `metres`")
	gpsPeriodFlags(fs, &from, &to)
	fs.DurationVar(&q.Late, "late", track.DefaultLate, "log read after --to for fixes of the period that arrived late")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: proxmon track near --at LAT,LON --radius-m R --from T1 --to T2\n\nPrints the devices with a fix within R metres of the place in the period,\nclosest first: closest approach, its time and accuracy, fixes within R.")
		fs.PrintDefaults()
	}
	if code := parseTool(fs, args); code >= 0 {
		return code
	}
	lat, lon, ok := strings.Cut(*at, ",")
	var err1, err2 error
	q.At.Lat, err1 = strconv.ParseFloat(strings.TrimSpace(lat), 64)
	q.At.Lon, err2 = strconv.ParseFloat(strings.TrimSpace(lon), 64)
	if !ok || err1 != nil || err2 != nil || fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	q.From, q.To = from.t, to.t
	nc, js, err := conn.connect("proxmon track near")
	if err != nil {
		fmt.Fprintf(stderr, "proxmon track near: %v\n", err)
		return exitFault
	}
	defer nc.Close()
	if _, err := track.WriteNear(ctx, stream.NewArchive(js), q, stdout); err != nil {
		fmt.Fprintf(stderr, "proxmon track near: %v\n", err)
		return exitFault
	}
	return exitOK
}

func archiveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "export" && args[0] != "import") {
		fmt.Fprint(stderr, "usage: proxmon archive export [--from T1] [--to T2] [--imported NAME] DIR\n       proxmon archive import [--name NAME] DIR\n")
		return exitUsage
	}
	export := args[0] == "export"
	fs := flag.NewFlagSet("archive "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		conn     toolConn
		from, to timeFlag
	)
	conn.flags(fs)
	fs.Var(&from, "from", "export: records stored at or after this time (RFC 3339); default: the oldest")
	fs.Var(&to, "to", "export: records stored before this time (RFC 3339); default: all")
	name := fs.String("imported", "", "export: the history imported under this `name` (ARCHIVE stream) instead of this installation's log")
	if !export {
		name = fs.String("name", "", "import: `name` of the imported history (its subjects proxmon.archive.NAME.>); required")
	}
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: proxmon archive export [--from T1] [--to T2] [--imported NAME] DIR\n       proxmon archive import --name NAME DIR\n\nexport writes FIXES and REJECTED (every message with subject, headers, payload,\nsequence and store time) into DIR with a manifest of hashes. import checks the\nfiles and stores them in the ARCHIVE stream under NAME: apart from FIXES, so no\nlive engine ever takes imported history for the present.")
		fs.PrintDefaults()
	}
	if code := parseTool(fs, args[1:]); code >= 0 {
		return code
	}
	if fs.NArg() != 1 || (!export && *name == "") {
		fs.Usage()
		return exitUsage
	}
	dir := fs.Arg(0)
	nc, js, err := conn.connect("proxmon archive " + args[0])
	if err != nil {
		fmt.Fprintf(stderr, "proxmon archive: %v\n", err)
		return exitFault
	}
	defer nc.Close()
	if export {
		sum, err := stream.ExportArchive(ctx, js, from.t, to.t, dir, *name)
		if err != nil {
			fmt.Fprintf(stderr, "proxmon archive export: %v\n", err)
			return exitFault
		}
		for _, s := range []string{stream.Fixes, stream.Rejected} {
			ss := sum.Streams[s]
			fmt.Fprintf(stdout, "%s: %d messages, contents %s\n", s, ss.Messages, ss.Contents)
		}
		return exitOK
	}
	n, err := stream.ImportArchive(ctx, js, dir, *name)
	if err != nil {
		fmt.Fprintf(stderr, "proxmon archive import: %v\n", err)
		return exitFault
	}
	fmt.Fprintf(stdout, "imported as %s: %d log records, %d rejections\n", *name, n[stream.Fixes], n[stream.Rejected])
	return exitOK
}
