package cudagen

import (
	"fmt"
	"strings"

	"github.com/resnetc/resnetc/ir"
)

// hostWriter accumulates Go source; Generate formats it.
type hostWriter struct{ strings.Builder }

func (w *hostWriter) p(format string, a ...any) { fmt.Fprintf(&w.Builder, format+"\n", a...) }

// cdiv is the launch-grid expression for n items of per: n and per are Go
// expressions.
func cdiv(n string, per int) string { return fmt.Sprintf("cdiv(%s, %d)", n, per) }

// kernelNames lists every entry point of kernels.cu in launch-table order.
func (g *gen) kernelNames() []string {
	var names []string
	for _, n := range g.infer.Nodes[1:] {
		id := "i_" + ident(n.Name)
		names = append(names, id)
		if n.Op == ir.OpConv && n.FoldBN != "" {
			names = append(names, id+"_fold")
		}
	}
	for _, n := range g.train.Nodes[1:] {
		id := "t_" + ident(n.Name)
		toInput := n.Args[0].Op == ir.OpInput
		names = append(names, id)
		switch n.Op {
		case ir.OpConv:
			names = append(names, id+"_bwd_weight")
			if n.Bias {
				names = append(names, id+"_bwd_bias")
			}
			if !toInput {
				names = append(names, id+"_bwd_data")
			}
		case ir.OpBatchNorm:
			names = append(names, id+"_bwd")
		case ir.OpMaxPool, ir.OpGlobalAvgPool, ir.OpShortcutA, ir.OpReLU:
			if !toInput {
				names = append(names, id+"_bwd")
			}
		case ir.OpLinear:
			names = append(names, id+"_bwd_params")
			if !toInput {
				names = append(names, id+"_bwd_data")
			}
		}
	}
	return append(names, "xent", "sgd_step", "zero_fill", "accumulate", "sum_splits")
}

// param is the device address of a float parameter in the slab at base.
func (g *gen) param(base, name string) string {
	off, ok := g.paramOff[name]
	if !ok {
		panic("cudagen: no parameter " + name)
	}
	return fmt.Sprintf("%s+%d", base, 4*off)
}

