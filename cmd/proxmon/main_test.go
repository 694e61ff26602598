package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// result is what one command line did.
type result struct {
	code           int
	stdout, stderr string
}

// runCmd runs a command line in-process, as main would, with stdin as its
// standard input.
func runCmd(tb testing.TB, stdin string, args ...string) result {
	tb.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func TestRunCommands(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // substring; "" = must be empty
		stderr string // substring; "" = must be empty, "*" = anything
	}{
		{name: "no command", code: exitUsage, stderr: "Usage:"},
		{name: "help", args: []string{"help"}, code: exitOK, stdout: "Usage:"},
		{name: "-h", args: []string{"-h"}, code: exitOK, stdout: "Usage:"},
		{name: "unknown command", args: []string{"serve-all"}, code: exitUsage, stderr: `unknown command "serve-all"`},
		{name: "cases without validate", args: []string{"cases"}, code: exitUsage, stderr: `unknown command "cases"`},
		{name: "geo without distance", args: []string{"geo", "area"}, code: exitUsage, stderr: `unknown command "geo"`},
		{name: "evaluate without fixes", args: []string{"evaluate", "--cases", "testdata/scenario/cases.yaml"}, code: exitUsage, stderr: "usage: proxmon evaluate"},
		{name: "evaluate with an argument", args: []string{"evaluate", "--fixes", "testdata/scenario/fixes.ndjson", "extra"}, code: exitUsage, stderr: "usage: proxmon evaluate"},
		{name: "evaluate unknown flag", args: []string{"evaluate", "--fixed", "x"}, code: exitUsage, stderr: "flag provided but not defined"},
		{name: "validate without file", args: []string{"cases", "validate"}, code: exitUsage, stderr: "usage: proxmon cases validate"},
		{name: "validate two files", args: []string{"cases", "validate", "a.yaml", "b.yaml"}, code: exitUsage, stderr: "usage: proxmon cases validate"},
		{name: "distance with an argument", args: []string{"geo", "distance", "52 5 52 6"}, code: exitUsage, stderr: "*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, "", tt.args...)
			if r.code != tt.code {
				t.Errorf("exit status %d, want %d\nstderr: %s", r.code, tt.code, r.stderr)
			}
			check := func(stream, got, want string) {
				t.Helper()
				switch {
				case want == "*":
				case want == "" && got != "":
					t.Errorf("%s = %q, want nothing", stream, got)
				case !strings.Contains(got, want):
					t.Errorf("%s = %q, want it to contain %q", stream, got, want)
				}
			}
			check("stdout", r.stdout, tt.stdout)
			check("stderr", r.stderr, tt.stderr)
		})
	}
}
