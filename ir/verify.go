package ir

import (
	"fmt"
	"slices"
)

// Verify checks the invariants every pass must keep: nodes are numbered by
// position, names are unique, arguments are defined before use, each
// node's shape and parameters are what its op and arguments imply, and
// every node but the output is used.
func (g *Graph) Verify() error {
	if len(g.Nodes) == 0 || g.Nodes[0] != g.Input || g.Input.Op != OpInput {
		return fmt.Errorf("%s: the first node must be the input", g.Name)
	}
	if g.Output == nil || g.Output.ID < 0 || g.Output.ID >= len(g.Nodes) || g.Nodes[g.Output.ID] != g.Output {
		return fmt.Errorf("%s: the output is not a node of the graph", g.Name)
	}
	names := map[string]*Node{}
	paramNames := map[string]string{}
	orders := map[int]string{}
	for i, n := range g.Nodes {
		if n.ID != i {
			return fmt.Errorf("node %q has ID %d at position %d", n.Name, n.ID, i)
		}
		if n.Name == "" {
			return fmt.Errorf("node %d has no name", i)
		}
		if prev, ok := names[n.Name]; ok {
			return fmt.Errorf("nodes %d and %d are both named %q", prev.ID, i, n.Name)
		}
		names[n.Name] = n
		if i > 0 && n.Op == OpInput {
			return fmt.Errorf("node %q: only the first node may be the input", n.Name)
		}
		for _, a := range n.Args {
			if a == nil || a.ID < 0 || a.ID >= i || g.Nodes[a.ID] != a {
				return fmt.Errorf("node %q uses a value that is not defined before it", n.Name)
			}
		}
		want, err := infer(n)
		if err != nil {
			return fmt.Errorf("node %q: %v", n.Name, err)
		}
		if want != n.Shape {
			return fmt.Errorf("node %q: shape %s, but its op and arguments give %s", n.Name, n.Shape, want)
		}
		if n.Op == OpConv && n.Lowering == LowerDirect && !n.DirectOK() {
			return fmt.Errorf("node %q: lowered direct, but a %dx%d stride-%d pad-%d conv needs its columns gathered", n.Name, n.KH, n.KW, n.Stride, n.Pad)
		}
		if n.Op == OpConv && (n.Lowering == LowerWinograd || n.Lowering == LowerWinograd4) && !n.WinogradOK() {
			return fmt.Errorf("node %q: lowered to Winograd (%s), but it is a %dx%d stride-%d pad-%d conv", n.Name, n.Lowering, n.KH, n.KW, n.Stride, n.Pad)
		}
		if n.Op == OpConv && n.Lowering == LowerWinogradS2 && !n.WinogradS2OK() {
			return fmt.Errorf("node %q: lowered to the stride-2 Winograd (%s), but it is a %dx%d stride-%d pad-%d conv", n.Name, n.Lowering, n.KH, n.KW, n.Stride, n.Pad)
		}
		if n.Winograd4From != 0 && (n.Lowering != LowerWinograd || n.Winograd4From < 2) {
			return fmt.Errorf("node %q: F(4x4, 3x3) from batch %d, but only a conv lowered to winograd can switch to it, from a batch of 2 or more (lowered to %s)", n.Name, n.Winograd4From, n.Lowering)
		}
		if n.Op != OpConv && n.Lowering != LowerNone {
			return fmt.Errorf("node %q: a %s has no lowering", n.Name, n.Op)
		}
		wantParams := params(n)
		if err := checkParams(n.Params); err != nil {
			return fmt.Errorf("node %q: %v", n.Name, err)
		}
		if len(wantParams) != len(n.Params) {
			return fmt.Errorf("node %q: has %d parameters, its op needs %d", n.Name, len(n.Params), len(wantParams))
		}
		for j, p := range n.Params {
			w := wantParams[j]
			if p.Name != w.Name || p.Kind != w.Kind || !slices.Equal(p.Shape, w.Shape) {
				return fmt.Errorf("node %q: parameter %s %v, its op needs %s %v", n.Name, p.Name, p.Shape, w.Name, w.Shape)
			}
			if other, ok := paramNames[p.Name]; ok {
				return fmt.Errorf("parameter %s belongs to both %q and %q", p.Name, other, n.Name)
			}
			paramNames[p.Name] = n.Name
			if other, ok := orders[p.Order]; ok {
				return fmt.Errorf("parameters %s and %s have the same state_dict position %d", other, p.Name, p.Order)
			}
			orders[p.Order] = p.Name
		}
	}
	users := g.Users()
	for _, n := range g.Nodes {
		if n != g.Output && len(users[n.ID]) == 0 {
			return fmt.Errorf("node %q is dangling: nothing uses its value", n.Name)
		}
	}
	if err := g.verifyImageLoop(users); err != nil {
		return err
	}
	if g.ArenaFloats > 0 && g.TrainArenaFloats > 0 {
		return fmt.Errorf("%s: a graph has an inference plan or a training plan, not both", g.Name)
	}
	if g.ArenaFloats > 0 {
		return g.CheckPlan()
	}
	if g.TrainArenaFloats > 0 {
		return g.CheckTrainPlan()
	}
	return nil
}

// verifyImageLoop checks the image loop: a prefix of the schedule that
// leaves the output after it, whose PerImage values only the loop reads.
func (g *Graph) verifyImageLoop(users [][]*Node) error {
	if g.ImageLoop < 0 || g.ImageLoop > 0 && g.ImageLoop >= g.Output.ID {
		return fmt.Errorf("%s: the image loop (nodes 1..%d) must end before the output (node %d)", g.Name, g.ImageLoop, g.Output.ID)
	}
	if g.ImageLoop > 0 && g.TrainArenaFloats > 0 {
		return fmt.Errorf("%s: a training step has no image loop", g.Name)
	}
	for _, n := range g.Nodes {
		if !n.PerImage {
			continue
		}
		if n.ID < 1 || n.ID > g.ImageLoop {
			return fmt.Errorf("node %q is held per image but runs outside the image loop (nodes 1..%d)", n.Name, g.ImageLoop)
		}
		for _, u := range users[n.ID] {
			if u.ID > g.ImageLoop {
				return fmt.Errorf("node %q is held per image, but %q reads it after the image loop", n.Name, u.Name)
			}
		}
	}
	return nil
}
