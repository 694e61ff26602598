package simulator

import (
	"container/heap"
	"context"
	"time"
)

// A shard runs the devices of some cases: one goroutine sends their fixes
// and statuses when due, carries out their episodes' actions and plans
// their episodes. Everything of a case (its paths, its devices' reporting
// state) belongs to its shard, so none of it needs a lock.
type shard struct {
	sim  *Simulator
	due  dueHeap
	add  chan []*simCase
	wake chan *device
	done chan struct{}
}

// What a due item does.
const (
	dueFix = iota
	dueStatus
	duePlan
	dueAct
)

type dueItem struct {
	at   int64 // ns since the epoch
	kind uint8
	gen  uint32
	d    *device
	cs   *simCase
	act  func(now time.Time)
}

type dueHeap []dueItem

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueItem)) }
func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

func newShard(s *Simulator) *shard {
	return &shard{sim: s, add: make(chan []*simCase, 16), wake: make(chan *device, 1024), done: make(chan struct{})}
}

func (sh *shard) push(it dueItem) { heap.Push(&sh.due, it) }

// at returns the due time of t.
func (sh *shard) at(t time.Time) int64 { return t.UnixNano() - sh.sim.epoch.UnixNano() }

// run sends and acts until ctx ends.
func (sh *shard) run(ctx context.Context) {
	defer close(sh.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		n := sh.at(now)
		for sh.due.Len() > 0 && sh.due[0].at <= n {
			it := heap.Pop(&sh.due).(dueItem)
			sh.handle(it, now, n)
			if ctx.Err() != nil {
				return
			}
		}
		wait := time.Hour
		if sh.due.Len() > 0 {
			wait = time.Duration(sh.due[0].at - sh.at(time.Now()))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case cases := <-sh.add:
			for _, cs := range cases {
				sh.start(cs, time.Now())
			}
		case d := <-sh.wake:
			// A faster report interval, or a fix requested: the next
			// fix is due now or one new interval after the last.
			d.gen++
			next := max(sh.at(time.Now()), d.lastFix+int64(d.effective(time.Now())))
			sh.push(dueItem{at: next, kind: dueFix, d: d, gen: d.gen})
		case <-timer.C:
		}
	}
}

// start starts a case's devices: a first fix within a second (or one
// interval, if shorter) of going live, statuses after it, and the case's
// first episode.
func (sh *shard) start(cs *simCase, now time.Time) {
	s := sh.sim
	n := sh.at(now)
	cs.shard.Store(sh)
	cs.liveAt = s.seconds(now)
	for _, d := range append([]*device{cs.tag}, cs.victims...) {
		first := n + d.rng.Int64N(int64(min(d.interval, time.Second)))
		sh.push(dueItem{at: first, kind: dueFix, d: d, gen: d.gen})
		sh.push(dueItem{at: first + int64(time.Millisecond) + d.rng.Int64N(int64(s.o.StatusEvery)), kind: dueStatus, d: d})
	}
	if cs.kind != "" {
		k := s.episodeSlot()
		cs.nextEp = cs.liveAt + s.o.FirstEpisodeWithin.Seconds()*(float64(k%s.nEpisodeCases)+0.5)/float64(s.nEpisodeCases)
		sh.push(dueItem{at: sh.ns(cs.nextEp - lookahead), kind: duePlan, cs: cs})
	}
}

// lookahead is how long before an episode starts it is planned and its
// expectations are recorded.
const lookahead = 2.0

func (sh *shard) ns(sec float64) int64 { return int64(sec * 1e9) }

func (sh *shard) handle(it dueItem, now time.Time, n int64) {
	s := sh.sim
	switch it.kind {
	case dueFix:
		d := it.d
		if it.gen != d.gen {
			return // superseded by a reschedule
		}
		if !d.silent {
			d.sendFix(now)
		}
		iv := int64(d.effective(now))
		next := it.at + iv
		if next <= n {
			// Behind (a slow broker, a busy machine): catch up by one
			// fix, not by a burst.
			next = n + iv/4
		}
		sh.push(dueItem{at: next, kind: dueFix, d: d, gen: d.gen})
	case dueStatus:
		d := it.d
		if !d.silent {
			d.drain()
			d.sendStatus(now)
		}
		sh.push(dueItem{at: max(it.at+int64(s.o.StatusEvery), n), kind: dueStatus, d: d})
	case dueAct:
		it.act(now)
	case duePlan:
		sh.plan(it.cs, now)
	}
}

// drain runs a device's battery down slowly and charges it when low, well
// clear of the battery alarm; an episode sets it directly.
func (d *device) drain() {
	switch {
	case d.batteryHeld:
	case d.charging && d.battery >= 95:
		d.charging = false
	case d.charging:
		d.battery = min(d.battery+3, 100)
	case d.battery <= 35:
		d.charging = true
	case d.rng.IntN(10) == 0:
		d.battery--
	}
}
