package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"

	"github.com/resnetc/resnetc/expand"
	"github.com/resnetc/resnetc/generated/resnet18"
	"github.com/resnetc/resnetc/generated/resnet20"
	"github.com/resnetc/resnetc/generated/resnet50"
	"github.com/resnetc/resnetc/generated/resnet56"
)

// model is what the comparison needs of a generated package.
type model interface {
	Forward(x []float32, batch int) ([]float32, error)
	SaveWeights(path string) error
	Shape() (c, h, w int)
	Classes() int
	Trainer() stepper
}

type stepper interface {
	Step(x []float32, labels []int, batch int) (float32, error)
}

// workload is one line of issue 6's table.
type workload struct {
	name, torchName string
	batch           int
	train           bool
	newModel        func() model
	macs            func() (int64, error)
}

func (w workload) label() string {
	kind := "inference"
	if w.train {
		kind = "training step"
	}
	return fmt.Sprintf("%s %s b%d", w.torchName, kind, w.batch)
}

var (
	imagenet = func(spec string) func() (int64, error) {
		return func() (int64, error) { return macsOf(spec) }
	}
	cifar = func(n string) func() (int64, error) {
		return func() (int64, error) { return macsOf("cifar_resnet", expand.Define{Name: "n", Value: n}) }
	}
	sgd = struct{ lr, momentum, wd float32 }{0.1, 0.9, 1e-4}
)

var workloads = []workload{
	{"resnet50", "resnet50", 1, false, newResnet50, imagenet("resnet50")},
	{"resnet50-b8", "resnet50", 8, false, newResnet50, imagenet("resnet50")},
	{"resnet18", "resnet18", 1, false, newResnet18, imagenet("resnet18")},
	{"resnet20", "resnet20", 128, false, newResnet20, cifar("3")},
	{"resnet56", "resnet56", 128, false, newResnet56, cifar("9")},
	{"resnet20-train", "resnet20", 128, true, newResnet20, cifar("3")},
	{"resnet56-train", "resnet56", 128, true, newResnet56, cifar("9")},
}

type r50 struct{ *resnet50.Model }

func newResnet50() model           { return r50{resnet50.New(1)} }
func (r50) Shape() (int, int, int) { return resnet50.Channels, resnet50.Height, resnet50.Width }
func (r50) Classes() int           { return resnet50.Classes }
func (m r50) Trainer() stepper {
	return resnet50.NewTrainer(m.Model, resnet50.SGD{LR: sgd.lr, Momentum: sgd.momentum, WeightDecay: sgd.wd})
}

type r18 struct{ *resnet18.Model }

func newResnet18() model           { return r18{resnet18.New(1)} }
func (r18) Shape() (int, int, int) { return resnet18.Channels, resnet18.Height, resnet18.Width }
func (r18) Classes() int           { return resnet18.Classes }
func (m r18) Trainer() stepper {
	return resnet18.NewTrainer(m.Model, resnet18.SGD{LR: sgd.lr, Momentum: sgd.momentum, WeightDecay: sgd.wd})
}

type r20 struct{ *resnet20.Model }

func newResnet20() model           { return r20{resnet20.New(1)} }
func (r20) Shape() (int, int, int) { return resnet20.Channels, resnet20.Height, resnet20.Width }
func (r20) Classes() int           { return resnet20.Classes }
func (m r20) Trainer() stepper {
	return resnet20.NewTrainer(m.Model, resnet20.SGD{LR: sgd.lr, Momentum: sgd.momentum, WeightDecay: sgd.wd})
}

type r56 struct{ *resnet56.Model }

func newResnet56() model           { return r56{resnet56.New(1)} }
func (r56) Shape() (int, int, int) { return resnet56.Channels, resnet56.Height, resnet56.Width }
func (r56) Classes() int           { return resnet56.Classes }
func (m r56) Trainer() stepper {
	return resnet56.NewTrainer(m.Model, resnet56.SGD{LR: sgd.lr, Momentum: sgd.momentum, WeightDecay: sgd.wd})
}

// writeRaw writes the input as little-endian float32 and the labels as
// int64, the layouts the PyTorch and ONNX Runtime servers read.
func writeRaw(input string, x []float32, labels []int, labelFile string) error {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	if err := os.WriteFile(input, b, 0o644); err != nil {
		return err
	}
	l := make([]byte, 8*len(labels))
	for i, v := range labels {
		binary.LittleEndian.PutUint64(l[8*i:], uint64(v))
	}
	return os.WriteFile(labelFile, l, 0o644)
}
