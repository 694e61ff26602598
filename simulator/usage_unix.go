//go:build unix

package simulator

import (
	"runtime"
	"syscall"
	"time"
)

// usage is the process's CPU time so far and its peak resident memory.
type usage struct {
	cpu      time.Duration
	maxRSSMB float64
}

func processUsage() usage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return usage{}
	}
	rss := float64(ru.Maxrss) / 1024 // kilobytes on Linux
	if runtime.GOOS == "darwin" {
		rss /= 1024 // bytes
	}
	return usage{cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), maxRSSMB: rss}
}
