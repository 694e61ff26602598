package fence

// Stats summarises the engine's state for monitoring.
type Stats struct {
	// Tracked counts the devices in at least one case in force.
	Tracked int
	// SignalLost counts the devices with signal_lost open in at least one
	// case; OutageSilent those a network_outage covers that are still
	// unheard (they get no signal_lost of their own).
	SignalLost, OutageSilent int
	// GPSLost counts the devices with gps_lost open in at least one case.
	GPSLost int
	// IngestDown is true while ingest_down is open.
	IngestDown bool
}

// Stats returns the engine's counts. It visits every device: call it at
// a monitoring pace, not per record.
func (e *Engine) Stats() Stats {
	var s Stats
	for _, d := range e.devices {
		if len(d.members) == 0 {
			continue
		}
		s.Tracked++
		var lost, gps bool
		for _, m := range d.members {
			lost = lost || m.open[condSignalLost].isOpen()
			gps = gps || m.open[condGPSLost].isOpen()
		}
		if lost {
			s.SignalLost++
		}
		if gps {
			s.GPSLost++
		}
	}
	if e.outage.ref.isOpen() {
		s.OutageSilent = e.outage.unheard
	}
	s.IngestDown = e.ingest.down.isOpen()
	return s
}
