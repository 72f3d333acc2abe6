package passes

import (
	"sort"

	"github.com/resnetc/resnetc/ir"
)

// PlanMemory gives every value an offset in one arena so that values alive
// at the same time never share memory (ir.Graph.CheckPlan proves it after
// the pass). It places the largest values first, each in the smallest gap
// left between the already placed values whose lifetimes overlap its own
// (greedy by size, best fit), which in practice lands at or near the
// lower bound.
func PlanMemory(g *ir.Graph) error {
	ls := g.Lifetimes()
	order := make([]int, len(ls))
	for i := range order {
		order[i] = i
	}
	size := func(i int) int { return int(ls[i].Node.Shape.Elems()) }
	sort.SliceStable(order, func(a, b int) bool {
		if size(order[a]) != size(order[b]) {
			return size(order[a]) > size(order[b])
		}
		return ls[order[a]].First < ls[order[b]].First
	})
	var placed []int // indexes into ls, kept sorted by offset
	arena := 0
	for _, i := range order {
		need := size(i)
		best, bestGap, prevEnd := -1, 0, 0
		for _, j := range placed {
			if !ls[i].Overlap(ls[j]) {
				continue
			}
			off := ls[j].Node.Offset
			if gap := off - prevEnd; gap >= need && (best < 0 || gap < bestGap) {
				best, bestGap = prevEnd, gap
			}
			prevEnd = max(prevEnd, off+size(j))
		}
		if best < 0 {
			best = prevEnd // after every overlapping value
		}
		ls[i].Node.Offset = best
		arena = max(arena, best+need)
		at := sort.Search(len(placed), func(k int) bool { return ls[placed[k]].Node.Offset >= best })
		placed = append(placed, 0)
		copy(placed[at+1:], placed[at:])
		placed[at] = i
	}
	g.ArenaFloats = arena
	return nil
}

// Memory is what a plan costs, in bytes for a given batch.
type Memory struct {
	Naive      int64 `json:"naive_bytes"`       // every value its own buffer
	Planned    int64 `json:"planned_bytes"`     // the planned arena
	LowerBound int64 `json:"lower_bound_bytes"` // the most bytes alive at once
}

// MemoryOf reports a planned graph's arena for batch images of float32.
func MemoryOf(g *ir.Graph, batch int) Memory {
	var naive int64
	for _, l := range g.Lifetimes() {
		naive += l.Node.Shape.Elems()
	}
	b := int64(batch) * 4
	return Memory{Naive: naive * b, Planned: int64(g.ArenaFloats) * b, LowerBound: int64(g.LowerBound()) * b}
}
