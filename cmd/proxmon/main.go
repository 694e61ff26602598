// Command proxmon is the one binary of proxmon: it runs the service and its
// tools. main is the only place that knows every package; it parses flags
// and wires the packages together.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `proxmon: real-time proximity monitoring of offenders and protected persons.

Usage:
  proxmon serve [flags]                        run the live service (embedded NATS, MQTT ingest, engine)
  proxmon demo [flags]                         the service with a small simulated fleet; prints alerts as they come
  proxmon simulate [flags]                     simulate a fleet of drill cases against a running service, report
  proxmon cases apply -f FILE [--nats URL]     validate a case file and put its cases in force
  proxmon alerts list|ack|close|report         the monitoring centre's alerts, through the HTTP API
  proxmon cases get|history|delete ID          a case in force, its versions and who made them, through the HTTP API
  proxmon audit list [--case ID] [--since D]   the audit trail: who called the API, about what, through the HTTP API
  proxmon dispatch --terminal ID               a monitoring centre's terminal: alerts as they arrive, once
  proxmon users token                          a new API token and the hash for the users file
  proxmon evaluate --cases FILE --fixes FILE   evaluate an NDJSON log offline, print events
  proxmon track export|verify|near|play ...    read the archive: tracks, evidence, who passed a place, a track played live
  proxmon replay --from T1 --to T2             run the engine over an archived period, print events
  proxmon archive export|import ...            move the whole archive to another installation
  proxmon cases validate FILE                  check a case file, print every fault
  proxmon devices hash-secret < secret         print the bcrypt hash of a device's MQTT secret
  proxmon geo distance                         read "lat1 lon1 lat2 lon2" lines, print metres

Run "proxmon COMMAND -h" for a command's flags.
`

// exit statuses
const (
	exitOK    = 0
	exitFault = 1 // the input has faults (cases validate)
	exitUsage = 2
)

// run executes one command line and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch {
	case cmd == "serve":
		return serve(ctx, rest, stderr)
	case cmd == "simulate":
		return simulate(ctx, rest, stdout, stderr)
	case cmd == "demo":
		return demo(ctx, rest, stdout, stderr)
	case cmd == "alerts":
		return alertsCmd(ctx, rest, stdout, stderr)
	case cmd == "dispatch":
		return dispatchCmd(ctx, rest, stdin, stdout, stderr)
	case cmd == "users":
		return usersCmd(rest, stdout, stderr)
	case cmd == "cases" && len(rest) > 0 && (rest[0] == "get" || rest[0] == "history" || rest[0] == "delete"), cmd == "audit":
		return casesAPICmd(ctx, cmd, rest, stdout, stderr)
	case cmd == "cases" && len(rest) > 0 && rest[0] == "apply":
		return applyCases(ctx, rest[1:], stdout, stderr)
	case cmd == "track" || cmd == "replay" || cmd == "archive":
		return archiveTool(ctx, cmd, rest, stdout, stderr)
	case cmd == "evaluate":
		return evaluate(ctx, rest, stdin, stdout, stderr)
	case cmd == "cases" && len(rest) > 0 && rest[0] == "validate":
		return validateCases(rest[1:], stdout, stderr)
	case cmd == "devices" && len(rest) > 0 && rest[0] == "hash-secret":
		return hashSecret(rest[1:], stdin, stdout, stderr)
	case cmd == "geo" && len(rest) > 0 && rest[0] == "distance":
		return geoDistance(rest[1:], stdin, stdout, stderr)
	case cmd == "-h" || cmd == "--help" || cmd == "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "proxmon: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}
