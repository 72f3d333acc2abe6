package gogen

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"
	"github.com/resnetc/resnetc/ir"
)

func shapeComment(s []int) string {
	if len(s) == 0 {
		return "scalar"
	}
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, "x")
}

func ints(s []int) *jen.Statement {
	vals := make([]jen.Code, len(s))
	for i, d := range s {
		vals[i] = jen.Lit(d)
	}
	return jen.Index().Int().Values(vals...)
}

// model emits model.go: constants, types, New, weights I/O and Forward.
func (gen *generator) model(f *jen.File) {
	g, p := gen.g, gen.p
	in := g.Input.Shape
	packageComment(f, fmt.Sprintf("Package %s is the %s network compiled by resnetc into straight-line Go.\n"+
		"Forward runs inference; a Trainer runs SGD steps. Parameters are named as in\n"+
		"PyTorch's state_dict and load from and save to safetensors files.", gen.pkg, g.Name))

	comment(f, "This code needs the nn package of the resnetc that generated it.")
	f.Const().Id("_").Op("=").Qual(NN, "IsVersion1")
	f.Line()
	f.Const().Defs(
		jen.Comment("Channels, Height and Width are the shape of one input image (NCHW float32)."),
		jen.Id("Channels").Op("=").Lit(in.C),
		jen.Id("Height").Op("=").Lit(in.H),
		jen.Id("Width").Op("=").Lit(in.W),
		jen.Comment("Classes is the number of logits per image."),
		jen.Id("Classes").Op("=").Lit(g.Classes()),
	)
	f.Line()
	f.Const().Defs(
		jen.Id("imageFloats").Op("=").Id("Channels").Op("*").Id("Height").Op("*").Id("Width"),
		jen.Comment("trainFloats is the per-image size of the training arena, as the memory plan\nlaid it out: the values the backward pass needs and the gradients, overlapping\nwhere they are never alive together."),
		jen.Id("trainFloats").Op("=").Lit(p.actFloats),
		jen.Comment("inferFloats is the per-image size of the inference activation arena, as the\nmemory plan laid it out: values that are never alive together share it."),
		jen.Id("inferFloats").Op("=").Lit(p.inferFloats),
		jen.Do(func(s *jen.Statement) {
			if p.loopArena > 0 {
				s.Comment("Batches of more than one image run the first layers image by image (the\nimage-loop pass), in another plan of the inference arena: loopFloats for one\nimage's values of those layers, whatever the batch, then loopArenaFloats per image.").Line().
					Id("loopFloats").Op("=").Lit(p.loopFloats).Line().
					Id("loopArenaFloats").Op("=").Lit(p.loopArena)
			}
		}),
		jen.Comment("foldFloats holds the weights and biases of the convs with a batch norm folded in."),
		jen.Id("foldFloats").Op("=").Lit(p.foldFloats),
		jen.Comment("paramFloats counts the float parameters; the first trainableFloats are trained."),
		jen.Id("paramFloats").Op("=").Lit(p.paramFloats),
		jen.Id("trainableFloats").Op("=").Lit(p.trainable),
		jen.Comment("colFloats is the conv scratch (im2col columns, Winograd tiles) of the largest convolution."),
		jen.Id("colFloats").Op("=").Lit(p.colFloats),
		jen.Comment("bnStatFloats holds each BN's batch mean and 1/std for the backward pass."),
		jen.Id("bnStatFloats").Op("=").Lit(p.bnFloats),
		jen.Comment("bnMaskWords is the per-image size of the fused ReLUs' masks for the backward\npass, one bit a value (nn.BNMaskWords)."),
		jen.Id("bnMaskWords").Op("=").Lit(p.maskWords),
		jen.Comment("bnCounters is the number of BN num_batches_tracked counters."),
		jen.Id("bnCounters").Op("=").Lit(len(p.counter)),
		jen.Comment("maxBatch keeps the inference and training arenas under 16 GiB."),
		jen.Id("maxBatch").Op("=").Lit(max(1, (16<<30)/(4*(p.actFloats+p.inferFloats)))),
	)
	f.Line()

	// Shapes of the layers that take more than sizes.
	var dimDefs []jen.Code
	convDef := func(name string, n *ir.Node) jen.Code {
		d := convDims(n)
		fields := []jen.Code{
			jen.Id("C").Op(":").Lit(d.c), jen.Id("H").Op(":").Lit(d.h), jen.Id("W").Op(":").Lit(d.w),
			jen.Id("K").Op(":").Lit(n.Out), jen.Id("KH").Op(":").Lit(n.KH), jen.Id("KW").Op(":").Lit(n.KW),
			jen.Id("Stride").Op(":").Lit(n.Stride), jen.Id("Pad").Op(":").Lit(n.Pad),
			jen.Id("OH").Op(":").Lit(n.Shape.H), jen.Id("OW").Op(":").Lit(n.Shape.W),
			jen.Id("Lowering").Op(":").Qual(NN, lowering[n.Lowering])}
		if n.Winograd4From != 0 {
			fields = append(fields, jen.Id("Winograd4From").Op(":").Lit(n.Winograd4From))
		}
		return jen.Id(name).Op("=").Qual(NN, "ConvDims").Values(fields...)
	}
	for _, n := range g.Nodes {
		switch n.Op {
		case ir.OpConv:
			dimDefs = append(dimDefs, convDef(gen.id(n.Name)+"_dims", n))
		case ir.OpMaxPool:
			x := n.Args[0].Shape
			dimDefs = append(dimDefs, jen.Id(gen.id(n.Name)+"_dims").Op("=").Qual(NN, "PoolDims").Values(
				jen.Id("C").Op(":").Lit(x.C), jen.Id("H").Op(":").Lit(x.H), jen.Id("W").Op(":").Lit(x.W),
				jen.Id("KH").Op(":").Lit(n.KH), jen.Id("KW").Op(":").Lit(n.KW),
				jen.Id("Stride").Op(":").Lit(n.Stride), jen.Id("Pad").Op(":").Lit(n.Pad),
				jen.Id("OH").Op(":").Lit(n.Shape.H), jen.Id("OW").Op(":").Lit(n.Shape.W)))
		case ir.OpShortcutA:
			x := n.Args[0].Shape
			dimDefs = append(dimDefs, jen.Id(gen.id(n.Name)+"_dims").Op("=").Qual(NN, "ShortcutDims").Values(
				jen.Id("C").Op(":").Lit(x.C), jen.Id("H").Op(":").Lit(x.H), jen.Id("W").Op(":").Lit(x.W),
				jen.Id("Stride").Op(":").Lit(n.Stride), jen.Id("OH").Op(":").Lit(n.Shape.H), jen.Id("OW").Op(":").Lit(n.Shape.W),
				jen.Id("Lo").Op(":").Lit(n.PadLo), jen.Id("Hi").Op(":").Lit(n.PadHi)))
		}
	}
	doc := "Layer shapes, per image."
	for _, n := range gen.gi.Nodes {
		if p.ownDims[n] {
			dimDefs = append(dimDefs, convDef(gen.dims(n), n))
			doc = "Layer shapes, per image; _infer_dims where inference lowers a conv\nunlike training (Lowering, Winograd4From)."
		}
	}
	if len(dimDefs) > 0 {
		comment(f, doc)
		f.Var().Defs(dimDefs...)
		f.Line()
	}

	// weights and activations.
	var wFields, aFields []jen.Code
	for _, prm := range g.StateDict() {
		if prm.Kind != ir.BatchesTracked {
			wFields = append(wFields, jen.Id(gen.id(prm.Name)).Index().Float32().Comment(shapeComment(prm.Shape)))
		}
	}
	for _, n := range g.Nodes[1:] {
		aFields = append(aFields, jen.Id(gen.id(n.Name)).Index().Float32().Comment(n.Op.String()+" "+n.Shape.String()))
	}
	comment(f, "weights are the model's float tensors: slices of Model.data.")
	f.Type().Id("weights").Struct(wFields...)
	f.Line()
	comment(f, "activations has a buffer for each layer output of the training graph (or its\ngradient), each batch times the per-image shape; buffers overlap where the\nmemory plan found their values never alive together.")
	f.Type().Id("activations").Struct(aFields...)
	f.Line()
	var iFields, fFields []jen.Code
	for _, n := range gen.gi.Nodes[1:] {
		iFields = append(iFields, jen.Id(gen.id(n.Name)).Index().Float32().Comment(describe(n)))
		if n.Op == ir.OpConv && n.FoldBN != "" {
			fFields = append(fFields, jen.Id(gen.id(n.Name)+"_weight").Op(",").Id(gen.id(n.Name)+"_bias").Index().Float32().Comment("with "+n.FoldBN+" folded in"))
		}
		if n.Op == ir.OpConv {
			fFields = append(fFields, jen.Id(gen.id(n.Name)+"_packed").Op("*").Qual(NN, "PackedConv").Comment("its weights prepared for its lowering"))
		}
	}
	comment(f, "inferActivations are the outputs of the fused inference graph, in which each conv\nalso applies its batch norm, residual add and ReLU.")
	f.Type().Id("inferActivations").Struct(iFields...)
	f.Line()
	comment(f, "folded holds the inference weights: conv weights and biases with their batch norm\nfolded in (slices of Model.fold), and every conv's weights prepared once for its\nlowering (packed for the GEMM, or transformed for Winograd).")
	f.Type().Id("folded").Struct(fFields...)
	f.Line()

	comment(f, "Model is the network with its weights and working memory. It is not safe\nfor concurrent use; give each goroutine its own Model.")
	f.Type().Id("Model").Struct(
		jen.Id("data").Index().Float32().Comment("every float parameter, trainable ones first"),
		jen.Id("w").Id("weights"),
		jen.Id("counts").Index().Int64().Comment("each BN's num_batches_tracked, in state_dict order"),
		jen.Id("params").Index().Qual(NN, "Param"),
		jen.Id("ws").Op("*").Qual(NN, "Workspace"),
		jen.Id("fold").Index().Float32().Comment("folded conv weights for inference"),
		jen.Id("f").Id("folded"),
		jen.Id("stale").Bool().Comment("fold is out of date: weights or BN statistics changed"),
		jen.Id("iarena").Index().Float32().Comment("inference activations"),
		jen.Id("ia").Id("inferActivations"),
		jen.Id("ibatch").Int().Comment("batch that ia is laid out for"),
	)
	f.Line()

	// New.
	var body []jen.Code
	body = append(body,
		jen.Id("m").Op(":=").Op("&").Id("Model").Values(
			jen.Id("data").Op(":").Make(jen.Index().Float32(), jen.Id("paramFloats")),
			jen.Id("counts").Op(":").Make(jen.Index().Int64(), jen.Id("bnCounters")),
			jen.Id("fold").Op(":").Make(jen.Index().Float32(), jen.Id("foldFloats")),
			jen.Id("stale").Op(":").True(),
			jen.Id("ws").Op(":").Qual(NN, "NewWorkspace").Call(jen.Id("colFloats"))),
		jen.Id("d").Op(":=").Id("m").Dot("data"),
	)
	for _, prm := range g.StateDict() {
		if prm.Kind == ir.BatchesTracked {
			continue
		}
		off := p.paramOff[prm]
		body = append(body, jen.Id("m").Dot("w").Dot(gen.id(prm.Name)).Op("=").Id("d").Index(jen.Lit(off).Op(":").Lit(off+int(prm.Elems()))))
	}
	var plist []jen.Code
	for _, prm := range g.StateDict() {
		fields := []jen.Code{jen.Id("Name").Op(":").Lit(prm.Name), jen.Id("Shape").Op(":").Add(ints(prm.Shape))}
		if prm.Kind == ir.BatchesTracked {
			fields = append(fields, jen.Id("Count").Op(":").Op("&").Id("m").Dot("counts").Index(jen.Lit(p.counter[prm])))
		} else {
			fields = append(fields, jen.Id("Data").Op(":").Id("m").Dot("w").Dot(gen.id(prm.Name)))
		}
		if prm.Trainable() {
			fields = append(fields, jen.Id("Trainable").Op(":").True())
		}
		plist = append(plist, jen.Values(fields...))
	}
	for _, n := range gen.gi.Nodes {
		if n.Op == ir.OpConv {
			body = append(body, jen.Id("m").Dot("f").Dot(gen.id(n.Name)+"_packed").Op("=").Qual(NN, "NewPackedConv").Call(jen.Id(gen.dims(n))))
		}
		if off, ok := p.foldOff[n]; ok {
			size := int(n.Params[0].Elems())
			body = append(body,
				jen.Id("m").Dot("f").Dot(gen.id(n.Name)+"_weight").Op("=").Id("m").Dot("fold").Index(jen.Lit(off).Op(":").Lit(off+size)),
				jen.Id("m").Dot("f").Dot(gen.id(n.Name)+"_bias").Op("=").Id("m").Dot("fold").Index(jen.Lit(off+size).Op(":").Lit(off+size+n.Out)))
		}
	}
	body = append(body, jen.Id("m").Dot("params").Op("=").Index().Qual(NN, "Param").ValuesFunc(func(gr *jen.Group) {
		for _, c := range plist {
			gr.Line().Add(c)
		}
		gr.Line()
	}))
	body = append(body, jen.Line(), jen.Comment("As torchvision initialises a ResNet; BN biases and running means start at zero."),
		jen.Id("r").Op(":=").Qual(NN, "NewRand").Call(jen.Id("seed")))
	owner := map[*ir.Param]*ir.Node{}
	for _, n := range g.Nodes {
		for _, prm := range n.Params {
			owner[prm] = n
		}
	}
	for _, prm := range g.StateDict() { // state_dict order: New(seed) draws the same whatever passes did
		n := owner[prm]
		{
			var how string
			fan := 0
			switch {
			case n.Op == ir.OpConv && prm.Kind == ir.Weight:
				how, fan = "InitHeFanOut", n.Out*n.KH*n.KW
			case n.Op == ir.OpConv && prm.Kind == ir.Bias:
				how, fan = "InitUniformFanIn", n.Args[0].Shape.C*n.KH*n.KW
			case n.Op == ir.OpLinear:
				how, fan = "InitUniformFanIn", int(n.Args[0].Shape.Elems())
			case n.Op == ir.OpBatchNorm && (prm.Kind == ir.Weight || prm.Kind == ir.RunningVar):
				how = "InitOne"
			default:
				continue
			}
			body = append(body, nnq("Initialize").Call(jen.Id("m").Dot("w").Dot(gen.id(prm.Name)), nnq(how), jen.Lit(fan), jen.Id("r")))
		}
	}
	body = append(body, jen.Return(jen.Id("m")))
	comment(f, "New returns a model with weights initialised from seed as torchvision\ninitialises a ResNet: He-normal convolutions (fan_out), BN gamma 1 and beta 0,\nrunning mean 0 and variance 1, and PyTorch's default fc initialisation.")
	f.Func().Id("New").Params(jen.Id("seed").Uint64()).Op("*").Id("Model").Block(body...)
	f.Line()

	comment(f, "Params returns every tensor under its PyTorch state_dict name, in state_dict\norder. The slices alias the model's weights.")
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("Params").Params().Index().Qual(NN, "Param").Block(jen.Return(jen.Id("m").Dot("params")))
	f.Line()
	comment(f, "LoadWeights reads a safetensors file holding exactly the model's tensors\n(float32, the BN counters int64). On any mismatch the model is unchanged and\nthe error lists the missing and unexpected tensors or names the wrong one.")
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("LoadWeights").Params(jen.Id("path").String()).Error().Block(
		jen.If(jen.Err().Op(":=").Add(nnq("LoadParams")).Call(jen.Id("path"), jen.Id("m").Dot("params")), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
		jen.Id("m").Dot("stale").Op("=").True(),
		jen.Return(jen.Nil()))
	f.Line()
	comment(f, "WeightsChanged tells the model that tensors were changed through Params, so\nthat Forward refolds its batch norms into the conv weights.")
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("WeightsChanged").Params().Block(jen.Id("m").Dot("stale").Op("=").True())
	f.Line()
	var folds []jen.Code
	for _, n := range gen.gi.Nodes {
		if n.Op != ir.OpConv || n.FoldBN == "" {
			continue
		}
		bias := jen.Nil()
		if n.Bias {
			bias = jen.Id("w").Dot(gen.id(n.Name + ".bias"))
		}
		bn := func(s string) *jen.Statement { return jen.Id("w").Dot(gen.id(n.FoldBN + "." + s)) }
		folds = append(folds, nnq("FoldBN").Call(jen.Id("m").Dot("f").Dot(gen.id(n.Name)+"_weight"), jen.Id("m").Dot("f").Dot(gen.id(n.Name)+"_bias"),
			jen.Id("w").Dot(gen.id(n.Name+".weight")), bias, bn("weight"), bn("bias"), bn("running_mean"), bn("running_var"), jen.Lit(float32(n.Eps))))
	}
	comment(f, "refold computes the inference weights: each batch norm folded into its conv,\nthen every conv's weights prepared for its lowering.")
	// Then every conv's inference weights are packed for the GEMM.
	usesW := len(folds) > 0
	for _, n := range gen.gi.Nodes {
		if n.Op != ir.OpConv {
			continue
		}
		wt := jen.Id("m").Dot("f").Dot(gen.id(n.Name) + "_weight")
		if n.FoldBN == "" {
			wt, usesW = jen.Id("w").Dot(gen.id(n.Name+".weight")), true
		}
		folds = append(folds, jen.Id("m").Dot("f").Dot(gen.id(n.Name)+"_packed").Dot("Pack").Call(wt))
	}
	var refold []jen.Code
	if usesW {
		refold = append(refold, jen.Id("w").Op(":=").Op("&").Id("m").Dot("w"))
	}
	refold = append(refold, folds...)
	refold = append(refold, jen.Id("m").Dot("stale").Op("=").False())
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("refold").Params().Block(refold...)
	f.Line()
	comment(f, "SaveWeights writes the model's tensors to a safetensors file, atomically.")
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("SaveWeights").Params(jen.Id("path").String()).Error().Block(
		jen.Return(nnq("SaveParams").Call(jen.Id("path"), jen.Id("m").Dot("params"))))
	f.Line()

	// Training layout: values at Offset, gradients at GradOffset. Each
	// value says what the backward pass keeps it for.
	var aSlices, dSlices []jen.Code
	for _, n := range g.Nodes[1:] {
		size := int(n.Shape.Elems())
		slice := func(off int) *jen.Statement {
			return jen.Id(gen.id(n.Name)).Op(":").Id("arena").Index(
				jen.Lit(off).Op("*").Id("batch").Op(":").Lit(off + size).Op("*").Id("batch"))
		}
		aSlices = append(aSlices, slice(p.actOff[n]))
		dSlices = append(dSlices, slice(p.gradOff[n]))
	}
	lit := func(slices []jen.Code) *jen.Statement {
		return jen.Id("activations").ValuesFunc(func(gr *jen.Group) {
			for _, s := range slices {
				gr.Line().Add(s)
			}
			gr.Line()
		})
	}
	kept := []string{"trainLayout carves the values and the gradients of a training step out of one",
		"arena sized for batch images, at the offsets of the memory plan. A value's memory",
		"is reused once nothing needs it; what the backward pass keeps each value for:"}
	for _, n := range g.Nodes[1:] {
		kept = append(kept, "  "+n.Name+": "+keptFor(g, n))
	}
	comment(f, strings.Join(kept, "\n"))
	f.Func().Id("trainLayout").Params(jen.Id("arena").Index().Float32(), jen.Id("batch").Int()).Params(jen.Id("a"), jen.Id("d").Id("activations")).Block(
		jen.Return(lit(aSlices), lit(dSlices)))
	f.Line()
	comment(f, "checkInput rejects a batch size or an input length that do not fit.")
	f.Func().Id("checkInput").Params(jen.Id("x").Index().Float32(), jen.Id("batch").Int()).Error().Block(
		jen.If(jen.Id("batch").Op("<").Lit(1).Op("||").Id("batch").Op(">").Id("maxBatch")).Block(
			jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit(gen.pkg+": batch %d is out of range 1..%d"), jen.Id("batch"), jen.Id("maxBatch")))),
		jen.If(jen.Len(jen.Id("x")).Op("!=").Id("batch").Op("*").Id("imageFloats")).Block(
			jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit(gen.pkg+": input has %d floats; a batch of %d images of %dx%dx%d needs %d"),
				jen.Len(jen.Id("x")), jen.Id("batch"), jen.Id("Channels"), jen.Id("Height"), jen.Id("Width"), jen.Id("batch").Op("*").Id("imageFloats")))),
		jen.Return(jen.Nil()),
	)
	f.Line()

	// Inference layout.
	var islices, lslices []jen.Code
	for _, n := range gen.gi.Nodes[1:] {
		off, size := p.inferOff[n], int(n.Shape.Elems())
		islices = append(islices, jen.Id(gen.id(n.Name)).Op(":").Id("arena").Index(
			jen.Lit(off).Op("*").Id("batch").Op(":").Lit(off+size).Op("*").Id("batch")))
		off = p.loopOff[n]
		span := jen.Id("loopFloats").Op("+").Lit(off).Op("*").Id("batch").Op(":").Id("loopFloats").Op("+").Lit(off + size).Op("*").Id("batch")
		if n.PerImage {
			span = jen.Lit(off).Op(":").Lit(off + size)
		}
		lslices = append(lslices, jen.Id(gen.id(n.Name)).Op(":").Id("arena").Index(span))
	}
	values := func(slices []jen.Code) *jen.Statement {
		return jen.Id("inferActivations").ValuesFunc(func(gr *jen.Group) {
			for _, s := range slices {
				gr.Line().Add(s)
			}
			gr.Line()
		})
	}
	layout := []jen.Code{jen.Return(values(islices))}
	layoutDoc := "inferLayout carves the inference buffers out of an arena sized for batch images,\nat the offsets of the memory plan (buffers whose values are never alive together overlap)."
	if p.loopArena > 0 {
		layoutDoc += "\nA batch of more than one image takes the image loop's plan."
		layout = []jen.Code{jen.If(jen.Id("batch").Op("==").Lit(1)).Block(jen.Return(values(islices))), jen.Return(values(lslices))}
	}
	comment(f, layoutDoc)
	f.Func().Id("inferLayout").Params(jen.Id("arena").Index().Float32(), jen.Id("batch").Int()).Id("inferActivations").Block(layout...)
	f.Line()

	// Forward.
	fwd := []jen.Code{
		jen.If(jen.Err().Op(":=").Id("checkInput").Call(jen.Id("x"), jen.Id("batch")), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())),
		jen.If(jen.Id("m").Dot("stale")).Block(jen.Id("m").Dot("refold").Call()),
		jen.If(jen.Id("batch").Op("!=").Id("m").Dot("ibatch")).Block(
			jen.Id("need").Op(":=").Id("batch").Op("*").Id("inferFloats"),
			jen.Do(func(s *jen.Statement) {
				if p.loopArena > 0 {
					s.If(jen.Id("batch").Op(">").Lit(1)).Block(jen.Id("need").Op("=").Id("loopFloats").Op("+").Id("batch").Op("*").Id("loopArenaFloats"))
				}
			}),
			jen.If(jen.Id("need").Op(">").Len(jen.Id("m").Dot("iarena"))).Block(
				jen.Id("m").Dot("iarena").Op("=").Make(jen.Index().Float32(), jen.Id("need"))),
			jen.Id("m").Dot("ia").Op(",").Id("m").Dot("ibatch").Op("=").Id("inferLayout").Call(jen.Id("m").Dot("iarena"), jen.Id("batch")).Op(",").Id("batch"),
		),
	}
	// Declare the short names the body uses, and only those.
	var names, vals []jen.Code
	usesW = false
	for _, n := range gen.gi.Nodes {
		usesW = usesW || n.Op == ir.OpLinear || n.Op == ir.OpBatchNorm || (n.Op == ir.OpConv && n.FoldBN == "")
	}
	if usesW {
		names, vals = append(names, jen.Id("w")), append(vals, jen.Op("&").Id("m").Dot("w"))
	}
	hasConv := false
	for _, n := range gen.gi.Nodes {
		hasConv = hasConv || n.Op == ir.OpConv
	}
	if hasConv {
		names, vals = append(names, jen.Id("f")), append(vals, jen.Op("&").Id("m").Dot("f"))
	}
	names, vals = append(names, jen.Id("a"), jen.Id("ws")), append(vals, jen.Op("&").Id("m").Dot("ia"), jen.Id("m").Dot("ws"))
	fwd = append(fwd, jen.List(names...).Op(":=").List(vals...))
	block := ""
	var loop []jen.Code
	for _, n := range gen.gi.Nodes[1:] {
		gen.loop = n.ID <= gen.gi.ImageLoop
		code := &fwd
		if gen.loop {
			code = &loop
		}
		if n.Block != block {
			block = n.Block
			*code = append(*code, jen.Line())
			if block != "" {
				*code = append(*code, jen.Comment(block))
			}
		}
		*code = append(*code, gen.inferNode(n)...)
		if n.ID == gen.gi.ImageLoop {
			fwd = append(fwd, jen.Line(),
				jen.Comment("The first layers run image by image, each image through all of them while its"),
				jen.Comment("values are in the cache (the image-loop pass); the rest on the whole batch."),
				jen.For(jen.Id("i").Op(":=").Range().Id("batch")).Block(
					append([]jen.Code{jen.Id("x").Op(":=").Id("x").Index(jen.Id("i").Op("*").Id("imageFloats").Op(":").Parens(jen.Id("i").Op("+").Lit(1)).Op("*").Id("imageFloats"))}, loop...)...))
			block = ""
		}
	}
	gen.loop = false
	fwd = append(fwd, jen.Return(gen.value(gen.gi.Output), jen.Nil()))
	comment(f, "Forward runs inference on batch images (x holds batch*Channels*Height*Width\nfloats, NCHW) with BN using its running statistics, and returns batch*Classes\nlogits. The result aliases the model's memory and is valid until the next call.")
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("Forward").Params(jen.Id("x").Index().Float32(), jen.Id("batch").Int()).Params(jen.Index().Float32(), jen.Error()).Block(fwd...)
}

