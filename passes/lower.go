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
//     16 multiplies per 2x2 tile and channel pair instead of 36 (and in
//     training so are its input gradient, and its weight gradient by
//     F(3x3, 2x2)), unless its weights outweigh its tiles
//     (winogradWeightsPerTile);
//   - im2col: any other gathers its input's columns into the scratch
//     matrix that every conv shares, and in training takes its weight
//     gradient from them.
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

// minTrainWinogradChannels is the fewest input channels for which training
// lowers a conv to Winograd. Its weight gradient is 16 GEMMs of K x C
// summed over the tiles, and a stem's 3 channels make them too narrow to
// run well: at 3 channels into 16 (CIFAR, batch 64) im2col's columns gave
// the weight gradient in 2.3 ms and Winograd in 4.1; at 16 channels
// Winograd was 1.4x faster, at 64 twice as fast (go test -bench
// WeightGradLowering ./nn, one thread).
const minTrainWinogradChannels = 8

// LowerConvTraining is LowerConv for the training graph, where each conv's
// weight gradient costs as much as its forward pass: a conv of fewer than
// minTrainWinogradChannels input channels stays im2col. Inference lowers
// the same conv to Winograd, so code generation gives it its own shape.
func LowerConvTraining(g *ir.Graph) error {
	if err := LowerConv(g); err != nil {
		return err
	}
	for _, n := range g.Nodes {
		if n.Op == ir.OpConv && n.Lowering == ir.LowerWinograd && n.Args[0].Shape.C < minTrainWinogradChannels {
			n.Lowering = ir.LowerIm2col
		}
	}
	return nil
}
