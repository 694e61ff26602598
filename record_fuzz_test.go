package proxmon_test

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/proxmon/proxmon"
)

// FuzzParseRecord checks that no line makes ParseRecord panic, that every
// rejection matches ErrRecord, and that a record it accepts survives its
// NDJSON form: MarshalJSON, then ParseRecord, gives an equal record, and
// writing that one again gives the same bytes. Like nats-server's
// FuzzParser, it also feeds each input in two halves: a line torn in two (a
// write cut short by a crash, a read that stopped early) must not panic
// either, and the first half of a record is never taken for a record.
func FuzzParseRecord(f *testing.F) {
	for _, tc := range recordCases {
		f.Add([]byte(tc.line))
	}
	// Real lines: the start of the Rotterdam example's log, a sample of the
	// rest, and every status in it.
	data, err := os.ReadFile("fence/testdata/rotterdam-night/fixes.ndjson")
	if err != nil {
		f.Fatal(err)
	}
	for i, line := range bytes.Split(data, []byte("\n")) {
		if i < 32 || i%997 == 0 || bytes.Contains(line, []byte(`"status"`)) {
			f.Add(line)
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		accepted := roundTrip(t, line)
		half := len(line) / 2
		first, second := line[:half], line[half:]
		if roundTrip(t, first) && accepted && len(bytes.TrimSpace(second)) > 0 {
			t.Fatalf("accepted both %q and its first half %q", line, first)
		}
		roundTrip(t, second)
	})
}

// roundTrip parses a line and, if it is accepted, writes and reads the
// record again; it reports whether the line was accepted.
func roundTrip(t *testing.T, line []byte) bool {
	t.Helper()
	r, err := proxmon.ParseRecord(line)
	if err != nil {
		if !errors.Is(err, proxmon.ErrRecord) {
			t.Fatalf("ParseRecord(%q): error %q does not match ErrRecord", line, err)
		}
		return false
	}
	written, err := r.MarshalJSON()
	if err != nil {
		t.Fatalf("accepted %q as %+v but cannot write it: %v", line, r, err)
	}
	again, err := proxmon.ParseRecord(written)
	if err != nil {
		t.Fatalf("accepted %q but not its written form %s: %v", line, written, err)
	}
	if d := recordDiff(r, again); d != "" {
		t.Fatalf("%q written as %s reads back differently: %s", line, written, d)
	}
	if rewritten, err := again.MarshalJSON(); err != nil || !bytes.Equal(rewritten, written) {
		t.Fatalf("%q written as %s, then as %s (%v)", line, written, rewritten, err)
	}
	return true
}
