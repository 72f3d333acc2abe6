// Package ir is resnetc's typed graph: operations with static per-image
// C x H x W shapes (the batch stays symbolic), their parameters named as in
// PyTorch's state_dict, and a verifier that every pass can rerun.
package ir

import (
	"fmt"
	"sort"
	"strings"
)

// Op is the kind of operation a node performs.
type Op uint8

// The operations of the paper's networks.
const (
	OpInput         Op = iota // the network input
	OpConv                    // 2-D convolution, optional bias
	OpBatchNorm               // batch normalization over N, H, W per channel
	OpReLU                    // max(x, 0)
	OpMaxPool                 // max pooling with -inf padding
	OpGlobalAvgPool           // mean over H x W
	OpLinear                  // fully connected on the flattened C*H*W features
	OpAdd                     // element-wise sum of two equal shapes (residual join)
	OpShortcutA               // option A shortcut: subsample by Stride, zero-pad channels
)

var opNames = [...]string{
	OpInput:         "input",
	OpConv:          "conv",
	OpBatchNorm:     "bn",
	OpReLU:          "relu",
	OpMaxPool:       "maxpool",
	OpGlobalAvgPool: "avgpool",
	OpLinear:        "fc",
	OpAdd:           "add",
	OpShortcutA:     "shortcutA",
}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// arity is the number of arguments each op takes.
var arity = [...]int{OpInput: 0, OpConv: 1, OpBatchNorm: 1, OpReLU: 1, OpMaxPool: 1,
	OpGlobalAvgPool: 1, OpLinear: 1, OpAdd: 2, OpShortcutA: 1}

// Shape is the per-image shape of a value: channels, height, width.
// Vectors (the logits) are C x 1 x 1.
type Shape struct{ C, H, W int }

func (s Shape) String() string { return fmt.Sprintf("%dx%dx%d", s.C, s.H, s.W) }

// Elems is the number of elements of one image's tensor.
func (s Shape) Elems() int64 { return int64(s.C) * int64(s.H) * int64(s.W) }

// Pos is the place in the spec a node came from, for messages.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Node is one operation and the value it defines. Attribute fields are
// meaningful only for the ops named in their comments.
type Node struct {
	ID    int    // index in Graph.Nodes
	Name  string // unique, deterministic: "layer1.0.conv1"
	Op    Op
	Args  []*Node
	Shape Shape

	Out    int  // conv: output channels; linear: output features
	KH, KW int  // conv, maxpool: window
	Stride int  // conv, maxpool, shortcutA
	Pad    int  // conv, maxpool: zero (conv) or -inf (pool) padding on every side
	Bias   bool // conv: has a bias; linear always has one

	PadLo, PadHi int // shortcutA: zero channels added before and after

	Eps, Momentum float64 // bn, and conv with FoldBN: as PyTorch's BatchNorm2d (1e-5, 0.1)

	// Fusion (set by passes): FoldBN (conv only) names a batch norm folded
	// into the conv, whose parameters the conv now carries; FuseAdd (conv or
	// bn) means Args[1] is added to the result (a residual join); FuseReLU
	// applies max(0, .) last. A conv computes relu(bn(conv(x)) + Args[1]),
	// a bn relu(bn(x) + Args[1]).
	FoldBN   string
	FuseAdd  bool
	FuseReLU bool

	// Lowering (conv only; set by the lower-conv pass) is how code
	// generation computes the convolution.
	Lowering Lowering
	// Winograd4From (an inference conv lowered to LowerWinograd only; set
	// by the lower-conv pass), if not 0, is the batch from which it goes
	// by F(4x4, 3x3) instead: one image has too few tiles for its weights,
	// a batch of that many shares them.
	Winograd4From int

	Params []*Param

	// Offset is where the node's value starts in the activation arena, in
	// floats per image (a batch multiplies it), once memory is planned.
	Offset int
	// PerImage (inference; set by the image-loop pass) means the value is
	// held for one image at a time when the image loop runs: its node runs
	// in the loop and only nodes of the loop read it.
	PerImage bool
	// LoopOffset is where the value lies in the image loop's plan: for a
	// PerImage value in its first region (Graph.LoopFloats, which a batch
	// does not multiply), for the others after it, in floats per image.
	LoopOffset int
	// GradOffset is where the gradient of the node's value starts in the
	// training arena, which also holds the values (at Offset), once the
	// training step's memory is planned.
	GradOffset int

	// Block is the residual block instance the node belongs to ("layer1.0"),
	// Stage the stage that holds that block ("layer1"); both empty outside.
	Block, Stage string
	// Shortcut marks nodes on a block's shortcut path (projection or option A).
	Shortcut bool

	Pos Pos
}

