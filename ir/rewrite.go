package ir

import "container/heap"

// Clone returns a deep copy of g (parameters are copied too), so that the
// inference and training pipelines can rewrite the same network apart.
func (g *Graph) Clone() *Graph {
	out := &Graph{Name: g.Name, Spec: g.Spec, Nodes: make([]*Node, len(g.Nodes))}
	for i, n := range g.Nodes {
		c := *n
		c.Args = make([]*Node, len(n.Args))
		c.Params = make([]*Param, len(n.Params))
		for j, p := range n.Params {
			pc := *p
			pc.Shape = append([]int(nil), p.Shape...)
			c.Params[j] = &pc
		}
		out.Nodes[i] = &c
	}
	for i, n := range g.Nodes {
		for j, a := range n.Args {
			out.Nodes[i].Args[j] = out.Nodes[a.ID]
		}
	}
	out.Input, out.Output = out.Nodes[g.Input.ID], out.Nodes[g.Output.ID]
	return out
}

// Replace makes every user of old (and the output, if old is it) use
// new instead. old stays in the graph until Compact drops it.
func (g *Graph) Replace(old, new *Node) {
	for _, n := range g.Nodes {
		for i, a := range n.Args {
			if a == old && n != new {
				n.Args[i] = new
			}
		}
	}
	if g.Output == old {
		g.Output = new
	}
}

// Compact drops the nodes that nothing uses (but the output), then orders
// the rest topologically, keeping the original order wherever the
// arguments allow it, and renumbers them.
func (g *Graph) Compact() {
	for {
		users := g.Users()
		kept := g.Nodes[:0:0]
		for _, n := range g.Nodes {
			if n == g.Output || n == g.Input || len(users[n.ID]) > 0 {
				kept = append(kept, n)
			}
		}
		if len(kept) == len(g.Nodes) {
			break
		}
		g.Nodes = kept
		for i, n := range g.Nodes {
			n.ID = i
		}
	}
	// Kahn's algorithm, always taking the ready node that came first.
	pos := map[*Node]int{}
	for i, n := range g.Nodes {
		pos[n] = i
	}
	waiting := map[*Node]int{}
	users := map[*Node][]*Node{}
	for _, n := range g.Nodes {
		seen := map[*Node]bool{}
		for _, a := range n.Args {
			if !seen[a] {
				seen[a] = true
				waiting[n]++
				users[a] = append(users[a], n)
			}
		}
	}
	ready := &byPos{pos: pos}
	for _, n := range g.Nodes {
		if waiting[n] == 0 {
			heap.Push(ready, n)
		}
	}
	order := make([]*Node, 0, len(g.Nodes))
	for ready.Len() > 0 {
		n := heap.Pop(ready).(*Node)
		order = append(order, n)
		for _, u := range users[n] {
			if waiting[u]--; waiting[u] == 0 {
				heap.Push(ready, u)
			}
		}
	}
	g.Nodes = order
	for i, n := range g.Nodes {
		n.ID = i
	}
}

type byPos struct {
	pos   map[*Node]int
	nodes []*Node
}

func (h *byPos) Len() int           { return len(h.nodes) }
func (h *byPos) Less(i, j int) bool { return h.pos[h.nodes[i]] < h.pos[h.nodes[j]] }
func (h *byPos) Swap(i, j int)      { h.nodes[i], h.nodes[j] = h.nodes[j], h.nodes[i] }
func (h *byPos) Push(x any)         { h.nodes = append(h.nodes, x.(*Node)) }
func (h *byPos) Pop() any {
	n := h.nodes[len(h.nodes)-1]
	h.nodes = h.nodes[:len(h.nodes)-1]
	return n
}