// keptFor says why the training step keeps a node's value after the
// forward pass, as the backward pass reads it (ir.Graph.TrainLifetimes
// gives the same reasons to the memory plan).
func keptFor(g *ir.Graph, n *ir.Node) string {
	var why []string
	if n == g.Output {
		why = append(why, "the logits, for the loss and Logits")
	}
	if n.Op == ir.OpReLU || n.FuseReLU {
		why = append(why, "its sign, the ReLU's mask")
	}
	for _, u := range g.Nodes {
		if len(u.Args) > 0 && u.Args[0] == n {
			switch u.Op {
			case ir.OpConv, ir.OpLinear:
				why = append(why, u.Name+"'s weight gradient")
			case ir.OpBatchNorm:
				why = append(why, u.Name+"'s normalised input")
			case ir.OpMaxPool:
				why = append(why, u.Name+"'s window maxima")
			}
		}
	}
	if len(why) == 0 {
		return "nothing (forward only)"
	}
	return strings.Join(why, "; ")
}

// inferNode emits one node of the fused inference graph.
func (gen *generator) inferNode(n *ir.Node) []jen.Code {
	if n.Op != ir.OpConv {
		return gen.forwardNode(n, false)
	}
	wt, bias := gen.param("w", n, "weight"), jen.Nil()
	if n.Bias {
		bias = gen.param("w", n, "bias")
	}
	if n.FoldBN != "" {
		wt, bias = jen.Id("f").Dot(gen.id(n.Name)+"_weight"), jen.Id("f").Dot(gen.id(n.Name)+"_bias")
	}
	res := jen.Nil()
	if n.FuseAdd {
		res = gen.value(n.Args[1])
	}
	return []jen.Code{nnq("Conv2DFused").Call(jen.Id("ws"), gen.value(n), gen.value(n.Args[0]), wt, jen.Id("f").Dot(gen.id(n.Name)+"_packed"), bias, res,
		jen.Lit(n.FuseReLU), gen.batch(), jen.Id(gen.dims(n)))}
}

