package expand

import (
	"fmt"
	"strings"

	"github.com/resnetc/resnetc/dsl"
	"github.com/resnetc/resnetc/ir"
)

// opSpec says how an operation keyword of the DSL reads its arguments.
type opSpec struct {
	op       ir.Op
	weighted bool // owns parameters, so it must be named
	example  string
	read     func(r *opArgs, n *ir.Node) error
}

var opTable map[string]opSpec

func init() {
	opTable = map[string]opSpec{
		"conv":    {op: ir.OpConv, weighted: true, example: "conv 64 3x3 stride 2 pad 1", read: readConv},
		"bn":      {op: ir.OpBatchNorm, weighted: true, example: "bn", read: readNone},
		"relu":    {op: ir.OpReLU, example: "relu", read: readNone},
		"maxpool": {op: ir.OpMaxPool, example: "maxpool 3x3 stride 2 pad 1", read: readMaxPool},
		"avgpool": {op: ir.OpGlobalAvgPool, example: "avgpool", read: readNone},
		"fc":      {op: ir.OpLinear, weighted: true, example: "fc 1000", read: readFC},
	}
}

// opNames lists the keywords an operation may start with, for suggestions.
func opNames() []string { return append(sortedKeys(opTable), "add") }

// op expands one operation statement applied to cur.
func (b *builder) op(s *dsl.Stmt, cur *ir.Node, sc *scope, vars env) (*ir.Node, error) {
	o := s.Op
	at := dsl.PosOf(o.Pos)
	spec, ok := opTable[o.Name]
	if !ok {
		if _, isBlock := b.blocks[o.Name]; isBlock {
			return nil, dsl.Errorf(at, "%s is a block template: instantiate it with arguments, as in \"%s(64)\"", o.Name, o.Name)
		}
		return nil, dsl.Errorf(at, "unknown operation %q: expected one of %s%s",
			o.Name, strings.Join(sortedKeys(opTable), ", "), dsl.Suggest(o.Name, append(opNames(), sortedKeys(b.blocks)...)))
	}
	name, err := b.name(s, sc, o.Name, spec.weighted)
	if err != nil {
		return nil, err
	}
	n := &ir.Node{Name: name, Op: spec.op, Args: []*ir.Node{cur}}
	r := &opArgs{b: b, op: o, spec: spec, vars: vars}
	if err := spec.read(r, n); err != nil {
		return nil, err
	}
	return b.add(n, sc, at)
}

// opArgs walks the arguments of one operation.
type opArgs struct {
	b    *builder
	op   *dsl.Op
	spec opSpec
	vars env
	i    int
}

func (r *opArgs) errorf(at dsl.Pos, format string, args ...any) error {
	return dsl.Errorf(at, "%s: %s", r.op.Name, fmt.Sprintf(format, args...))
}

func (r *opArgs) next() *dsl.Shape {
	if r.i >= len(r.op.Args) {
		return nil
	}
	r.i++
	return r.op.Args[r.i-1]
}

// size reads a positional count such as output channels.
func (r *opArgs) size(what string) (int, error) {
	a := r.next()
	if a == nil || optionWord(a) != "" && isOption(r.spec, optionWord(a)) {
		return 0, dsl.Errorf(dsl.PosOf(r.op.Pos), "%s needs the number of %s, as in %q", r.op.Name, what, r.spec.example)
	}
	if len(a.Exprs) != 1 {
		return 0, r.errorf(dsl.PosOf(a.Pos), "expected the number of %s, found %s", what, showShape(a))
	}
	n, err := r.b.int(a.Exprs[0], r.vars, r.op.Name+" "+what)
	if err != nil {
		return 0, err
	}
	if n < 1 {
		return 0, r.errorf(dsl.PosOf(a.Pos), "the number of %s must be at least 1, found %d", what, n)
	}
	return n, nil
}

// window reads a kernel size written HxW.
func (r *opArgs) window(n *ir.Node) error {
	a := r.next()
	if a == nil {
		return dsl.Errorf(dsl.PosOf(r.op.Pos), "%s needs a kernel size, as in %q", r.op.Name, r.spec.example)
	}
	if a.Dims == "" && len(a.Exprs) != 2 {
		return r.errorf(dsl.PosOf(a.Pos), "expected a kernel size like 3x3, found %s", showShape(a))
	}
	k, err := r.b.ints(a, r.vars, r.op.Name+" kernel")
	if err != nil {
		return err
	}
	if len(k) != 2 {
		return r.errorf(dsl.PosOf(a.Pos), "expected a kernel size like 3x3, found %s", showShape(a))
	}
	if k[0] < 1 || k[1] < 1 {
		return r.errorf(dsl.PosOf(a.Pos), "kernel %dx%d must be at least 1x1", k[0], k[1])
	}
	n.KH, n.KW = k[0], k[1]
	return nil
}

