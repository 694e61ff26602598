package fence

import (
	"encoding/json"
	"fmt"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/geo"
)

// state is the engine's whole state in a form that survives a restart. Maps
// are written with sorted keys, so equal states give equal bytes.
type state struct {
	Version int           `json:"version"`
	Devices []deviceState `json:"devices"`
	Cases   []caseSnap    `json:"cases"`
	Pending []string      `json:"pending,omitempty"`
	Begun   bool          `json:"begun,omitempty"`
	Ingest  ingestSnap    `json:"ingest"`
	Outage  *outageSnap   `json:"outage,omitempty"`
}

const stateVersion = 1

type deviceState struct {
	Info       proxmon.Device `json:"info"`
	HasPos     bool           `json:"has_pos,omitempty"`
	Pos        geo.Point      `json:"pos"`
	PosTime    int64          `json:"pos_time,omitempty"`
	PosAcc     float64        `json:"pos_acc,omitempty"`
	PosKnown   bool           `json:"pos_known,omitempty"`
	PosVer     uint64         `json:"pos_ver,omitempty"`
	Recent     [][2]int64     `json:"recent,omitempty"` // seq, time
	Heard      int64          `json:"heard,omitempty"`
	EverHeard  bool           `json:"ever_heard,omitempty"`
	Since      int64          `json:"since,omitempty"`
	SinceSet   bool           `json:"since_set,omitempty"`
	StatusTime int64          `json:"status_time,omitempty"`
	HasStatus  bool           `json:"has_status,omitempty"`
	StrapOpen  proxmon.Flag   `json:"strap_open,omitempty"`
	CaseTamper proxmon.Flag   `json:"case_tamper,omitempty"`
	Chain      []chainSnap    `json:"chain,omitempty"`
}

type chainSnap struct {
	Pos   geo.Point       `json:"pos"`
	Time  int64           `json:"time"`
	Acc   float64         `json:"acc"`
	Known bool            `json:"known,omitempty"`
	Trig  proxmon.Trigger `json:"trig"`
}

type caseSnap struct {
	Case    proxmon.Case                 `json:"case"`
	Rules   map[string][2]openRef        `json:"rules,omitempty"`   // rule -> breach, warning/approach
	Members map[string][numConds]openRef `json:"members,omitempty"` // device -> conditions
	// Since holds the members' since, for those whose case came back in
	// force.
	Since      map[string]int64 `json:"since,omitempty"`
	OutOfForce bool             `json:"out_of_force,omitempty"`
	Suspended  openRef          `json:"suspended,omitzero"`
	// Due is when the case is judged next (never: math.MaxInt64). A
	// snapshot of before validity and suspensions lacks it: 0 judges the
	// case at the next record, which finds it in force.
	Due int64 `json:"due,omitempty"`
}

type ingestSnap struct {
	Seen    bool    `json:"seen,omitempty"`
	Last    int64   `json:"last,omitempty"`
	Down    openRef `json:"down"`
	Resumed int64   `json:"resumed,omitempty"`
}

type outageSnap struct {
	Ref     openRef         `json:"ref"`
	Devices map[string]bool `json:"devices"`
}

// Snapshot returns the engine's state. Restore of it into a new engine
// continues exactly as this one would.
func (e *Engine) Snapshot() ([]byte, error) {
	s := state{Version: stateVersion, Begun: e.begun, Ingest: ingestSnap{
		Seen: e.ingest.seen, Last: e.ingest.last, Down: e.ingest.down, Resumed: e.ingest.resumed}}
	for _, id := range sortedKeys(e.devices) {
		d := e.devices[id]
		ds := deviceState{Info: d.info, HasPos: d.hasPos, Pos: d.pos, PosTime: d.posTime, PosAcc: d.posAcc,
			PosKnown: d.posKnown, PosVer: d.posVer, Heard: d.heard, EverHeard: d.everHeard,
			Since: d.since, SinceSet: d.sinceSet, StatusTime: d.statusTime, HasStatus: d.hasStatus,
			StrapOpen: d.strapOpen, CaseTamper: d.caseTamper}
		for _, k := range d.recent[:d.nRecent] {
			ds.Recent = append(ds.Recent, [2]int64{int64(k.seq), k.time})
		}
		for _, c := range d.chain[:d.nChain] {
			ds.Chain = append(ds.Chain, chainSnap{Pos: c.p, Time: c.t, Acc: c.acc, Known: c.known, Trig: c.trig})
		}
		s.Devices = append(s.Devices, ds)
	}
	for _, id := range sortedKeys(e.cases) {
		cs := e.cases[id]
		snap := caseSnap{Case: *cs.c, Rules: map[string][2]openRef{}, Members: map[string][numConds]openRef{},
			OutOfForce: !cs.linked, Suspended: cs.suspended, Due: cs.armed}
		for _, r := range cs.contacts {
			snap.Rules[r.key()] = [2]openRef{r.breach, r.warning}
		}
		for _, z := range cs.zones {
			snap.Rules[z.key()] = [2]openRef{z.breach, z.approach}
		}
		for _, m := range cs.members {
			snap.Members[m.dev.id] = m.open
			if m.since != always {
				if snap.Since == nil {
					snap.Since = map[string]int64{}
				}
				snap.Since[m.dev.id] = m.since
			}
		}
		s.Cases = append(s.Cases, snap)
	}
	for _, d := range e.pending {
		s.Pending = append(s.Pending, d.id)
	}
	if e.outage.ref.isOpen() {
		o := &outageSnap{Ref: e.outage.ref, Devices: map[string]bool{}}
		for d, unheard := range e.outage.devices {
			o.Devices[d.id] = unheard
		}
		s.Outage = o
	}
	return json.Marshal(&s)
}

