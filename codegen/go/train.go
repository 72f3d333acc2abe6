package gogen

import (
	"fmt"

	"github.com/dave/jennifer/jen"
	"github.com/resnetc/resnetc/ir"
	"github.com/resnetc/resnetc/nn"
)

// train emits train.go: SGD, Trainer, the train-mode forward pass, the
// loss and the backward pass.
func (gen *generator) train(f *jen.File) {
	g, p := gen.g, gen.p
	comment(f, "SGD is torch.optim.SGD without dampening or Nesterov: with d = grad +\nWeightDecay*p, the momentum buffer b = Momentum*b + d (b = d on the first\nstep) and p -= LR*b. Weight decay applies to every trainable tensor.")
	f.Type().Id("SGD").Struct(jen.Id("LR").Op(",").Id("Momentum").Op(",").Id("WeightDecay").Float32())
	f.Line()

	var gFields, sFields []jen.Code
	for _, prm := range g.StateDict() {
		if prm.Trainable() {
			gFields = append(gFields, jen.Id(gen.id(prm.Name)).Index().Float32())
		}
	}
	for _, n := range g.Nodes {
		if n.Op == ir.OpBatchNorm {
			sFields = append(sFields, jen.Id(gen.id(n.Name)+"_mean").Op(",").Id(gen.id(n.Name)+"_invstd").Index().Float32())
			if n.FuseReLU {
				sFields = append(sFields, jen.Id(gen.id(n.Name)+"_mask").Index().Uint16())
			}
		}
	}
	comment(f, "grads are the gradients of the trainable tensors: slices of Trainer.grad.")
	f.Type().Id("grads").Struct(gFields...)
	f.Line()
	comment(f, "bnStats keeps each BN's batch mean and 1/sqrt(var+eps), and each fused ReLU's\nmask, from the forward pass for the backward pass.")
	f.Type().Id("bnStats").Struct(sFields...)
	f.Line()
	comment(f, "Trainer trains a Model with SGD on softmax cross-entropy. It shares the model's\nmemory: do not use the model elsewhere while a step runs.")
	f.Type().Id("Trainer").Struct(
		jen.Id("m").Op("*").Id("Model"),
		jen.Id("opt").Id("SGD"),
		jen.Id("steps").Int(),
		jen.Id("grad").Index().Float32().Comment("gradients, laid out as the trainable part of Model.data"),
		jen.Id("momentum").Index().Float32().Comment("SGD momentum buffers, laid out the same way"),
		jen.Id("g").Id("grads"),
		jen.Id("gradParams").Index().Qual(NN, "Param"),
		jen.Id("stats").Index().Float32(),
		jen.Id("s").Id("bnStats"),
		jen.Id("masks").Index().Uint16().Comment("the fused ReLUs' masks, laid out for batch"),
		jen.Id("backup").Index().Float32().Comment("BN running statistics before the step, restored if the loss is not finite"),
		jen.Id("arena").Index().Float32().Comment("the planned training arena"),
		jen.Id("a").Id("activations").Comment("values of the train-mode forward pass"),
		jen.Id("d").Id("activations").Comment("their gradients"),
		jen.Id("batch").Int().Comment("batch that a and d are laid out for"),
	)
	f.Line()

	body := []jen.Code{
		jen.Id("t").Op(":=").Op("&").Id("Trainer").Values(
			jen.Id("m").Op(":").Id("m"), jen.Id("opt").Op(":").Id("opt"),
			jen.Id("grad").Op(":").Make(jen.Index().Float32(), jen.Id("trainableFloats")),
			jen.Id("momentum").Op(":").Make(jen.Index().Float32(), jen.Id("trainableFloats")),
			jen.Id("stats").Op(":").Make(jen.Index().Float32(), jen.Id("bnStatFloats")),
			jen.Id("backup").Op(":").Make(jen.Index().Float32(), jen.Id("paramFloats").Op("-").Id("trainableFloats"))),
		jen.Id("gr").Op(",").Id("st").Op(":=").Id("t").Dot("grad").Op(",").Id("t").Dot("stats"),
	}
	var plist []jen.Code
	for _, prm := range g.StateDict() {
		if !prm.Trainable() {
			continue
		}
		off := p.paramOff[prm]
		body = append(body, jen.Id("t").Dot("g").Dot(gen.id(prm.Name)).Op("=").Id("gr").Index(jen.Lit(off).Op(":").Lit(off+int(prm.Elems()))))
		plist = append(plist, jen.Values(jen.Id("Name").Op(":").Lit(prm.Name), jen.Id("Shape").Op(":").Add(ints(prm.Shape)),
			jen.Id("Data").Op(":").Id("t").Dot("g").Dot(gen.id(prm.Name)), jen.Id("Trainable").Op(":").True()))
	}
	for _, n := range g.Nodes {
		if n.Op == ir.OpBatchNorm {
			off, c := p.bnOff[n], n.Shape.C
			body = append(body,
				jen.Id("t").Dot("s").Dot(gen.id(n.Name)+"_mean").Op("=").Id("st").Index(jen.Lit(off).Op(":").Lit(off+c)),
				jen.Id("t").Dot("s").Dot(gen.id(n.Name)+"_invstd").Op("=").Id("st").Index(jen.Lit(off+c).Op(":").Lit(off+2*c)))
		}
	}
	body = append(body, jen.Id("t").Dot("gradParams").Op("=").Index().Qual(NN, "Param").ValuesFunc(func(gr *jen.Group) {
		for _, c := range plist {
			gr.Line().Add(c)
		}
		gr.Line()
	}), jen.Return(jen.Id("t")))
	comment(f, "NewTrainer returns a trainer that updates m with opt.")
	f.Func().Id("NewTrainer").Params(jen.Id("m").Op("*").Id("Model"), jen.Id("opt").Id("SGD")).Op("*").Id("Trainer").Block(body...)
	f.Line()

	comment(f, "Grads returns the gradient of every trainable tensor from the last Gradients\nor Step call, named as the tensors themselves.")
	f.Func().Params(jen.Id("t").Op("*").Id("Trainer")).Id("Grads").Params().Index().Qual(NN, "Param").Block(jen.Return(jen.Id("t").Dot("gradParams")))
	f.Line()
	comment(f, "Logits returns the train-mode logits of the last Loss, Gradients or Step call.\nThey alias the model's memory and are valid until the next call.")
	f.Func().Params(jen.Id("t").Op("*").Id("Trainer")).Id("Logits").Params().Index().Float32().Block(
		jen.Return(jen.Id("t").Dot("a").Dot(gen.id(g.Output.Name))))
	f.Line()

	recv := func() *jen.Statement { return jen.Params(jen.Id("t").Op("*").Id("Trainer")) }
	comment(f, "SetLR sets the learning rate of the following steps, for schedules and warm-up.")
	f.Func().Add(recv()).Id("SetLR").Params(jen.Id("lr").Float32()).Block(jen.Id("t").Dot("opt").Dot("LR").Op("=").Id("lr"))
	f.Line()
	comment(f, "Momentum returns SGD's momentum buffer, one value per trainable float in the\norder of the model's trainable tensors. It aliases the trainer's memory, so a\ncheckpoint saves it and a resumed run copies it back.")
	f.Func().Add(recv()).Id("Momentum").Params().Index().Float32().Block(jen.Return(jen.Id("t").Dot("momentum")))
	f.Line()
	comment(f, "Steps returns the number of SGD updates made.")
	f.Func().Add(recv()).Id("Steps").Params().Int().Block(jen.Return(jen.Id("t").Dot("steps")))
	f.Line()
	comment(f, "SetSteps sets the number of updates made, for a run resumed from a checkpoint:\nlike PyTorch's SGD, the first step starts the momentum from the gradient, and a\nresumed trainer must not do that again.")
	f.Func().Add(recv()).Id("SetSteps").Params(jen.Id("n").Int()).Block(jen.Id("t").Dot("steps").Op("=").Id("n"))
	f.Line()

	t := func() *jen.Statement { return jen.Id("t") }
	args := []jen.Code{jen.Id("x").Index().Float32(), jen.Id("labels").Index().Int(), jen.Id("batch").Int()}
	call := []jen.Code{jen.Id("x"), jen.Id("labels"), jen.Id("batch")}

	comment(f, "Step trains on one batch: the train-mode forward pass (BN with batch\nstatistics, running statistics updated with momentum 0.1 as PyTorch does),\nsoftmax cross-entropy averaged over the batch, the backward pass and one SGD\nupdate. It returns the loss before the update.")
	f.Func().Params(jen.Id("t").Op("*").Id("Trainer")).Id("Step").Params(args...).Params(jen.Float32(), jen.Error()).Block(
		jen.List(jen.Id("loss"), jen.Err()).Op(":=").Add(t()).Dot("Gradients").Call(call...),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Lit(0), jen.Err())),
		nnq("SGD").Call(t().Dot("m").Dot("data").Index(jen.Op(":").Id("trainableFloats")), t().Dot("grad"), t().Dot("momentum"),
			t().Dot("opt").Dot("LR"), t().Dot("opt").Dot("Momentum"), t().Dot("opt").Dot("WeightDecay"), t().Dot("steps").Op("==").Lit(0)),
		t().Dot("steps").Op("++"),
		t().Dot("m").Dot("stale").Op("=").True(),
		jen.Return(jen.Id("loss"), jen.Nil()),
	)
	f.Line()
	comment(f, "Gradients runs the forward and backward passes of Step without updating the\nweights; Grads then holds the gradients.")
	f.Func().Params(jen.Id("t").Op("*").Id("Trainer")).Id("Gradients").Params(args...).Params(jen.Float32(), jen.Error()).Block(
		jen.List(jen.Id("loss"), jen.Err()).Op(":=").Add(t()).Dot("Loss").Call(call...),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Lit(0), jen.Err())),
		t().Dot("backward").Call(jen.Id("x"), jen.Id("batch")),
		jen.Return(jen.Id("loss"), jen.Nil()),
	)
	f.Line()
	masks := []jen.Code{
		jen.If(jen.Id("need").Op(":=").Id("batch").Op("*").Id("bnMaskWords"), jen.Id("need").Op(">").Len(t().Dot("masks"))).Block(
			t().Dot("masks").Op("=").Make(jen.Index().Uint16(), jen.Id("need"))),
	}
	for _, n := range g.Nodes {
		if n.Op == ir.OpBatchNorm && n.FuseReLU {
			off, w := p.maskOff[n], nn.BNMaskWords(1, n.Shape.C, n.Shape.H*n.Shape.W)
			masks = append(masks, t().Dot("s").Dot(gen.id(n.Name)+"_mask").Op("=").Add(t()).Dot("masks").Index(jen.Lit(off).Op("*").Id("batch").Op(":").Lit(off+w).Op("*").Id("batch")))
		}
	}
	comment(f, "layoutMasks carves each fused ReLU's mask for a batch out of t.masks.")
	f.Func().Params(jen.Id("t").Op("*").Id("Trainer")).Id("layoutMasks").Params(jen.Id("batch").Int()).Block(masks...)
	f.Line()
	comment(f, "Loss runs the train-mode forward pass and returns the mean cross-entropy.\nLike any train-mode forward pass it updates the BN running statistics.")
	f.Func().Params(jen.Id("t").Op("*").Id("Trainer")).Id("Loss").Params(args...).Params(jen.Float32(), jen.Error()).Block(
		jen.If(jen.Err().Op(":=").Id("checkInput").Call(jen.Id("x"), jen.Id("batch")), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Lit(0), jen.Err())),
		jen.If(jen.Len(jen.Id("labels")).Op("!=").Id("batch")).Block(
			jen.Return(jen.Lit(0), jen.Qual("fmt", "Errorf").Call(jen.Lit(gen.pkg+": %d labels for a batch of %d"), jen.Len(jen.Id("labels")), jen.Id("batch")))),
		jen.For(jen.List(jen.Id("i"), jen.Id("l")).Op(":=").Range().Id("labels")).Block(
			jen.If(jen.Id("l").Op("<").Lit(0).Op("||").Id("l").Op(">=").Id("Classes")).Block(
				jen.Return(jen.Lit(0), jen.Qual("fmt", "Errorf").Call(jen.Lit(gen.pkg+": label %d of image %d is out of range 0..%d"), jen.Id("l"), jen.Id("i"), jen.Id("Classes").Op("-").Lit(1))))),
		jen.If(jen.Id("batch").Op("!=").Add(t()).Dot("batch")).Block(
			jen.If(jen.Id("need").Op(":=").Id("batch").Op("*").Id("trainFloats"), jen.Id("need").Op(">").Len(t().Dot("arena"))).Block(
				t().Dot("arena").Op("=").Make(jen.Index().Float32(), jen.Id("need"))),
			jen.List(t().Dot("a"), t().Dot("d")).Op("=").Id("trainLayout").Call(t().Dot("arena"), jen.Id("batch")),
			t().Dot("layoutMasks").Call(jen.Id("batch")),
			t().Dot("batch").Op("=").Id("batch"),
		),
		jen.Copy(t().Dot("backup"), t().Dot("m").Dot("data").Index(jen.Id("trainableFloats").Op(":"))),
		t().Dot("forward").Call(jen.Id("x"), jen.Id("batch")),
		jen.Comment("The BN running statistics moved; Forward must refold them."),
		t().Dot("m").Dot("stale").Op("=").True(),
		jen.Id("loss").Op(":=").Qual(NN, "SoftmaxCrossEntropy").Call(t().Dot("d").Dot(gen.id(g.Output.Name)), t().Dot("a").Dot(gen.id(g.Output.Name)),
			jen.Id("labels"), jen.Id("batch"), jen.Id("Classes")),
		jen.If(jen.Qual("math", "IsNaN").Call(jen.Id("loss")).Op("||").Qual("math", "IsInf").Call(jen.Id("loss"), jen.Lit(0))).Block(
			jen.Comment("Leave the model as it was: no update, and the BN statistics restored."),
			jen.Copy(t().Dot("m").Dot("data").Index(jen.Id("trainableFloats").Op(":")), t().Dot("backup")),
			jen.For(jen.Id("i").Op(":=").Range().Add(t()).Dot("m").Dot("counts")).Block(t().Dot("m").Dot("counts").Index(jen.Id("i")).Op("--")),
			jen.Return(jen.Lit(0), jen.Qual("fmt", "Errorf").Call(jen.Lit(gen.pkg+": the loss is %v; the model was left unchanged"), jen.Id("loss")))),
		jen.Return(jen.Float32().Call(jen.Id("loss")), jen.Nil()),
	)
	f.Line()

	fwd := []jen.Code{gen.locals(false)}
	fwd = append(fwd, gen.forward(true)...)
	fwd = append(fwd, jen.Line(), jen.Comment("Each BN has seen one more batch, as PyTorch counts in train mode."),
		jen.For(jen.Id("i").Op(":=").Range().Id("t").Dot("m").Dot("counts")).Block(jen.Id("t").Dot("m").Dot("counts").Index(jen.Id("i")).Op("++")))
	comment(f, "forward is Forward with BN in train mode.")
	f.Func().Params(jen.Id("t").Op("*").Id("Trainer")).Id("forward").Params(jen.Id("x").Index().Float32(), jen.Id("batch").Int()).Block(fwd...)
	f.Line()

	bwd := []jen.Code{gen.locals(true)}
	written := map[*ir.Node]bool{}
	nodes := g.Nodes[1:]
	block := ""
	for i := len(nodes) - 1; i >= 0; i-- {
		n := nodes[i]
		if n.Block != block {
			block = n.Block
			bwd = append(bwd, jen.Line())
			if block != "" {
				bwd = append(bwd, jen.Comment(block))
			}
		}
		// A gradient shares memory with values that died before it: its
		// first contribution overwrites the buffer where the step can
		// (nn.SetGrad), else clears it first; later ones add to it.
		fresh := map[*ir.Node]bool{}
		for i, a := range n.Args {
			if a.Op == ir.OpInput || written[a] {
				continue
			}
			written[a] = true
			if setsGrad(n, i) {
				fresh[a] = true
			} else {
				bwd = append(bwd, jen.Clear(gen.grad(a)))
			}
		}
		bwd = append(bwd, gen.backwardNode(n, fresh)...)
	}
	comment(f, "backward propagates the loss gradient from the logits to every tensor,\nlayer by layer in reverse; activation gradients accumulate, since a block's\ninput feeds both its branch and its shortcut: the first contribution\noverwrites the planned buffer (or clears it first), the others add to it.")
	f.Func().Params(jen.Id("t").Op("*").Id("Trainer")).Id("backward").Params(jen.Id("x").Index().Float32(), jen.Id("batch").Int()).Block(bwd...)
}