// describe is a node's comment in the inference activations.
func describe(n *ir.Node) string {
	return strings.Join(append([]string{n.Op.String()}, n.Fusions()...), "+") + " " + n.Shape.String()
}

// forward emits the layer sequence; train selects batch statistics for BN.
func (gen *generator) forward(train bool) []jen.Code {
	var out []jen.Code
	block := ""
	for _, n := range gen.g.Nodes[1:] {
		if n.Block != block {
			block = n.Block
			if block != "" {
				out = append(out, jen.Line(), jen.Comment(block))
			} else {
				out = append(out, jen.Line())
			}
		}
		out = append(out, gen.forwardNode(n, train)...)
	}
	return out
}

func (gen *generator) forwardNode(n *ir.Node, train bool) []jen.Code {
	y := gen.value(n)
	x := gen.value(n.Args[0])
	dims := jen.Id(gen.id(n.Name) + "_dims")
	batch := gen.batch()
	c, hw := n.Shape.C, n.Shape.H*n.Shape.W
	switch n.Op {
	case ir.OpConv:
		bias := jen.Nil()
		if n.Bias {
			bias = gen.param("w", n, "bias")
		}
		return []jen.Code{nnq("Conv2D").Call(jen.Id("ws"), y, x, gen.param("w", n, "weight"), bias, batch, dims)}
	case ir.OpBatchNorm:
		if !train {
			if n.FuseAdd || n.FuseReLU {
				panic("gogen: inference BN fusion is done in the conv; a fused eval-mode bn has no kernel")
			}
			return []jen.Code{nnq("BatchNormEval").Call(y, x, gen.param("w", n, "weight"), gen.param("w", n, "bias"),
				gen.param("w", n, "running_mean"), gen.param("w", n, "running_var"), batch, jen.Lit(c), jen.Lit(hw), jen.Lit(float32(n.Eps)))}
		}
		res := jen.Nil()
		if n.FuseAdd {
			res = gen.value(n.Args[1])
		}
		mask := jen.Nil()
		if n.FuseReLU {
			mask = jen.Id("s").Dot(gen.id(n.Name) + "_mask")
		}
		return []jen.Code{
			nnq("BatchNormTrainFused").Call(jen.Id("ws"), y, x, res, jen.Lit(n.FuseReLU), mask, gen.param("w", n, "weight"), gen.param("w", n, "bias"),
				gen.param("w", n, "running_mean"), gen.param("w", n, "running_var"),
				jen.Id("s").Dot(gen.id(n.Name)+"_mean"), jen.Id("s").Dot(gen.id(n.Name)+"_invstd"),
				batch, jen.Lit(c), jen.Lit(hw), jen.Lit(float32(n.Eps)), jen.Lit(float32(n.Momentum))),
		}
	case ir.OpReLU:
		return []jen.Code{nnq("ReLU").Call(y, x)}
	case ir.OpMaxPool:
		return []jen.Code{nnq("MaxPool").Call(jen.Id("ws"), y, x, batch, dims)}
	case ir.OpGlobalAvgPool:
		in := n.Args[0].Shape
		return []jen.Code{nnq("GlobalAvgPool").Call(y, x, jen.Id("batch").Op("*").Lit(in.C), jen.Lit(in.H*in.W))}
	case ir.OpLinear:
		return []jen.Code{nnq("Linear").Call(jen.Id("ws"), y, x, gen.param("w", n, "weight"), gen.param("w", n, "bias"),
			batch, jen.Lit(int(n.Args[0].Shape.Elems())), jen.Lit(n.Out))}
	case ir.OpAdd:
		return []jen.Code{nnq("Add").Call(y, x, gen.value(n.Args[1]))}
	case ir.OpShortcutA:
		return []jen.Code{nnq("ShortcutA").Call(jen.Id("ws"), y, x, batch, dims)}
	}
	panic(fmt.Sprintf("gogen: no forward code for %v", n.Op))
}

// lowering names nn's constant for each lowering the lower-conv pass
// chooses.
var lowering = map[ir.Lowering]string{
	ir.LowerDirect:     "LowerDirect",
	ir.LowerIm2col:     "LowerIm2col",
	ir.LowerWinograd:   "LowerWinograd",
	ir.LowerWinograd4:  "LowerWinograd4",
	ir.LowerWinogradS2: "LowerWinogradS2",
}

// dims names the shape constant of conv n of the inference graph.
func (gen *generator) dims(n *ir.Node) string {
	if gen.p.ownDims[n] {
		return gen.id(n.Name) + "_infer_dims"
	}
	return gen.id(n.Name) + "_dims"
}
