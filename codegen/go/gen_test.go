package gogen

import (
	"regexp"
	"strings"
	"testing"

	"github.com/resnetc/resnetc/frontend"
	"github.com/resnetc/resnetc/ir"
	"github.com/resnetc/resnetc/passes"
)

func inference(t *testing.T, g *ir.Graph) *ir.Graph {
	t.Helper()
	gi, err := passes.ForInference(g, passes.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return gi
}

func training(t *testing.T, g *ir.Graph) *ir.Graph {
	t.Helper()
	gt, err := passes.ForTraining(g, passes.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return gt
}

func TestGenerateIsDeterministic(t *testing.T) {
	g, err := frontend.Load("cifar_resnet", nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Generate(training(t, g), inference(t, g), Options{Source: "specs/cifar_resnet.rn"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Generate(training(t, g), inference(t, g), Options{Source: "specs/cifar_resnet.rn"})
	for i := range a {
		if string(a[i].Data) != string(b[i].Data) {
			t.Errorf("%s differs between two runs", a[i].Name)
		}
	}
}

// TestNamesThatAreGoKeywords checks that spec labels and package names
// that collide with Go keywords cannot break the generated code.
func TestNamesThatAreGoKeywords(t *testing.T) {
	src := "network net\ninput 1 x 4 x 4\ntype: conv 2 3x3 pad 1\nfunc: relu\navgpool\nfc: fc 3\n"
	g, err := frontend.Compile("k.rn", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate(training(t, g), inference(t, g), Options{Source: "k.rn"})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`\btype_ +\[\]float32`).Match(files[0].Data) {
		t.Error("the label type did not become the identifier type_")
	}
	if _, err := Generate(training(t, g), inference(t, g), Options{Package: "func", Source: "k.rn"}); err == nil || !strings.Contains(err.Error(), "not a valid Go package name") {
		t.Errorf("package func: %v", err)
	}
}

// TestImageLoopCode checks how Forward runs the image-loop pass's layers:
// in one loop over the batch, a batch of 1 a call, the value that leaves
// the loop sliced to image i, and the layout by the batch. resnet18's
// loop ends at layer1.1.conv2, which the second stage reads.
func TestImageLoopCode(t *testing.T) {
	g, err := frontend.Load("resnet18", nil)
	if err != nil {
		t.Fatal(err)
	}
	gi := inference(t, g)
	if gi.ImageLoop == 0 {
		t.Fatal("resnet18 has no image loop")
	}
	files, err := Generate(training(t, g), gi, Options{Source: "specs/resnet18.rn"})
	if err != nil {
		t.Fatal(err)
	}
	src := string(files[0].Data)
	fwd := src[strings.Index(src, "func (m *Model) Forward("):]
	loop := fwd[strings.Index(fwd, "for i := range batch {"):]
	loop = loop[:strings.Index(loop, "\n\t}\n")]
	for _, want := range []string{
		"x := x[i*imageFloats : (i+1)*imageFloats]",
		"nn.Conv2DFused(ws, a.conv1, x, f.conv1_weight, f.conv1_packed, f.conv1_bias, nil, true, 1,",
		"nn.Conv2DFused(ws, a.layer1_1_conv2[i*200704:(i+1)*200704], a.layer1_1_conv1,",
	} {
		if !strings.Contains(loop, want) {
			t.Errorf("the image loop lacks %q:\n%s", want, loop)
		}
	}
	if strings.Contains(loop, ", batch,") || strings.Contains(loop, "layer2_0") {
		t.Errorf("the image loop runs on the batch or past layer1:\n%s", loop)
	}
	if !strings.Contains(fwd, "nn.Conv2DFused(ws, a.layer2_0_conv1, a.layer1_1_conv2,") {
		t.Error("layer2.0.conv1 does not read layer1.1.conv2 whole, after the loop")
	}
	for _, want := range []string{"if batch == 1 {", "loopFloats+0*batch", "need = loopFloats + batch*loopArenaFloats"} {
		if !strings.Contains(src, want) {
			t.Errorf("the layout lacks %q", want)
		}
	}
}
