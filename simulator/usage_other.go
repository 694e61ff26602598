//go:build !unix

package simulator

import "time"

type usage struct {
	cpu      time.Duration
	maxRSSMB float64
}

// processUsage is not measured on this system.
func processUsage() usage { return usage{} }
