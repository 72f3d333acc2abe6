// Package dot draws a network as a Graphviz graph: residual blocks as
// clusters inside their stages, shortcut paths as dashed red edges.
package dot

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/resnetc/resnetc/ir"
)

var fill = map[ir.Op]string{
	ir.OpInput:         "#eeeeee",
	ir.OpConv:          "#c6dbef", // fused convs too
	ir.OpBatchNorm:     "#fdf2c4",
	ir.OpReLU:          "#e5f5e0",
	ir.OpMaxPool:       "#dadaeb",
	ir.OpGlobalAvgPool: "#dadaeb",
	ir.OpLinear:        "#c6dbef",
	ir.OpAdd:           "#fdd0a2",
	ir.OpShortcutA:     "#fcbba1",
}

// Write prints g in the DOT language.
func Write(w io.Writer, g *ir.Graph) error {
	bw := bufio.NewWriter(w)
	p := func(indent int, format string, args ...any) {
		bw.WriteString(strings.Repeat("  ", indent))
		fmt.Fprintf(bw, format, args...)
		bw.WriteByte('\n')
	}
	p(0, "digraph %s {", strconv.Quote(g.Name))
	p(1, "rankdir=TB; newrank=true; nodesep=0.3; ranksep=0.25;")
	p(1, `node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];`)
	p(1, `edge [arrowsize=0.6];`)
	p(1, "label=%s; labelloc=t; fontname=\"Helvetica\";", strconv.Quote(fmt.Sprintf("%s: %s -> %d classes", g.Name, g.Input.Shape, g.Classes())))

	// Nodes, grouped into stage and block clusters in graph order; a
	// block's nodes are contiguous, and so are a stage's blocks.
	stage, block := "", ""
	for _, n := range g.Nodes {
		if n.Block != block && block != "" {
			p(2, "}")
		}
		if n.Stage != stage && stage != "" {
			p(1, "}")
		}
		if n.Stage != stage && n.Stage != "" {
			p(1, "subgraph %s {", strconv.Quote("cluster_"+n.Stage))
			p(2, `label=%s; style="rounded"; color="#999999";`, strconv.Quote(n.Stage))
		}
		if n.Block != block && n.Block != "" && n.Block != n.Stage {
			p(2, "subgraph %s {", strconv.Quote("cluster_"+n.Block))
			p(3, `label=%s; style="rounded,filled"; fillcolor="#f7f7f7"; color="#bbbbbb";`, strconv.Quote(n.Block))
		}
		stage, block = n.Stage, n.Block
		p(3, "n%d [label=\"%s\", fillcolor=%s];", n.ID, label(n), strconv.Quote(fill[n.Op]))
	}
	if block != "" {
		p(2, "}")
	}
	if stage != "" {
		p(1, "}")
	}

	for _, n := range g.Nodes {
		for i, a := range n.Args {
			join := (n.Op == ir.OpAdd || n.FuseAdd) && i == 1
			shortcut := n.Shortcut || join
			switch {
			case join && !a.Shortcut:
				p(1, `n%d -> n%d [style=dashed, color="#d62728", fontcolor="#d62728", fontsize=9, label="identity"];`, a.ID, n.ID)
			case shortcut:
				p(1, `n%d -> n%d [style=dashed, color="#d62728"];`, a.ID, n.ID)
			default:
				p(1, "n%d -> n%d;", a.ID, n.ID)
			}
		}
	}
	p(0, "}")
	return bw.Flush()
}

// generated matches the names expand gives unlabelled operations.
var generated = regexp.MustCompile(`^(input|relu|bn|conv|maxpool|avgpool|fc|add)(_[0-9]+)?$`)

// label shows the node's name within its block (the cluster names the
// block), what it computes, and its output shape.
func label(n *ir.Node) string {
	name := n.Name
	if n.Block != "" {
		name = strings.TrimPrefix(name, n.Block+".")
	}
	var what string
	switch n.Op {
	case ir.OpConv:
		what = fmt.Sprintf("conv %dx%d", n.KH, n.KW)
		if n.Stride != 1 {
			what += fmt.Sprintf(" /%d", n.Stride)
		}
	case ir.OpMaxPool:
		what = fmt.Sprintf("maxpool %dx%d /%d", n.KH, n.KW, n.Stride)
	case ir.OpShortcutA:
		what = fmt.Sprintf("option A: /%d, +%d zero ch", n.Stride, n.PadLo+n.PadHi)
	default:
		what = n.Op.String()
	}
	for _, f := range n.Fusions() {
		what += " +" + f
	}
	if generated.MatchString(name) || name == "shortcut" {
		return fmt.Sprintf("%s\n%s", what, n.Shape)
	}
	return fmt.Sprintf("%s: %s\n%s", name, what, n.Shape)
}
