package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestGeoDistanceGeodTest feeds the lines of Karney's geodesic test set
// (geo/testdata) to `proxmon geo distance` and holds the output to the
// contract: 1 mm up to 100 km, 1 m beyond.
func TestGeoDistanceGeodTest(t *testing.T) {
	f, err := os.Open("../../geo/testdata/GeodTest-short.dat")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var in strings.Builder
	var want []float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// lat1 lon1 azi1 lat2 lon2 azi2 s12 ...; lon2 may exceed 180.
		v := strings.Fields(sc.Text())
		lon2, err := strconv.ParseFloat(v[4], 64)
		if err != nil {
			t.Fatal(err)
		}
		if lon2 > 180 {
			lon2 -= 360
		}
		s12, err := strconv.ParseFloat(v[6], 64)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&in, "%s %s %s %s\n", v[0], v[1], v[3], strconv.FormatFloat(lon2, 'g', -1, 64))
		want = append(want, s12)
	}
	if err := sc.Err(); err != nil || len(want) == 0 {
		t.Fatalf("read the test set: %v (%d lines)", err, len(want))
	}
	r := runCmd(t, in.String(), "geo", "distance")
	if r.code != exitOK || r.stderr != "" {
		t.Fatalf("exit status %d, stderr:\n%s", r.code, r.stderr)
	}
	got := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("%d output lines for %d input lines", len(got), len(want))
	}
	for i, s := range got {
		d, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("output line %d: %v", i+1, err)
		}
		tol := 1.0
		if want[i] <= 100e3 {
			tol = 1e-3
		}
		if !(math.Abs(d-want[i]) <= tol) {
			t.Errorf("line %d: %s m, want %.7f m within %g m", i+1, s, want[i], tol)
		}
	}
}

// TestGeoDistanceBadLines checks that a bad line is reported with its number
// and yields an empty output line, so that outputs stay aligned with inputs.
func TestGeoDistanceBadLines(t *testing.T) {
	in := strings.Join([]string{
		"52.09 5.12 52.09 5.12", // 1: the same point
		"52.09 5.12 52.10",      // 2: three fields
		// 3: GeodTest-short.dat line 3037
		"3.686890728915 0 3.683643861356185011 .008412279013834597",
		"52.09 5.12 north 5.13", // 4: not a number
		"95 5.12 52.1 5.13",     // 5: latitude out of range
		"52.09 5.12 52.1 185",   // 6: longitude out of range
		"",                      // 7: empty
		"  0\t0   0 1  ",        // 8: a degree of the equator, a*pi/180
	}, "\n") + "\n"
	r := runCmd(t, in, "geo", "distance")
	if r.code != exitFault {
		t.Errorf("exit status %d, want %d", r.code, exitFault)
	}
	wantOut := []string{"0", "", "1001.1228831", "", "", "", "", "111319.4907932736"}
	got := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(got) != len(wantOut) {
		t.Fatalf("stdout has %d lines, want %d:\n%s", len(got), len(wantOut), r.stdout)
	}
	for i, w := range wantOut {
		if w == "" {
			if got[i] != "" {
				t.Errorf("output line %d = %q, want an empty line", i+1, got[i])
			}
			continue
		}
		d, err := strconv.ParseFloat(got[i], 64)
		want, _ := strconv.ParseFloat(w, 64)
		if err != nil || !(math.Abs(d-want) <= 1e-3) {
			t.Errorf("output line %d = %q, want %s m within 1 mm", i+1, got[i], w)
		}
	}
	wantErr := []string{
		"line 2: want 4 numbers (lat1 lon1 lat2 lon2), got 3 fields",
		`line 4: field 3: "north" is not a number`,
		"line 5: latitude must be in [-90, 90] and longitude in [-180, 180]",
		"line 6: latitude must be in [-90, 90] and longitude in [-180, 180]",
		"line 7: want 4 numbers (lat1 lon1 lat2 lon2), got 0 fields",
	}
	if got, want := r.stderr, strings.Join(wantErr, "\n")+"\n"; got != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
	}
}
