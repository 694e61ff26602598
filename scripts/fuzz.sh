#!/bin/sh
# Runs every fuzz target of the module for $1 (a -fuzztime, e.g. 10s), one
# at a time (go test -fuzz takes one target at a time).
#
# Go 1.26's fuzzing coordinator can fail a target with a bare "context
# deadline exceeded" when -fuzztime runs out while a worker is still busy
# (go.dev/issue/75804, fixed in Go 1.27): no input failed, none is written.
# Such a run is run once more; any other failure, and a second deadline
# failure, fail.
set -eu
fuzztime=${1:-10s}
go=${GO:-go}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
for file in $(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do
	dir=$(dirname "$file")
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
		for attempt in 1 2; do
			echo "fuzz $dir $target ($fuzztime)"
			if "$go" test -run '^$' -fuzz "^$target\$" -fuzztime "$fuzztime" "$dir" >"$log" 2>&1; then
				cat "$log"
				break
			fi
			cat "$log"
			if [ "$attempt" = 1 ] && grep -q '^    context deadline exceeded$' "$log" &&
				! grep -q 'Failing input written\|panic:\|_test.go:[0-9]' "$log"; then
				echo "fuzz $dir $target: the coordinator's deadline race (go.dev/issue/75804), no failing input; once more"
				continue
			fi
			status=1
			break
		done
	done
done
exit $status