// locals declares the short names the pass bodies use.
func (gen *generator) locals(backward bool) jen.Code {
	names := []jen.Code{jen.Id("w"), jen.Id("a"), jen.Id("s"), jen.Id("ws")}
	vals := []jen.Code{jen.Op("&").Id("t").Dot("m").Dot("w"), jen.Op("&").Id("t").Dot("a"), jen.Op("&").Id("t").Dot("s"), jen.Id("t").Dot("m").Dot("ws")}
	if backward {
		names = append(names, jen.Id("d"), jen.Id("g"))
		vals = append(vals, jen.Op("&").Id("t").Dot("d"), jen.Op("&").Id("t").Dot("g"))
	}
	return jen.List(names...).Op(":=").List(vals...)
}

// grad is the gradient buffer of a node's output, or nil for the input.
func (gen *generator) grad(n *ir.Node) *jen.Statement {
	if n.Op == ir.OpInput {
		return jen.Nil()
	}
	return jen.Id("d").Dot(gen.id(n.Name))
}

// setsGrad reports whether n's backward step can overwrite the gradient of
// its argument i rather than add to it: a conv's input, a batch norm's
// input and fused residual, a global pool's and an option-A shortcut's
// input, when no other argument is the same tensor.
func setsGrad(n *ir.Node, i int) bool {
	for j, a := range n.Args {
		if j != i && a == n.Args[i] {
			return false
		}
	}
	switch n.Op {
	case ir.OpConv:
		return i == 0
	case ir.OpBatchNorm:
		return i == 0 || i == 1 && n.FuseAdd
	case ir.OpGlobalAvgPool, ir.OpShortcutA:
		return i == 0
	}
	return false
}

