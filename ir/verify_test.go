package ir

import (
	"strings"
	"testing"
)

// block builds a tiny residual network by hand: conv, bn, add with the
// input, relu, global pool, fc.
func block(t *testing.T) *Graph {
	t.Helper()
	g, err := NewGraph("hand", "hand.rn", Shape{C: 3, H: 9, W: 7}, Pos{})
	if err != nil {
		t.Fatal(err)
	}
	must := func(n *Node, err error) *Node {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	x := g.Input
	c := must(g.Add(&Node{Name: "conv", Op: OpConv, Args: []*Node{x}, Out: 3, KH: 3, KW: 3, Stride: 1, Pad: 1}))
	b := must(g.Add(&Node{Name: "bn", Op: OpBatchNorm, Args: []*Node{c}, Eps: 1e-5, Momentum: 0.1}))
	a := must(g.Add(&Node{Name: "add", Op: OpAdd, Args: []*Node{b, x}}))
	r := must(g.Add(&Node{Name: "relu", Op: OpReLU, Args: []*Node{a}}))
	s := must(g.Add(&Node{Name: "short", Op: OpShortcutA, Args: []*Node{r}, Stride: 2, PadLo: 1, PadHi: 2}))
	p := must(g.Add(&Node{Name: "pool", Op: OpGlobalAvgPool, Args: []*Node{s}}))
	must(g.Add(&Node{Name: "fc", Op: OpLinear, Args: []*Node{p}, Out: 5}))
	return g
}

func TestHandBuiltGraph(t *testing.T) {
	g := block(t)
	if err := g.Verify(); err != nil {
		t.Fatal(err)
	}
	want := `network hand
%0 = input : 3x9x7  "input"
%1 = conv %0 k=3x3 s=1 p=1 : 3x9x7  "conv"
%2 = bn %1 eps=1e-05 momentum=0.1 : 3x9x7  "bn"
%3 = add %2, %0 : 3x9x7  "add"
%4 = relu %3 : 3x9x7  "relu"
%5 = shortcutA %4 s=2 pad=1+2 : 6x5x4  "short"
%6 = avgpool %5 : 6x1x1  "pool"
%7 = fc %6 : 5x1x1  "fc"
output %7
`
	if got := g.String(); got != want {
		t.Errorf("graph:\n%s\nwant:\n%s", got, want)
	}
	var names []string
	for _, p := range g.Params() {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, " "); got != "conv.weight bn.weight bn.bias bn.running_mean bn.running_var bn.num_batches_tracked fc.weight fc.bias" {
		t.Errorf("params: %s", got)
	}
}

// TestVerifyCatches breaks one invariant at a time.
func TestVerifyCatches(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(g *Graph)
		want   string
	}{
		{"renumbered", func(g *Graph) { g.Nodes[2].ID = 5 }, `node "bn" has ID 5 at position 2`},
		{"duplicate name", func(g *Graph) { g.Nodes[4].Name = "bn" }, `nodes 2 and 4 are both named "bn"`},
		{"unnamed", func(g *Graph) { g.Nodes[3].Name = "" }, `node 3 has no name`},
		{"use before definition", func(g *Graph) { g.Nodes[1].Args[0] = g.Nodes[4] }, `node "conv" uses a value that is not defined before it`},
		{"foreign value", func(g *Graph) { g.Nodes[2].Args[0] = &Node{ID: 1, Name: "conv"} }, `node "bn" uses a value that is not defined before it`},
		{"wrong shape", func(g *Graph) { g.Nodes[4].Shape.H = 8 }, `node "relu": shape 3x8x7, but its op and arguments give 3x9x7`},
		{"add of different shapes", func(g *Graph) { g.Nodes[3].Args[1] = g.Nodes[5]; g.Nodes[3].Args[0], g.Nodes[5].ID = g.Nodes[2], 5 },
			`node "add" uses a value that is not defined before it`},
		{"wrong arity", func(g *Graph) { g.Nodes[4].Args = append(g.Nodes[4].Args, g.Nodes[1]) }, `node "relu": relu takes 1 arguments, has 2`},
		{"wrong param shape", func(g *Graph) { g.Nodes[1].Params[0].Shape[1] = 4 }, `node "conv": parameter conv.weight [3 4 3 3], its op needs conv.weight [3 3 3 3]`},
		{"missing param", func(g *Graph) { g.Nodes[2].Params = g.Nodes[2].Params[:4] }, `node "bn": has 4 parameters, its op needs 5`},
		{"dangling", func(g *Graph) {
			d := &Node{ID: 8, Name: "dangling", Op: OpReLU, Args: []*Node{g.Nodes[7]}, Shape: g.Nodes[7].Shape}
			g.Nodes = append(g.Nodes, d)
		}, `node "dangling" is dangling: nothing uses its value`},
		{"second input", func(g *Graph) { g.Nodes[4].Op = OpInput; g.Nodes[4].Args = nil }, `node "relu": only the first node may be the input`},
		{"output elsewhere", func(g *Graph) { g.Output = &Node{ID: 3} }, `hand: the output is not a node of the graph`},
		{"bad conv", func(g *Graph) { g.Nodes[1].Stride = 0 }, `node "conv": stride 0 out of range 1..65536`},
		{"bad bn", func(g *Graph) { g.Nodes[2].Eps = 0 }, `node "bn": bn needs eps > 0 and momentum in (0, 1], has 0 and 0.1`},
	}
	for _, c := range cases {
		g := block(t)
		c.break_(g)
		err := g.Verify()
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: got %v\nwant %s", c.name, err, c.want)
		}
	}
}

