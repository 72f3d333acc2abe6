package stats

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/resnetc/resnetc/expand"
	"github.com/resnetc/resnetc/frontend"
)

// TestPaperTotals pins the parameter and multiply-add totals of the
// paper's networks, computed independently from torchvision 0.14 (params,
// and macs of the torchvision layouts) and from the paper's definition.
func TestPaperTotals(t *testing.T) {
	cases := []struct {
		spec    string
		defines []string
		depth   int
		params  int64
		macs    int64 // 0: not pinned
	}{
		{"resnet18", nil, 18, 11_689_512, 1_814_073_344},
		{"resnet34", nil, 34, 21_797_672, 3_663_761_408},
		{"resnet50", nil, 50, 25_557_032, 4_089_184_256},
		{"resnet50_v1", nil, 50, 25_557_032, 3_857_973_248},
		{"resnet101", nil, 101, 44_549_160, 7_801_405_440},
		{"resnet152", nil, 152, 60_192_808, 11_513_626_624},
		{"cifar_resnet", nil, 20, 269_722, 40_551_040},
		{"cifar_resnet", []string{"n=3"}, 20, 269_722, 40_551_040},
		{"cifar_resnet", []string{"n=5"}, 32, 464_154, 0},
		{"cifar_resnet", []string{"n=7"}, 44, 658_586, 0},
		{"cifar_resnet", []string{"n=9"}, 56, 853_018, 0},
		{"cifar_resnet", []string{"n=18"}, 110, 1_727_962, 0},
		{"cifar_resnet", []string{"n=200"}, 1202, 19_421_274, 0},
		// Option A and plain nets have no parameters on their shortcuts.
		{"cifar_plain", nil, 20, 269_722, 40_551_040},
		{"cifar_resnet", []string{"shortcut=none"}, 20, 269_722, 40_551_040},
	}
	for _, c := range cases {
		name := c.spec + " " + strings.Join(c.defines, " ")
		defs, err := expand.ParseDefines(c.defines)
		if err != nil {
			t.Fatal(err)
		}
		g, err := frontend.Load(c.spec, defs)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r := Of(g)
		if r.Depth != c.depth {
			t.Errorf("%s: depth %d, want %d", name, r.Depth, c.depth)
		}
		if r.Params != c.params {
			t.Errorf("%s: params %s, want %s", name, Group(r.Params), Group(c.params))
		}
		if c.macs != 0 && r.MACs != c.macs {
			t.Errorf("%s: macs %s, want %s", name, Group(r.MACs), Group(c.macs))
		}
		var sumP, sumM int64
		for _, l := range r.Layers {
			sumP += l.Params
			sumM += l.MACs
		}
		if sumP != r.Params || sumM != r.MACs {
			t.Errorf("%s: layers add up to %d params, %d macs; totals say %d, %d", name, sumP, sumM, r.Params, r.MACs)
		}
	}
}

// TestLayerRows checks individual rows against hand-computed values.
func TestLayerRows(t *testing.T) {
	g, err := frontend.Load("resnet50", nil)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]Layer{}
	for _, l := range Of(g).Layers {
		rows[l.Name] = l
	}
	want := []Layer{
		// 7x7 conv, 3 -> 64 channels, 112x112 output: 64*3*49 weights, each used 112*112 times.
		{Name: "conv1", Op: "conv", Detail: "7x7 stride 2 pad 3", Shape: [3]int{64, 112, 112}, Params: 9408, MACs: 9408 * 112 * 112},
		{Name: "bn1", Op: "bn", Shape: [3]int{64, 112, 112}, Params: 128},
		{Name: "maxpool", Op: "maxpool", Detail: "3x3 stride 2 pad 1", Shape: [3]int{64, 56, 56}},
		// torchvision puts the stride on the 3x3: 128x28x28 output, 128*128*9 weights.
		{Name: "layer2.0.conv2", Op: "conv", Detail: "3x3 stride 2 pad 1", Block: "layer2.0", Shape: [3]int{128, 28, 28}, Params: 147456, MACs: 147456 * 28 * 28},
		{Name: "layer2.0.downsample.0", Op: "conv", Detail: "1x1 stride 2 pad 0", Block: "layer2.0", Shape: [3]int{512, 28, 28}, Params: 131072, MACs: 131072 * 28 * 28},
		{Name: "layer4.2.add", Op: "add", Block: "layer4.2", Shape: [3]int{2048, 7, 7}},
		{Name: "avgpool", Op: "avgpool", Shape: [3]int{2048, 1, 1}},
		{Name: "fc", Op: "fc", Shape: [3]int{1000, 1, 1}, Params: 2049000, MACs: 2048000},
	}
	for _, w := range want {
		if diff := cmp.Diff(w, rows[w.Name]); diff != "" {
			t.Errorf("row %s (-want +got):\n%s", w.Name, diff)
		}
	}
}

func TestGroup(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 25557032: "25,557,032", -1234: "-1,234"} {
		if got := Group(n); got != want {
			t.Errorf("Group(%d) = %q, want %q", n, got, want)
		}
	}
}
