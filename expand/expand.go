// Package expand turns a parsed spec into the IR: it binds parameters
// (with -D overrides), expands stages into block instances and block
// templates into operations, resolves each block's shortcut kind, and
// checks every shape, reporting problems at their place in the spec.
package expand

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/resnetc/resnetc/dsl"
	"github.com/resnetc/resnetc/ir"
)

// Define is a -D name=value override of a spec parameter.
type Define struct{ Name, Value string }

// ParseDefine splits "name=value".
func ParseDefine(s string) (Define, error) {
	name, val, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return Define{}, fmt.Errorf("-D %s: expected name=value", s)
	}
	return Define{Name: strings.TrimSpace(name), Value: strings.TrimSpace(val)}, nil
}

// ParseDefines parses a list of "name=value" strings.
func ParseDefines(list []string) ([]Define, error) {
	var defs []Define
	for _, s := range list {
		d, err := ParseDefine(s)
		if err != nil {
			return nil, err
		}
		defs = append(defs, d)
	}
	return defs, nil
}

// Shortcut kinds, as the paper names them.
const (
	kindIdentity = "identity"
	kindA        = "A"
	kindB        = "B"
	kindC        = "C"
	kindNone     = "none"
)

var shortcutKinds = []string{kindIdentity, kindA, kindB, kindC, kindNone}

// BN's constants are PyTorch's BatchNorm2d defaults, which the paper's
// networks and torchvision use.
const (
	bnEps      = 1e-5
	bnMomentum = 0.1
)

// Graph builds the IR of the network in f. filename is what generated
// code will cite as its source.
func Graph(f *dsl.File, filename string, defines []Define) (*ir.Graph, error) {
	b := &builder{file: filename, vars: env{}, blocks: map[string]*dsl.Block{}, names: map[string]dsl.Pos{}}
	if err := b.declare(f, defines); err != nil {
		return nil, err
	}
	if err := b.body(f); err != nil {
		return nil, err
	}
	return b.g, nil
}

type builder struct {
	file   string
	g      *ir.Graph
	vars   env
	blocks map[string]*dsl.Block
	names  map[string]dsl.Pos // node names taken, with where they were defined
	macs   int64
}

