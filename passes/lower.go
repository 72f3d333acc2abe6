package passes

import "github.com/resnetc/resnetc/ir"

// winogradWeightsPerTile bounds a Winograd conv's weight pairs (K x C) per
// 2x2 output tile of one image. Its transformed weights are 16/9 the size
// of the plain ones and are streamed once per pass over an image's tiles:
// where an image has few tiles for its weights that traffic outweighs the
// multiplies saved. resnet's 7x7 stage of 512 channels (16 384 a tile)
// is still 1.3x faster by F(2x2, 3x3) than by im2col at batch 1 (go test
// -bench ConvLowering ./nn), and more so at larger batches, whose passes
// share the weights among several images.
const winogradWeightsPerTile = 16384

// winograd4WeightsPerTile is the same bound for F(4x4, 3x3), per 4x4
// output tile: its transformed weights are 4 times the plain ones, for
// tiles of four times the outputs. At batch 1, F(4x4, 3x3) measured 1.4x
// faster than F(2x2, 3x3) at 128 channels of 28x28 (334 weight pairs a
// tile) and 1.5x at 256 of 14x14 (4 096), whose goroutines share output
// channels; at 512 of 7x7 (65 536) it took 2.5 times as long (go test
// -bench ConvLowering ./nn).
const winograd4WeightsPerTile = 4096

// winograd4BatchWeightsPerTile is winograd4WeightsPerTile for the tiles of
// a whole batch, which share one pass over the weights: a conv that
// F(4x4, 3x3) does not pay for at batch 1 goes by it from the batch at
// which its weight pairs per 4x4 tile of the batch fall to this. At 512
// channels of 7x7 (65 536 weight pairs a tile of one image), F(4x4, 3x3)
// against F(2x2, 3x3) took 3.7-3.8 ms against 3.0-3.2 at batch 4 (16 384
// a tile), 3.3-3.6 against 4.4-4.8 at 6 (10 923), 3.5-3.9 against 5.6-5.7
// at 8 (go test -bench ConvLowering ./nn): from batch 6.
const winograd4BatchWeightsPerTile = 12288

// winogradS2WeightsPerTile is winogradWeightsPerTile for the stride-2
// Winograd: its transformed weights are 25/9 the size of the plain ones.
// At batch 1 it was 1.25-1.35x faster than im2col at 128 channels of
// 28x28 outputs (84 weight pairs a 2x2 tile), 1.07-1.18x at 256 of 14x14
// (1 337), and 2-5% slower at 512 of 7x7 (16 384), though 8-15% faster
// there at batch 8 (go test -bench ConvLowering/resnet- ./nn).
const winogradS2WeightsPerTile = 4096

// LowerConv chooses how each convolution becomes matrix products:
//   - direct: a 1x1, stride-1, unpadded conv multiplies its input as it
//     lies;
//   - winograd4: a 3x3 stride-1 conv is computed by Winograd F(4x4, 3x3),
//     36 multiplies per 4x4 tile and channel pair instead of 144 (and in
//     training so is its input gradient, and its weight gradient by
//     F(3x3, 4x4)), unless its weights outweigh its tiles
//     (winograd4WeightsPerTile);
//   - winograd: else by F(2x2, 3x3), 16 multiplies per 2x2 tile instead
//     of 36, unless its weights outweigh those tiles too
//     (winogradWeightsPerTile); and from the batch whose tiles its
//     weights no longer outweigh (winograd4BatchWeightsPerTile), by
//     F(4x4, 3x3) after all (Node.Winograd4From);
//   - winograd-s2: a 3x3 stride-2 conv is computed by Winograd on its
//     polyphase parts, 25 multiplies per 2x2 tile and channel pair
//     instead of 36, unless its weights outweigh its tiles
//     (winogradS2WeightsPerTile); inference only;
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
		tiles4 := (n.Shape.H + 3) / 4 * ((n.Shape.W + 3) / 4)
		weights := n.Out * n.Args[0].Shape.C
		switch {
		case n.DirectOK():
			n.Lowering = ir.LowerDirect
		case n.WinogradOK() && weights <= winograd4WeightsPerTile*tiles4:
			n.Lowering = ir.LowerWinograd4
		case n.WinogradOK() && weights <= winogradWeightsPerTile*tiles:
			n.Lowering = ir.LowerWinograd
			per := winograd4BatchWeightsPerTile * tiles4
			n.Winograd4From = max(2, (weights+per-1)/per)
		case n.WinogradS2OK() && weights <= winogradS2WeightsPerTile*tiles:
			n.Lowering = ir.LowerWinogradS2
		default:
			n.Lowering = ir.LowerIm2col
		}
	}
	return nil
}

