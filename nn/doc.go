// Package nn holds the kernels that resnetc's generated Go packages call:
// convolution, batch normalization, pooling, fully connected layers, the
// residual shortcuts, softmax cross-entropy and SGD, forward and backward,
// plus safetensors reading and writing. It is pure Go and has no
// dependencies outside the standard library, so that an application can
// vendor a generated model without pulling anything else in.
//
// Tensors are float32 slices in NCHW order. Every kernel takes its sizes
// as arguments (the generated code passes constants) and allocates
// nothing: scratch memory comes from a Workspace owned by the model.
package nn

// IsVersion1 is referenced by generated code, so that code generated for
// a different runtime fails to compile instead of misbehaving.
const IsVersion1 = true
