package ir

import (
	"fmt"
	"math/bits"
)

// Limits keep every size, element count and multiply-add total well inside
// int64, whatever a spec asks for.
const (
	MaxDim         = 1 << 16 // channels, height, width, kernel, stride, padding
	MaxTensorElems = 1 << 31 // elements of one image's activation or of one parameter
	MaxNodes       = 50000   // ResNet-1202 has 4,207; a 10,000-layer CIFAR net still fits
)

// NewGraph starts a graph whose input has the given per-image shape.
func NewGraph(name, spec string, in Shape, pos Pos) (*Graph, error) {
	if err := checkShape(in); err != nil {
		return nil, fmt.Errorf("input %s: %v", in, err)
	}
	g := &Graph{Name: name, Spec: spec}
	g.Input = &Node{ID: 0, Name: "input", Op: OpInput, Shape: in, Pos: pos}
	g.Nodes = []*Node{g.Input}
	g.Output = g.Input
	return g, nil
}

// Add appends n, which has its Op, Name, Args and attributes set, after
// computing its shape and parameters. The new node becomes the output.
// The error says what is wrong without a position; callers add theirs.
func (g *Graph) Add(n *Node) (*Node, error) {
	if len(g.Nodes) >= MaxNodes {
		return nil, fmt.Errorf("network too large: more than %d operations", MaxNodes)
	}
	for _, a := range n.Args {
		if a == nil || a.ID < 0 || a.ID >= len(g.Nodes) || g.Nodes[a.ID] != a {
			return nil, fmt.Errorf("%s: argument is not a node of this graph", n.Name)
		}
	}
	shape, err := infer(n)
	if err != nil {
		return nil, err
	}
	n.Shape = shape
	n.Params = params(n)
	if err := checkParams(n.Params); err != nil {
		return nil, err
	}
	order := 0
	for _, m := range g.Nodes {
		order += len(m.Params)
	}
	for i, p := range n.Params {
		p.Order = order + i
	}
	n.ID = len(g.Nodes)
	g.Nodes = append(g.Nodes, n)
	g.Output = n
	return n, nil
}

// checkParams bounds every parameter's element count, multiplying with
// overflow checks since a spec can ask for any dimensions.
func checkParams(ps []*Param) error {
	for _, p := range ps {
		n := uint64(1)
		for _, d := range p.Shape {
			hi, lo := bits.Mul64(n, uint64(d))
			if d < 0 || hi != 0 || lo > MaxTensorElems {
				return fmt.Errorf("parameter %s %v has more than %d elements", p.Name, p.Shape, MaxTensorElems)
			}
			n = lo
		}
	}
	return nil
}

func checkShape(s Shape) error {
	for _, d := range []int{s.C, s.H, s.W} {
		if d < 1 || d > MaxDim {
			return fmt.Errorf("every dimension must be between 1 and %d", MaxDim)
		}
	}
	if s.Elems() > MaxTensorElems {
		return fmt.Errorf("more than %d elements per image", MaxTensorElems)
	}
	return nil
}

// windowOut is the output length of a window of size k sliding with stride
// s over n padded by p on both sides, as PyTorch computes it (floor).
func windowOut(n, k, s, p int) int { return (n+2*p-k)/s + 1 }

