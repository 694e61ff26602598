package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/proxmon/proxmon/geo"
)

// geoDistance reads "lat1 lon1 lat2 lon2" lines and prints the geodesic
// distance of each in metres. A bad line is reported and yields an empty
// output line, so outputs stay aligned with inputs.
func geoDistance(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("geo distance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: proxmon geo distance < lines of \"lat1 lon1 lat2 lon2\" (degrees)\n\nPrints the WGS84 geodesic distance in metres, one per line.")
	}
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return exitUsage
	}
	sc := bufio.NewScanner(stdin)
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	status := exitOK
	for line := 1; sc.Scan(); line++ {
		p, q, err := parsePair(sc.Text())
		if err != nil {
			fmt.Fprintf(stderr, "line %d: %v\n", line, err)
			fmt.Fprintln(w)
			status = exitFault
			continue
		}
		fmt.Fprintln(w, strconv.FormatFloat(geo.Distance(p, q), 'f', 6, 64))
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(stderr, "proxmon geo distance: %v\n", err)
		return exitFault
	}
	return status
}

func parsePair(s string) (p, q geo.Point, err error) {
	f := strings.Fields(s)
	if len(f) != 4 {
		return p, q, fmt.Errorf("want 4 numbers (lat1 lon1 lat2 lon2), got %d fields", len(f))
	}
	var v [4]float64
	for i, x := range f {
		if v[i], err = strconv.ParseFloat(x, 64); err != nil {
			return p, q, fmt.Errorf("field %d: %q is not a number", i+1, x)
		}
	}
	p, q = geo.Point{Lat: v[0], Lon: v[1]}, geo.Point{Lat: v[2], Lon: v[3]}
	if !p.Valid() || !q.Valid() {
		return p, q, fmt.Errorf("latitude must be in [-90, 90] and longitude in [-180, 180]")
	}
	return p, q, nil
}
