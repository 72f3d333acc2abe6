//go:build cuda

package main

import (
	"github.com/resnetc/resnetc/generated/plain20"
	plain20cuda "github.com/resnetc/resnetc/generated/plain20/cuda"
	"github.com/resnetc/resnetc/generated/plain56"
	plain56cuda "github.com/resnetc/resnetc/generated/plain56/cuda"
	"github.com/resnetc/resnetc/generated/resnet110"
	resnet110cuda "github.com/resnetc/resnetc/generated/resnet110/cuda"
	"github.com/resnetc/resnetc/generated/resnet152"
	resnet152cuda "github.com/resnetc/resnetc/generated/resnet152/cuda"
	"github.com/resnetc/resnetc/generated/resnet18"
	resnet18cuda "github.com/resnetc/resnetc/generated/resnet18/cuda"
	"github.com/resnetc/resnetc/generated/resnet20"
	resnet20cuda "github.com/resnetc/resnetc/generated/resnet20/cuda"
	"github.com/resnetc/resnetc/generated/resnet50"
	resnet50cuda "github.com/resnetc/resnetc/generated/resnet50/cuda"
	"github.com/resnetc/resnetc/generated/resnet56"
	resnet56cuda "github.com/resnetc/resnetc/generated/resnet56/cuda"
	"github.com/resnetc/resnetc/nn"
	"github.com/resnetc/resnetc/train"
)

// hostModel is what the CPU package's *Model offers: the state_dict that
// checkpoints read and write.
type hostModel interface {
	Params() []nn.Param
	WeightsChanged()
}

// deviceModel is a generated cuda package's *Model over the CPU model C.
type deviceModel[C any] interface {
	Forward(x []float32, batch int) ([]float32, error)
	Download(dst C) error
	Upload(src C) error
}

// deviceTrainer is a generated cuda package's *Trainer.
type deviceTrainer interface {
	Step(x []float32, labels []int, batch int) (float32, error)
	Logits() []float32
	SetLR(lr float32)
	Steps() int
	SetSteps(n int)
	ReadMomentum(dst []float32) error
	WriteMomentum(src []float32) error
}

// onDevice trains on the GPU and keeps the CPU model and a momentum
// buffer as the host copy that checkpoints and the final weights are
// written from; it is the run's train.Model, train.Trainer and
// train.Mirror at once.
type onDevice[C hostModel] struct {
	host C
	dev  deviceModel[C]
	deviceTrainer
	mom []float32
}

func (d *onDevice[C]) Forward(x []float32, batch int) ([]float32, error) {
	return d.dev.Forward(x, batch)
}
func (d *onDevice[C]) Params() []nn.Param  { return d.host.Params() }
func (d *onDevice[C]) WeightsChanged()     { d.host.WeightsChanged() }
func (d *onDevice[C]) Momentum() []float32 { return d.mom }

func (d *onDevice[C]) Pull() error {
	if err := d.dev.Download(d.host); err != nil {
		return err
	}
	return d.ReadMomentum(d.mom)
}

func (d *onDevice[C]) Push() error {
	if err := d.dev.Upload(d.host); err != nil {
		return err
	}
	return d.WriteMomentum(d.mom)
}

// onGPU uploads host (freshly initialised from the seed) to device 0 and
// wraps it with a trainer for opt.
func onGPU[C hostModel, M deviceModel[C], T deviceTrainer, O any](name string, c, h, w, classes int, host C,
	newModel func(C) (M, error), newTrainer func(M, O) (T, error), opt O) (train.Net, error) {
	m, err := newModel(host)
	if err != nil {
		return train.Net{}, err
	}
	t, err := newTrainer(m, opt)
	if err != nil {
		return train.Net{}, err
	}
	n := 0
	for _, p := range host.Params() {
		if p.Trainable {
			n += p.Elems()
		}
	}
	d := &onDevice[C]{host: host, dev: m, deviceTrainer: t, mom: make([]float32, n)}
	return train.Net{Name: name, C: c, H: h, W: w, Classes: classes, Model: d, Trainer: d, Mirror: d}, nil
}

func init() {
	gpuModels["resnet20"] = func(seed uint64, o sgd) (train.Net, error) {
		return onGPU("resnet20", resnet20.Channels, resnet20.Height, resnet20.Width, resnet20.Classes, resnet20.New(seed), resnet20cuda.New, resnet20cuda.NewTrainer, resnet20.SGD(o))
	}
	gpuModels["resnet56"] = func(seed uint64, o sgd) (train.Net, error) {
		return onGPU("resnet56", resnet56.Channels, resnet56.Height, resnet56.Width, resnet56.Classes, resnet56.New(seed), resnet56cuda.New, resnet56cuda.NewTrainer, resnet56.SGD(o))
	}
	gpuModels["resnet110"] = func(seed uint64, o sgd) (train.Net, error) {
		return onGPU("resnet110", resnet110.Channels, resnet110.Height, resnet110.Width, resnet110.Classes, resnet110.New(seed), resnet110cuda.New, resnet110cuda.NewTrainer, resnet110.SGD(o))
	}
	gpuModels["plain20"] = func(seed uint64, o sgd) (train.Net, error) {
		return onGPU("plain20", plain20.Channels, plain20.Height, plain20.Width, plain20.Classes, plain20.New(seed), plain20cuda.New, plain20cuda.NewTrainer, plain20.SGD(o))
	}
	gpuModels["plain56"] = func(seed uint64, o sgd) (train.Net, error) {
		return onGPU("plain56", plain56.Channels, plain56.Height, plain56.Width, plain56.Classes, plain56.New(seed), plain56cuda.New, plain56cuda.NewTrainer, plain56.SGD(o))
	}
	gpuModels["resnet18"] = func(seed uint64, o sgd) (train.Net, error) {
		return onGPU("resnet18", resnet18.Channels, resnet18.Height, resnet18.Width, resnet18.Classes, resnet18.New(seed), resnet18cuda.New, resnet18cuda.NewTrainer, resnet18.SGD(o))
	}
	gpuModels["resnet50"] = func(seed uint64, o sgd) (train.Net, error) {
		return onGPU("resnet50", resnet50.Channels, resnet50.Height, resnet50.Width, resnet50.Classes, resnet50.New(seed), resnet50cuda.New, resnet50cuda.NewTrainer, resnet50.SGD(o))
	}
	gpuModels["resnet152"] = func(seed uint64, o sgd) (train.Net, error) {
		return onGPU("resnet152", resnet152.Channels, resnet152.Height, resnet152.Width, resnet152.Classes, resnet152.New(seed), resnet152cuda.New, resnet152cuda.NewTrainer, resnet152.SGD(o))
	}
}
