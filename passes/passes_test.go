package passes

import (
	"sort"
	"strings"
	"testing"

	"github.com/resnetc/resnetc/frontend"
	"github.com/resnetc/resnetc/ir"
	"github.com/resnetc/resnetc/specs"
	"github.com/resnetc/resnetc/stats"
)

func load(t *testing.T, name string) *ir.Graph {
	t.Helper()
	g, err := frontend.Load(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func count(g *ir.Graph) map[string]int {
	c := map[string]int{}
	for _, n := range g.Nodes {
		c[n.Op.String()]++
	}
	return c
}

// TestInferencePipelineOnEverySpec runs the pipeline (which verifies after
// each pass) on every spec and checks that the inference path keeps no
// separate BN, add or ReLU in the residual networks, and that the
// parameters and multiply-adds are unchanged.
func TestInferencePipelineOnEverySpec(t *testing.T) {
	for _, name := range specs.Names() {
		g := load(t, name)
		before := stats.Of(g)
		params := g.Params()
		if err := Run(g, Inference, Config{}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		after := stats.Of(g)
		if after.Params != before.Params || after.MACs != before.MACs {
			t.Errorf("%s: params %d -> %d, macs %d -> %d", name, before.Params, after.Params, before.MACs, after.MACs)
		}
		var names []string
		for _, p := range g.Params() {
			names = append(names, p.Name)
		}
		var want []string
		for _, p := range params {
			want = append(want, p.Name)
		}
		// Fusion may reorder nodes (a conv that adds a projection's result
		// runs after it), so compare the sets; the state_dict order comes
		// from the front end's graph.
		sort.Strings(names)
		sort.Strings(want)
		if strings.Join(names, " ") != strings.Join(want, " ") {
			t.Errorf("%s: the set of tensors changed", name)
		}
		c := count(g)
		// The stem's ReLU feeds a max pool or the first block; it fuses into
		// conv1. Nothing else but conv, pooling and fc remains.
		if c["bn"] != 0 || c["add"] != 0 || c["relu"] != 0 {
			t.Errorf("%s: %d bn, %d add, %d relu nodes left after fusion", name, c["bn"], c["add"], c["relu"])
		}
	}
}

// TestFusionOfOneBlock builds the graph of one basic block and pins the
// IR after the pipeline: the projection conv folds its BN, the block's
// second conv takes the projection as its residual and the final ReLU.
func TestFusionOfOneBlock(t *testing.T) {
	src := `network one
input 3 x 8 x 8
block basic(c, stride = 1) {
  conv1: conv c 3x3 stride stride pad 1
  bn1: bn
  relu
  conv2: conv c 3x3 pad 1
  bn2: bn
  add B
  relu
  projection downsample {
    conv c 1x1 stride stride
    bn
  }
}
b: basic(4, stride = 2)
avgpool
fc: fc 2
`
	g, err := frontend.Compile("one.rn", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	var dump strings.Builder
	if err := Run(g, Inference, Config{Dump: "fuse-relu", DumpTo: &dump}); err != nil {
		t.Fatal(err)
	}
	want := `network one
%0 = input : 3x8x8  "input"
%1 = conv %0 k=3x3 s=2 p=1 +bn(b.bn1) +relu : 4x4x4  "b.conv1"
%2 = conv %0 k=1x1 s=2 p=0 +bn(b.downsample.1) : 4x4x4  "b.downsample.0"
%3 = conv %1, %2 k=3x3 s=1 p=1 +bn(b.bn2) +add +relu : 4x4x4  "b.conv2"
%4 = avgpool %3 : 4x1x1  "avgpool"
%5 = fc %4 : 2x1x1  "fc"
output %5
`
	if dump.String() != want {
		t.Errorf("IR after fuse-relu:\n%s\nwant:\n%s", dump.String(), want)
	}
}

func TestDumpUnknownPass(t *testing.T) {
	err := Run(load(t, "resnet18"), Inference, Config{Dump: "fold"})
	if err == nil || !strings.Contains(err.Error(), "-dump-ir=fold: no such pass") {
		t.Errorf("got %v", err)
	}
}

// TestVerifierCatchesABrokenPass shows that a pass that breaks the graph is
// named in the error.
func TestVerifierCatchesABrokenPass(t *testing.T) {
	broken := []Pass{{"break-shapes", func(g *ir.Graph) error {
		g.Nodes[1].Shape.C++
		return nil
	}}}
	err := Run(load(t, "resnet18"), broken, Config{})
	if err == nil || !strings.HasPrefix(err.Error(), "after pass break-shapes: ") {
		t.Errorf("got %v", err)
	}
}

// TestMemoryPlan checks the plan of every spec (Run verifies it, which
// includes ir.Graph.CheckPlan) and pins the target for resnet50 inference:
// within 5% of the lower bound.
func TestMemoryPlan(t *testing.T) {
	for _, name := range specs.Names() {
		g, err := ForInference(load(t, name), Config{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		m := MemoryOf(g, 1)
		if m.Planned < m.LowerBound || m.Planned > m.Naive {
			t.Errorf("%s: planned %d outside [lower bound %d, naive %d]", name, m.Planned, m.LowerBound, m.Naive)
		}
		t.Logf("%-14s naive %10d planned %10d lower bound %10d (%.3f)", name, m.Naive, m.Planned, m.LowerBound, float64(m.Planned)/float64(m.LowerBound))
		if name == "resnet50" && float64(m.Planned) > 1.05*float64(m.LowerBound) {
			t.Errorf("resnet50: planned %d is more than 1.05 x the lower bound %d", m.Planned, m.LowerBound)
		}
	}
}

// TestImageLoop pins the image-loop pass's choice: resnet50's stem and
// first stage and the next conv run image by image; the values that later
// layers read leave the loop whole-batch; the CIFAR nets have no loop. A
// value marked PerImage but read after the loop fails the verifier.
func TestImageLoop(t *testing.T) {
	g, err := ForInference(load(t, "resnet50"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if g.ImageLoop == 0 || g.Nodes[g.ImageLoop].Name != "layer2.0.conv1" {
		t.Fatalf("image loop ends at node %d, want layer2.0.conv1", g.ImageLoop)
	}
	var perImage, whole []string
	for _, n := range g.Nodes[1 : g.ImageLoop+1] {
		if n.PerImage {
			perImage = append(perImage, n.Name)
		} else {
			whole = append(whole, n.Name)
		}
	}
	if got := strings.Join(whole, " "); got != "layer1.2.conv3 layer2.0.conv1" {
		t.Errorf("values leaving the loop: %s", got)
	}
	if len(perImage) != g.ImageLoop-2 || perImage[0] != "conv1" {
		t.Errorf("per-image values: %v", perImage)
	}
	for _, n := range g.Nodes[g.ImageLoop+1:] {
		if n.PerImage {
			t.Errorf("%s is per image after the loop", n.Name)
		}
	}
	for _, b := range []int{1, 8} {
		m := MemoryOf(g, b)
		if m.Planned < m.LowerBound || m.Planned > m.Naive {
			t.Errorf("batch %d: planned %d outside [lower bound %d, naive %d]", b, m.Planned, m.LowerBound, m.Naive)
		}
	}
	// Batch 8 plans the loop's values once, not 8 times.
	if m := MemoryOf(g, 8); m.Planned >= 8*4*int64(g.ArenaFloats) {
		t.Errorf("batch 8: the image loop's plan (%d bytes) is no smaller than the whole-batch plan (%d)", m.Planned, 8*4*g.ArenaFloats)
	}
	for _, name := range []string{"cifar_resnet", "cifar_plain"} {
		gc, err := ForInference(load(t, name), Config{})
		if err != nil {
			t.Fatal(err)
		}
		if gc.ImageLoop != 0 {
			t.Errorf("%s: image loop up to node %d; its values are too small", name, gc.ImageLoop)
		}
	}
	// Mark a value that leaves the loop as per image, replan: the verifier
	// sees a later layer read it.
	g.Nodes[g.ImageLoop].PerImage = true
	if err := PlanMemory(g); err != nil {
		t.Fatal(err)
	}
	if err := g.Verify(); err == nil || !strings.Contains(err.Error(), "reads it after the image loop") {
		t.Errorf("got %v", err)
	}
	g.Nodes[g.ImageLoop].PerImage = false
	// And the loop's plan is checked: two per-image values alive together
	// moved onto the same memory.
	if err := PlanMemory(g); err != nil {
		t.Fatal(err)
	}
	g.Nodes[2].LoopOffset = g.Nodes[1].LoopOffset // conv1 feeds the max pool
	if err := g.Verify(); err == nil || !strings.Contains(err.Error(), "image loop's plan") {
		t.Errorf("got %v", err)
	}
}

// TestLowerConvWinograd4From pins the lowering of resnet50's 3x3 convs:
// at stride 1, F(4x4, 3x3) up to 256 channels of 14x14, F(2x2, 3x3) at 512
// of 7x7, switching to F(4x4, 3x3) from batch 6 in inference only
// (training transforms its weights on every step and leaves the choice to
// nn); at stride 2, the stride-2 Winograd up to 256 channels in inference
// and im2col in training.
func TestLowerConvWinograd4From(t *testing.T) {
	g := load(t, "resnet50.rn")
	infer, train := g.Clone(), g.Clone()
	if err := Run(infer, Inference, Config{}); err != nil {
		t.Fatal(err)
	}
	if err := Run(train, Training, Config{}); err != nil {
		t.Fatal(err)
	}
	type lowered struct {
		Lowering ir.Lowering
		From     int
	}
	got := map[string]lowered{}
	for _, n := range infer.Nodes {
		if n.Op == ir.OpConv && n.KH == 3 {
			got[n.Name] = lowered{n.Lowering, n.Winograd4From}
		}
	}
	for name, want := range map[string]lowered{
		"layer1.0.conv2": {ir.LowerWinograd4, 0},
		"layer2.1.conv2": {ir.LowerWinograd4, 0},
		"layer3.5.conv2": {ir.LowerWinograd4, 0},
		"layer4.1.conv2": {ir.LowerWinograd, 6},
		"layer4.2.conv2": {ir.LowerWinograd, 6},
		"layer2.0.conv2": {ir.LowerWinogradS2, 0},
		"layer3.0.conv2": {ir.LowerWinogradS2, 0},
		"layer4.0.conv2": {ir.LowerIm2col, 0},
	} {
		if got[name] != want {
			t.Errorf("inference %s: %+v, want %+v", name, got[name], want)
		}
	}
	for _, n := range train.Nodes {
		if n.Winograd4From != 0 {
			t.Errorf("training %s: switches to F(4x4, 3x3) from batch %d", n.Name, n.Winograd4From)
		}
		if n.Lowering == ir.LowerWinogradS2 {
			t.Errorf("training %s: lowered to %s, which has no gradients", n.Name, n.Lowering)
		}
	}
}