// declare reads parameters (applying overrides), block templates and the input.
func (b *builder) declare(f *dsl.File, defines []Define) error {
	override := map[string]value{}
	used := map[string]bool{}
	for _, d := range defines {
		v, err := parseDefine(d.Value)
		if err != nil {
			return fmt.Errorf("%s: -D %s=%s: %v", b.file, d.Name, d.Value, err)
		}
		if _, twice := override[d.Name]; twice {
			return fmt.Errorf("%s: -D %s is given twice", b.file, d.Name)
		}
		override[d.Name] = v
	}
	declared := map[string]dsl.Pos{}
	for _, it := range f.Items {
		if it.Param != nil {
			if _, ok := declared[it.Param.Name]; !ok {
				declared[it.Param.Name] = dsl.PosOf(it.Param.Pos)
			}
		}
	}
	paramPos := map[string]dsl.Pos{}
	var input *dsl.Input
	for _, it := range f.Items {
		switch {
		case it.Param != nil:
			p := it.Param
			at := dsl.PosOf(p.Pos)
			if prev, ok := paramPos[p.Name]; ok {
				return dsl.Errorf(at, "parameter %s is already declared at %s", p.Name, prev)
			}
			if isReserved(p.Name) {
				return dsl.Errorf(at, "%q is a reserved word and cannot name a parameter", p.Name)
			}
			paramPos[p.Name] = at
			if o, ok := override[p.Name]; ok {
				b.vars[p.Name] = o
				used[p.Name] = true
				continue
			}
			if err := forwardRef(p, b.vars, declared); err != nil {
				return err
			}
			v, err := eval(p.Value, b.vars)
			if err != nil {
				return err
			}
			b.vars[p.Name] = v
		case it.Block != nil:
			blk := it.Block
			at := dsl.PosOf(blk.Pos)
			if prev, ok := b.blocks[blk.Name]; ok {
				return dsl.Errorf(at, "block %s is already defined at %s", blk.Name, dsl.PosOf(prev.Pos))
			}
			if contains(dsl.Operations, blk.Name) || isReserved(blk.Name) {
				return dsl.Errorf(at, "%q is an operation or reserved word and cannot name a block", blk.Name)
			}
			seen := map[string]bool{}
			for _, bp := range blk.Params {
				if seen[bp.Name] {
					return dsl.Errorf(dsl.PosOf(bp.Pos), "block %s has two parameters named %s", blk.Name, bp.Name)
				}
				seen[bp.Name] = true
			}
			b.blocks[blk.Name] = blk
		case it.Input != nil:
			if input != nil {
				return dsl.Errorf(dsl.PosOf(it.Input.Pos), "input is already declared at %s", dsl.PosOf(input.Pos))
			}
			input = it.Input
		}
	}
	var unknown []string
	for _, d := range defines {
		if !used[d.Name] {
			unknown = append(unknown, fmt.Sprintf("%s: -D %s=%s: the spec has no parameter %q%s",
				b.file, d.Name, d.Value, d.Name, dsl.Suggest(d.Name, b.vars.names())))
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("%s", strings.Join(unknown, "\n"))
	}
	if input == nil {
		return dsl.Errorf(dsl.PosOf(f.Pos), "network %s has no input; declare one, as in \"input 3 x 224 x 224\"", f.Name)
	}
	dims, err := b.ints(input.Shape, b.vars, "input shape")
	if err != nil {
		return err
	}
	if len(dims) != 3 {
		return dsl.Errorf(dsl.PosOf(input.Shape.Pos), "input shape must be channels x height x width, found %d dimensions", len(dims))
	}
	at := dsl.PosOf(input.Pos)
	g, err := ir.NewGraph(f.Name, b.file, ir.Shape{C: dims[0], H: dims[1], W: dims[2]}, irPos(at))
	if err != nil {
		return dsl.Errorf(at, "%v", err)
	}
	b.g = g
	b.names["input"] = at
	return nil
}

// forwardRef reports a parameter whose default names a parameter declared
// after it, which would otherwise read as a word.
func forwardRef(p *dsl.Param, vars env, declared map[string]dsl.Pos) error {
	var err error
	walkFactors(p.Value, func(f *dsl.Factor) {
		if _, known := vars[f.Ident]; err == nil && f.Ident != "" && !known {
			if at, later := declared[f.Ident]; later {
				err = dsl.Errorf(dsl.PosOf(f.Pos), "parameter %s is used before its declaration at %s", f.Ident, at)
			}
		}
	})
	return err
}

func walkFactors(e *dsl.Expr, fn func(*dsl.Factor)) {
	terms := []*dsl.Term{e.Left}
	for _, r := range e.Right {
		terms = append(terms, r.Term)
	}
	for _, t := range terms {
		factors := []*dsl.Factor{t.Left}
		for _, r := range t.Right {
			factors = append(factors, r.Factor)
		}
		for _, f := range factors {
			fn(f)
			if f.Sub != nil {
				walkFactors(f.Sub, fn)
			}
		}
	}
}

func isReserved(s string) bool {
	switch s {
	case "network", "param", "input", "block", "projection", "first", "x":
		return true
	}
	return false
}

func irPos(p dsl.Pos) ir.Pos { return ir.Pos{File: p.File, Line: p.Line, Col: p.Col} }

// body expands the network's layer statements in order.
func (b *builder) body(f *dsl.File) error {
	top := &scope{}
	cur := b.g.Input
	for _, it := range f.Items {
		if it.Stmt == nil {
			continue
		}
		var err error
		if cur, err = b.stmt(it.Stmt, cur, top, b.vars); err != nil {
			return err
		}
	}
	out := b.g.Output
	if out == b.g.Input {
		return dsl.Errorf(dsl.PosOf(f.Pos), "network %s has no layers", f.Name)
	}
	if out.Shape.H != 1 || out.Shape.W != 1 {
		return dsl.Errorf(posOf(out), "the network ends with %s (%s) but must end with a vector of class scores; end it with avgpool and fc",
			out.Shape, out.Name)
	}
	return nil
}

func posOf(n *ir.Node) dsl.Pos { return dsl.Pos{File: n.Pos.File, Line: n.Pos.Line, Col: n.Pos.Col} }

// scope is where statements are being expanded: the network body, a block
// instance or a block's projection.
type scope struct {
	prefix     string // prepended to labels: "layer1.0."
	block      string // block instance, "" in the network body
	stage      string
	template   *dsl.Block
	projection bool
	index      int // position of the statement in a projection
}

func (s *scope) what() string {
	switch {
	case s.projection:
		return "a projection"
	case s.template != nil:
		return "block " + s.template.Name
	}
	return "the network body"
}

func (b *builder) stmt(s *dsl.Stmt, cur *ir.Node, sc *scope, vars env) (*ir.Node, error) {
	at := dsl.PosOf(s.Pos)
	if s.Label != nil && !sc.projection && isDigit(s.Label.Name[0]) {
		return nil, dsl.Errorf(dsl.PosOf(s.Label.Pos), "label %s must be a name; numbers label only the steps of a projection", s.Label.Name)
	}
	switch {
	case s.Projection != nil:
		return nil, dsl.Errorf(at, "a projection is only allowed once, directly inside a block template, not in %s", sc.what())
	case s.Stage != nil:
		if sc.template != nil {
			return nil, dsl.Errorf(at, "blocks cannot be nested: %s contains a stage of %s", sc.what(), s.Stage.Block)
		}
		return b.stage(s, cur)
	}
	op := s.Op
	if op.Name == "add" {
		return nil, dsl.Errorf(at, "add joins a block's shortcut and is only allowed once, directly inside a block template, not in %s", sc.what())
	}
	return b.op(s, cur, sc, vars)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// name decides the node name of an operation: its label within the scope,
// or for an unlabelled operation the op's keyword (numbered if repeated),
// or inside a projection its position, as nn.Sequential numbers modules.
func (b *builder) name(s *dsl.Stmt, sc *scope, opName string, weighted bool) (string, error) {
	at := dsl.PosOf(s.Pos)
	var name string
	switch {
	case s.Label != nil:
		name = sc.prefix + s.Label.Name
		if prev, ok := b.names[name]; ok {
			return "", dsl.Errorf(dsl.PosOf(s.Label.Pos), "%s is already defined at %s", name, prev)
		}
	case sc.projection:
		name = sc.prefix + strconv.Itoa(sc.index)
		if prev, ok := b.names[name]; ok {
			return "", dsl.Errorf(at, "%s is already defined at %s", name, prev)
		}
	case weighted:
		return "", dsl.Errorf(at, "%s has weights and needs a name, as in \"%s1: %s ...\"", opName, opName, opName)
	default:
		name = sc.prefix + opName
		for i := 2; ; i++ {
			if _, ok := b.names[name]; !ok {
				break
			}
			name = fmt.Sprintf("%s%s_%d", sc.prefix, opName, i)
		}
	}
	b.names[name] = at
	return name, nil
}

// add appends a node to the graph, placing it in the scope and turning a
// shape error into one that names the spec position.
func (b *builder) add(n *ir.Node, sc *scope, at dsl.Pos) (*ir.Node, error) {
	n.Block, n.Stage, n.Pos = sc.block, sc.stage, irPos(at)
	n.Shortcut = sc.projection
	if n.Op == ir.OpBatchNorm {
		n.Eps, n.Momentum = bnEps, bnMomentum
	}
	out, err := b.g.Add(n)
	if err != nil {
		return nil, dsl.Errorf(at, "%s: %v", n.Name, err)
	}
	if b.macs += out.MACs(); b.macs > 1<<62 {
		return nil, dsl.Errorf(at, "network too large: more than 2^62 multiply-adds per image")
	}
	return out, nil
}

// ints evaluates a shape of integer expressions.
func (b *builder) ints(s *dsl.Shape, vars env, what string) ([]int, error) {
	if s.Dims != "" {
		var out []int
		for _, d := range strings.Split(s.Dims, "x") {
			n, err := strconv.Atoi(d)
			if err != nil || n > ir.MaxDim {
				return nil, dsl.Errorf(dsl.PosOf(s.Pos), "%s must be between 0 and %d, found %s", what, ir.MaxDim, d)
			}
			out = append(out, n)
		}
		return out, nil
	}
	var out []int
	for _, e := range s.Exprs {
		n, err := b.int(e, vars, what)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// int evaluates an expression that must give a size in 0..ir.MaxDim.
func (b *builder) int(e *dsl.Expr, vars env, what string) (int, error) {
	v, err := eval(e, vars)
	if err != nil {
		return 0, err
	}
	at := dsl.PosOf(e.Pos)
	if v.word != "" {
		return 0, dsl.Errorf(at, "%s must be a number, found the word %q%s", what, v.word, dsl.Suggest(v.word, vars.names()))
	}
	if v.n < 0 || v.n > ir.MaxDim {
		return 0, dsl.Errorf(at, "%s must be between 0 and %d, found %d", what, ir.MaxDim, v.n)
	}
	return int(v.n), nil
}

// kind evaluates a shortcut kind.
func (b *builder) kind(e *dsl.Expr, vars env) (string, error) {
	v, err := eval(e, vars)
	if err != nil {
		return "", err
	}
	for _, k := range shortcutKinds {
		if v.word == k {
			return k, nil
		}
	}
	cands := append(append([]string(nil), shortcutKinds...), vars.names()...)
	return "", dsl.Errorf(dsl.PosOf(e.Pos), "unknown shortcut kind %q: expected identity, A, B, C, none or a parameter holding one%s",
		v.String(), dsl.Suggest(v.String(), cands))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
