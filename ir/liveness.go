package ir

import (
	"fmt"
	"sort"
)

// Lifetime is the span of the schedule (node positions, both ends
// included) during which a value must be kept: from the node that defines
// it to the last node that reads it, or to the end for the output.
type Lifetime struct {
	Node        *Node
	Grad        bool // the gradient of Node's value, in a training step
	Loop        bool // the value in the image loop's plan (Node.LoopOffset)
	First, Last int
}

// Lifetimes returns the lifetime of every value but the input, which the
// caller owns, in schedule order.
func (g *Graph) Lifetimes() []Lifetime {
	last := make([]int, len(g.Nodes))
	for _, n := range g.Nodes {
		last[n.ID] = n.ID
		for _, a := range n.Args {
			last[a.ID] = max(last[a.ID], n.ID)
		}
	}
	last[g.Output.ID] = len(g.Nodes)
	out := make([]Lifetime, 0, len(g.Nodes)-1)
	for _, n := range g.Nodes[1:] {
		out = append(out, Lifetime{Node: n, First: n.ID, Last: last[n.ID]})
	}
	return out
}

// Overlap reports whether two lifetimes share a node. Sharing the node
// where one ends and the other begins counts: that node reads the one
// while it writes the other.
func (a Lifetime) Overlap(b Lifetime) bool { return a.First <= b.Last && b.First <= a.Last }

// LowerBound is the largest total size of values alive at the same time:
// no arena can be smaller. Sizes are floats per image.
func LowerBound(ls []Lifetime) int {
	return int(LiveBound(ls, func(l Lifetime) int64 { return int64(l.Size()) }))
}

// LiveBound is LowerBound with each value's size given by size (an image
// loop's values, say, counted once and the others a batch's times).
func LiveBound(ls []Lifetime, size func(Lifetime) int64) int64 {
	end := 0
	for _, l := range ls {
		end = max(end, l.Last)
	}
	delta := make([]int64, end+2)
	for _, l := range ls {
		delta[l.First] += size(l)
		delta[l.Last+1] -= size(l)
	}
	var best, live int64
	for _, d := range delta {
		live += d
		best = max(best, live)
	}
	return best
}

// CheckPlan proves an inference memory plan: every value lies inside the
// arena, and no two values alive at the same node share a float; with an
// image loop, the same of its plan's two regions.
func (g *Graph) CheckPlan() error {
	if err := checkPlacement(g.Lifetimes(), g.ArenaFloats); err != nil {
		return err
	}
	if g.ImageLoop == 0 {
		return nil
	}
	perImage, batch := g.LoopLifetimes()
	if err := checkPlacement(perImage, g.LoopFloats); err != nil {
		return fmt.Errorf("the image loop's plan, per image: %v", err)
	}
	if err := checkPlacement(batch, g.LoopArenaFloats); err != nil {
		return fmt.Errorf("the image loop's plan: %v", err)
	}
	return nil
}

// LoopLifetimes are the inference lifetimes in the image loop's plan,
// the PerImage values' apart from the others'.
func (g *Graph) LoopLifetimes() (perImage, batch []Lifetime) {
	for _, l := range g.Lifetimes() {
		l.Loop = true
		if l.Node.PerImage {
			perImage = append(perImage, l)
		} else {
			batch = append(batch, l)
		}
	}
	return perImage, batch
}

// CheckTrainPlan proves a training memory plan in the same way, over the
// values and gradients of TrainLifetimes.
func (g *Graph) CheckTrainPlan() error { return checkPlacement(g.TrainLifetimes(), g.TrainArenaFloats) }

func checkPlacement(ls []Lifetime, arena int) error {
	for _, l := range ls {
		if l.Offset() < 0 || l.Offset()+l.Size() > arena {
			return fmt.Errorf("%s at %d..%d lies outside the %d-float arena", l, l.Offset(), l.Offset()+l.Size(), arena)
		}
	}
	// Sweep by offset: sort by start, compare each value with those whose
	// memory it could reach.
	sort.Slice(ls, func(i, j int) bool { return ls[i].Offset() < ls[j].Offset() })
	for i, a := range ls {
		end := a.Offset() + a.Size()
		for _, b := range ls[i+1:] {
			if b.Offset() >= end {
				break
			}
			if a.Overlap(b) {
				return fmt.Errorf("%s (%d..%d, alive %d..%d) and %s (%d..%d, alive %d..%d) share memory while both are alive",
					a, a.Offset(), end, a.First, a.Last, b, b.Offset(), b.Offset()+b.Size(), b.First, b.Last)
			}
		}
	}
	return nil
}

// Offset is where the lifetime's value is placed.
func (l Lifetime) Offset() int {
	switch {
	case l.Grad:
		return l.Node.GradOffset
	case l.Loop:
		return l.Node.LoopOffset
	}
	return l.Node.Offset
}

// SetOffset places the lifetime's value.
func (l Lifetime) SetOffset(off int) {
	switch {
	case l.Grad:
		l.Node.GradOffset = off
	case l.Loop:
		l.Node.LoopOffset = off
	default:
		l.Node.Offset = off
	}
}

// Size is the value's size in floats per image.
func (l Lifetime) Size() int { return int(l.Node.Shape.Elems()) }

func (l Lifetime) String() string {
	if l.Grad {
		return fmt.Sprintf("the gradient of %q", l.Node.Name)
	}
	return fmt.Sprintf("node %q", l.Node.Name)
}

// TrainLifetimes are the lifetimes of a training step's values and
// gradients on its schedule: the forward pass runs node n at time n, the
// loss at time N+1 (N nodes after the input), and the backward pass of
// node n at time 2N+2-n. A value lives until the last forward or backward
// step that reads it (a conv, BN, max pool or fc reads its input again
// backward; a ReLU, fused or not, reads its output); the logits live to the end, for
// Trainer.Logits. A gradient lives from the first backward step that adds
// to it (its last user's) to its node's own backward step.
func (g *Graph) TrainLifetimes() []Lifetime {
	n := len(g.Nodes) - 1
	back := func(node *Node) int { return 2*n + 2 - node.ID }
	last := make([]int, len(g.Nodes))
	gradFirst := make([]int, len(g.Nodes))
	for _, u := range g.Nodes {
		last[u.ID] = max(last[u.ID], u.ID)
		if u.Op == OpReLU || u.FuseReLU {
			last[u.ID] = max(last[u.ID], back(u)) // its sign is the ReLU's mask
		}
		for i, a := range u.Args {
			last[a.ID] = max(last[a.ID], u.ID)
			switch u.Op {
			case OpConv, OpBatchNorm, OpMaxPool, OpLinear:
				if i == 0 { // not a fused residual, which backward never reads
					last[a.ID] = max(last[a.ID], back(u))
				}
			}
			if gradFirst[a.ID] == 0 || back(u) < gradFirst[a.ID] {
				gradFirst[a.ID] = back(u)
			}
		}
	}
	end := 2*n + 2
	last[g.Output.ID] = end
	gradFirst[g.Output.ID] = n + 1
	out := make([]Lifetime, 0, 2*n)
	for _, node := range g.Nodes[1:] {
		out = append(out, Lifetime{Node: node, First: node.ID, Last: last[node.ID]})
		out = append(out, Lifetime{Node: node, Grad: true, First: gradFirst[node.ID], Last: back(node)})
	}
	return out
}
