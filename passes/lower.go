package passes

import "github.com/resnetc/resnetc/ir"

// LowerConv chooses how each convolution becomes matrix products: a 1x1,
// stride-1, unpadded conv multiplies its input as it lies; any other
// gathers its input's columns into the scratch matrix that every conv
// shares (im2col). Code generation emits the choice and sizes the scratch
// from it; -dump-ir shows it as lower=.
func LowerConv(g *ir.Graph) error {
	for _, n := range g.Nodes {
		if n.Op != ir.OpConv {
			continue
		}
		if n.DirectOK() {
			n.Lowering = ir.LowerDirect
		} else {
			n.Lowering = ir.LowerIm2col
		}
	}
	return nil
}
