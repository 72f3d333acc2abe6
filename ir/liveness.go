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

// LowerBound is the largest total size of values alive at the same node:
// no arena can be smaller. Sizes are floats per image.
func (g *Graph) LowerBound() int {
	delta := make([]int, len(g.Nodes)+2)
	for _, l := range g.Lifetimes() {
		size := int(l.Node.Shape.Elems())
		delta[l.First] += size
		delta[l.Last+1] -= size
	}
	best, live := 0, 0
	for _, d := range delta {
		live += d
		best = max(best, live)
	}
	return best
}

// CheckPlan proves a memory plan: every value lies inside the arena, and
// no two values alive at the same node share a float.
func (g *Graph) CheckPlan() error {
	ls := g.Lifetimes()
	for _, l := range ls {
		n := l.Node
		if n.Offset < 0 || n.Offset+int(n.Shape.Elems()) > g.ArenaFloats {
			return fmt.Errorf("node %q at %d..%d lies outside the %d-float arena", n.Name, n.Offset, n.Offset+int(n.Shape.Elems()), g.ArenaFloats)
		}
	}
	// Sweep by offset: sort by start, compare each value with those whose
	// memory it could reach.
	sort.Slice(ls, func(i, j int) bool { return ls[i].Node.Offset < ls[j].Node.Offset })
	for i, a := range ls {
		end := a.Node.Offset + int(a.Node.Shape.Elems())
		for _, b := range ls[i+1:] {
			if b.Node.Offset >= end {
				break
			}
			if a.Overlap(b) {
				return fmt.Errorf("nodes %q (%d..%d, alive %d..%d) and %q (%d..%d, alive %d..%d) share memory while both are alive",
					a.Node.Name, a.Node.Offset, end, a.First, a.Last,
					b.Node.Name, b.Node.Offset, b.Node.Offset+int(b.Node.Shape.Elems()), b.First, b.Last)
			}
		}
	}
	return nil
}
