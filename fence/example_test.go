package fence_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"testing"

	"github.com/proxmon/proxmon"
)

// comparable is an event reduced to what the worked example fixes: the
// README of the example compares events as sets of these fields.
type comparable struct {
	Time      string `json:"time"`
	Type      string `json:"type"`
	Phase     string `json:"phase"`
	Case      string `json:"case"`
	Device    string `json:"device"`
	Protected string `json:"protected"`
	Zone      string `json:"zone"`
	Certainty string `json:"certainty"`
	ID        string `json:"id"`
	OpenID    string `json:"open_id"`
}

func reduce(tb testing.TB, ndjson []byte) map[comparable]int {
	tb.Helper()
	set := map[comparable]int{}
	sc := bufio.NewScanner(bytes.NewReader(ndjson))
	for sc.Scan() {
		var c comparable
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			tb.Fatal(err)
		}
		set[c]++
	}
	return set
}

// TestRotterdamNight checks the engine against the worked example computed by
// an independent implementation of DESIGN.md's semantics. The example's
// case file has a self-intersecting ring (case-01's school), which DESIGN.md
// rejects; cases-valid.yaml swaps its two crossing vertices. No expected
// event involves that zone.
func TestRotterdamNight(t *testing.T) {
	const dir = "testdata/rotterdam-night/"
	data, err := os.ReadFile(dir + "cases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const fault = "cases[1].zones[1].geometry: ring 0 intersects itself"
	if _, err := proxmon.ParseCaseFile(data); err == nil || err.Error() != fault {
		t.Errorf("original case file: got error %v, want %q", err, fault)
	}
	e := MustEngine(t, MustCaseFile(t, dir+"cases-valid.yaml"))
	got := reduce(t, NDJSON(t, Run(t, e, MustRecords(t, dir+"fixes.ndjson"))))
	wantData, err := os.ReadFile(dir + "expected.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	want := reduce(t, wantData)
	var missing, extra []string
	for c, n := range want {
		if got[c] < n {
			missing = append(missing, fmt.Sprintf("%+v", c))
		}
	}
	for c, n := range got {
		if want[c] < n {
			extra = append(extra, fmt.Sprintf("%+v", c))
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	for _, m := range missing {
		t.Errorf("missing %s", m)
	}
	for _, x := range extra {
		t.Errorf("unexpected %s", x)
	}
}