// options reads "stride S", "pad P" and flags such as "bias" up to the end.
func (r *opArgs) options(valued map[string]*int, flags map[string]*bool) error {
	seen := map[string]bool{}
	for a := r.next(); a != nil; a = r.next() {
		word := optionWord(a)
		at := dsl.PosOf(a.Pos)
		_, isValued := valued[word]
		_, isFlag := flags[word]
		if !isValued && !isFlag {
			var names []string
			names = append(names, sortedKeys(valued)...)
			names = append(names, sortedKeys(flags)...)
			if len(names) == 0 {
				return r.errorf(at, "unexpected %s; %s takes nothing more, as in %q", showShape(a), r.op.Name, r.spec.example)
			}
			return r.errorf(at, "unexpected %s; expected one of the options %s%s", showShape(a),
				strings.Join(names, ", "), dsl.Suggest(word, names))
		}
		if seen[word] {
			return r.errorf(at, "%s is given twice", word)
		}
		seen[word] = true
		if isFlag {
			*flags[word] = true
			continue
		}
		v := r.next()
		if v == nil || len(v.Exprs) != 1 {
			return r.errorf(at, "%s needs a value, as in %q", word, r.spec.example)
		}
		n, err := r.b.int(v.Exprs[0], r.vars, r.op.Name+" "+word)
		if err != nil {
			return err
		}
		if word == "stride" && n < 1 {
			return r.errorf(dsl.PosOf(v.Pos), "stride must be at least 1, found %d", n)
		}
		*valued[word] = n
	}
	return nil
}

func isOption(spec opSpec, w string) bool {
	return spec.op == ir.OpConv && (w == "stride" || w == "pad" || w == "bias")
}

// optionWord returns the bare name an argument consists of, or "".
func optionWord(a *dsl.Shape) string {
	if len(a.Exprs) != 1 {
		return ""
	}
	e := a.Exprs[0]
	if len(e.Right) != 0 || len(e.Left.Right) != 0 {
		return ""
	}
	return e.Left.Left.Ident
}

func readNone(r *opArgs, n *ir.Node) error { return r.options(nil, nil) }

func readConv(r *opArgs, n *ir.Node) error {
	var err error
	if n.Out, err = r.size("output channels"); err != nil {
		return err
	}
	if err := r.window(n); err != nil {
		return err
	}
	n.Stride = 1
	return r.options(map[string]*int{"stride": &n.Stride, "pad": &n.Pad}, map[string]*bool{"bias": &n.Bias})
}

func readMaxPool(r *opArgs, n *ir.Node) error {
	if err := r.window(n); err != nil {
		return err
	}
	stride := -1 // PyTorch's default stride is the window size
	if err := r.options(map[string]*int{"stride": &stride, "pad": &n.Pad}, nil); err != nil {
		return err
	}
	n.Stride = stride
	if stride < 0 {
		if n.KH != n.KW {
			return r.errorf(dsl.PosOf(r.op.Pos), "a %dx%d window needs an explicit stride, as in \"maxpool %dx%d stride 1\"", n.KH, n.KW, n.KH, n.KW)
		}
		n.Stride = n.KH
	}
	return nil
}

func readFC(r *opArgs, n *ir.Node) error {
	var err error
	if n.Out, err = r.size("outputs"); err != nil {
		return err
	}
	return r.options(nil, nil)
}

// showShape prints an argument back as the spec wrote it (modulo spacing).
func showShape(s *dsl.Shape) string {
	if s.Dims != "" {
		return fmt.Sprintf("%q", s.Dims)
	}
	parts := make([]string, len(s.Exprs))
	for i, e := range s.Exprs {
		parts[i] = showExpr(e)
	}
	return fmt.Sprintf("%q", strings.Join(parts, " x "))
}

func showExpr(e *dsl.Expr) string {
	var b strings.Builder
	b.WriteString(showTerm(e.Left))
	for _, r := range e.Right {
		b.WriteString(" " + r.Op + " " + showTerm(r.Term))
	}
	return b.String()
}

func showTerm(t *dsl.Term) string {
	var b strings.Builder
	b.WriteString(showFactor(t.Left))
	for _, r := range t.Right {
		b.WriteString(r.Op + showFactor(r.Factor))
	}
	return b.String()
}

func showFactor(f *dsl.Factor) string {
	switch {
	case f.Sub != nil:
		return "(" + showExpr(f.Sub) + ")"
	case f.Ident != "":
		return f.Ident
	}
	return f.Int
}
