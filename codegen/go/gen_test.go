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
