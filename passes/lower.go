package passes

import "github.com/resnetc/resnetc/ir"

// LowerConv chooses how each convolution of the training graph becomes
// matrix products: a 1x1, stride-1, unpadded conv multiplies its input as
// it lies; any other gathers its input's columns into the scratch matrix
// that every conv shares (im2col), which its backward pass reuses for the
// weight gradient. Code generation emits the choice and sizes the scratch
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

// winogradWeightsPerTile bounds a Winograd conv's weight pairs (K x C) per
// 2x2 output tile of one image. Its transformed weights are 16/9 the size
// of the plain ones and are streamed once per pass over an image's tiles:
// where an image has few tiles for its weights (resnet's 7x7 stage of 512
// channels: 16 384 per tile) that traffic outweighs the multiplies saved,
// and im2col measured 1.8x faster at batch 1; at 14x14 and 256 channels
// (1 337) Winograd measured 1.5x faster (go test -bench ConvLowering ./nn).
const winogradWeightsPerTile = 4096

// LowerConvInference is LowerConv for inference, which may also choose
// Winograd F(2x2, 3x3): for a 3x3 stride-1 conv it needs 16 multiplies
// per 2x2 tile and channel pair instead of 36, with its weights
// transformed once when they load. Training keeps im2col: its weights
// change every step and its backward pass reuses the columns.
func LowerConvInference(g *ir.Graph) error {
	if err := LowerConv(g); err != nil {
		return err
	}
	for _, n := range g.Nodes {
		if n.Op != ir.OpConv || !n.WinogradOK() {
			continue
		}
		tiles := (n.Shape.H + 1) / 2 * ((n.Shape.W + 1) / 2)
		if n.Out*n.Args[0].Shape.C <= winogradWeightsPerTile*tiles {
			n.Lowering = ir.LowerWinograd
		}
	}
	return nil
}