// infer computes the shape an op produces from its arguments and
// attributes, or says why it cannot.
func infer(n *Node) (Shape, error) {
	if int(n.Op) >= len(arity) {
		return Shape{}, fmt.Errorf("unknown op %v", n.Op)
	}
	want := arity[n.Op]
	if (n.Op == OpConv || n.Op == OpBatchNorm) && n.FuseAdd {
		want = 2
	}
	if len(n.Args) != want {
		return Shape{}, fmt.Errorf("%s takes %d arguments, has %d", n.Op, want, len(n.Args))
	}
	if n.Op != OpConv && (n.FoldBN != "" || (n.Op != OpBatchNorm && (n.FuseAdd || n.FuseReLU))) {
		return Shape{}, fmt.Errorf("only a conv (or, without folding, a bn) can have fused operations, not %s", n.Op)
	}
	if n.FoldBN != "" && (!(n.Eps > 0) || !(n.Momentum > 0 && n.Momentum <= 1)) {
		return Shape{}, fmt.Errorf("folded bn needs eps > 0 and momentum in (0, 1], has %g and %g", n.Eps, n.Momentum)
	}
	var x Shape
	if len(n.Args) > 0 {
		x = n.Args[0].Shape
	}
	var out Shape
	switch n.Op {
	case OpInput:
		out = n.Shape
	case OpConv, OpMaxPool:
		if n.Op == OpConv && (n.Out < 1 || n.Out > MaxDim) {
			return Shape{}, fmt.Errorf("output channels %d out of range 1..%d", n.Out, MaxDim)
		}
		if n.KH < 1 || n.KW < 1 || n.KH > MaxDim || n.KW > MaxDim {
			return Shape{}, fmt.Errorf("kernel %dx%d out of range 1..%d", n.KH, n.KW, MaxDim)
		}
		if n.Stride < 1 || n.Stride > MaxDim {
			return Shape{}, fmt.Errorf("stride %d out of range 1..%d", n.Stride, MaxDim)
		}
		if n.Pad < 0 || n.Pad > MaxDim {
			return Shape{}, fmt.Errorf("padding %d out of range 0..%d", n.Pad, MaxDim)
		}
		if n.Op == OpMaxPool && (2*n.Pad > n.KH || 2*n.Pad > n.KW) {
			return Shape{}, fmt.Errorf("padding %d is more than half the %dx%d window", n.Pad, n.KH, n.KW)
		}
		if x.H+2*n.Pad < n.KH || x.W+2*n.Pad < n.KW {
			return Shape{}, fmt.Errorf("the %dx%d input map (padded by %d) is smaller than the %dx%d window",
				x.H, x.W, n.Pad, n.KH, n.KW)
		}
		out = Shape{C: x.C, H: windowOut(x.H, n.KH, n.Stride, n.Pad), W: windowOut(x.W, n.KW, n.Stride, n.Pad)}
		if n.Op == OpConv {
			out.C = n.Out
		}
		if n.FuseAdd && n.Args[1].Shape != out {
			return Shape{}, fmt.Errorf("cannot add %s (%s) to the conv's %s", n.Args[1].Shape, n.Args[1].Name, out)
		}
	case OpBatchNorm:
		if !(n.Eps > 0) || !(n.Momentum > 0 && n.Momentum <= 1) {
			return Shape{}, fmt.Errorf("bn needs eps > 0 and momentum in (0, 1], has %g and %g", n.Eps, n.Momentum)
		}
		out = x
		if n.FuseAdd && n.Args[1].Shape != out {
			return Shape{}, fmt.Errorf("cannot add %s (%s) to the bn's %s", n.Args[1].Shape, n.Args[1].Name, out)
		}
	case OpReLU:
		out = x
	case OpGlobalAvgPool:
		out = Shape{C: x.C, H: 1, W: 1}
	case OpLinear:
		if n.Out < 1 || n.Out > MaxDim {
			return Shape{}, fmt.Errorf("output features %d out of range 1..%d", n.Out, MaxDim)
		}
		out = Shape{C: n.Out, H: 1, W: 1}
	case OpAdd:
		if y := n.Args[1].Shape; x != y {
			return Shape{}, fmt.Errorf("cannot add %s (%s) and %s (%s): shapes differ",
				x, n.Args[0].Name, y, n.Args[1].Name)
		}
		out = x
	case OpShortcutA:
		if n.Stride < 1 || n.Stride > MaxDim || n.PadLo < 0 || n.PadHi < 0 || n.PadLo > MaxDim || n.PadHi > MaxDim {
			return Shape{}, fmt.Errorf("bad option A shortcut: stride %d, channel padding %d+%d", n.Stride, n.PadLo, n.PadHi)
		}
		out = Shape{C: x.C + n.PadLo + n.PadHi, H: (x.H + n.Stride - 1) / n.Stride, W: (x.W + n.Stride - 1) / n.Stride}
	}
	if err := checkShape(out); err != nil {
		return Shape{}, fmt.Errorf("output %s: %v", out, err)
	}
	return out, nil
}

// params lists the tensors an op owns, named and shaped as PyTorch's
// Conv2d, BatchNorm2d and Linear name theirs.
func params(n *Node) []*Param {
	p := func(suffix string, kind ParamKind, shape ...int) *Param {
		return &Param{Name: n.Name + "." + suffix, Kind: kind, Shape: shape}
	}
	switch n.Op {
	case OpConv:
		ps := []*Param{p("weight", Weight, n.Out, n.Args[0].Shape.C, n.KH, n.KW)}
		if n.Bias {
			ps = append(ps, p("bias", Bias, n.Out))
		}
		if n.FoldBN != "" {
			ps = append(ps, bnParams(n.FoldBN, n.Out)...)
		}
		return ps
	case OpBatchNorm:
		return bnParams(n.Name, n.Shape.C)
	case OpLinear:
		return []*Param{p("weight", Weight, n.Out, int(n.Args[0].Shape.Elems())), p("bias", Bias, n.Out)}
	}
	return nil
}

// bnParams are the tensors of a BatchNorm2d named name over c channels.
func bnParams(name string, c int) []*Param {
	p := func(suffix string, kind ParamKind, shape ...int) *Param {
		return &Param{Name: name + "." + suffix, Kind: kind, Shape: shape}
	}
	return []*Param{p("weight", Weight, c), p("bias", Bias, c),
		p("running_mean", RunningMean, c), p("running_var", RunningVar, c),
		p("num_batches_tracked", BatchesTracked)}
}

// MACs is the number of multiply-adds the node costs for one image:
// convolutions and fully connected layers only, as the paper counts.
func (n *Node) MACs() int64 {
	switch n.Op {
	case OpConv:
		return n.Shape.Elems() * int64(n.Args[0].Shape.C) * int64(n.KH) * int64(n.KW)
	case OpLinear:
		return int64(n.Out) * n.Args[0].Shape.Elems()
	}
	return 0
}

// TrainableParams is the number of trained elements the node owns.
func (n *Node) TrainableParams() int64 {
	var t int64
	for _, p := range n.Params {
		if p.Trainable() {
			t += p.Elems()
		}
	}
	return t
}
