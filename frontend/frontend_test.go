package frontend

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/resnetc/resnetc/expand"
	"github.com/resnetc/resnetc/ir"
	"github.com/resnetc/resnetc/specs"
)

func load(t *testing.T, name string, defs ...string) *ir.Graph {
	t.Helper()
	ds, err := expand.ParseDefines(defs)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Load(name, ds)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// stateDict lists "key shape" lines as torchvision's state_dict has them.
func stateDict(g *ir.Graph) []string {
	var lines []string
	for _, p := range g.Params() {
		shape := "scalar"
		if len(p.Shape) > 0 {
			dims := make([]string, len(p.Shape))
			for i, d := range p.Shape {
				dims[i] = fmt.Sprint(d)
			}
			shape = strings.Join(dims, "x")
		}
		lines = append(lines, p.Name+" "+shape)
	}
	return lines
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "#") {
			lines = append(lines, sc.Text())
		}
	}
	return lines
}

// TestTorchvisionNames checks that the specs shaped like torchvision's
// ResNets name and shape every tensor exactly as its state_dict does, in
// the same order (testdata from scripts/torchvision_keys.py).
func TestTorchvisionNames(t *testing.T) {
	for spec, tv := range map[string]string{
		"resnet18": "resnet18", "resnet34": "resnet34", "resnet50": "resnet50",
		"resnet101": "resnet101", "resnet152": "resnet152",
		"resnet50_v1": "resnet50", // the paper's stride placement has the same tensors
	} {
		want := readLines(t, filepath.Join("testdata", "torchvision", tv+".txt"))
		got := stateDict(load(t, spec))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: state_dict differs from torchvision's %s (-torchvision +ours):\n%s", spec, tv, diff)
		}
	}
}

// TestPlainNetsDifferOnlyInShortcuts checks that "plain-34" and "ResNet-34"
// differ in one word: the plain spec is the ResNet spec with shortcut=none.
func TestPlainNetsDifferOnlyInShortcuts(t *testing.T) {
	for _, pair := range [][2]string{{"plain18", "resnet18"}, {"plain34", "resnet34"}, {"cifar_plain", "cifar_resnet"}} {
		plain := load(t, pair[0])
		res := load(t, pair[1], "shortcut=none")
		plain.Name, plain.Spec, res.Name, res.Spec = "", "", "", ""
		for _, g := range []*ir.Graph{plain, res} {
			for _, n := range g.Nodes {
				n.Pos = ir.Pos{}
			}
		}
		if diff := cmp.Diff(plain.String(), res.String()); diff != "" {
			t.Errorf("%s differs from %s -D shortcut=none:\n%s", pair[0], pair[1], diff)
		}
		for _, n := range plain.Nodes {
			if n.Op == ir.OpAdd || n.Shortcut {
				t.Errorf("%s: plain net has shortcut node %s", pair[0], n.Name)
			}
		}
	}
}

// TestShortcutOptions checks the nodes each shortcut kind produces on
// ResNet-34 and the CIFAR net: A pads, B projects only where the shape
// changes, C projects everywhere.
func TestShortcutOptions(t *testing.T) {
	count := func(g *ir.Graph) (adds, pads, projections int) {
		for _, n := range g.Nodes {
			switch {
			case n.Op == ir.OpAdd:
				adds++
			case n.Op == ir.OpShortcutA:
				pads++
			case n.Shortcut && n.Op == ir.OpConv:
				projections++
			}
		}
		return
	}
	for _, c := range []struct {
		spec, kind              string
		adds, pads, projections int
	}{
		{"resnet34", "A", 16, 3, 0},
		{"resnet34", "B", 16, 0, 3},
		{"resnet34", "C", 16, 0, 16},
		{"resnet34", "none", 0, 0, 0},
		{"resnet50", "B", 16, 0, 4}, // layer1.0 changes 64 -> 256 channels
		{"cifar_resnet", "A", 9, 2, 0},
		{"cifar_resnet", "B", 9, 0, 2},
	} {
		adds, pads, projections := count(load(t, c.spec, "shortcut="+c.kind))
		if adds != c.adds || pads != c.pads || projections != c.projections {
			t.Errorf("%s shortcut=%s: %d adds, %d option-A pads, %d projections; want %d, %d, %d",
				c.spec, c.kind, adds, pads, projections, c.adds, c.pads, c.projections)
		}
	}
	// Option A on CIFAR pads 16 -> 32 channels with 8 zero channels on each side.
	for _, n := range load(t, "cifar_resnet").Nodes {
		if n.Op == ir.OpShortcutA && n.Name == "layer2.0.shortcut" {
			if n.Stride != 2 || n.PadLo != 8 || n.PadHi != 8 || n.Shape != (ir.Shape{C: 32, H: 16, W: 16}) {
				t.Errorf("layer2.0.shortcut: %v", n)
			}
		}
	}
}