func TestAddRejects(t *testing.T) {
	g, _ := NewGraph("g", "g.rn", Shape{C: 3, H: 4, W: 4}, Pos{})
	for _, c := range []struct {
		n    *Node
		want string
	}{
		{&Node{Name: "c", Op: OpConv, Args: []*Node{g.Input}, Out: 8, KH: 5, KW: 5, Stride: 1}, "the 4x4 input map (padded by 0) is smaller than the 5x5 window"},
		{&Node{Name: "p", Op: OpMaxPool, Args: []*Node{g.Input}, KH: 3, KW: 3, Stride: 2, Pad: 2}, "padding 2 is more than half the 3x3 window"},
		{&Node{Name: "c", Op: OpConv, Args: []*Node{g.Input}, Out: 1 << 17, KH: 1, KW: 1, Stride: 1}, "output channels 131072 out of range 1..65536"},
		{&Node{Name: "a", Op: OpAdd, Args: []*Node{g.Input, {ID: 0}}}, "a: argument is not a node of this graph"},
	} {
		if _, err := g.Add(c.n); err == nil || err.Error() != c.want {
			t.Errorf("%s: got %v, want %s", c.n.Name, err, c.want)
		}
	}
	big, err := NewGraph("big", "g.rn", Shape{C: 1, H: 32768, W: 32768}, Pos{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := big.Add(&Node{Name: "c", Op: OpConv, Args: []*Node{big.Input}, Out: 4, KH: 1, KW: 1, Stride: 1}); err == nil ||
		err.Error() != "output 4x32768x32768: more than 2147483648 elements per image" {
		t.Errorf("huge output: %v", err)
	}
	if _, err := NewGraph("g", "g.rn", Shape{C: 0, H: 4, W: 4}, Pos{}); err == nil {
		t.Error("input with 0 channels accepted")
	}
}

// TestVerifyLowering: a conv lowered direct must be 1x1, stride 1,
// unpadded, one lowered to Winograd 3x3 at stride 1, one that switches to
// F(4x4, 3x3) with the batch lowered to F(2x2, 3x3), and only convs carry
// a lowering.
func TestVerifyLowering(t *testing.T) {
	g := block(t)
	conv, bn := g.Nodes[1], g.Nodes[2]
	conv.Lowering = LowerIm2col
	if err := g.Verify(); err != nil {
		t.Fatalf("im2col for a 3x3 conv: %v", err)
	}
	conv.Lowering = LowerDirect
	if err := g.Verify(); err == nil || !strings.Contains(err.Error(), `node "conv": lowered direct, but a 3x3 stride-1 pad-1 conv needs its columns gathered`) {
		t.Errorf("direct for a 3x3 conv: %v", err)
	}
	for _, low := range []Lowering{LowerWinograd, LowerWinograd4} {
		conv.Lowering = low
		if err := g.Verify(); err != nil {
			t.Fatalf("%s for a 3x3 stride-1 conv: %v", low, err)
		}
		saved := conv.Shape
		conv.Stride, conv.Shape.H, conv.Shape.W = 2, 5, 4
		if err := g.Verify(); err == nil || !strings.Contains(err.Error(), `node "conv": lowered to Winograd (`+low.String()+`), but it is a 3x3 stride-2 pad-1 conv`) {
			t.Errorf("%s for a stride-2 conv: %v", low, err)
		}
		conv.Stride, conv.Shape = 1, saved
	}
	// The stride-2 Winograd only at stride 2.
	conv.Lowering = LowerWinogradS2
	if err := g.Verify(); err == nil || !strings.Contains(err.Error(), `node "conv": lowered to the stride-2 Winograd (winograd-s2), but it is a 3x3 stride-1 pad-1 conv`) {
		t.Errorf("winograd-s2 for a stride-1 conv: %v", err)
	}
	saved := conv.Shape
	conv.Stride, conv.Shape.H, conv.Shape.W = 2, 5, 4
	// (The batch norm after it no longer fits its shape; the conv does.)
	if err := g.Verify(); err != nil && strings.Contains(err.Error(), `node "conv"`) {
		t.Errorf("winograd-s2 for a 3x3 stride-2 conv: %v", err)
	}
	conv.Stride, conv.Shape = 1, saved
	// Only F(2x2, 3x3) switches to F(4x4, 3x3), from a batch of 2 on.
	for _, c := range []struct {
		low  Lowering
		from int
		ok   bool
	}{{LowerWinograd, 6, true}, {LowerWinograd, 2, true}, {LowerWinograd, 1, false}, {LowerWinograd, -3, false}, {LowerWinograd4, 6, false}, {LowerIm2col, 6, false}} {
		conv.Lowering, conv.Winograd4From = c.low, c.from
		err := g.Verify()
		if c.ok && err != nil || !c.ok && (err == nil || !strings.Contains(err.Error(), `node "conv": F(4x4, 3x3) from batch`)) {
			t.Errorf("%s switching at batch %d: %v", c.low, c.from, err)
		}
	}
	conv.Lowering, conv.Winograd4From = LowerNone, 0
	bn.Lowering = LowerIm2col
	if err := g.Verify(); err == nil || !strings.Contains(err.Error(), "has no lowering") {
		t.Errorf("a lowered batch norm: %v", err)
	}
}