// gradWrite is nn.SetGrad for a gradient this step writes first (fresh),
// else nn.AddGrad.
func gradWrite(a *ir.Node, fresh map[*ir.Node]bool) *jen.Statement {
	if fresh[a] {
		return nnq("SetGrad")
	}
	return nnq("AddGrad")
}

func (gen *generator) backwardNode(n *ir.Node, fresh map[*ir.Node]bool) []jen.Code {
	dy := jen.Id("d").Dot(gen.id(n.Name))
	y := jen.Id("a").Dot(gen.id(n.Name))
	xn := n.Args[0]
	x, dx := gen.value(xn), gen.grad(xn)
	toInput := xn.Op == ir.OpInput
	dims := jen.Id(gen.id(n.Name) + "_dims")
	batch := jen.Id("batch")
	switch n.Op {
	case ir.OpConv:
		db := jen.Nil()
		if n.Bias {
			db = gen.param("g", n, "bias")
		}
		return []jen.Code{nnq("Conv2DBackward").Call(jen.Id("ws"), dx, gradWrite(xn, fresh), gen.param("g", n, "weight"), db, dy, x, gen.param("w", n, "weight"), batch, dims)}
	case ir.OpBatchNorm:
		dres, resWrite := jen.Nil(), nnq("SetGrad")
		if n.FuseAdd {
			dres, resWrite = gen.grad(n.Args[1]), gradWrite(n.Args[1], fresh)
		}
		mask := jen.Nil()
		if n.FuseReLU {
			mask = jen.Id("s").Dot(gen.id(n.Name) + "_mask")
		}
		return []jen.Code{nnq("BatchNormFusedBackward").Call(jen.Id("ws"), dx, gradWrite(xn, fresh), dres, resWrite, gen.param("g", n, "weight"), gen.param("g", n, "bias"), dy, x, jen.Lit(n.FuseReLU), mask, gen.param("w", n, "weight"),
			jen.Id("s").Dot(gen.id(n.Name)+"_mean"), jen.Id("s").Dot(gen.id(n.Name)+"_invstd"), batch, jen.Lit(n.Shape.C), jen.Lit(n.Shape.H*n.Shape.W))}
	case ir.OpReLU:
		if toInput {
			return nil
		}
		return []jen.Code{nnq("ReLUBackward").Call(dx, dy, y)}
	case ir.OpMaxPool:
		if toInput {
			return nil
		}
		return []jen.Code{nnq("MaxPoolBackward").Call(dx, dy, x, batch, dims)}
	case ir.OpGlobalAvgPool:
		if toInput {
			return nil
		}
		in := xn.Shape
		return []jen.Code{nnq("GlobalAvgPoolBackward").Call(dx, gradWrite(xn, fresh), dy, jen.Id("batch").Op("*").Lit(in.C), jen.Lit(in.H*in.W))}
	case ir.OpLinear:
		return []jen.Code{nnq("LinearBackward").Call(jen.Id("ws"), dx, gen.param("g", n, "weight"), gen.param("g", n, "bias"), dy, x, gen.param("w", n, "weight"),
			batch, jen.Lit(int(xn.Shape.Elems())), jen.Lit(n.Out))}
	case ir.OpAdd:
		var out []jen.Code
		for _, arg := range n.Args {
			if arg.Op != ir.OpInput {
				out = append(out, nnq("Accumulate").Call(gen.grad(arg), dy))
			}
		}
		return out
	case ir.OpShortcutA:
		if toInput {
			return nil
		}
		return []jen.Code{nnq("ShortcutABackward").Call(jen.Id("ws"), dx, gradWrite(xn, fresh), dy, batch, dims)}
	}
	panic(fmt.Sprintf("gogen: no backward code for %v", n.Op))
}

