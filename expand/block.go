package expand

import (
	"fmt"
	"strings"

	"github.com/resnetc/resnetc/dsl"
	"github.com/resnetc/resnetc/ir"
)

// stage expands "name: n x block(args) first(args)" into n block instances
// named name.0 .. name.(n-1), or "name: block(args)" into one named name.
func (b *builder) stage(s *dsl.Stmt, cur *ir.Node) (*ir.Node, error) {
	st := s.Stage
	at := dsl.PosOf(st.Pos)
	tmpl, ok := b.blocks[st.Block]
	if !ok {
		if _, isOp := opTable[st.Block]; isOp {
			return nil, dsl.Errorf(at, "%s is an operation, not a block template; write \"%s\" without parentheses", st.Block, st.Block)
		}
		return nil, dsl.Errorf(at, "unknown block %q%s", st.Block, dsl.Suggest(st.Block, sortedKeys(b.blocks)))
	}
	if s.Label == nil {
		return nil, dsl.Errorf(at, "a stage needs a name, as in \"layer1: 2 x %s(64)\"", st.Block)
	}
	count := 1
	if st.Count != nil {
		var err error
		if count, err = b.int(st.Count, b.vars, "stage block count"); err != nil {
			return nil, err
		}
		if count < 1 {
			return nil, dsl.Errorf(dsl.PosOf(st.Count.Pos), "stage %s needs at least one block, found %d", s.Label.Name, count)
		}
	}
	if st.First != nil && st.Count == nil {
		return nil, dsl.Errorf(at, "first(...) only makes sense in a stage of several blocks, as in \"%s: 2 x %s(...) first(...)\"", s.Label.Name, st.Block)
	}
	if prev, ok := b.names[s.Label.Name]; ok {
		return nil, dsl.Errorf(dsl.PosOf(s.Label.Pos), "%s is already defined at %s", s.Label.Name, prev)
	}
	b.names[s.Label.Name] = dsl.PosOf(s.Label.Pos)
	// Every operation of the block body but add becomes at least one node;
	// refuse a stage that cannot fit before spending time expanding it.
	perBlock := 0
	for _, st := range tmpl.Body {
		if st.Op != nil && st.Op.Name != "add" {
			perBlock++
		}
	}
	if len(b.g.Nodes)+count*perBlock > ir.MaxNodes {
		return nil, dsl.Errorf(at, "network too large: stage %s of %d x %s would exceed %d operations", s.Label.Name, count, tmpl.Name, ir.MaxNodes)
	}
	rest, err := b.bind(tmpl, st.Args, map[string]value{})
	if err != nil {
		return nil, err
	}
	first := rest
	if st.First != nil {
		if first, err = b.bind(tmpl, st.First, rest); err != nil {
			return nil, err
		}
	}
	for i := 0; i < count; i++ {
		args := rest
		if i == 0 {
			args = first
		}
		inst := s.Label.Name
		if st.Count != nil {
			inst = fmt.Sprintf("%s.%d", s.Label.Name, i)
		}
		if cur, err = b.block(tmpl, inst, s.Label.Name, args, cur, at); err != nil {
			return nil, err
		}
	}
	return cur, nil
}

