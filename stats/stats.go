// Package stats counts a network's parameters and multiply-adds per layer,
// as the paper reports them: trainable parameters (BN's gamma and beta
// included, running statistics excluded) and the multiply-adds of one
// image's forward pass through the convolutions and the fc layer.
package stats

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/resnetc/resnetc/ir"
)

// Layer is one row of the report.
type Layer struct {
	Name   string `json:"name"`
	Op     string `json:"op"`
	Detail string `json:"detail,omitempty"` // kernel, stride and padding where the op has them
	Block  string `json:"block,omitempty"`
	Shape  [3]int `json:"shape"` // C, H, W of one image's output
	Params int64  `json:"params"`
	MACs   int64  `json:"macs"`
}

// Report is the whole table with its totals.
type Report struct {
	Network string `json:"network"`
	Input   [3]int `json:"input"`
	Classes int    `json:"classes"`
	// Depth counts weighted layers as the paper names networks: convs and
	// fc on the main path, projection shortcuts excluded (ResNet-20 has 20).
	Depth  int     `json:"depth"`
	Params int64   `json:"params"`
	MACs   int64   `json:"macs"`
	Layers []Layer `json:"layers"`
}

// Of computes the report of g; the input node is not a layer.
func Of(g *ir.Graph) Report {
	in := g.Input.Shape
	r := Report{Network: g.Name, Input: [3]int{in.C, in.H, in.W}, Classes: g.Classes(), Layers: []Layer{}}
	for _, n := range g.Nodes[1:] {
		l := Layer{Name: n.Name, Op: n.Op.String(), Detail: detail(n), Block: n.Block,
			Shape: [3]int{n.Shape.C, n.Shape.H, n.Shape.W}, Params: n.TrainableParams(), MACs: n.MACs()}
		r.Params += l.Params
		r.MACs += l.MACs
		r.Layers = append(r.Layers, l)
		if (n.Op == ir.OpConv || n.Op == ir.OpLinear) && !n.Shortcut {
			r.Depth++
		}
	}
	return r
}

func detail(n *ir.Node) string {
	switch n.Op {
	case ir.OpConv, ir.OpMaxPool:
		s := fmt.Sprintf("%dx%d stride %d pad %d", n.KH, n.KW, n.Stride, n.Pad)
		if n.Bias {
			s += " bias"
		}
		return s
	case ir.OpShortcutA:
		return fmt.Sprintf("stride %d, +%d+%d zero channels", n.Stride, n.PadLo, n.PadHi)
	}
	return ""
}

// Summary is the one-line description "resnetc check" prints.
func (r Report) Summary() string {
	return fmt.Sprintf("%s: %dx%dx%d -> %s, %s (%s), %s parameters, %s multiply-adds (%.2f GMACs)",
		r.Network, r.Input[0], r.Input[1], r.Input[2], plural(r.Classes, "class", "classes"),
		plural(r.Depth, "weighted layer", "weighted layers"), plural(len(r.Layers), "operation", "operations"),
		Group(r.Params), Group(r.MACs), float64(r.MACs)/1e9)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// WriteTable prints the per-layer table and the totals: names and ops
// aligned left, sizes and counts aligned right.
func (r Report) WriteTable(w io.Writer) error {
	rows := [][]string{{"layer", "op", "", "output", "params", "mult-adds"}}
	for _, l := range r.Layers {
		rows = append(rows, []string{l.Name, l.Op, l.Detail,
			fmt.Sprintf("%dx%dx%d", l.Shape[0], l.Shape[1], l.Shape[2]), Group(l.Params), Group(l.MACs)})
	}
	rows = append(rows, []string{"total", "", "", "", Group(r.Params), Group(r.MACs)})
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, cell := range row {
			width[i] = max(width[i], len(cell))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		for i, cell := range row {
			pad := strings.Repeat(" ", width[i]-len(cell))
			switch {
			case i < 3:
				b.WriteString(cell + pad + "  ")
			case i < len(row)-1:
				b.WriteString(pad + cell + "  ")
			default:
				b.WriteString(pad + cell + "\n")
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Group writes n with thousands separators: 25,557,032.
func Group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
