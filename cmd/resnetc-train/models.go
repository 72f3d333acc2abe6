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
// schedule.
type sgd struct{ lr, momentum, weightDecay float32 }

// models are the packages under generated/, by name. A package compiled
// from a spec of one's own plugs in the same way: train.Net{Model:
// pkg.New(seed), Trainer: pkg.NewTrainer(...)} and train.Run.
var models = map[string]func(seed uint64, o sgd) train.Net{
	"resnet20": func(seed uint64, o sgd) train.Net {
		m := resnet20.New(seed)
		return train.Net{Name: "resnet20", C: resnet20.Channels, H: resnet20.Height, W: resnet20.Width, Classes: resnet20.Classes,
			Model: m, Trainer: resnet20.NewTrainer(m, resnet20.SGD{LR: o.lr, Momentum: o.momentum, WeightDecay: o.weightDecay})}
	},
	"resnet56": func(seed uint64, o sgd) train.Net {
		m := resnet56.New(seed)
		return train.Net{Name: "resnet56", C: resnet56.Channels, H: resnet56.Height, W: resnet56.Width, Classes: resnet56.Classes,
			Model: m, Trainer: resnet56.NewTrainer(m, resnet56.SGD{LR: o.lr, Momentum: o.momentum, WeightDecay: o.weightDecay})}
	},
	"resnet110": func(seed uint64, o sgd) train.Net {
		m := resnet110.New(seed)
		return train.Net{Name: "resnet110", C: resnet110.Channels, H: resnet110.Height, W: resnet110.Width, Classes: resnet110.Classes,
			Model: m, Trainer: resnet110.NewTrainer(m, resnet110.SGD{LR: o.lr, Momentum: o.momentum, WeightDecay: o.weightDecay})}
	},
	"plain20": func(seed uint64, o sgd) train.Net {
		m := plain20.New(seed)
		return train.Net{Name: "plain20", C: plain20.Channels, H: plain20.Height, W: plain20.Width, Classes: plain20.Classes,
			Model: m, Trainer: plain20.NewTrainer(m, plain20.SGD{LR: o.lr, Momentum: o.momentum, WeightDecay: o.weightDecay})}
	},
	"plain56": func(seed uint64, o sgd) train.Net {
		m := plain56.New(seed)
		return train.Net{Name: "plain56", C: plain56.Channels, H: plain56.Height, W: plain56.Width, Classes: plain56.Classes,
			Model: m, Trainer: plain56.NewTrainer(m, plain56.SGD{LR: o.lr, Momentum: o.momentum, WeightDecay: o.weightDecay})}
	},
	"resnet18": func(seed uint64, o sgd) train.Net {
		m := resnet18.New(seed)
		return train.Net{Name: "resnet18", C: resnet18.Channels, H: resnet18.Height, W: resnet18.Width, Classes: resnet18.Classes,
			Model: m, Trainer: resnet18.NewTrainer(m, resnet18.SGD{LR: o.lr, Momentum: o.momentum, WeightDecay: o.weightDecay})}
	},
	"resnet50": func(seed uint64, o sgd) train.Net {
		m := resnet50.New(seed)
		return train.Net{Name: "resnet50", C: resnet50.Channels, H: resnet50.Height, W: resnet50.Width, Classes: resnet50.Classes,
			Model: m, Trainer: resnet50.NewTrainer(m, resnet50.SGD{LR: o.lr, Momentum: o.momentum, WeightDecay: o.weightDecay})}
	},
	"resnet152": func(seed uint64, o sgd) train.Net {
		m := resnet152.New(seed)
		return train.Net{Name: "resnet152", C: resnet152.Channels, H: resnet152.Height, W: resnet152.Width, Classes: resnet152.Classes,
			Model: m, Trainer: resnet152.NewTrainer(m, resnet152.SGD{LR: o.lr, Momentum: o.momentum, WeightDecay: o.weightDecay})}
	},
}
