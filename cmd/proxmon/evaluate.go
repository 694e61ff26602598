package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/fence"
)

// maxLine bounds one NDJSON record: a case record with large polygons fits,
// a runaway line does not exhaust memory.
const maxLine = 16 << 20

func evaluate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("evaluate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	casesPath := fs.String("cases", "", "case file (YAML or JSON) in force from the start")
	fixesPath := fs.String("fixes", "", "the log as NDJSON (fixes, statuses, ticks, heartbeats, case records); - for stdin")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: proxmon evaluate --cases FILE --fixes FILE\n\n"+
			"Evaluates the log through the engine and writes one event per line. Case\n"+
			"records replace or add a case from their place in the log on; a case is in\n"+
			"force within its valid_from and valid_until and outside its suspensions, and\n"+
			"raises nothing but case_suspended while it is not (docs/cases.md).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *fixesPath == "" || fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	var cf *proxmon.CaseFile
	if *casesPath != "" {
		var err error
		if cf, err = loadCaseFile(*casesPath); err != nil {
			fmt.Fprintf(stderr, "proxmon evaluate: %v\n", err)
			return exitFault
		}
	}
	name := *fixesPath
	if name == "-" {
		name = "stdin"
	}
	in, err := openInput(*fixesPath, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "proxmon evaluate: %v\n", err)
		return exitFault
	}
	defer in.Close()
	eng, err := fence.New(cf)
	if err != nil {
		fmt.Fprintf(stderr, "proxmon evaluate: %v\n", err)
		return exitFault
	}
	w := bufio.NewWriter(stdout)
	bad, err := evaluateLog(ctx, eng, in, name, w, stderr)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintf(stderr, "proxmon evaluate: %v\n", err)
		return exitFault
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "proxmon evaluate: %d malformed line(s) skipped\n", bad)
	}
	return exitOK
}

// evaluateLog feeds every record of the NDJSON log to the engine and writes
// the events. A malformed line is reported with its line number and skipped;
// it never stops the run.
func evaluateLog(ctx context.Context, eng *fence.Engine, in io.Reader, name string, out io.Writer, stderr io.Writer) (bad int, err error) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	enc := json.NewEncoder(out)
	var events []proxmon.Event
	for line := 1; sc.Scan(); line++ {
		if line%4096 == 0 && ctx.Err() != nil {
			return bad, ctx.Err()
		}
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		rec, err := proxmon.ParseRecord(text)
		if err == nil {
			events, err = eng.Apply(&rec, events[:0])
		}
		if err != nil {
			bad++
			fmt.Fprintf(stderr, "%s:%d: %v\n", name, line, err)
			continue
		}
		for i := range events {
			if err := enc.Encode(&events[i]); err != nil {
				return bad, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return bad, fmt.Errorf("%s: a line is longer than %d bytes", name, maxLine)
		}
		return bad, fmt.Errorf("read %s: %w", name, err)
	}
	return bad, nil
}

func openInput(path string, stdin io.Reader) (io.ReadCloser, error) {
	if path == "-" {
		return io.NopCloser(stdin), nil
	}
	return os.Open(path)
}

func loadCaseFile(path string) (*proxmon.CaseFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cf, err := proxmon.ParseCaseFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cf, nil
}
