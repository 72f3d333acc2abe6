package passes

import "github.com/resnetc/resnetc/ir"

// winogradWeightsPerTile bounds a Winograd conv's weight pairs (K x C) per
// 2x2 output tile of one image. Its transformed weights are 16/9 the size
// of the plain ones and are streamed once per pass over an image's tiles:
// where an image has few tiles for its weights (resnet's 7x7 stage of 512
// channels: 16 384 per tile) that traffic outweighs the multiplies saved,
// and im2col measured 1.8x faster at batch 1; at 14x14 and 256 channels
// (1 337) Winograd measured 1.5x faster (go test -bench ConvLowering ./nn).
const winogradWeightsPerTile = 4096

// LowerConv chooses how each convolution becomes matrix products:
//   - direct: a 1x1, stride-1, unpadded conv multiplies its input as it
//     lies;
//   - winograd: a 3x3 stride-1 conv is computed by Winograd F(2x2, 3x3),
//     16 multiplies per 2x2 tile and channel pair instead of 36 (and so is
//     its input gradient in training), unless its weights outweigh its
//     tiles (winogradWeightsPerTile);
//   - im2col: any other gathers its input's columns into the scratch
//     matrix that every conv shares. Training's weight gradients always
//     come from these columns.
//
// Code generation emits the choice and sizes the scratch from it;
// -dump-ir shows it as lower=.
func LowerConv(g *ir.Graph) error {
	for _, n := range g.Nodes {
		if n.Op != ir.OpConv {
			continue
		}
		tiles := (n.Shape.H + 1) / 2 * ((n.Shape.W + 1) / 2)
		switch {
		case n.DirectOK():
			n.Lowering = ir.LowerDirect
		case n.WinogradOK() && n.Out*n.Args[0].Shape.C <= winogradWeightsPerTile*tiles:
			n.Lowering = ir.LowerWinograd
		default:
			n.Lowering = ir.LowerIm2col
		}
	}
	return nil
}
