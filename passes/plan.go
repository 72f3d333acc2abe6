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
//
// With an image loop it makes a second plan, for batches of more than one
// image (LoopOffset): the PerImage values in a region of their own, which
// holds one image's whatever the batch, the others after it. A batch of
// one runs every layer on the whole batch, in the first plan: the loop
// would change nothing there, and the first plan's values share memory
// across the two regions.
func PlanMemory(g *ir.Graph) error {
	g.ArenaFloats = place(g.Lifetimes())
	g.LoopFloats, g.LoopArenaFloats = 0, 0
	if g.ImageLoop > 0 {
		perImage, batch := g.LoopLifetimes()
		g.LoopFloats = place(perImage)
		g.LoopArenaFloats = place(batch)
	}
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
// the training plan's if it has one, else the inference plan's. Naive
// counts every value's whole batch, as if there were no image loop; with
// one (batches of more than one image), the plan and the lower bound count
// one image of the PerImage values.
func MemoryOf(g *ir.Graph, batch int) Memory {
	b := int64(batch) * 4
	if g.TrainArenaFloats > 0 {
		ls := g.TrainLifetimes()
		return Memory{Naive: naiveFloats(ls) * b, Planned: int64(g.TrainArenaFloats) * b, LowerBound: int64(ir.LowerBound(ls)) * b}
	}
	ls := g.Lifetimes()
	m := Memory{Naive: naiveFloats(ls) * b, Planned: int64(g.ArenaFloats) * b, LowerBound: int64(ir.LowerBound(ls)) * b}
	if g.ImageLoop > 0 && batch > 1 {
		m.Planned = int64(g.LoopFloats)*4 + int64(g.LoopArenaFloats)*b
		m.LowerBound = 4 * ir.LiveBound(ls, func(l ir.Lifetime) int64 {
			if l.Node.PerImage {
				return int64(l.Size()) // one image's, whatever the batch
			}
			return int64(l.Size()) * int64(batch)
		})
	}
	return m
}

func naiveFloats(ls []ir.Lifetime) int64 {
	var n int64
	for _, l := range ls {
		n += int64(l.Size())
	}
	return n
}
