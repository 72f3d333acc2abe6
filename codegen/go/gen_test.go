package gogen

import (
	"testing"

	"github.com/resnetc/resnetc/frontend"
)

func TestGenerateIsDeterministic(t *testing.T) {
	g, err := frontend.Load("cifar_resnet", nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Generate(g, Options{Source: "specs/cifar_resnet.rn"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Generate(g, Options{Source: "specs/cifar_resnet.rn"})
	for i := range a {
		if string(a[i].Data) != string(b[i].Data) {
			t.Errorf("%s differs between two runs", a[i].Name)
		}
	}
}
