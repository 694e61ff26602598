package fence_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/fence"
)

// MustCaseFile parses and validates a case file from testdata.
func MustCaseFile(tb testing.TB, path string) *proxmon.CaseFile {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	cf, err := proxmon.ParseCaseFile(data)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return cf
}

// MustRecords reads an NDJSON log.
func MustRecords(tb testing.TB, path string) []proxmon.Record {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var recs []proxmon.Record
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<24)
	for line := 1; sc.Scan(); line++ {
		r, err := proxmon.ParseRecord(sc.Bytes())
		if err != nil {
			tb.Fatalf("%s:%d: %v", path, line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// MustEngine returns an engine with the cases of cf.
func MustEngine(tb testing.TB, cf *proxmon.CaseFile) *fence.Engine {
	tb.Helper()
	e, err := fence.New(cf)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// Run feeds records to e and returns the events.
func Run(tb testing.TB, e *fence.Engine, recs []proxmon.Record) []proxmon.Event {
	tb.Helper()
	var out []proxmon.Event
	for i := range recs {
		var err error
		if out, err = e.Apply(&recs[i], out); err != nil {
			tb.Fatalf("record %d: %v", i, err)
		}
	}
	return out
}

// NDJSON renders events one per line, as evaluate writes them.
func NDJSON(tb testing.TB, events []proxmon.Event) []byte {
	tb.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range events {
		if err := enc.Encode(&events[i]); err != nil {
			tb.Fatal(err)
		}
	}
	return buf.Bytes()
}
