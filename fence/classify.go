package fence

import (
	"github.com/proxmon/proxmon"
)

// FixClass is what the engine makes of one fix of a device.
type FixClass uint8

// Fix classes (DESIGN.md "Positions" and "GPS anomaly").
const (
	// FixPosition: the fix became the device's position.
	FixPosition FixClass = iota
	// FixDuplicate: a repeated (device, seq, time); it changed nothing.
	FixDuplicate
	// FixLate: its time is not newer than the position (out of order); it
	// updated liveness only and was checked against exclusion zones.
	FixLate
	// FixAnomaly: it implied an impossible speed and was not used.
	FixAnomaly
)

func (c FixClass) String() string {
	switch c {
	case FixPosition:
		return "position"
	case FixDuplicate:
		return "duplicate"
	case FixLate:
		return "late"
	case FixAnomaly:
		return "anomaly"
	}
	return "unknown"
}

// Classifier applies the engine's position rules to the fixes of one
// device, without cases: the same code decides duplicates, late fixes and
// GPS anomalies as in Engine.Apply, so a track export flags exactly the
// fixes the engine set aside, given the same earlier fixes.
type Classifier struct {
	d device
}

// NewClassifier returns a classifier for a device whose fixes without
// accuracy count with defaultAccuracyM (0: the default of DESIGN.md).
func NewClassifier(defaultAccuracyM float64) *Classifier {
	info := proxmon.Device{DefaultAccuracyM: defaultAccuracyM}
	return &Classifier{d: device{defAcc: info.Accuracy()}}
}

// Classify returns the class of the device's next fix in log order and
// updates the position as the engine does.
func (c *Classifier) Classify(f *proxmon.Fix) FixClass {
	d := &c.d
	t := nanos(f.Time)
	if d.duplicate(fixKey{f.Seq, t}) {
		return FixDuplicate
	}
	fc := fixCtx{p: f.Point(), t: t, acc: f.AccuracyM, known: f.AccuracyM > 0}
	if !fc.known {
		fc.acc = d.defAcc
	}
	if d.hasPos && t <= d.posTime {
		return FixLate
	}
	if d.hasPos && d.anomalous(&fc) {
		return FixAnomaly
	}
	d.nChain = 0
	d.hasPos, d.pos, d.posTime, d.posAcc, d.posKnown = true, fc.p, t, fc.acc, fc.known
	return FixPosition
}