// TestParametersStandForNumbers uses one spec for other data sets and widths.
func TestParametersStandForNumbers(t *testing.T) {
	g := load(t, "cifar_resnet", "channels=1", "size=28", "width=32", "classes=7", "n=2")
	if got, want := g.Input.Shape, (ir.Shape{C: 1, H: 28, W: 28}); got != want {
		t.Errorf("input %v, want %v", got, want)
	}
	if g.Classes() != 7 {
		t.Errorf("classes %d, want 7", g.Classes())
	}
	if got := g.Nodes[1].Params[0].Shape; !cmp.Equal(got, []int{32, 1, 3, 3}) {
		t.Errorf("conv1.weight %v, want [32 1 3 3]", got)
	}
	var last *ir.Node
	for _, n := range g.Nodes {
		if n.Op == ir.OpGlobalAvgPool {
			last = n.Args[0]
		}
	}
	if got, want := last.Shape, (ir.Shape{C: 128, H: 7, W: 7}); got != want {
		t.Errorf("last feature map %v, want %v", got, want)
	}
	// resnet18 on a 1x28x28 image: odd maps (7 -> 4 -> 2 -> 1) work as in PyTorch.
	g = load(t, "resnet18", "channels=1", "size=28", "classes=10")
	if g.Classes() != 10 {
		t.Errorf("classes %d", g.Classes())
	}
}

// TestDeterministic checks that two expansions give identical IR.
func TestDeterministic(t *testing.T) {
	for _, name := range specs.Names() {
		a, b := load(t, name).String(), load(t, name).String()
		if a != b {
			t.Errorf("%s: two expansions differ", name)
		}
	}
}

// TestEveryEmbeddedSpecMatchesFile keeps the embedded copies and the
// files under specs/ the same thing: they are, since embed reads the files,
// but a spec must also load by path.
func TestEveryEmbeddedSpecMatchesFile(t *testing.T) {
	for _, name := range specs.Names() {
		byName := load(t, name)
		byPath := load(t, filepath.Join("..", "specs", name+".rn"))
		if byName.Name != byPath.Name || len(byName.Nodes) != len(byPath.Nodes) {
			t.Errorf("%s: embedded and file specs differ", name)
		}
	}
}

func TestUnknownSpec(t *testing.T) {
	_, err := Load("resnet5O", nil)
	if err == nil || !strings.Contains(err.Error(), `resnet5O: no such spec file`) || !strings.Contains(err.Error(), `did you mean "resnet50"?`) {
		t.Errorf("got %v", err)
	}
}

var errorPrefix = regexp.MustCompile(`^fuzz\.rn:[0-9]+:[0-9]+: `)

// FuzzCompile feeds arbitrary specs through parse, expansion and
// verification: nothing may panic, every error must name file:line:col,
// and whatever compiles must verify.
func FuzzCompile(f *testing.F) {
	for _, name := range specs.Names() {
		src, _ := specs.Lookup(name)
		f.Add(src)
	}
	f.Add([]byte(base))
	for _, c := range errorCases {
		if strings.Count(base, c.old) == 1 {
			f.Add([]byte(strings.Replace(base, c.old, c.new, 1)))
		}
	}
	f.Add([]byte("network x\ninput 1 x 1 x 1\nfc: fc 1"))
	f.Add([]byte("network x\nparam n = 99999\ninput 3x8x8\nblock b(c) {\n relu\n add A\n}\ns: n x b(1)\navgpool\nfc: fc 2\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		g, err := Compile("fuzz.rn", src, nil)
		if err != nil {
			if !errorPrefix.MatchString(err.Error()) || strings.Contains(err.Error(), "internal error") {
				t.Fatalf("bad error %q for spec:\n%s", err, src)
			}
			return
		}
		if err := g.Verify(); err != nil {
			t.Fatal(err)
		}
	})
}
