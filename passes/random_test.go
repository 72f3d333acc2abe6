package passes

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/resnetc/resnetc/expand"
	"github.com/resnetc/resnetc/frontend"
	"github.com/resnetc/resnetc/specs"
)

// randomSpec writes a random valid network: a stem, one to four stages of
// basic or bottleneck blocks with random widths, depths, strides and
// shortcut kinds, pooling and fc.
func randomSpec(r *rand.Rand) string {
	var b strings.Builder
	size := 8 + r.IntN(25)
	fmt.Fprintf(&b, "network rnd\ninput %d x %d x %d\n", 1+r.IntN(3), size, size+r.IntN(5))
	b.WriteString(`block basic(c, stride = 1, kind = B) {
  conv1: conv c 3x3 stride stride pad 1
  bn1: bn
  relu
  conv2: conv c 3x3 pad 1
  bn2: bn
  add kind
  relu
  projection downsample {
    conv c 1x1 stride stride
    bn
  }
}
block bottleneck(c, stride = 1, kind = B) {
  conv1: conv c 1x1
  bn1: bn
  relu
  conv2: conv c 3x3 stride stride pad 1
  bn2: bn
  relu
  conv3: conv 4*c 1x1
  bn3: bn
  add kind
  relu
  projection downsample {
    conv 4*c 1x1 stride stride
    bn
  }
}
`)
	fmt.Fprintf(&b, "conv1: conv %d 3x3 pad 1\nbn1: bn\nrelu\n", 2+r.IntN(8))
	if r.IntN(2) == 0 {
		b.WriteString("maxpool 3x3 stride 2 pad 1\n")
	}
	blocks := []string{"basic", "bottleneck"}
	kinds := []string{"A", "B", "C", "none"}
	for s := 0; s < 1+r.IntN(4); s++ {
		blk := blocks[r.IntN(2)]
		kind := kinds[r.IntN(4)]
		if blk == "bottleneck" && kind == "A" {
			kind = "B" // option A cannot shrink channels when a bottleneck widens 4x after a wider stage
		}
		first := ""
		if s > 0 && r.IntN(2) == 0 {
			first = " first(stride = 2)"
		}
		fmt.Fprintf(&b, "layer%d: %d x %s(%d, kind = %s)%s\n", s+1, 1+r.IntN(3), blk, 1+r.IntN(12), kind, first)
	}
	fmt.Fprintf(&b, "avgpool\nfc: fc %d\n", 1+r.IntN(10))
	return b.String()
}

// TestRandomSpecsPlan is a property test: for random valid networks the
// inference pipeline verifies after every pass, and its memory plan (proven
// by ir.Graph.CheckPlan inside the verifier) is never below the lower bound
// nor above the naive size.
func TestRandomSpecsPlan(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 7))
	valid := 0
	for i := 0; i < 300; i++ {
		src := randomSpec(r)
		g, err := frontend.Compile("rnd.rn", []byte(src), nil)
		if err != nil {
			// Some random choices are invalid (option A shrinking channels,
			// maps too small for their strides); the front end says so.
			continue
		}
		valid++
		gi, err := ForInference(g, Config{})
		if err != nil {
			t.Fatalf("spec %d: %v\n%s", i, err, src)
		}
		m := MemoryOf(gi, 1)
		if m.Planned < m.LowerBound || m.Planned > m.Naive {
			t.Fatalf("spec %d: planned %d, lower bound %d, naive %d\n%s", i, m.Planned, m.LowerBound, m.Naive, src)
		}
	}
	if valid < 150 {
		t.Errorf("only %d of 300 random specs were valid; the generator needs fixing", valid)
	}
}

// TestCheckPlanCatchesOverlap shows the checker failing: two values alive
// together moved onto the same memory.
func TestCheckPlanCatchesOverlap(t *testing.T) {
	g, err := ForInference(load(t, "resnet18"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := g.Nodes[1], g.Nodes[2] // conv1 feeds the max pool: alive together
	b.Offset = a.Offset
	err = g.Verify()
	if err == nil || !strings.Contains(err.Error(), "share memory while both are alive") {
		t.Errorf("got %v", err)
	}
	g.Nodes[3].Offset = g.ArenaFloats
	if err := g.CheckPlan(); err == nil {
		t.Error("a value outside the arena passed the check")
	}
}

// TestTrainingPlan plans the training step of every spec and of random
// ones (the verifier proves each plan with ir.Graph.CheckTrainPlan) and
// pins the target for the CIFAR ResNet-56: within 5% of the lower bound.
func TestTrainingPlan(t *testing.T) {
	check := func(name string, src []byte) {
		g, err := frontend.Compile(name, src, nil)
		if err != nil {
			return
		}
		gt, err := ForTraining(g, Config{})
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, src)
		}
		m := MemoryOf(gt, 1)
		if m.Planned < m.LowerBound || m.Planned > m.Naive {
			t.Fatalf("%s: planned %d, lower bound %d, naive %d", name, m.Planned, m.LowerBound, m.Naive)
		}
	}
	for _, name := range specs.Names() {
		src, _ := specs.Lookup(name)
		check(name, src)
	}
	r := rand.New(rand.NewPCG(43, 8))
	for i := 0; i < 100; i++ {
		check(fmt.Sprintf("random %d", i), []byte(randomSpec(r)))
	}
	g, err := frontend.Load("cifar_resnet", mustDefines(t, "n=9"))
	if err != nil {
		t.Fatal(err)
	}
	gt, err := ForTraining(g, Config{})
	if err != nil {
		t.Fatal(err)
	}
	m := MemoryOf(gt, 128)
	t.Logf("ResNet-56 training step, batch 128: naive %d, planned %d, lower bound %d bytes (%.3f)", m.Naive, m.Planned, m.LowerBound, float64(m.Planned)/float64(m.LowerBound))
	if float64(m.Planned) > 1.05*float64(m.LowerBound) {
		t.Errorf("ResNet-56 training: planned %d is more than 1.05 x the lower bound %d", m.Planned, m.LowerBound)
	}
}

func mustDefines(t *testing.T, list ...string) []expand.Define {
	d, err := expand.ParseDefines(list)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