// minTrainWinogradChannels is the fewest input channels for which training
// lowers a conv to Winograd. Its weight gradient is 16 or 36 GEMMs of K x
// C summed over the tiles, and a stem's 3 channels make them too narrow
// to run well: at 3 channels into 16 (CIFAR, batch 64) im2col's columns
// gave the weight gradient in 0.70 ms and Winograd in 4.0; at 16 channels
// Winograd was 3.0x faster, at 64 2.8x (go test -bench WeightGradLowering
// -cpu 1 ./nn).
const minTrainWinogradChannels = 8

// minTrainWinograd4Channels is the fewest input channels for which a
// training forward pass keeps F(4x4, 3x3). On 16 channels its transforms
// cost about what its multiplies save; on the CIFAR nets' 32- and
// 64-channel stages it gains. ResNet-20's training step at batch 128
// (medians of interleaved runs of BenchmarkTrainStepResnet20Batch128):
// 120.7 ms with F(2x2, 3x3) everywhere, 114.0 with F(4x4, 3x3) from 32
// channels; in a slower spell 138.9, 128.7, and 135.9 with F(4x4, 3x3)
// from 16 channels too.
const minTrainWinograd4Channels = 32

// maxTrainWinograd4Side is the largest feature map (its height) on which a
// training forward pass keeps F(4x4, 3x3): the CIFAR nets' 16x16 and 8x8
// stages, where it was measured to gain. On resnet18's 56x56 first stage
// its rounding flipped a ReLU input close to 0 in the PyTorch comparison
// at batch 4 (a gradient 6.5e-3 off where PyTorch's own float32 error is
// 3e-6); larger maps stay on F(2x2, 3x3).
const maxTrainWinograd4Side = 16

// LowerConvTraining is LowerConv for the training graph, where each conv's
// weight gradient costs as much as its forward pass: the stride-2
// Winograd, which has no gradients, becomes im2col; a conv of fewer than
// minTrainWinogradChannels input channels stays im2col, and F(4x4, 3x3)
// becomes F(2x2, 3x3) below minTrainWinograd4Channels or above
// maxTrainWinograd4Side. Where F(4x4, 3x3)
// stays, nn still takes F(2x2, 3x3) for a batch of fewer than 512 4x4
// tiles (nn.ConvDims.trainFor): its rounding errors, about 1e-6 of a
// conv's outputs against F(2x2, 3x3)'s 1e-7, are within the inference
// tolerance, but batch norm over a small batch amplifies them (the PyTorch
// comparison's ResNet-20 batch of 4 sits where noise of 1e-6 on the first
// block's activations, a ReLU input close to 0, moves a gradient by 2.4%;
// resnet18's batch of 1 moved its gradients by 2%). The input gradient,
// linear in dy once the forward pass has fixed the ReLUs, goes by
// F(4x4, 3x3) by the same rule of tiles, whatever the lowering. Code
// generation gives each conv that inference lowers otherwise its own
// shape.
func LowerConvTraining(g *ir.Graph) error {
	if err := LowerConv(g); err != nil {
		return err
	}
	for _, n := range g.Nodes {
		if n.Op != ir.OpConv {
			continue
		}
		n.Winograd4From = 0 // a training step transforms its weights anyway; nn.ConvDims.trainFor decides
		if n.Lowering == ir.LowerWinogradS2 {
			n.Lowering = ir.LowerIm2col // its weight and input gradients are not built
		}
		if n.Lowering == ir.LowerWinograd4 && (n.Args[0].Shape.C < minTrainWinograd4Channels || n.Shape.H > maxTrainWinograd4Side) {
			n.Lowering = ir.LowerWinograd
		}
		if n.Lowering == ir.LowerWinograd && n.Args[0].Shape.C < minTrainWinogradChannels {
			n.Lowering = ir.LowerIm2col
		}
	}
	return nil
}
