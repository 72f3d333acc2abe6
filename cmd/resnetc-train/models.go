package main

import (
	"github.com/resnetc/resnetc/generated/plain20"
	"github.com/resnetc/resnetc/generated/plain56"
	"github.com/resnetc/resnetc/generated/resnet110"
	"github.com/resnetc/resnetc/generated/resnet152"
	"github.com/resnetc/resnetc/generated/resnet18"
	"github.com/resnetc/resnetc/generated/resnet20"
	"github.com/resnetc/resnetc/generated/resnet50"
	"github.com/resnetc/resnetc/generated/resnet56"
	"github.com/resnetc/resnetc/train"
)

// sgd is the paper's optimiser; the learning rate is set per step by the
// schedule. Its fields match every generated package's SGD, so it converts.
type sgd struct{ LR, Momentum, WeightDecay float32 }

// wrap wraps one generated package's model and trainer.
func wrap(name string, c, h, w, classes int, m train.Model, t train.Trainer) train.Net {
	return train.Net{Name: name, C: c, H: h, W: w, Classes: classes, Model: m, Trainer: t}
}

// models are the packages under generated/, by name. A package compiled
// from a spec of one's own plugs in the same way: a train.Net of its
// New(seed) and NewTrainer, then train.Run.
var models = map[string]func(seed uint64, o sgd) train.Net{
	"resnet20": func(seed uint64, o sgd) train.Net {
		m := resnet20.New(seed)
		return wrap("resnet20", resnet20.Channels, resnet20.Height, resnet20.Width, resnet20.Classes, m, resnet20.NewTrainer(m, resnet20.SGD(o)))
	},
	"resnet56": func(seed uint64, o sgd) train.Net {
		m := resnet56.New(seed)
		return wrap("resnet56", resnet56.Channels, resnet56.Height, resnet56.Width, resnet56.Classes, m, resnet56.NewTrainer(m, resnet56.SGD(o)))
	},
	"resnet110": func(seed uint64, o sgd) train.Net {
		m := resnet110.New(seed)
		return wrap("resnet110", resnet110.Channels, resnet110.Height, resnet110.Width, resnet110.Classes, m, resnet110.NewTrainer(m, resnet110.SGD(o)))
	},
	"plain20": func(seed uint64, o sgd) train.Net {
		m := plain20.New(seed)
		return wrap("plain20", plain20.Channels, plain20.Height, plain20.Width, plain20.Classes, m, plain20.NewTrainer(m, plain20.SGD(o)))
	},
	"plain56": func(seed uint64, o sgd) train.Net {
		m := plain56.New(seed)
		return wrap("plain56", plain56.Channels, plain56.Height, plain56.Width, plain56.Classes, m, plain56.NewTrainer(m, plain56.SGD(o)))
	},
	"resnet18": func(seed uint64, o sgd) train.Net {
		m := resnet18.New(seed)
		return wrap("resnet18", resnet18.Channels, resnet18.Height, resnet18.Width, resnet18.Classes, m, resnet18.NewTrainer(m, resnet18.SGD(o)))
	},
	"resnet50": func(seed uint64, o sgd) train.Net {
		m := resnet50.New(seed)
		return wrap("resnet50", resnet50.Channels, resnet50.Height, resnet50.Width, resnet50.Classes, m, resnet50.NewTrainer(m, resnet50.SGD(o)))
	},
	"resnet152": func(seed uint64, o sgd) train.Net {
		m := resnet152.New(seed)
		return wrap("resnet152", resnet152.Channels, resnet152.Height, resnet152.Width, resnet152.Classes, m, resnet152.NewTrainer(m, resnet152.SGD(o)))
	},
}

// gpuModels are the same networks on a CUDA device, through their
// generated cuda packages; only a binary built with -tags cuda has them
// (models_cuda.go), as those need the CUDA driver at run time.
var gpuModels = map[string]func(seed uint64, o sgd) (train.Net, error){}
