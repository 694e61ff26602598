package track

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/geo"
)

// NearQuery asks which devices passed within RadiusM of At with a fix of
// GPS time in [From, To) (correlating a reported incident with the tracks).
type NearQuery struct {
	At       geo.Point
	RadiusM  float64
	From, To time.Time
	// Late is how much of the log after To is read for fixes of the
	// period that arrived late; default DefaultLate, negative none.
	Late time.Duration
}

// Pass is a device's closest approach to the place.
type Pass struct {
	Device    string
	DistanceM float64     // geodesic distance of the closest fix
	Closest   proxmon.Fix // that fix (its time, position, accuracy)
	Fixes     int         // fixes within the radius
}

// Near returns the devices that passed within q.RadiusM of q.At, closest
// first. It reads the fixes of every device in the period once; memory
// grows with the devices found, not with the fixes.
func Near(ctx context.Context, log Log, q NearQuery) ([]Pass, error) {
	switch {
	case !(q.RadiusM > 0) || math.IsInf(q.RadiusM, 0):
		return nil, fmt.Errorf("%w: radius must be more than 0", ErrQuery)
	case !(q.At.Lat >= -90 && q.At.Lat <= 90 && q.At.Lon >= -180 && q.At.Lon <= 180):
		return nil, fmt.Errorf("%w: place out of range", ErrQuery)
	case q.From.IsZero() || q.To.IsZero() || !q.From.Before(q.To):
		return nil, fmt.Errorf("%w: from and to are required, from before to", ErrQuery)
	}
	late := q.Late
	if late == 0 {
		late = DefaultLate
	}
	to := q.To
	if late > 0 {
		to = to.Add(late)
	}
	passes := map[string]*Pass{}
	err := log.ScanFixes(ctx, "", q.From, to, func(_ uint64, f *proxmon.Fix) error {
		if f.Time.Before(q.From) || !f.Time.Before(q.To) {
			return nil
		}
		p := f.Point()
		if a := geo.ApproxDistance(q.At, p); a.Decides(q.RadiusM) && a.D > q.RadiusM {
			return nil
		}
		d := geo.Distance(q.At, p)
		if d > q.RadiusM {
			return nil
		}
		ps := passes[f.Device]
		if ps == nil {
			ps = &Pass{Device: f.Device, DistanceM: math.Inf(1)}
			passes[f.Device] = ps
		}
		ps.Fixes++
		if d < ps.DistanceM || (d == ps.DistanceM && f.Time.Before(ps.Closest.Time)) {
			ps.DistanceM, ps.Closest = d, *f
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]Pass, 0, len(passes))
	for _, p := range passes {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b Pass) int {
		return cmp.Or(cmp.Compare(a.DistanceM, b.DistanceM), cmp.Compare(a.Device, b.Device))
	})
	return out, nil
}

// PassJSON is a Pass as WriteNear and the operators' API write it.
type PassJSON struct {
	Device    string    `json:"device"`
	DistanceM float64   `json:"distance_m"` // to the decimetre
	Time      time.Time `json:"time"`
	Lat       float64   `json:"lat"`
	Lon       float64   `json:"lon"`
	AccuracyM float64   `json:"accuracy_m,omitempty"`
	Fixes     int       `json:"fixes"`
}

// JSON returns the pass as it is written: the closest fix's time,
// position and accuracy.
func (p *Pass) JSON() PassJSON {
	return PassJSON{p.Device, math.Round(p.DistanceM*10) / 10, p.Closest.Time.UTC(), p.Closest.Lat, p.Closest.Lon, p.Closest.AccuracyM, p.Fixes}
}

// WriteNear writes Near's answer to w, one JSON object a line (PassJSON),
// closest first.
func WriteNear(ctx context.Context, log Log, q NearQuery, w io.Writer) (int, error) {
	passes, err := Near(ctx, log, q)
	if err != nil {
		return 0, err
	}
	enc := json.NewEncoder(w)
	for i := range passes {
		if err := enc.Encode(passes[i].JSON()); err != nil {
			return 0, err
		}
	}
	return len(passes), nil
}
