// Package passes rewrites the IR between the front end and code generation.
// As in Go's SSA back end (cmd/compile/internal/ssa/compile.go), each
// pipeline is one ordered list of named passes, each a plain function over
// the graph, and the IR verifier runs after every pass: a pass that breaks
// an invariant is caught by name.
package passes

import (
	"fmt"
	"io"

	"github.com/resnetc/resnetc/ir"
)

// Pass is one named rewrite of a graph.
type Pass struct {
	Name string
	Fn   func(g *ir.Graph) error
}

// Inference is the pipeline for the inference graph (BN in eval mode).
// Order matters: BN folds into its conv before the residual add and then
// the ReLU join that conv's epilogue, so that each conv ends up computing
// relu(bn(conv(x)) + shortcut) in one pass over memory. Each conv's
// lowering is chosen after fusion; then the first layers may run image by
// image, before memory is planned.
var Inference = []Pass{
	{"fold-bn", FoldBN},
	{"fuse-add", FuseAdd},
	{"fuse-relu", FuseReLU},
	{"lower-conv", LowerConv},
	{"image-loop", ImageLoop},
	{"plan-memory", PlanMemory},
}

// InferenceUnfused plans memory without fusing anything: each BN, add and
// ReLU keeps its own pass over memory. It exists to measure what fusion
// buys (bench/fusion.sh).
var InferenceUnfused = []Pass{
	{"lower-conv", LowerConv},
	{"image-loop", ImageLoop},
	{"plan-memory", PlanMemory},
}

// Training fuses each train-mode batch norm with the residual add and the
// ReLU after it, forward and backward, so that neither the BN's output
// before the ReLU nor the sum is ever stored; the backward pass takes the
// ReLU's mask from bits the forward pass writes. Then it plans memory.
var Training = []Pass{
	{"fuse-bn-add", FuseBNAdd},
	{"fuse-bn-relu", FuseBNReLU},
	{"lower-conv-train", LowerConvTraining},
	{"plan-training-memory", PlanTrainingMemory},
}

// ForTraining returns a copy of g rewritten by the Training pipeline.
func ForTraining(g *ir.Graph, cfg Config) (*ir.Graph, error) {
	c := g.Clone()
	if err := Run(c, Training, cfg); err != nil {
		return nil, err
	}
	return c, nil
}

// ForInference returns a copy of g rewritten by the Inference pipeline.
func ForInference(g *ir.Graph, cfg Config) (*ir.Graph, error) {
	c := g.Clone()
	if err := Run(c, Inference, cfg); err != nil {
		return nil, err
	}
	return c, nil
}

// ForInferenceUnfused returns a copy of g rewritten by InferenceUnfused.
func ForInferenceUnfused(g *ir.Graph, cfg Config) (*ir.Graph, error) {
	c := g.Clone()
	if err := Run(c, InferenceUnfused, cfg); err != nil {
		return nil, err
	}
	return c, nil
}

// Names lists the passes of a pipeline, "frontend" first (the IR as the
// front end built it), for -dump-ir.
func Names(pipeline []Pass) []string {
	names := []string{"frontend"}
	for _, p := range pipeline {
		names = append(names, p.Name)
	}
	return names
}

// Config says where to print the IR after a pass, if anywhere.
type Config struct {
	Dump   string    // a pass name, or "frontend"
	DumpTo io.Writer // where Dump goes
}

// Run applies the pipeline to g in order, verifying the graph after each
// pass.
func Run(g *ir.Graph, pipeline []Pass, cfg Config) error {
	if cfg.Dump != "" {
		known := false
		for _, n := range Names(pipeline) {
			known = known || n == cfg.Dump
		}
		if !known {
			return fmt.Errorf("-dump-ir=%s: no such pass; the passes are %v", cfg.Dump, Names(pipeline))
		}
	}
	if cfg.Dump == "frontend" {
		io.WriteString(cfg.DumpTo, g.String())
	}
	for _, p := range pipeline {
		if err := p.Fn(g); err != nil {
			return fmt.Errorf("pass %s: %v", p.Name, err)
		}
		g.Compact()
		if err := g.Verify(); err != nil {
			return fmt.Errorf("after pass %s: %v", p.Name, err)
		}
		if cfg.Dump == p.Name {
			io.WriteString(cfg.DumpTo, g.String())
		}
	}
	return nil
}

// soleUser returns the only node that uses n, or nil when n has several
// users or is the graph's output (whose value must stay visible).
func soleUser(g *ir.Graph, n *ir.Node) *ir.Node {
	if n == g.Output {
		return nil
	}
	var user *ir.Node
	for _, u := range g.Nodes {
		for _, a := range u.Args {
			if a == n {
				if user != nil && user != u {
					return nil
				}
				user = u
			}
		}
	}
	return user
}

// FoldBN merges each inference batch norm into the conv that feeds it, when
// the conv feeds nothing else: the conv then owns the BN's tensors, and the
// generated code folds them into its weights and bias when weights load.
func FoldBN(g *ir.Graph) error {
	for _, bn := range g.Nodes {
		if bn.Op != ir.OpBatchNorm {
			continue
		}
		conv := bn.Args[0]
		if conv.Op != ir.OpConv || conv.FoldBN != "" || conv.FuseAdd || conv.FuseReLU || soleUser(g, conv) != bn {
			continue
		}
		conv.FoldBN, conv.Eps, conv.Momentum = bn.Name, bn.Eps, bn.Momentum
		conv.Params = append(conv.Params, bn.Params...)
		g.Replace(bn, conv)
	}
	return nil
}

// FuseAdd moves each residual add into the epilogue of a conv that feeds
// it and nothing else: the conv adds the other operand as it writes.
func FuseAdd(g *ir.Graph) error { return fuseAdd(g, ir.OpConv) }

// FuseReLU moves each ReLU into the epilogue of the conv that feeds it and
// nothing else.
func FuseReLU(g *ir.Graph) error { return fuseReLU(g, ir.OpConv) }

// FuseBNAdd moves each residual add into the train-mode batch norm that
// feeds it and nothing else.
func FuseBNAdd(g *ir.Graph) error { return fuseAdd(g, ir.OpBatchNorm) }

// FuseBNReLU moves each ReLU into the train-mode batch norm (with or
// without a fused add) that feeds it and nothing else.
func FuseBNReLU(g *ir.Graph) error { return fuseReLU(g, ir.OpBatchNorm) }

func fuseAdd(g *ir.Graph, into ir.Op) error {
	for _, add := range g.Nodes {
		if add.Op != ir.OpAdd {
			continue
		}
		// Prefer the residual branch (the first operand), which is what the
		// block computed last; the shortcut may be a projection too.
		for i, a := range add.Args {
			other := add.Args[1-i]
			if a.Op != into || a.FuseAdd || a.FuseReLU || soleUser(g, a) != add || other == a {
				continue
			}
			a.FuseAdd = true
			a.Args = append(a.Args, other)
			g.Replace(add, a)
			break
		}
	}
	return nil
}

func fuseReLU(g *ir.Graph, into ir.Op) error {
	for _, relu := range g.Nodes {
		if relu.Op != ir.OpReLU {
			continue
		}
		n := relu.Args[0]
		if n.Op != into || n.FuseReLU || soleUser(g, n) != relu {
			continue
		}
		n.FuseReLU = true
		g.Replace(relu, n)
	}
	return nil
}