// test emits model_test.go, which runs package nntest's checks on the model.
func (gen *generator) test(f *jen.File) {
	const nntest = NN + "/nntest"
	comment(f, "TestModel checks shapes, errors, determinism, gradients against finite\ndifferences, allocation-free calls and a save/load round trip.")
	f.Func().Id("TestModel").Params(jen.Id("t").Op("*").Qual("testing", "T")).Block(
		jen.Qual(nntest, "Run").Call(jen.Id("t"), jen.Qual(nntest, "Spec").Values(
			jen.Line().Id("New").Op(":").Func().Params(jen.Id("seed").Uint64()).Qual(nntest, "Model").Block(jen.Return(jen.Id("New").Call(jen.Id("seed")))),
			jen.Line().Id("NewTrainer").Op(":").Func().Params(jen.Id("m").Qual(nntest, "Model"), jen.Id("lr").Float32()).Qual(nntest, "Trainer").Block(
				jen.Return(jen.Id("NewTrainer").Call(jen.Id("m").Assert(jen.Op("*").Id("Model")), jen.Id("SGD").Values(jen.Id("LR").Op(":").Id("lr"), jen.Id("Momentum").Op(":").Lit(0.9))))),
			jen.Line().Id("ImageFloats").Op(":").Id("imageFloats"),
			jen.Line().Id("Classes").Op(":").Id("Classes"),
			jen.Line(),
		)),
	)
}
