package geo

import (
	"cmp"
	"slices"

	"github.com/tidwall/rtree"
)

// PositionIndex holds the latest position of each device and finds the
// devices near a place. The zero value is an empty index. It is not safe
// for concurrent use.
//
// Each position is filed in the R-tree under a small box around it rather
// than under the point itself, and stays filed there while the device moves
// within that box, so that most updates touch only the entry: a device
// walking or driving between fixes seldom leaves it. A search that finds a
// box checks the current position, so the slack never hides a device.
type PositionIndex struct {
	tree rtree.RTreeG[*positionEntry]
	byID map[string]*positionEntry
}

type positionEntry struct {
	id  string
	p   Point
	box Rect // the box it is filed under, containing p
}

// positionSlack is the half-width of a filed box, in degrees (about 110 m
// of latitude).
const positionSlack = 1e-3

// Set records p as the position of device id. An invalid p is ignored: the
// previous position, if any, stays. No allocation once the device is known,
// as long as it stays within its box.
func (x *PositionIndex) Set(id string, p Point) {
	if !p.Valid() {
		return
	}
	e := x.byID[id]
	if e == nil {
		if x.byID == nil {
			x.byID = make(map[string]*positionEntry)
		}
		e = &positionEntry{id: id}
		x.byID[id] = e
	} else if e.box.contains(p) {
		e.p = p
		return
	} else {
		x.tree.Delete(rectMin(e.box), rectMax(e.box), e)
	}
	e.p = p
	e.box = Rect{
		Min: Point{Lat: p.Lat - positionSlack, Lon: p.Lon - positionSlack},
		Max: Point{Lat: p.Lat + positionSlack, Lon: p.Lon + positionSlack},
	}
	x.tree.Insert(rectMin(e.box), rectMax(e.box), e)
}

// Get returns the position of device id.
func (x *PositionIndex) Get(id string) (Point, bool) {
	if e := x.byID[id]; e != nil {
		return e.p, true
	}
	return Point{}, false
}

// Delete forgets device id and reports whether it was known.
func (x *PositionIndex) Delete(id string) bool {
	e := x.byID[id]
	if e == nil {
		return false
	}
	x.tree.Delete(rectMin(e.box), rectMax(e.box), e)
	delete(x.byID, id)
	return true
}

// Len returns the number of devices with a position.
func (x *PositionIndex) Len() int {
	return len(x.byID)
}

// Near calls fn for every device within radiusM metres (geodesic) of p,
// nearest first (ties by id), with its position and exact distance, until
// fn returns false. fn must not modify the index.
func (x *PositionIndex) Near(p Point, radiusM float64, fn func(id string, q Point, distM float64) bool) {
	if !p.Valid() {
		return
	}
	type hit struct {
		e *positionEntry
		d float64
	}
	var hits []hit
	var buf [2]Rect
	for _, r := range AppendRectsAround(buf[:0], p, radiusM) {
		x.tree.Search(rectMin(r), rectMax(r), func(_, _ [2]float64, e *positionEntry) bool {
			// The query boxes do not overlap, and each position lies in at
			// most one of them.
			if r.contains(e.p) {
				if a := ApproxDistance(p, e.p); a.D-a.Err <= radiusM {
					if d := Distance(p, e.p); d <= radiusM {
						hits = append(hits, hit{e, d})
					}
				}
			}
			return true
		})
	}
	slices.SortFunc(hits, func(a, b hit) int {
		return cmp.Or(cmp.Compare(a.d, b.d), cmp.Compare(a.e.id, b.e.id))
	})
	for _, h := range hits {
		if !fn(h.e.id, h.e.p, h.d) {
			return
		}
	}
}

// BoxIndex maps lon/lat boxes to values, typically each zone's Bounds
// expanded by its approach band, and finds the values whose boxes meet the
// box around a point. The zero value is an empty index. It is not safe for
// concurrent use.
type BoxIndex[T comparable] struct {
	tree rtree.RTreeG[boxItem[T]]
	n    int
}

// boxEntry is one Insert: a value and its boxes.
type boxEntry[T comparable] struct {
	v     T
	rects []Rect
}

// boxItem is one box of an entry, as filed in the R-tree.
type boxItem[T comparable] struct {
	e *boxEntry[T]
	i int // index in e.rects
}

// Insert files v under rects (one or more boxes, as from Shape.Bounds). A
// value inserted twice is held twice. A value without boxes is never found.
func (x *BoxIndex[T]) Insert(rects []Rect, v T) {
	if len(rects) == 0 {
		return
	}
	e := &boxEntry[T]{v: v, rects: slices.Clone(rects)}
	for i, r := range e.rects {
		x.tree.Insert(rectMin(r), rectMax(r), boxItem[T]{e, i})
	}
	x.n++
}

// Delete removes one entry of v inserted with exactly these rects and
// reports whether there was one.
func (x *BoxIndex[T]) Delete(rects []Rect, v T) bool {
	if len(rects) == 0 {
		return false
	}
	var found *boxEntry[T]
	x.tree.Search(rectMin(rects[0]), rectMax(rects[0]), func(_, _ [2]float64, it boxItem[T]) bool {
		if it.i == 0 && it.e.v == v && slices.Equal(it.e.rects, rects) {
			found = it.e
			return false
		}
		return true
	})
	if found == nil {
		return false
	}
	for i, r := range found.rects {
		x.tree.Delete(rectMin(r), rectMax(r), boxItem[T]{found, i})
	}
	x.n--
	return true
}

// Len returns the number of entries.
func (x *BoxIndex[T]) Len() int {
	return x.n
}

// Search calls fn, until it returns false, with the value of every entry
// one of whose boxes meets a box around p that holds every point within
// radiusM metres of it (AppendRectsAround); boxes that touch count. Each
// entry is reported once, however many of its boxes meet the query (an
// entry is reported from the first of its boxes that does). So an entry
// whose boxes contain every point within some margin of a zone is found for
// every p within margin + radiusM of the zone. No allocation. fn must not
// modify the index.
func (x *BoxIndex[T]) Search(p Point, radiusM float64, fn func(v T) bool) {
	var buf [2]Rect
	q := AppendRectsAround(buf[:0], p, radiusM)
	s := boxSearch[T]{q: q, fn: fn}
	for s.qi = range q {
		x.tree.Search(rectMin(q[s.qi]), rectMax(q[s.qi]), s.visit)
		if s.stop {
			return
		}
	}
}

// boxSearch is the state of one Search.
type boxSearch[T comparable] struct {
	q    []Rect
	qi   int
	fn   func(T) bool
	stop bool
}

func (s *boxSearch[T]) visit(_, _ [2]float64, it boxItem[T]) bool {
	// Skip unless this is the first (query box, entry box) pair that meets.
	for qj := 0; qj <= s.qi; qj++ {
		last := len(it.e.rects)
		if qj == s.qi {
			last = it.i
		}
		for rj := 0; rj < last; rj++ {
			if it.e.rects[rj].Intersects(s.q[qj]) {
				return true
			}
		}
	}
	if !s.fn(it.e.v) {
		s.stop = true
		return false
	}
	return true
}

func rectMin(r Rect) [2]float64 { return [2]float64{r.Min.Lon, r.Min.Lat} }
func rectMax(r Rect) [2]float64 { return [2]float64{r.Max.Lon, r.Max.Lat} }