// Lowering is how a convolution becomes matrix products.
type Lowering uint8

// The lowerings. LowerNone is a conv no pass has lowered yet.
const (
	LowerNone Lowering = iota
	// LowerDirect: a 1x1, stride-1, unpadded conv multiplies its input as
	// it lies (channels x positions), with no copy.
	LowerDirect
	// LowerIm2col: the input's columns are gathered into a scratch matrix
	// reused by every conv (its size is the largest such conv's), then
	// multiplied.
	LowerIm2col
	// LowerWinograd: a 3x3 stride-1 conv is computed by Winograd
	// F(2x2, 3x3) from weights transformed once (in training, on every
	// step), and so is its input gradient.
	LowerWinograd
	// LowerWinograd4: the same by Winograd F(4x4, 3x3).
	LowerWinograd4
	// LowerWinogradS2: a 3x3 stride-2 conv is computed, in inference
	// only, by Winograd on its polyphase parts (F(2, 2) on the even
	// inputs, 1 tap on the odd ones): 25 multiplies per 2x2 output tile
	// instead of 36.
	LowerWinogradS2
)

func (l Lowering) String() string {
	switch l {
	case LowerDirect:
		return "direct"
	case LowerIm2col:
		return "im2col"
	case LowerWinograd:
		return "winograd"
	case LowerWinograd4:
		return "winograd4"
	case LowerWinogradS2:
		return "winograd-s2"
	}
	return "none"
}

// DirectOK reports whether n's input is already its GEMM operand: a 1x1
// kernel, stride 1, no padding.
func (n *Node) DirectOK() bool {
	return n.KH == 1 && n.KW == 1 && n.Stride == 1 && n.Pad == 0
}

// WinogradOK reports whether Winograd F(2x2, 3x3) computes n and its
// input gradient: a 3x3 kernel at stride 1, padded by at most 2.
func (n *Node) WinogradOK() bool {
	return n.KH == 3 && n.KW == 3 && n.Stride == 1 && n.Pad <= 2
}

// WinogradS2OK reports whether the stride-2 Winograd computes n: a 3x3
// kernel at stride 2, padded by at most 2.
func (n *Node) WinogradS2OK() bool {
	return n.KH == 3 && n.KW == 3 && n.Stride == 2 && n.Pad <= 2
}

// ParamKind says what a parameter tensor holds.
type ParamKind uint8

// Parameter kinds. Only weights and biases are trained; the others are
// BatchNorm buffers that PyTorch also keeps in its state_dict.
const (
	Weight ParamKind = iota
	Bias
	RunningMean
	RunningVar
	BatchesTracked // int64 scalar, as torch's num_batches_tracked
)

// Param is a named tensor of a node.
type Param struct {
	Name  string // state_dict key: "layer1.0.conv1.weight"
	Kind  ParamKind
	Shape []int
	Order int // position in the state_dict, kept when passes move nodes
}

// Fusions names what a fused node computes besides its op, in order:
// "bn", "add", "relu". It is empty for an unfused node.
func (n *Node) Fusions() []string {
	var f []string
	if n.FoldBN != "" {
		f = append(f, "bn")
	}
	if n.FuseAdd {
		f = append(f, "add")
	}
	if n.FuseReLU {
		f = append(f, "relu")
	}
	return f
}

// Trainable reports whether SGD updates the parameter.
func (p *Param) Trainable() bool { return p.Kind == Weight || p.Kind == Bias }

// Elems is the number of elements (1 for a scalar).
func (p *Param) Elems() int64 {
	n := int64(1)
	for _, d := range p.Shape {
		n *= int64(d)
	}
	return n
}

// Graph is a whole network in topological order: Nodes[0] is the input and
// every node's arguments come before it.
type Graph struct {
	Name   string // network name from the spec
	Spec   string // the spec's file name, for generated headers
	Nodes  []*Node
	Input  *Node
	Output *Node
	// ArenaFloats is the size of the planned activation arena, in floats
	// per image; 0 until memory is planned. The input lives outside it.
	ArenaFloats int
	// ImageLoop is how many nodes after the input may run image by image in
	// inference (the image-loop pass), the rest on the whole batch; 0 when
	// every node runs on the whole batch. A batch of one, or a GPU, runs
	// them all on the whole batch, in the plan of ArenaFloats.
	ImageLoop int
	// LoopFloats and LoopArenaFloats size the image loop's plan: a first
	// region for one image's PerImage values, then LoopArenaFloats per
	// image for the others (LoopOffset).
	LoopFloats, LoopArenaFloats int
	// TrainArenaFloats is the size of the planned training arena (values
	// kept for the backward pass and their gradients), in floats per
	// image; 0 until planned. A graph has one plan or the other.
	TrainArenaFloats int
}