// Restore returns an engine with the state of a snapshot.
func Restore(data []byte) (*Engine, error) {
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("restore engine: %w", err)
	}
	if s.Version != stateVersion {
		return nil, fmt.Errorf("restore engine: state version %d, want %d", s.Version, stateVersion)
	}
	cf := &proxmon.CaseFile{}
	for _, ds := range s.Devices {
		cf.Devices = append(cf.Devices, ds.Info)
	}
	for _, cs := range s.Cases {
		cf.Cases = append(cf.Cases, cs.Case)
	}
	// The devices of the snapshot may include some no case uses any
	// more; validate each case against them all.
	for i := range cf.Cases {
		if err := proxmon.ValidateCaseRecord(&cf.Cases[i], cf.Devices, nil); err != nil {
			return nil, fmt.Errorf("restore engine: case %s: %w", cf.Cases[i].ID, err)
		}
	}
	e, err := New(cf)
	if err != nil {
		return nil, fmt.Errorf("restore engine: %w", err)
	}
	for _, d := range e.pending {
		d.pending = false
	}
	e.pending = e.pending[:0]
	e.begun = s.Begun
	// The cases first: which devices count in the heard ring depends on
	// the cases in force.
	for _, snap := range s.Cases {
		cs := e.cases[snap.Case.ID]
		for _, r := range cs.contacts {
			refs := snap.Rules[r.key()]
			r.breach, r.warning = refs[0], refs[1]
		}
		for _, z := range cs.zones {
			refs := snap.Rules[z.key()]
			z.breach, z.approach = refs[0], refs[1]
		}
		for _, m := range cs.members {
			m.open = snap.Members[m.dev.id]
			if since, ok := snap.Since[m.dev.id]; ok {
				m.since = since
			}
		}
		cs.suspended = snap.Suspended
		cs.armed = never
		e.armCase(cs, snap.Due)
		if snap.OutOfForce {
			e.unlink(cs)
		}
	}
	for _, ds := range s.Devices {
		d := e.devices[ds.Info.ID]
		d.hasPos, d.pos, d.posTime, d.posAcc, d.posKnown, d.posVer = ds.HasPos, ds.Pos, ds.PosTime, ds.PosAcc, ds.PosKnown, ds.PosVer
		d.heard, d.everHeard, d.since, d.sinceSet = ds.Heard, ds.EverHeard, ds.Since, ds.SinceSet
		d.statusTime, d.hasStatus = ds.StatusTime, ds.HasStatus
		d.strapOpen, d.caseTamper = ds.StrapOpen, ds.CaseTamper
		for i, k := range ds.Recent {
			d.recent[i] = fixKey{uint64(k[0]), k[1]}
		}
		d.nRecent = len(ds.Recent)
		for i, c := range ds.Chain {
			d.chain[i] = fixCtx{p: c.Pos, t: c.Time, acc: c.Acc, known: c.Known, trig: c.Trig}
		}
		d.nChain = len(ds.Chain)
		if d.hasPos {
			e.where.Set(d.id, d.pos)
		}
		if d.everHeard && d.counted() {
			e.heard.add(d.heard)
		}
	}
	for _, d := range e.devList {
		d.recount()
	}
	for _, id := range s.Pending {
		if d := e.devices[id]; d != nil && !d.pending {
			d.pending = true
			e.pending = append(e.pending, d)
		}
	}
	e.ingest = ingestState{seen: s.Ingest.Seen, last: s.Ingest.Last, down: s.Ingest.Down, resumed: s.Ingest.Resumed}
	if s.Outage != nil {
		e.outage.ref = s.Outage.Ref
		e.outage.devices = make(map[*device]bool, len(s.Outage.Devices))
		for id, unheard := range s.Outage.Devices {
			if d := e.devices[id]; d != nil {
				e.outage.devices[d] = unheard
				if unheard {
					e.outage.unheard++
				}
			}
		}
	}
	return e, nil
}