func (g *gen) host() string {
	var w hostWriter
	pkg := g.opt.Package
	w.p("// %s", g.header)
	w.p("")
	w.p("//go:build cuda")
	w.p("")
	w.p("// Package cuda runs %s on an NVIDIA GPU. Its CUDA C (kernels.cu, generated", pkg)
	w.p("// with every shape a constant) is compiled by NVRTC at New for the device's")
	w.p("// compute capability and the PTX cached on disk; gorgonia.org/cu drives it.")
	w.p("// Forward and Trainer.Step keep the contract of package %s, whose Model", pkg)
	w.p("// holds the weights that New uploads and Download fetches back.")
	w.p("package cuda")
	w.p("")
	w.p("import (")
	for _, imp := range []string{"crypto/sha256", "_ \"embed\"", "encoding/hex", "fmt", "math", "os", "path/filepath", "runtime", "unsafe", ""} {
		if imp == "" || strings.HasPrefix(imp, "_") {
			w.p("\t%s", imp)
			continue
		}
		w.p("\t%q", imp)
	}
	w.p("\tcpu %q", g.opt.CPUImport)
	w.p("\t\"gorgonia.org/cu\"")
	w.p("\t\"gorgonia.org/cu/nvrtc\"")
	w.p(")")
	w.p("")
	w.p("// Source is kernels.cu, which New compiles.")
	w.p("//")
	w.p("//go:embed kernels.cu")
	w.p("var Source string")
	w.p("")
	w.p("// Sizes in floats: the parameter slab (trainable tensors first, so one launch")
	w.p("// updates them all), the folded inference weights, the saved BN statistics,")
	w.p("// and the two arenas per image, at the offsets of the memory plans.")
	w.p("const (")
	w.p("\tparamFloats = %d", g.paramFloats)
	w.p("\ttrainableFloats = %d", g.trainable)
	w.p("\tfoldFloats = %d", max(g.foldFloats, 1))
	w.p("\tbnFloats = %d", max(g.bnFloats, 1))
	w.p("\tinferFloats = %d", g.infer.ArenaFloats)
	w.p("\ttrainFloats = %d", g.train.TrainArenaFloats)
	w.p("\timageFloats = cpu.Channels * cpu.Height * cpu.Width")
	w.p(")")
	w.p("")
	w.p("// workspaceFloats is the scratch that training needs for a batch, shared")
	w.p("// by the launches that use it one after another: the image splits of the")
	w.p("// weight gradients (splits x CO x CI x KH x KW floats) and the batch")
	w.p("// norms' partial sums (C x parts x 2 doubles).")
	w.p("func workspaceFloats(batch int) int {")
	w.p("\tn := 1")
	seen := map[string]bool{}
	for _, n := range g.train.Nodes[1:] {
		var need string
		switch n.Op {
		case ir.OpConv:
			need = fmt.Sprintf("%s*%d", cdiv("batch", g.splitImages(n)), n.Params[0].Elems())
		case ir.OpBatchNorm:
			need = fmt.Sprintf("%s*%d", g.bnParts(n), 4*n.Shape.C)
		default:
			continue
		}
		if !seen[need] {
			seen[need] = true
			w.p("\tn = max(n, %s)", need)
		}
	}
	w.p("\treturn n")
	w.p("}")
	w.p("")
	w.p("// slab places every float tensor of the state_dict in the parameter slab.")
	w.p("var slab = map[string]struct{ off, n int }{")
	for _, name := range g.paramOrder {
		w.p("\t%q: {%d, %d},", name, g.paramOff[name], g.paramElems[name])
	}
	w.p("}")
	w.p("")
	w.p("// counters are the BN num_batches_tracked, which stay on the host.")
	w.p("var counters = []string{")
	for _, c := range g.counters {
		w.p("\t%q,", c)
	}
	w.p("}")
	w.p("")
	names := g.kernelNames()
	w.p("// kernels are the entry points of kernels.cu.")
	w.p("type kernels struct {")
	for _, n := range names {
		w.p("\t%s cu.Function", n)
	}
	w.p("}")
	w.p("")
	w.p("func (k *kernels) load(mod cu.Module) error {")
	w.p("\tvar err error")
	w.p("\tget := func(name string) cu.Function {")
	w.p("\t\tf, e := mod.Function(name)")
	w.p("\t\tif e != nil && err == nil {")
	w.p("\t\t\terr = fmt.Errorf(\"%s/cuda: kernel %%s: %%w\", name, e)", pkg)
	w.p("\t\t}")
	w.p("\t\treturn f")
	w.p("\t}")
	for _, n := range names {
		w.p("\tk.%s = get(%q)", n, n)
	}
	w.p("\treturn err")
	w.p("}")
	w.p("")
	w.WriteString(strings.ReplaceAll(hostRuntime, "PKG", pkg))
	g.hostForward(&w)
	g.hostTrain(&w)
	return w.String()
}

