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
	g.ArenaFloats = place(g.Lifetimes())
	return nil
}

// PlanTrainingMemory plans one arena for a training step: the values the
// backward pass needs and the gradients, by the same method, on the
// schedule of ir.Graph.TrainLifetimes. Parameter gradients and optimizer
// state are kept apart (they live as long as the trainer).
func PlanTrainingMemory(g *ir.Graph) error {
	g.TrainArenaFloats = place(g.TrainLifetimes())
	return nil
}

// place assigns offsets to the lifetimes and returns the arena size.
func place(ls []ir.Lifetime) int {
	order := make([]int, len(ls))
	for i := range order {
		order[i] = i
	}
	size := func(i int) int { return ls[i].Size() }
	offset := make([]int, len(ls))
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
			off := offset[j]
			if gap := off - prevEnd; gap >= need && (best < 0 || gap < bestGap) {
				best, bestGap = prevEnd, gap
			}
			prevEnd = max(prevEnd, off+size(j))
		}
		if best < 0 {
			best = prevEnd // after every overlapping value
		}
		offset[i] = best
		ls[i].SetOffset(best)
		arena = max(arena, best+need)
		at := sort.Search(len(placed), func(k int) bool { return offset[placed[k]] >= best })
		placed = append(placed, 0)
		copy(placed[at+1:], placed[at:])
		placed[at] = i
	}
	return arena
}

// Memory is what a plan costs, in bytes for a given batch.
type Memory struct {
	Naive      int64 `json:"naive_bytes"`       // every value its own buffer
	Planned    int64 `json:"planned_bytes"`     // the planned arena
	LowerBound int64 `json:"lower_bound_bytes"` // the most bytes alive at once
}

// MemoryOf reports a planned graph's arena for batch images of float32:
// the training plan's if it has one, else the inference plan's.
func MemoryOf(g *ir.Graph, batch int) Memory {
	ls, planned := g.Lifetimes(), g.ArenaFloats
	if g.TrainArenaFloats > 0 {
		ls, planned = g.TrainLifetimes(), g.TrainArenaFloats
	}
	var naive int64
	for _, l := range ls {
		naive += int64(l.Size())
	}
	b := int64(batch) * 4
	return Memory{Naive: naive * b, Planned: int64(planned) * b, LowerBound: int64(ir.LowerBound(ls)) * b}
}
