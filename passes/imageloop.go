package passes

import "github.com/resnetc/resnetc/ir"

// imageLoopMinFloats is the smallest per-image value (a node's output)
// that the image loop takes in: 128K floats, half a megabyte. A batch of
// such values overflows the 32 MB L3 cache that the two cores share
// (resnet50's first stage has 3 MB an image in each of its 256-channel
// values), while one image's stay in it from the layer that writes them
// to the layers that read them. At batch 8, resnet50's stem and first
// stage took 43.8 ms image by image against 52.5 ms layer by layer, its
// second stage as long either way and its third longer image by image
// (medians of 15 interleaved runs).
const imageLoopMinFloats = 128 << 10

// imageLoopWeightShare bounds a loop node's parameters against its
// per-image output: the loop multiplies by the weights once an image, not
// once a batch, and weights that outweigh the activations would then
// stream from memory once an image.
const imageLoopWeightShare = 4

// ImageLoop lets the first layers of an inference run image by image
// (Graph.ImageLoop), each image through all of them before the next, and
// the rest on the whole batch: the longest prefix of the schedule whose
// nodes have large per-image outputs (imageLoopMinFloats) and small
// parameters (imageLoopWeightShare). A value that only the loop reads is
// then held for one image at a time (PerImage), whatever the batch, and
// the values that cross out of the loop are written an image at a time
// into their whole-batch buffers. The CIFAR nets' values are too small
// for it; at batch 1 the loop runs once.
func ImageLoop(g *ir.Graph) error {
	g.ImageLoop = 0
	for _, n := range g.Nodes[1:] {
		var params int64
		for _, p := range n.Params {
			params += p.Elems()
		}
		out := n.Shape.Elems()
		if n == g.Output || out < imageLoopMinFloats || imageLoopWeightShare*params > out {
			break
		}
		g.ImageLoop = n.ID
	}
	users := g.Users()
	for _, n := range g.Nodes {
		n.PerImage = false
		if n.ID < 1 || n.ID > g.ImageLoop {
			continue
		}
		n.PerImage = true
		for _, u := range users[n.ID] {
			n.PerImage = n.PerImage && u.ID <= g.ImageLoop
		}
	}
	return nil
}
