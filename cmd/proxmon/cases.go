package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/proxmon/proxmon"
)

// validateCases prints every fault of a case file; exit status 1 if any.
func validateCases(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cases validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: proxmon cases validate FILE") }
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	path := fs.Arg(0)
	cf, err := loadCaseFile(path)
	if err != nil {
		var verr *proxmon.ValidationError
		if errors.As(err, &verr) {
			for _, f := range verr.Faults {
				fmt.Fprintf(stdout, "%s: %s\n", path, f)
			}
			fmt.Fprintf(stderr, "%s: %d fault(s)\n", path, len(verr.Faults))
		} else {
			fmt.Fprintf(stderr, "%v\n", err)
		}
		return exitFault
	}
	fmt.Fprintf(stdout, "%s: ok (%d devices, %d cases)\n", path, len(cf.Devices), len(cf.Cases))
	return exitOK
}