// hostForward emits refold and forward, the inference passes' graph.
func (g *gen) hostForward(w *hostWriter) {
	w.p("// refold folds every batch norm into its conv on the device.")
	w.p("func (m *Model) refold() {")
	w.p("\tp, f := m.params, m.folded")
	w.p("\t_ = f")
	for _, n := range g.infer.Nodes[1:] {
		if n.Op != ir.OpConv || n.FoldBN == "" {
			continue
		}
		off := g.foldOff[n]
		bias := "0"
		if n.Bias {
			bias = g.param("p", n.Name+".bias")
		}
		bn := n.FoldBN
		w.p("\tm.launch(m.k.i_%s_fold, %s, 1, ptr(f+%d), ptr(f+%d), ptr(%s), ptr(%s), ptr(%s), ptr(%s), ptr(%s), ptr(%s))",
			ident(n.Name), cdiv(fmt.Sprint(n.Out), 256), 4*off, 4*(off+int(n.Params[0].Elems())),
			g.param("p", n.Name+".weight"), bias, g.param("p", bn+".weight"), g.param("p", bn+".bias"), g.param("p", bn+".running_mean"), g.param("p", bn+".running_var"))
	}
	w.p("\tm.stale = false")
	w.p("}")
	w.p("")
	w.p("// forward launches the inference graph for batch images in m.input.")
	w.p("func (m *Model) forward(batch int) cu.DevicePtr {")
	w.p("\tp, f, b := m.params, m.folded, int64(batch)")
	w.p("\t_ = f")
	val := func(n *ir.Node) string {
		if n.Op == ir.OpInput {
			return "ptr(m.input)"
		}
		return fmt.Sprintf("ptr(m.arena+cu.DevicePtr(4*%d*batch))", n.Offset)
	}
	for _, n := range g.infer.Nodes[1:] {
		id := "m.k.i_" + ident(n.Name)
		x, y := val(n.Args[0]), val(n)
		switch n.Op {
		case ir.OpConv:
			wt, bias, res := "ptr("+g.param("p", n.Name+".weight")+")", "0", "0"
			if n.FoldBN != "" {
				off := g.foldOff[n]
				wt, bias = fmt.Sprintf("ptr(f+%d)", 4*off), fmt.Sprintf("ptr(f+%d)", 4*(off+int(n.Params[0].Elems())))
			} else if n.Bias {
				bias = "ptr(" + g.param("p", n.Name+".bias") + ")"
			}
			if n.FuseAdd {
				res = val(n.Args[1])
			}
			w.p("\tm.launch(%s, %s, %s, %s, %s, %s, %s, %s, uint64(b))", id, cdiv(fmt.Sprintf("batch*%d", n.Shape.H*n.Shape.W), 64), cdiv(fmt.Sprint(n.Out), 64), x, wt, bias, res, y)
		case ir.OpLinear:
			w.p("\tm.launch(%s, %s, 1, %s, ptr(%s), ptr(%s), %s, uint64(b))", id, cdiv(fmt.Sprintf("batch*%d", n.Out), 256), x, g.param("p", n.Name+".weight"), g.param("p", n.Name+".bias"), y)
		case ir.OpAdd:
			w.p("\tm.launch(%s, %s, 1, %s, %s, %s, uint64(b))", id, cdiv(fmt.Sprintf("batch*%d", n.Shape.Elems()), 256), x, val(n.Args[1]), y)
		case ir.OpGlobalAvgPool:
			w.p("\tm.launch(%s, %s, 1, %s, %s, uint64(b))", id, cdiv(fmt.Sprintf("batch*%d", n.Args[0].Shape.C), 256), x, y)
		default: // maxpool, shortcutA, relu: one thread per output element
			w.p("\tm.launch(%s, %s, 1, %s, %s, uint64(b))", id, cdiv(fmt.Sprintf("batch*%d", n.Shape.Elems()), 256), x, y)
		}
	}
	w.p("\treturn m.arena + cu.DevicePtr(4*%d*batch)", g.infer.Output.Offset)
	w.p("}")
	w.p("")
}