// bind evaluates block arguments (in the network's scope) over a copy of
// base, positional ones first, then named ones.
func (b *builder) bind(tmpl *dsl.Block, args []*dsl.Arg, base map[string]value) (map[string]value, error) {
	out := make(map[string]value, len(base))
	for k, v := range base {
		out[k] = v
	}
	names := make([]string, len(tmpl.Params))
	for i, p := range tmpl.Params {
		names[i] = p.Name
	}
	given := map[string]bool{}
	named := false
	for i, a := range args {
		at := dsl.PosOf(a.Pos)
		name := a.Name
		if name == "" {
			if named {
				return nil, dsl.Errorf(at, "positional argument after a named one in %s(...)", tmpl.Name)
			}
			if i >= len(names) {
				return nil, dsl.Errorf(at, "block %s takes %d arguments (%s), found %d", tmpl.Name, len(names), strings.Join(names, ", "), len(args))
			}
			name = names[i]
		} else {
			named = true
			if !contains(names, name) {
				return nil, dsl.Errorf(at, "block %s has no parameter %q%s", tmpl.Name, name, dsl.Suggest(name, names))
			}
		}
		if given[name] {
			return nil, dsl.Errorf(at, "argument %s is given twice", name)
		}
		given[name] = true
		v, err := eval(a.Value, b.vars)
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// block expands one instance of tmpl named inst applied to x.
func (b *builder) block(tmpl *dsl.Block, inst, stage string, args map[string]value, x *ir.Node, at dsl.Pos) (*ir.Node, error) {
	bound := map[string]value{}
	for _, p := range tmpl.Params {
		if v, ok := args[p.Name]; ok {
			bound[p.Name] = v
			continue
		}
		if p.Default == nil {
			return nil, dsl.Errorf(at, "block %s needs a value for its parameter %s (declared at %s)", tmpl.Name, p.Name, dsl.PosOf(p.Pos))
		}
		v, err := eval(p.Default, b.vars.with(bound))
		if err != nil {
			return nil, err
		}
		bound[p.Name] = v
	}
	vars := b.vars.with(bound)
	sc := &scope{prefix: inst + ".", block: inst, stage: stage, template: tmpl}

	var addStmt, projStmt *dsl.Stmt
	for _, s := range tmpl.Body {
		switch {
		case s.Projection != nil:
			if projStmt != nil {
				return nil, dsl.Errorf(dsl.PosOf(s.Pos), "block %s has a second projection; the first is at %s", tmpl.Name, dsl.PosOf(projStmt.Pos))
			}
			if s.Label != nil {
				return nil, dsl.Errorf(dsl.PosOf(s.Label.Pos), "a projection is named after the word projection, as in \"projection downsample { ... }\"")
			}
			projStmt = s
		case s.Op != nil && s.Op.Name == "add":
			if addStmt != nil {
				return nil, dsl.Errorf(dsl.PosOf(s.Pos), "block %s has a second add; the first is at %s", tmpl.Name, dsl.PosOf(addStmt.Pos))
			}
			addStmt = s
		}
	}
	if projStmt != nil && addStmt == nil {
		return nil, dsl.Errorf(dsl.PosOf(projStmt.Pos), "block %s has a projection but no add to use it", tmpl.Name)
	}

	cur := x
	for _, s := range tmpl.Body {
		var err error
		switch {
		case s == projStmt:
		case s == addStmt:
			cur, err = b.join(tmpl, s, projStmt, x, cur, sc, vars)
		default:
			cur, err = b.stmt(s, cur, sc, vars)
		}
		if err != nil {
			return nil, err
		}
	}
	return cur, nil
}

// join adds the shortcut of block input x to the residual branch body,
// as the shortcut kind named by the add statement asks.
func (b *builder) join(tmpl *dsl.Block, s, proj *dsl.Stmt, x, body *ir.Node, sc *scope, vars env) (*ir.Node, error) {
	at := dsl.PosOf(s.Pos)
	if s.Label != nil {
		return nil, dsl.Errorf(dsl.PosOf(s.Label.Pos), "add is named after its block and takes no label")
	}
	if len(s.Op.Args) != 1 || len(s.Op.Args[0].Exprs) != 1 {
		return nil, dsl.Errorf(at, "add needs one shortcut kind (identity, A, B, C or none), as in \"add B\"")
	}
	kind, err := b.kind(s.Op.Args[0].Exprs[0], vars)
	if err != nil {
		return nil, err
	}
	same := x.Shape == body.Shape
	ends := func() string {
		return fmt.Sprintf("the block input %s (%s, %s) and the residual branch %s (%s, %s)",
			x.Shape, x.Name, x.Pos, body.Shape, body.Name, body.Pos)
	}
	var short *ir.Node
	if proj != nil && !(kind == kindC || (!same && kind == kindB)) {
		if err := b.checkUnused(proj, x, sc, vars); err != nil {
			return nil, err
		}
	}
	switch {
	case kind == kindNone:
		return body, nil
	case same && kind != kindC:
		short = x
	case kind == kindIdentity:
		return nil, dsl.Errorf(at, "%s: an identity shortcut cannot join %s; use shortcut A, B or C", sc.block, ends())
	case kind == kindA:
		if body.Shape.C < x.Shape.C {
			return nil, dsl.Errorf(at, "%s: option A pads channels with zeros and cannot join %s, which has fewer channels; use B or C", sc.block, ends())
		}
		stride := 0
		for s := 1; s <= x.Shape.H && s <= x.Shape.W; s++ {
			if (x.Shape.H+s-1)/s == body.Shape.H && (x.Shape.W+s-1)/s == body.Shape.W {
				stride = s
				break
			}
		}
		if stride == 0 {
			return nil, dsl.Errorf(at, "%s: option A cannot join %s: no stride subsamples %dx%d to %dx%d",
				sc.block, ends(), x.Shape.H, x.Shape.W, body.Shape.H, body.Shape.W)
		}
		pad := body.Shape.C - x.Shape.C
		name, err := b.name(&dsl.Stmt{Pos: s.Pos}, sc, "shortcut", false)
		if err != nil {
			return nil, err
		}
		n := &ir.Node{Name: name, Op: ir.OpShortcutA, Args: []*ir.Node{x},
			Stride: stride, PadLo: pad / 2, PadHi: pad - pad/2}
		psc := *sc
		psc.projection = true
		if short, err = b.add(n, &psc, at); err != nil {
			return nil, err
		}
	default: // B where the shape changes, or C
		if proj == nil {
			return nil, dsl.Errorf(at, "%s: shortcut %s needs a projection to join %s, but block %s has none; add \"projection downsample { ... }\"",
				sc.block, kind, ends(), tmpl.Name)
		}
		if short, err = b.projection(proj, x, sc, vars); err != nil {
			return nil, err
		}
		if short.Shape != body.Shape {
			return nil, dsl.Errorf(dsl.PosOf(proj.Pos), "%s: projection %s gives %s (%s, %s) but the residual branch gives %s (%s, %s)",
				sc.block, proj.Projection.Name, short.Shape, short.Name, short.Pos, body.Shape, body.Name, body.Pos)
		}
	}
	name, err := b.name(&dsl.Stmt{Pos: s.Pos}, sc, "add", false)
	if err != nil {
		return nil, err
	}
	return b.add(&ir.Node{Name: name, Op: ir.OpAdd, Args: []*ir.Node{body, short}}, sc, at)
}

// checkUnused expands a projection that this block instance does not use
// into a scratch graph, so that its mistakes are reported whatever the
// shortcut kind: -D shortcut=B must not be the first to find them.
func (b *builder) checkUnused(proj *dsl.Stmt, x *ir.Node, sc *scope, vars env) error {
	g, err := ir.NewGraph(b.g.Name, b.file, x.Shape, x.Pos)
	if err != nil {
		return err
	}
	scratch := &builder{file: b.file, g: g, vars: b.vars, blocks: b.blocks, names: map[string]dsl.Pos{}}
	_, err = scratch.projection(proj, g.Input, sc, vars)
	return err
}

// projection expands a block's projection applied to the block input.
func (b *builder) projection(s *dsl.Stmt, x *ir.Node, sc *scope, vars env) (*ir.Node, error) {
	p := s.Projection
	if len(p.Body) == 0 {
		return nil, dsl.Errorf(dsl.PosOf(p.Pos), "projection %s is empty", p.Name)
	}
	psc := *sc
	psc.prefix = sc.prefix + p.Name + "."
	psc.projection = true
	cur := x
	for i, st := range p.Body {
		psc.index = i
		if st.Stage != nil || st.Projection != nil || st.Op.Name == "add" {
			return nil, dsl.Errorf(dsl.PosOf(st.Pos), "a projection holds only operations such as conv and bn")
		}
		var err error
		if cur, err = b.op(st, cur, &psc, vars); err != nil {
			return nil, err
		}
	}
	return cur, nil
}
