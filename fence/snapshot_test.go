package fence_test

import (
	"bytes"
	"testing"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/fence"
)

const rotterdam = "testdata/rotterdam-night/"

// TestDeterministic runs the same log twice: the output is byte-identical.
func TestDeterministic(t *testing.T) {
	recs := MustRecords(t, rotterdam+"fixes.ndjson")
	first := NDJSON(t, Run(t, MustEngine(t, MustCaseFile(t, rotterdam+"cases-valid.yaml")), recs))
	second := NDJSON(t, Run(t, MustEngine(t, MustCaseFile(t, rotterdam+"cases-valid.yaml")), recs))
	if !bytes.Equal(first, second) {
		t.Fatal("two runs over the same log differ")
	}
}

// TestSnapshotRestore feeds the log in two halves through a snapshot and a
// restore, at many split points: the events equal those of one run, and the
// snapshot of the restored engine equals the one it came from.
func TestSnapshotRestore(t *testing.T) {
	recs := MustRecords(t, rotterdam+"fixes.ndjson")
	checkSplits(t, func() *proxmon.CaseFile { return MustCaseFile(t, rotterdam+"cases-valid.yaml") }, recs,
		[]int{0, 1, 7, 500, 2000, 4321, 6000, 8888, 11000, len(recs)})
}

// checkSplits runs recs through one engine, and through a snapshot and a
// restore at each split: the events must be the same, and a restored
// engine's snapshot the one it came from. cases makes the case file afresh
// (validation builds what the engine keeps).
func checkSplits(t *testing.T, cases func() *proxmon.CaseFile, recs []proxmon.Record, splits []int) {
	t.Helper()
	want := NDJSON(t, Run(t, MustEngine(t, cases()), recs))
	for _, split := range splits {
		e := MustEngine(t, cases())
		events := Run(t, e, recs[:split])
		snap, err := e.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		restored, err := fence.Restore(snap)
		if err != nil {
			t.Fatalf("split %d: %v", split, err)
		}
		again, err := restored.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(snap, again) {
			t.Errorf("split %d: the restored engine's snapshot differs from the one it was restored from", split)
		}
		events = append(events, Run(t, restored, recs[split:])...)
		if got := NDJSON(t, events); !bytes.Equal(got, want) {
			t.Errorf("split %d: events through snapshot/restore differ from one run:\n%s", split, firstDiff(got, want))
		}
	}
}

// TestRestoreRejectsGarbage: a damaged snapshot is an error, not a panic or
// an empty engine.
func TestRestoreRejectsGarbage(t *testing.T) {
	for _, data := range []string{"", "{", `{"version":99}`, `{"version":1,"cases":[{"case":{"id":"c","offender":"nobody"}}]}`} {
		if _, err := fence.Restore([]byte(data)); err == nil {
			t.Errorf("Restore(%q) accepted a damaged snapshot", data)
		}
	}
}