// Params lists every parameter in node order, which is also the order of
// a PyTorch state_dict for the same modules.
func (g *Graph) Params() []*Param {
	var ps []*Param
	for _, n := range g.Nodes {
		ps = append(ps, n.Params...)
	}
	return ps
}

// StateDict lists every parameter in PyTorch's state_dict order, the order
// the front end created them in, whatever passes did to the nodes.
func (g *Graph) StateDict() []*Param {
	ps := g.Params()
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Order < ps[j].Order })
	return ps
}

// Classes is the length of the output vector.
func (g *Graph) Classes() int { return g.Output.Shape.C }

// Users returns, for each node ID, the nodes that take it as an argument.
func (g *Graph) Users() [][]*Node {
	users := make([][]*Node, len(g.Nodes))
	for _, n := range g.Nodes {
		for _, a := range n.Args {
			if a.ID >= 0 && a.ID < len(users) {
				users[a.ID] = append(users[a.ID], n)
			}
		}
	}
	return users
}

// String prints the graph one node per line, for debugging and test diffs.
func (g *Graph) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "network %s\n", g.Name)
	for _, n := range g.Nodes {
		b.WriteString(n.String())
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "output %%%d\n", g.Output.ID)
	if g.ImageLoop > 0 {
		fmt.Fprintf(&b, "image loop %%1..%%%d\n", g.ImageLoop)
	}
	if g.ArenaFloats > 0 {
		fmt.Fprintf(&b, "arena %d floats per image\n", g.ArenaFloats)
		for _, n := range g.Nodes[1:] {
			fmt.Fprintf(&b, "  %%%d at %d..%d\n", n.ID, n.Offset, n.Offset+int(n.Shape.Elems()))
		}
	}
	if g.ImageLoop > 0 && g.LoopArenaFloats > 0 {
		fmt.Fprintf(&b, "image loop's arena %d floats, then %d floats per image\n", g.LoopFloats, g.LoopArenaFloats)
		for _, n := range g.Nodes[1:] {
			where := ""
			if n.PerImage {
				where = " per image"
			}
			fmt.Fprintf(&b, "  %%%d at %d..%d%s\n", n.ID, n.LoopOffset, n.LoopOffset+int(n.Shape.Elems()), where)
		}
	}
	if g.TrainArenaFloats > 0 {
		fmt.Fprintf(&b, "training arena %d floats per image\n", g.TrainArenaFloats)
		for _, n := range g.Nodes[1:] {
			size := int(n.Shape.Elems())
			fmt.Fprintf(&b, "  %%%d at %d..%d, gradient at %d..%d\n", n.ID, n.Offset, n.Offset+size, n.GradOffset, n.GradOffset+size)
		}
	}
	return b.String()
}

func (n *Node) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%%%d = %s", n.ID, n.Op)
	for i, a := range n.Args {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%%%d", a.ID)
	}
	switch n.Op {
	case OpConv:
		fmt.Fprintf(&b, " k=%dx%d s=%d p=%d", n.KH, n.KW, n.Stride, n.Pad)
		if n.Bias {
			b.WriteString(" bias")
		}
		if n.FoldBN != "" {
			fmt.Fprintf(&b, " +bn(%s)", n.FoldBN)
		}
		if n.FuseAdd {
			b.WriteString(" +add")
		}
		if n.FuseReLU {
			b.WriteString(" +relu")
		}
		if n.Lowering != LowerNone {
			fmt.Fprintf(&b, " lower=%s", n.Lowering)
		}
		if n.Winograd4From != 0 {
			fmt.Fprintf(&b, " winograd4-from-batch=%d", n.Winograd4From)
		}
	case OpMaxPool:
		fmt.Fprintf(&b, " k=%dx%d s=%d p=%d", n.KH, n.KW, n.Stride, n.Pad)
	case OpShortcutA:
		fmt.Fprintf(&b, " s=%d pad=%d+%d", n.Stride, n.PadLo, n.PadHi)
	case OpBatchNorm:
		fmt.Fprintf(&b, " eps=%g momentum=%g", n.Eps, n.Momentum)
		if n.FuseAdd {
			b.WriteString(" +add")
		}
		if n.FuseReLU {
			b.WriteString(" +relu")
		}
	}
	fmt.Fprintf(&b, " : %s  %q", n.Shape, n.Name)
	return b.String()
}