// hostTrain emits the Trainer's forward and backward, the training passes'
// graph with the clears the CPU code makes at each gradient's first
// contribution.
func (g *gen) hostTrain(w *hostWriter) {
	val := func(n *ir.Node) string {
		if n.Op == ir.OpInput {
			return "ptr(t.input)"
		}
		return fmt.Sprintf("ptr(t.arena+cu.DevicePtr(4*%d*batch))", n.Offset)
	}
	grad := func(n *ir.Node) string {
		if n.Op == ir.OpInput {
			return "0"
		}
		return fmt.Sprintf("ptr(t.arena+cu.DevicePtr(4*%d*batch))", n.GradOffset)
	}
	w.p("// forward is the train-mode forward pass: BN with batch statistics.")
	w.p("func (t *Trainer) forward(batch int) {")
	w.p("\tm, p, s, b := t.m, t.m.params, t.bn, int64(batch)")
	for _, n := range g.train.Nodes[1:] {
		id := "m.k.t_" + ident(n.Name)
		x, y := val(n.Args[0]), val(n)
		switch n.Op {
		case ir.OpConv:
			bias := "0"
			if n.Bias {
				bias = "ptr(" + g.param("p", n.Name+".bias") + ")"
			}
			w.p("\tm.launch(%s, %s, %s, %s, ptr(%s), %s, %s, uint64(b))", id, cdiv(fmt.Sprintf("batch*%d", n.Shape.H*n.Shape.W), 64), cdiv(fmt.Sprint(n.Out), 64), x, g.param("p", n.Name+".weight"), bias, y)
		case ir.OpBatchNorm:
			res := "0"
			if n.FuseAdd {
				res = val(n.Args[1])
			}
			o := g.bnOff[n]
			for phase := range 3 {
				w.p("\tm.launch(%s, %d, %s, %s, ptr(%s), ptr(%s), ptr(%s), ptr(%s), ptr(s+%d), ptr(s+%d), %s, %s, ptr(t.ws), uint64(b), %d)", id, n.Shape.C, g.bnParts(n), x,
					g.param("p", n.Name+".weight"), g.param("p", n.Name+".bias"), g.param("p", n.Name+".running_mean"), g.param("p", n.Name+".running_var"), 4*o, 4*(o+n.Shape.C), res, y, phase)
			}
		case ir.OpLinear:
			w.p("\tm.launch(%s, %s, 1, %s, ptr(%s), ptr(%s), %s, uint64(b))", id, cdiv(fmt.Sprintf("batch*%d", n.Out), 256), x, g.param("p", n.Name+".weight"), g.param("p", n.Name+".bias"), y)
		case ir.OpAdd:
			w.p("\tm.launch(%s, %s, 1, %s, %s, %s, uint64(b))", id, cdiv(fmt.Sprintf("batch*%d", n.Shape.Elems()), 256), x, val(n.Args[1]), y)
		case ir.OpGlobalAvgPool:
			w.p("\tm.launch(%s, %s, 1, %s, %s, uint64(b))", id, cdiv(fmt.Sprintf("batch*%d", n.Args[0].Shape.C), 256), x, y)
		default:
			w.p("\tm.launch(%s, %s, 1, %s, %s, uint64(b))", id, cdiv(fmt.Sprintf("batch*%d", n.Shape.Elems()), 256), x, y)
		}
	}
	w.p("}")
	w.p("")
	w.p("// logits and dlogits are the output's value and gradient in the arena.")
	w.p("func (t *Trainer) logits(batch int) (cu.DevicePtr, cu.DevicePtr) {")
	w.p("\treturn t.arena + cu.DevicePtr(4*%d*batch), t.arena + cu.DevicePtr(4*%d*batch)", g.train.Output.Offset, g.train.Output.GradOffset)
	w.p("}")
	w.p("")
	w.p("// backward propagates the loss gradient layer by layer in reverse;")
	w.p("// activation gradients accumulate after their first contribution clears")
	w.p("// their planned buffer, as in the CPU package.")
	w.p("func (t *Trainer) backward(batch int) {")
	w.p("\tm, p, gr, s, b := t.m, t.m.params, t.grads, t.bn, int64(batch)")
	w.p("\t_, _ = gr, s")
	cleared := map[*ir.Node]bool{}
	nodes := g.train.Nodes[1:]
	for i := len(nodes) - 1; i >= 0; i-- {
		n := nodes[i]
		for _, a := range n.Args {
			if a.Op != ir.OpInput && !cleared[a] {
				cleared[a] = true
				w.p("\tm.launch(m.k.zero_fill, %s, 1, %s, uint64(b*%d))", cdiv(fmt.Sprintf("batch*%d", a.Shape.Elems()), 256), grad(a), a.Shape.Elems())
			}
		}
		id := "m.k.t_" + ident(n.Name)
		xn := n.Args[0]
		x, dx, y, dy := val(xn), grad(xn), val(n), grad(n)
		toInput := xn.Op == ir.OpInput
		elems := fmt.Sprintf("batch*%d", n.Shape.Elems())
		switch n.Op {
		case ir.OpConv:
			k := int(n.Params[0].Elems()) / n.Out
			splits := cdiv("batch", g.splitImages(n))
			w.p("\tm.launch(%s_bwd_weight, %s, %s*%s, %s, %s, ptr(t.ws), uint64(b))", id, cdiv(fmt.Sprint(k), 64), cdiv(fmt.Sprint(n.Out), 64), splits, x, dy)
			w.p("\tm.launch(m.k.sum_splits, %s, 1, ptr(t.ws), ptr(%s), %d, uint64(%s))", cdiv(fmt.Sprint(k*n.Out), 256), g.param("gr", n.Name+".weight"), k*n.Out, splits)
			if n.Bias {
				w.p("\tm.launch(%s_bwd_bias, %d, 1, %s, ptr(%s), uint64(b))", id, n.Out, dy, g.param("gr", n.Name+".bias"))
			}
			if !toInput {
				w.p("\tm.launch(%s_bwd_data, %s, %s, %s, ptr(%s), %s, uint64(b))", id, cdiv(fmt.Sprintf("batch*%d", xn.Shape.H*xn.Shape.W), 64), cdiv(fmt.Sprint(xn.Shape.C), 64), dy, g.param("p", n.Name+".weight"), dx)
			}
		case ir.OpBatchNorm:
			dres := "0"
			if n.FuseAdd {
				dres = grad(n.Args[1])
			}
			o := g.bnOff[n]
			for phase := range 2 {
				w.p("\tm.launch(%s_bwd, %d, %s, %s, %s, %s, ptr(%s), ptr(s+%d), ptr(s+%d), ptr(%s), ptr(%s), %s, %s, ptr(t.ws), uint64(b), %d)", id, n.Shape.C, g.bnParts(n), dy, x, y,
					g.param("p", n.Name+".weight"), 4*o, 4*(o+n.Shape.C), g.param("gr", n.Name+".weight"), g.param("gr", n.Name+".bias"), dx, dres, phase)
			}
		case ir.OpReLU:
			if !toInput {
				w.p("\tm.launch(%s_bwd, %s, 1, %s, %s, %s, uint64(b))", id, cdiv(elems, 256), dx, dy, y)
			}
		case ir.OpMaxPool:
			if !toInput {
				w.p("\tm.launch(%s_bwd, %s, 1, %s, %s, %s, uint64(b))", id, cdiv(elems, 256), x, dy, dx)
			}
		case ir.OpGlobalAvgPool:
			if !toInput {
				w.p("\tm.launch(%s_bwd, %s, 1, %s, %s, uint64(b))", id, cdiv(fmt.Sprintf("batch*%d", xn.Shape.Elems()), 256), dy, dx)
			}
		case ir.OpLinear:
			in := xn.Shape.Elems()
			w.p("\tm.launch(%s_bwd_params, %s, 1, %s, %s, ptr(%s), ptr(%s), uint64(b))", id, cdiv(fmt.Sprint(int64(n.Out)*in), 256), x, dy, g.param("gr", n.Name+".weight"), g.param("gr", n.Name+".bias"))
			if !toInput {
				w.p("\tm.launch(%s_bwd_data, %s, 1, %s, ptr(%s), %s, uint64(b))", id, cdiv(fmt.Sprintf("batch*%d", in), 256), dy, g.param("p", n.Name+".weight"), dx)
			}
		case ir.OpAdd:
			for _, a := range n.Args {
				if a.Op != ir.OpInput {
					w.p("\tm.launch(m.k.accumulate, %s, 1, %s, %s, uint64(b*%d))", cdiv(elems, 256), grad(a), dy, n.Shape.Elems())
				}
			}
		case ir.OpShortcutA:
			if !toInput {
				w.p("\tm.launch(%s_bwd, %s, 1, %s, %s, uint64(b))", id, cdiv(fmt.Sprintf("batch*%d", xn.Shape.Elems()), 256), dy, dx)
			}
		}
	}
	w.p("}")
}
