package nn

import (
	"fmt"
	"math"
)

// ConvDims describes a 2-D convolution: C input channels of H x W, K
// output channels of OH x OW, a KH x KW kernel, one stride and one zero
// padding for both axes, and how it is lowered to matrix products.
type ConvDims struct {
	C, H, W     int
	K, KH, KW   int
	Stride, Pad int
	OH, OW      int
	Lowering    ConvLowering
	// Winograd4From, where Lowering is LowerWinograd and not 0, is the
	// batch from which inference with a PackedConv goes by F(4x4, 3x3)
	// instead: its weights, four times the plain ones, are then
	// prepared on the first such call (and again after Pack). Training
	// ignores it.
	Winograd4From int
}

// ConvLowering is how a convolution becomes matrix products. Generated
// code states the choice of resnetc's lower-conv pass for every layer.
type ConvLowering uint8

// The lowerings.
const (
	// LowerAuto chooses by shape: LowerDirect where it applies, else
	// LowerIm2col.
	LowerAuto ConvLowering = iota
	// LowerDirect multiplies the input as it lies; only for a 1x1 kernel
	// with stride 1 and no padding.
	LowerDirect
	// LowerIm2col gathers the input's columns into Workspace.Col first.
	LowerIm2col
	// LowerWinograd computes a stride-1 3x3 convolution, and its input
	// gradient, by Winograd F(2x2, 3x3): with the weights of a PackedConv
	// (inference) or transformed in the workspace on every call.
	LowerWinograd
	// LowerWinograd4 is LowerWinograd by F(4x4, 3x3): 36 multiplies per
	// 4x4 output tile and channel pair instead of F(2x2, 3x3)'s 64. Its
	// gradients are LowerWinograd's.
	LowerWinograd4
	// LowerWinogradS2 computes a stride-2 3x3 convolution by Winograd on
	// its polyphase parts (see WinogradS2OK): 25 multiplies per 2x2 output
	// tile and channel pair instead of 36. Inference only, with the
	// weights of a PackedConv; training takes it as LowerIm2col.
	LowerWinogradS2
)

// String names the lowering as resnetc's -dump-ir does.
func (l ConvLowering) String() string {
	switch l {
	case LowerAuto:
		return "auto"
	case LowerDirect:
		return "direct"
	case LowerIm2col:
		return "im2col"
	case LowerWinograd:
		return "winograd"
	case LowerWinograd4:
		return "winograd4"
	case LowerWinogradS2:
		return "winograd-s2"
	}
	return fmt.Sprintf("ConvLowering(%d)", uint8(l))
}

// direct reports whether the input is used as the GEMM's matrix as it is.
func (d ConvDims) direct() bool {
	fits := d.KH == 1 && d.KW == 1 && d.Stride == 1 && d.Pad == 0
	switch d.Lowering {
	case LowerDirect:
		if !fits {
			panic(fmt.Sprintf("nn: a %dx%d stride-%d pad-%d convolution cannot be lowered direct", d.KH, d.KW, d.Stride, d.Pad))
		}
		return true
	case LowerIm2col, LowerWinograd, LowerWinograd4, LowerWinogradS2:
		return false
	}
	return fits
}

// ColFloats is the scratch Workspace.Col must hold for this convolution:
// one image's columns for im2col, one pass's tiles for Winograd.
func (d ConvDims) ColFloats() int {
	if wide := d.wideFor(d.Winograd4From); wide != d {
		return max(wide.ColFloats(), d.winoFloats())
	}
	if d.winograd() {
		return d.winoFloats()
	}
	if d.direct() {
		return 0
	}
	return d.im2colGradFloats()
}

// im2colFloats is the column matrix of one image.
func (d ConvDims) im2colFloats() int {
	return d.C * d.KH * d.KW * d.OH * d.OW
}

// im2colGradFloats is the backward pass's scratch: one image's columns,
// and if the weight gradient is by dot products with its columns' rows
// padded (see dotWeightGrad), the pad and the gradient itself.
func (d ConvDims) im2colGradFloats() int {
	if ckk := d.C * d.KH * d.KW; d.dotWeightGrad() && d.gradCols() > ckk {
		return d.gradCols() * (d.OH*d.OW + d.K)
	}
	return d.im2colFloats()
}

// dotWeightGrad reports whether the weight gradient of an im2col or direct
// convolution, dW (K x CKK) = sum over images of dY (K x OHW) col^T, is
// taken by gradDot: each value the dot product of a row of dY and a row of
// the columns, both as they lie in memory, where the GEMM would pack both
// transposed first (the CIFAR stem's weight gradient: 2.9 to 1.2 ms at
// batch 128). gradDot takes rows 4 at a time: K must be a multiple of 4,
// and it reads the columns' rows up to one (gradCols, the workspace has
// room) and drops their products, except a direct convolution's, which
// are the input itself.
//
// Each block of 4 rows of dY passes over all of an image's columns, so they
// must stay in the cache (at most 2^16 floats), and each dot product must
// be long enough (64) to pay for its sum across the lanes. Past those, the
// GEMM's cache blocking wins: at batch 8, a 1x1 convolution of 256 to 64
// channels at 56x56 ran as fast by dots, a 3x3 stride-2 one at 128
// channels 8% slower, a 1x1 at 7x7 30% slower.
func (d ConvDims) dotWeightGrad() bool {
	n, cols := d.OH*d.OW, d.gradCols()
	if d.direct() {
		cols = d.C // the input itself, no rows to pad
	}
	return !d.winograd() && gradDotAsm(d.K, cols) && n >= 64 && d.gradCols()*n <= 1<<16
}

// gradCols is the rows of the columns that dotWeightGrad's dot products
// take: C x KH x KW rounded up to a multiple of 4.
func (d ConvDims) gradCols() int { return (d.C*d.KH*d.KW + 3) &^ 3 }

// gradDotRows adds dy (k x n) times col^T (n x c) to m (k x c), by gradDot,
// its blocks of 4 rows shared among the goroutines if split.
func gradDotRows(ws *Workspace, m, dy, col []float32, k, c, n int, split bool) {
	t := gradRowsTask{m: m, dy: dy, col: col, c: c, n: n}
	if nt := threadCount(); split && nt > 1 && k >= 8 {
		ws.gradRows = t
		shareRange(ws, &ws.gradRows, k/4, min(nt, k/4))
		return
	}
	t.run(ws, 0, k/4)
}

// gradRowsTask is gradDotRows over a range of blocks of 4 rows of m.
type gradRowsTask struct {
	m, dy, col []float32
	c, n       int
}

func (t *gradRowsTask) run(_ *Workspace, b0, b1 int) {
	gradDot(t.m[4*b0*t.c:], t.c, t.dy[4*b0*t.n:], t.n, t.col, t.n, 4*(b1-b0), t.c, t.n)
}

// gradDotAsm reports whether gradDot runs a k x c block in assembly:
// with AVX-512 or AVX2, k and c multiples of 4. Its callers take the
// GEMM otherwise, faster than gradDot's loops in Go.
func gradDotAsm(k, c int) bool { return (useWinoAsm || useWinoAVX2) && k%4 == 0 && c%4 == 0 }

// gradDot adds to m[i*ldm+j], for i < k and j < c, the dot product of
// the first n floats of u's row i and v's row j (rows ldu and ldv floats
// apart).
func gradDot(m []float32, ldm int, u []float32, ldu int, v []float32, ldv int, k, c, n int) {
	if gradDotAsm(k, c) && k > 0 && c > 0 && n > 0 {
		_, _, _ = u[(k-1)*ldu+n-1], v[(c-1)*ldv+n-1], m[(k-1)*ldm+c-1]
		if useWinoAsm {
			gradDotAVX512(k/4, c/4, n/16, &u[0], ldu, &v[0], ldv, &m[0], ldm, uint16(1)<<(n%16)-1)
		} else {
			gradDotAVX2(k/4, c/2, n/8, &u[0], ldu, &v[0], ldv, &m[0], ldm, &avx2Masks[16-n%8])
		}
		return
	}
	for i := 0; i < k; i++ {
		for j := 0; j < c; j++ {
			m[i*ldm+j] += dotFloat32(u[i*ldu:i*ldu+n], v[j*ldv:])
		}
	}
}

// Conv2D computes y = conv(x, w) + bias for batch images. w is K x C x KH
// x KW; bias may be nil.
func Conv2D(ws *Workspace, y, x, w, bias []float32, batch int, d ConvDims) {
	Conv2DFused(ws, y, x, w, nil, bias, nil, false, batch, d)
}

// GradWrite says how a backward kernel writes an input gradient.
type GradWrite bool

const (
	// SetGrad overwrites the buffer: the gradient's first contribution,
	// which then needs no clearing first.
	SetGrad GradWrite = false
	// AddGrad adds to the buffer: a later contribution to the gradient of
	// a tensor that feeds several layers (a block's input feeds its branch
	// and its shortcut).
	AddGrad GradWrite = true
)

// Conv2DBackward computes the weight gradient dw (overwritten), the bias
// gradient db (overwritten, may be nil) and the input gradient into dx as
// dxw says (skipped when dx is nil, as for the network input).
//
// For LowerWinograd both gradients are computed by Winograd: the weight
// gradient by F(3x3, 4x4) or F(3x3, 2x2) (winoWeightGrad), the input
// gradient, a 3x3
// stride-1 convolution of dy with the weights flipped and transposed, by
// F(2x2, 3x3) or F(4x4, 3x3) (gradInputFor) from weights transformed in
// the workspace on every call.
func Conv2DBackward(ws *Workspace, dx []float32, dxw GradWrite, dw, db, dy, x, w []float32, batch int, d ConvDims) {
	d = d.trainFor(batch)
	var wino *PackedConv
	var wt *PackedA // W^T packed, for the input gradient's GEMMs
	switch {
	case dx != nil && d.winograd():
		wino = ws.packed(d.gradInputFor(batch), w, true)
	case dx != nil && batch > 1:
		ckk := d.C * d.KH * d.KW
		wt = ws.callA(ckk, d.K, w, ckk, true)
	}
	// As forward: small convolutions share their images among goroutines,
	// each summing its images' weight and bias gradients apart; the caller
	// adds the partial sums up.
	if batch > 1 && 2*d.K*d.OH*d.OW*d.C*d.KH*d.KW < minParallelFlops {
		if nt := threadCount(); nt > 1 {
			convBackwardImages(ws, convBackTask{dx: dx, dxw: dxw, dw: dw, db: db, dy: dy, x: x, w: w, d: d, wino: wino, wt: wt}, batch, nt)
			return
		}
	}
	conv2DBackwardImages(ws, dx, dxw, dw, db, dy, x, w, wino, wt, 0, batch, d, true)
	if wino != nil {
		winogradConv(ws, convTask{y: dx, x: dy, packed: wino, residual: addend(dx, dxw), d: wino.d}, batch)
	}
}

// addend is what a kernel that writes its result plus a residual into dx
// takes as the residual: dx itself, to add to it, or nothing, to overwrite
// it.
func addend(dx []float32, w GradWrite) []float32 {
	if w == AddGrad {
		return dx
	}
	return nil
}

// conv2DBackwardImages is Conv2DBackward over images [from, to): dw and
// db are overwritten with those images' sums. Its GEMMs split their
// columns among goroutines only if splitGEMM. With wino (the Winograd
// input gradient's weights) it leaves dx to the caller if splitGEMM, else
// writes those images' dx (as dxw says) by Winograd after their weight
// gradients. wt, if not nil, holds W^T packed for the input gradient's
// GEMMs.
func conv2DBackwardImages(ws *Workspace, dx []float32, dxw GradWrite, dw, db, dy, x, w []float32, wino *PackedConv, wt *PackedA, from, to int, d ConvDims, splitGEMM bool) {
	in, out, ckk, ohw := d.C*d.H*d.W, d.K*d.OH*d.OW, d.C*d.KH*d.KW, d.OH*d.OW
	dxCols := dx // the input gradient through the columns
	if wino != nil {
		dxCols = nil
	}
	gemm := gemmSerial
	if splitGEMM {
		gemm = gemmParallel
	}
	if db != nil {
		clear(db)
	}
	dots := d.dotWeightGrad()
	var m []float32 // the weight gradient by dots, rows gradCols() floats apart
	if d.winograd() {
		winoWeightGrad(ws, dw, dy, x, from, to, d, splitGEMM)
	} else if need := d.im2colGradFloats(); !d.direct() && len(ws.Col) < need {
		ws.Col = make([]float32, need) // a helper's workspace, on its first convolution
	}
	if dots {
		m = dw
		if rows := d.gradCols(); rows > ckk {
			// M with a column for each row of the columns gradDot reads,
			// the rows past the last too: their columns of M are dropped.
			m = ws.Col[rows*ohw : rows*(ohw+d.K)]
		}
		clear(m)
	}
	for n := from; n < to; n++ {
		xn, dyn := x[n*in:(n+1)*in], dy[n*out:(n+1)*out]
		if db != nil {
			for k := 0; k < d.K; k++ {
				var s float32
				for _, v := range dyn[k*ohw : (k+1)*ohw] {
					s += v
				}
				db[k] += s
			}
		}
		if d.winograd() {
			continue // the weight gradient is done, and dx is by Winograd too
		}
		col := xn
		if !d.direct() {
			col = ws.Col[:ckk*ohw]
			im2col(col, xn, d)
		}
		if dots {
			if !d.direct() {
				col = ws.Col[:d.gradCols()*ohw] // and the rows past the last
			}
			gradDotRows(ws, m, dyn, col, d.K, d.gradCols(), ohw, splitGEMM)
		} else {
			beta := float32(1)
			if n == from {
				beta = 0
			}
			// dW (K x CKK) += dY (K x OHW) * col^T (OHW x CKK)
			gemm(ws, false, true, d.K, ckk, ohw, dyn, ohw, col, ohw, beta, dw, ckk, nil, nil)
		}
		if dxCols == nil {
			continue
		}
		dxn := dxCols[n*in : (n+1)*in]
		if d.direct() {
			beta := float32(0)
			if dxw == AddGrad {
				beta = 1
			}
			gemm(ws, true, false, ckk, ohw, d.K, w, ckk, dyn, ohw, beta, dxn, ohw, nil, wt)
			continue
		}
		// dcol (CKK x OHW) = W^T (CKK x K) * dY (K x OHW), then scattered
		// back, into the image's dx cleared here while it is in cache.
		gemm(ws, true, false, ckk, ohw, d.K, w, ckk, dyn, ohw, 0, col, ohw, nil, wt)
		if dxw == SetGrad {
			clear(dxn)
		}
		col2im(dxn, col, d)
	}
	if dots && len(m) != len(dw) {
		for k := 0; k < d.K; k++ {
			copy(dw[k*ckk:(k+1)*ckk], m[k*d.gradCols():])
		}
	}
	if wino != nil && !splitGEMM {
		th, _ := wino.d.tiles()
		conv2DWinograd(ws, dx, dy, wino, nil, addend(dx, dxw), false, from, to, 0, th, wino.d)
	}
}

// imagesPerGEMM is how many of n images an im2col conv of a small output
// (under 256 positions: resnet's 14x14 and 7x7 stages) puts side by side
// in one GEMM, at most about 512 columns and what a scratch of colFloats
// holds with the GEMM's output: one image a GEMM streamed all the weights
// (resnet50's 9 MB of 3x3 at 7x7) for 49 columns.
func (d ConvDims) imagesPerGEMM(n, colFloats int) int {
	ohw := d.OH * d.OW
	if d.direct() || ohw >= 256 || !d.rowRanges() {
		return 1
	}
	g := min(n, 512/ohw, colFloats/((d.C*d.KH*d.KW+d.K)*ohw))
	return max(1, g)
}

// convImageGroups is conv2DImages for images [from, to) on one goroutine,
// g images a GEMM: their columns side by side in ws.Col, the product into
// the scratch after them, then copied out image by image. epi has no
// residual.
func convImageGroups(ws *Workspace, y, x, w []float32, pa *PackedA, epi *Epilogue, from, to, g int, d ConvDims) {
	in, out, ckk, ohw := d.C*d.H*d.W, d.K*d.OH*d.OW, d.C*d.KH*d.KW, d.OH*d.OW
	for n := from; n < to; n += g {
		m := min(g, to-n)
		cols := m * ohw
		col, c := ws.Col[:ckk*cols], ws.Col[ckk*cols:(ckk+d.K)*cols]
		for i := range m {
			im2colRowRange(col[i*ohw:], x[(n+i)*in:(n+i+1)*in], d, 0, d.OH, cols)
		}
		gemmSerial(ws, false, false, d.K, cols, ckk, w, ckk, col, cols, 0, c, cols, epi, pa)
		for i := range m {
			yi := y[(n+i)*out : (n+i+1)*out]
			for k := 0; k < d.K; k++ {
				copy(yi[k*ohw:(k+1)*ohw], c[k*cols+i*ohw:])
			}
		}
	}
}

// rowKernels reports whether im2col and col2im of d run on the AVX-512
// row kernels: rows of at most 16 chunks, kernels at most 8 wide.
func (d ConvDims) rowKernels() bool { return useShiftAsm && d.OW <= 16*16 && d.KW <= 8 }

// s2Kernels reports whether im2col and col2im of d run on the AVX2
// stride-2 kernels instead: rows of at most 16 chunks of 8, kernels at
// most 8 wide.
func (d ConvDims) s2Kernels() bool {
	return !d.rowKernels() && d.Stride == 2 && useIm2colAVX2 && d.OW <= 8*16 && d.KW <= 8
}

// rowRanges reports whether im2colRowRange gathers d's columns for a
// range of output rows, so that a GEMM can take a block of rows or
// several images.
func (d ConvDims) rowRanges() bool { return d.rowKernels() || d.s2Kernels() }

// useIm2colAVX2 selects the AVX2 gather of a stride-2 tap's row where the
// AVX-512 row kernels cannot run; tests turn it off to compare.
var useIm2colAVX2 = haveAVX2 && !haveAVX512

// im2col lays out one image so that row (c, kh, kw) holds the input value
// each output position sees through that kernel tap (0 in the padding).
func im2col(col, x []float32, d ConvDims) {
	ohw := d.OH * d.OW
	if d.rowKernels() {
		im2colRows(col, x, d)
		return
	}
	if d.s2Kernels() {
		im2colS2(col, x, d, 0, d.OH, ohw)
		return
	}
	for c := 0; c < d.C; c++ {
		plane := x[c*d.H*d.W : (c+1)*d.H*d.W]
		for kh := 0; kh < d.KH; kh++ {
			for kw := 0; kw < d.KW; kw++ {
				row := col[((c*d.KH+kh)*d.KW+kw)*ohw:][:ohw]
				// The valid taps [lo, hi): iw = ow*Stride - Pad + kw in
				// [0, W), the same for every output row.
				lo := min(d.OW, max(0, (d.Pad-kw+d.Stride-1)/d.Stride))
				hi := max(lo, min(d.OW, (d.W+d.Pad-kw+d.Stride-1)/d.Stride))
				for oh := 0; oh < d.OH; oh++ {
					ih := oh*d.Stride - d.Pad + kh
					dst := row[oh*d.OW : (oh+1)*d.OW]
					if ih < 0 || ih >= d.H {
						clear(dst)
						continue
					}
					src := plane[ih*d.W : (ih+1)*d.W]
					clear(dst[:lo])
					clear(dst[hi:])
					if d.Stride == 1 {
						// The valid taps form one run.
						if lo < hi {
							copy(dst[lo:hi], src[lo-d.Pad+kw:hi-d.Pad+kw])
						}
						continue
					}
					ow := lo
					if d.Stride == 2 && useIm2colAVX2 {
						// Whole chunks of 8 whose 16 floats lie in the
						// plane: the odd floats past the row's end, read and
						// dropped, are the next row's.
						s0 := 2*lo - d.Pad + kw
						if n := min((hi-lo)/8, (len(plane)-ih*d.W-s0)/16); n > 0 {
							evensAVX2(&dst[lo], &plane[ih*d.W+s0], n)
							ow += 8 * n
						}
					}
					for ; ow < hi; ow++ {
						dst[ow] = src[ow*d.Stride-d.Pad+kw]
					}
				}
			}
		}
	}
}

// im2colS2 is im2colRowRange by im2colS2AVX2: a call for each tap over
// its valid rows, the rows above and below cleared. A call per tap row
// cost as much as the copying: ResNet-20's stride-2 convs spent 9% of a
// training step in im2col and col2im.
func im2colS2(col, x []float32, d ConvDims, oh0, oh1, ld int) {
	ohw, chunks := (oh1-oh0)*d.OW, (d.OW+7)/8
	// For each kw, per chunk: the lanes of its 16-float window inside the
	// row, then (from bit 16) its outputs inside the row.
	var masks [8][16]uint32
	for kw := range d.KW {
		for c := range chunks {
			var m uint32
			for j := range 16 {
				if at := 16*c + kw - d.Pad + j; at >= 0 && at < d.W {
					m |= 1 << j
				}
			}
			for i := range 8 {
				if 8*c+i < d.OW {
					m |= 1 << (16 + i)
				}
			}
			masks[kw][c] = m
		}
	}
	for c := 0; c < d.C; c++ {
		plane := x[c*d.H*d.W : (c+1)*d.H*d.W]
		for kh := 0; kh < d.KH; kh++ {
			from, to := tapRange(d.OH, d.H, d.Stride, d.Pad, kh)
			from, to = min(max(from, oh0), oh1), max(min(to, oh1), oh0)
			for kw := 0; kw < d.KW; kw++ {
				row := col[((c*d.KH+kh)*d.KW+kw)*ld:][:ohw]
				if lo, hi := tapRange(d.OW, d.W, d.Stride, d.Pad, kw); from >= to || lo >= hi {
					clear(row)
					continue
				}
				clear(row[:(from-oh0)*d.OW])
				clear(row[(to-oh0)*d.OW:])
				src := plane[(2*from-d.Pad+kh)*d.W:]
				_ = src[2*(to-from-1)*d.W+d.W-1] // the last row the kernel reads
				im2colS2AVX2(&row[(from-oh0)*d.OW], &src[0], to-from, chunks, d.OW, 2*d.W, kw-d.Pad, &masks[kw])
			}
		}
	}
}

// col2imS2 is col2im of a stride-2 convolution by col2imS2AVX2, a call
// for each tap over its valid rows and columns, in col2im's order.
func col2imS2(x, col []float32, d ConvDims) {
	ohw := d.OH * d.OW
	// For each kw, per chunk of its valid outputs [lo, hi): the floats of
	// its 16-float window that it adds to or that lie between (those
	// inside the row), then (from bit 16) its valid outputs.
	var masks [8][16]uint32
	var lo, hi, chunks [8]int
	for kw := range d.KW {
		lo[kw], hi[kw] = tapRange(d.OW, d.W, d.Stride, d.Pad, kw)
		n := hi[kw] - lo[kw]
		chunks[kw] = (n + 7) / 8
		start := 2*lo[kw] - d.Pad + kw
		for c := range chunks[kw] {
			valid := min(8, n-8*c)
			var m uint32
			for j := range min(16, 2*valid, d.W-start-16*c) {
				m |= 1 << j
			}
			m |= (1<<valid - 1) << 16
			masks[kw][c] = m
		}
	}
	for c := 0; c < d.C; c++ {
		plane := x[c*d.H*d.W : (c+1)*d.H*d.W]
		for kh := 0; kh < d.KH; kh++ {
			from, to := tapRange(d.OH, d.H, d.Stride, d.Pad, kh)
			if from >= to {
				continue
			}
			for kw := 0; kw < d.KW; kw++ {
				if lo[kw] >= hi[kw] {
					continue
				}
				row := col[((c*d.KH+kh)*d.KW+kw)*ohw:][:ohw]
				src := row[from*d.OW+lo[kw] : (to-1)*d.OW+hi[kw]]
				dst := plane[(2*from-d.Pad+kh)*d.W+2*lo[kw]-d.Pad+kw:]
				_ = dst[2*(to-from-1)*d.W+2*(hi[kw]-lo[kw])-2] // the last float added to
				col2imS2AVX2(&dst[0], &src[0], to-from, chunks[kw], 2*d.W, d.OW, &masks[kw])
			}
		}
	}
}

// minSharedIm2col is the columns (floats) below which one goroutine
// gathers them faster than two can be started on it.
const minSharedIm2col = 1 << 16

// im2colShared is im2col with the image's channels shared among the
// goroutines. Alone, one goroutine gathered the columns while the others
// waited for the GEMM: resnet50's stride-2 3x3 convs at batch 1 took
// 0.02-0.08 ms more each.
func im2colShared(ws *Workspace, col, x []float32, d ConvDims) {
	nt := min(threadCount(), d.C)
	if nt < 2 || len(col) < minSharedIm2col {
		im2col(col, x, d)
		return
	}
	ws.conv = convTask{y: col, x: x, d: d, split: splitIm2col}
	shareRange(ws, &ws.conv, d.C, nt)
}

// im2colChannels is im2col of input channels [c0, c1) only: their rows of
// col, which lie together.
func im2colChannels(col, x []float32, d ConvDims, c0, c1 int) {
	kk, hw := d.KH*d.KW*d.OH*d.OW, d.H*d.W
	sub := d
	sub.C = c1 - c0
	im2col(col[c0*kk:c1*kk], x[c0*hw:c1*hw], sub)
}

// col2im adds each column entry back to the input position it came from.
func col2im(x, col []float32, d ConvDims) {
	ohw := d.OH * d.OW
	if d.rowKernels() {
		col2imRows(x, col, d)
		return
	}
	if d.s2Kernels() {
		col2imS2(x, col, d)
		return
	}
	for c := 0; c < d.C; c++ {
		plane := x[c*d.H*d.W : (c+1)*d.H*d.W]
		for kh := 0; kh < d.KH; kh++ {
			from, to := tapRange(d.OH, d.H, d.Stride, d.Pad, kh)
			for kw := 0; kw < d.KW; kw++ {
				// The valid taps [lo, hi) of every output row, as im2col's.
				lo, hi := tapRange(d.OW, d.W, d.Stride, d.Pad, kw)
				if lo >= hi {
					continue
				}
				row := col[((c*d.KH+kh)*d.KW+kw)*ohw:][:ohw]
				for oh := from; oh < to; oh++ {
					ih := oh*d.Stride - d.Pad + kh
					src := row[oh*d.OW+lo : oh*d.OW+hi]
					dst := plane[ih*d.W : (ih+1)*d.W][lo*d.Stride-d.Pad+kw:]
					if d.Stride == 1 {
						dst = dst[:len(src)]
						for i, v := range src {
							dst[i] += v
						}
						continue
					}
					i := 0
					if d.Stride == 2 && useIm2colAVX2 {
						// Whole chunks of 8 whose 16 floats lie in the row.
						if n := min(len(src)/8, len(dst)/16); n > 0 {
							addToEvensAVX2(&dst[0], &src[0], n)
							i = 8 * n
						}
					}
					for ; i < len(src); i++ {
						dst[i*d.Stride] += src[i]
					}
				}
			}
		}
	}
}

// useShiftAsm selects the AVX-512 row kernels for im2col and col2im;
// tests turn it off to compare them with the Go loops.
var useShiftAsm = haveAVX512

// shiftMasks are the lane masks of the row kernels for rows of n values
// whose valid part is [lo, hi): per chunk of 16, the lanes inside [lo, hi)
// in the low half, the lanes inside the row in the high half.
func shiftMasks(n, lo, hi int) (m [16]uint32, chunks int) {
	// below(k) has the lanes j < k of a chunk: it is computed for every
	// image of every conv, so by shifts rather than lane by lane.
	below := func(k int) uint32 { return 1<<uint(min(16, max(0, k))) - 1 }
	chunks = (n + 15) / 16
	for c := 0; c < chunks; c++ {
		m[c] = below(hi-16*c)&^below(lo-16*c) | below(n-16*c)<<16
	}
	return m, chunks
}

// ceilDiv is a/b rounded up, for b > 0 and any a.
func ceilDiv(a, b int) int {
	if a <= 0 {
		return -(-a / b)
	}
	return (a + b - 1) / b
}

// tapRange is the range [from, to) of outputs along one axis whose input
// index o*stride - pad + tap lies inside [0, size).
func tapRange(out, size, stride, pad, tap int) (from, to int) {
	from = max(0, ceilDiv(pad-tap, stride))
	to = max(from, min(out, ceilDiv(size+pad-tap, stride)))
	return from, to
}

// tapMasks holds the row kernels' masks of every kw of a kernel up to 8
// wide, so that the loops can run in im2col's (c, kh, kw) order: col2im
// adds in that order, and a different one would round differently.
type tapMasks struct {
	masks  [8][16]uint32
	lo, hi [8]int
	chunks int
	idx    [16]int32 // lane*stride, for the strided kernels
}

func (t *tapMasks) init(d ConvDims) {
	for kw := 0; kw < d.KW; kw++ {
		t.lo[kw], t.hi[kw] = tapRange(d.OW, d.W, d.Stride, d.Pad, kw)
		t.masks[kw], t.chunks = shiftMasks(d.OW, t.lo[kw], t.hi[kw])
	}
	for i := range t.idx {
		t.idx[i] = int32(i * d.Stride)
	}
}

// im2colStrided runs the strided im2col row kernel for tap kw: for
// stride 2, the one that takes the even positions apart by permutes
// instead of gathering them.
func (t *tapMasks) im2colStrided(dst, src *float32, rows, dstStride, srcStride, kw int, d ConvDims) {
	if d.Stride == 2 {
		im2colRowsHalfAVX512(dst, src, rows, t.chunks, dstStride, srcStride, kw-d.Pad, &t.masks[kw], &halfPick)
		return
	}
	im2colRowsStridedAVX512(dst, src, rows, t.chunks, dstStride, srcStride, kw-d.Pad, &t.masks[kw], &t.idx, 64*d.Stride)
}

// col2imStrided is im2colStrided's counterpart for col2im.
func (t *tapMasks) col2imStrided(dst, src *float32, rows, dstStride, srcStride, kw int, d ConvDims) {
	if d.Stride == 2 {
		col2imRowsHalfAVX512(dst, src, rows, t.chunks, dstStride, srcStride, kw-d.Pad, &t.masks[kw], &halfSpread)
		return
	}
	col2imRowsStridedAVX512(dst, src, rows, t.chunks, dstStride, srcStride, kw-d.Pad, &t.masks[kw], &t.idx, 64*d.Stride)
}

// halfPick takes a 32-value window's even positions (its first 16 lanes;
// the rest are unused); halfSpread puts lane l/2 at l, spreading 16
// values back to the even positions of 32.
var halfPick, halfSpread = func() (pick, spread [32]int32) {
	for l := range 32 {
		pick[l], spread[l] = int32(2*l%32), int32(l/2)
	}
	return pick, spread
}()

// im2colRows is im2col through the row kernels: each tap is one call
// over its valid rows, the rows above and below cleared.
func im2colRows(col, x []float32, d ConvDims) {
	im2colRowRange(col, x, d, 0, d.OH, d.OH*d.OW)
}

// im2colRowRange is im2colRows for output rows [oh0, oh1) only: col holds
// their (oh1-oh0)*OW columns, in rows ld floats apart.
func im2colRowRange(col, x []float32, d ConvDims, oh0, oh1, ld int) {
	if d.s2Kernels() {
		im2colS2(col, x, d, oh0, oh1, ld)
		return
	}
	ohw := (oh1 - oh0) * d.OW
	var t tapMasks
	t.init(d)
	for c := 0; c < d.C; c++ {
		plane := x[c*d.H*d.W : (c+1)*d.H*d.W]
		for kh := 0; kh < d.KH; kh++ {
			from, to := tapRange(d.OH, d.H, d.Stride, d.Pad, kh)
			from, to = min(max(from, oh0), oh1), max(min(to, oh1), oh0)
			for kw := 0; kw < d.KW; kw++ {
				row := col[((c*d.KH+kh)*d.KW+kw)*ld:][:ohw]
				if from >= to || t.lo[kw] >= t.hi[kw] {
					clear(row)
					continue
				}
				clear(row[:(from-oh0)*d.OW])
				clear(row[(to-oh0)*d.OW:])
				dst, src := &row[(from-oh0)*d.OW], &plane[(from*d.Stride-d.Pad+kh)*d.W]
				if d.Stride == 1 {
					im2colRowsAVX512(dst, src, to-from, t.chunks, d.OW, d.W, kw-d.Pad, &t.masks[kw], to-from+1, 0, 0)
				} else {
					t.im2colStrided(dst, src, to-from, d.OW, d.Stride*d.W, kw, d)
				}
			}
		}
	}
}

// col2imRows is col2im through the row kernels.
func col2imRows(x, col []float32, d ConvDims) {
	ohw := d.OH * d.OW
	var t tapMasks
	t.init(d)
	for c := 0; c < d.C; c++ {
		plane := x[c*d.H*d.W : (c+1)*d.H*d.W]
		for kh := 0; kh < d.KH; kh++ {
			from, to := tapRange(d.OH, d.H, d.Stride, d.Pad, kh)
			if from >= to {
				continue
			}
			for kw := 0; kw < d.KW; kw++ {
				if t.lo[kw] >= t.hi[kw] {
					continue
				}
				row := col[((c*d.KH+kh)*d.KW+kw)*ohw:][:ohw]
				dst, src := &plane[(from*d.Stride-d.Pad+kh)*d.W], &row[from*d.OW]
				if d.Stride == 1 {
					col2imRowsAVX512(dst, src, to-from, t.chunks, d.W, d.OW, kw-d.Pad, &t.masks[kw])
				} else {
					t.col2imStrided(dst, src, to-from, d.Stride*d.W, d.OW, kw, d)
				}
			}
		}
	}
}

// packsDirect reports whether im2colPacked can write this convolution's
// columns straight into the GEMM's packed panels of 32: each panel must
// hold whole output rows (OW divides 32, as in the CIFAR nets, and only 32
// for a strided conv) and the positions whole panels.
func (d ConvDims) packsDirect() bool {
	_, nr0 := tileShape()
	rows := d.OW == 32 || d.Stride == 1 && d.OW < 32 && 32%d.OW == 0
	return useShiftAsm && useAVX512 && nr0 == 32 && rows && d.OH*d.OW%32 == 0 && d.KW <= 8
}

// im2colPacked is im2col followed by packB, in one pass: tap p's values
// for output positions [32j, 32j+32), 32/OW output rows, go to panel j of
// p's block of K, as gemmBlocks reads them; one call of a row kernel per
// tap lays the rows of each panel side by side and moves on panel by
// panel.
func im2colPacked(dst, x []float32, d ConvDims) {
	n, k := d.OH*d.OW, d.C*d.KH*d.KW
	per := 32 / d.OW // output rows per panel
	var t tapMasks
	t.init(d)
	for c := 0; c < d.C; c++ {
		plane := x[c*d.H*d.W : (c+1)*d.H*d.W]
		for kh := 0; kh < d.KH; kh++ {
			from, to := tapRange(d.OH, d.H, d.Stride, d.Pad, kh)
			for kw := 0; kw < d.KW; kw++ {
				p := (c*d.KH+kh)*d.KW + kw
				pc := p / gemmKC * gemmKC
				kc := min(gemmKC, k-pc)
				panels := dst[pc*n+(p-pc)*32:]
				row := func(oh int) []float32 { return panels[oh/per*kc*32+oh%per*d.OW:][:d.OW] }
				if from >= to || t.lo[kw] >= t.hi[kw] {
					from, to = d.OH, d.OH // every row is padding
				}
				for oh := 0; oh < d.OH; oh++ {
					if oh == from {
						oh = to - 1
						continue
					}
					clear(row(oh))
				}
				if from >= to {
					continue
				}
				out, src := &row(from)[0], &plane[(from*d.Stride-d.Pad+kh)*d.W]
				if d.Stride == 1 {
					im2colRowsAVX512(out, src, to-from, t.chunks, d.OW, d.W, kw-d.Pad, &t.masks[kw], per, from%per, kc*32-per*d.OW)
				} else {
					t.im2colStrided(out, src, to-from, kc*32, d.Stride*d.W, kw, d)
				}
			}
		}
	}
}

// im2colBlockFloats bounds the columns of one block of output rows that
// im2col gathers for a large image: the GEMM packs them while they are
// still in the cache, where the whole image's columns (resnet's stem:
// 147 x 12 544 floats) went out to memory and back twice.
const im2colBlockFloats = 1 << 17

// im2colBlockRows is the output rows a block of im2col's columns takes,
// or OH where the image is taken whole: a convolution lowered direct or
// packed by im2colPacked, or one im2colRowRange does not take, and one
// whose weights, multiplied once a block, would cost more traffic than
// the columns' round trip to memory saves (blocks x K against OH x OW:
// resnet50's stride-2 3x3 convs of 256 channels at 14x14).
func (d ConvDims) im2colBlockRows() int {
	if d.direct() || d.packsDirect() || !d.rowRanges() {
		return d.OH
	}
	rows := max(1, min(d.OH, im2colBlockFloats/(d.C*d.KH*d.KW*d.OW)))
	if blocks := (d.OH + rows - 1) / rows; blocks*d.K >= d.OH*d.OW {
		return d.OH
	}
	return rows
}

// convRowBlocks computes blocks [b0, b1) of one image's output rows
// (im2colBlockRows rows a block): each block's columns gathered into the
// workspace, then multiplied into its rows of y, epi's residual offset
// to match.
func convRowBlocks(ws *Workspace, y, x, w []float32, pa *PackedA, epi Epilogue, b0, b1 int, d ConvDims) {
	ckk, ohw, rows := d.C*d.KH*d.KW, d.OH*d.OW, d.im2colBlockRows()
	res := epi.Residual
	for b := b0; b < b1; b++ {
		oh0, oh1 := b*rows, min((b+1)*rows, d.OH)
		n := (oh1 - oh0) * d.OW
		col := ws.Col[:ckk*n]
		im2colRowRange(col, x, d, oh0, oh1, (oh1-oh0)*d.OW)
		if res != nil {
			epi.Residual = res[oh0*d.OW:]
		}
		gemmSerial(ws, false, false, d.K, n, ckk, w, ckk, col, n, 0, y[oh0*d.OW:], ohw, &epi, pa)
	}
}

// Conv2DFused computes relu(conv(x, w) + bias + residual) for inference in
// one pass over y: the bias (a folded batch norm's shift), the residual
// (may be nil) and the ReLU (if relu) are applied as the GEMM writes each
// tile. residual is laid out like y. packed, if not nil, is w prepared
// once for d's lowering (see PackedConv); LowerWinograd needs it.
func Conv2DFused(ws *Workspace, y, x, w []float32, packed *PackedConv, bias, residual []float32, relu bool, batch int, d ConvDims) {
	if packed == nil {
		d = d.trainFor(batch)
	} else if wide := d.wideFor(batch); wide != d {
		d, packed = wide, packed.widened(wide, w)
	}
	task := convTask{y: y, x: x, w: w, packed: packed, bias: bias, residual: residual, relu: relu, d: d}
	if d.winograd() {
		if packed == nil {
			// Training: the weights change every step.
			task.packed = ws.packed(d, w, false)
		} else if packed.u == nil {
			panic("nn: a Winograd convolution's PackedConv was made for another lowering")
		}
		winogradConv(ws, task, batch)
		return
	}
	if packed == nil && batch > 1 {
		// Training: the weights packed once for all the images' GEMMs.
		ws.callConv = PackedConv{d: d, gemm: ws.callA(d.K, d.C*d.KH*d.KW, w, d.C*d.KH*d.KW, false)}
		task.packed = &ws.callConv
	}
	// One image of many output rows: its blocks of rows, each gathered and
	// multiplied while in the cache, are shared among the goroutines.
	if rows := d.im2colBlockRows(); batch == 1 && rows < d.OH {
		if nt := min(threadCount(), (d.OH+rows-1)/rows); nt > 1 {
			shareConv(ws, task, splitRowBlocks, batch, nt)
			return
		}
	}
	// Small convolutions (the CIFAR nets) give each image a GEMM too small
	// to split; split the batch among the goroutines instead. So does a
	// batch that splits evenly, or nearly (at least 4 images a goroutine):
	// whole images need no barrier per image and no uneven split of a
	// GEMM's columns (resnet50 at batch 8: 6% faster).
	if nt := threadCount(); nt > 1 && batch > 1 {
		if even := batch%nt == 0 || batch >= 4*nt; even || 2*d.K*d.OH*d.OW*d.C*d.KH*d.KW < minParallelFlops {
			shareConv(ws, task, splitImages, batch, nt)
			return
		}
	}
	conv2DImages(ws, y, x, w, packed, bias, residual, relu, 0, batch, d, true)
}

// conv2DImages runs Conv2DFused on images [from, to) of the batch. Its
// GEMMs split their columns among goroutines only if splitGEMM: not when
// the batch itself is already split.
func conv2DImages(ws *Workspace, y, x, w []float32, packed *PackedConv, bias, residual []float32, relu bool, from, to int, d ConvDims, splitGEMM bool) {
	if d.winograd() {
		th, _ := d.tiles()
		conv2DWinograd(ws, y, x, packed, bias, residual, relu, from, to, 0, th, d)
		return
	}
	in, out, ckk, ohw := d.C*d.H*d.W, d.K*d.OH*d.OW, d.C*d.KH*d.KW, d.OH*d.OW
	if need := d.ColFloats(); len(ws.Col) < need {
		ws.Col = make([]float32, need) // a helper's workspace, on its first convolution
	}
	pa := packed.gemmA()
	epi := Epilogue{Bias: bias, LdR: ohw, ReLU: relu}
	// A GEMM of one goroutine can take its B packed by im2colPacked.
	packs := !splitGEMM && !d.direct() && d.packsDirect()
	if g := d.imagesPerGEMM(to-from, len(ws.Col)); !splitGEMM && !packs && residual == nil && g > 1 {
		convImageGroups(ws, y, x, w, pa, &epi, from, to, g, d)
		return
	}
	for n := from; n < to; n++ {
		xn, yn := x[n*in:(n+1)*in], y[n*out:(n+1)*out]
		if residual != nil {
			epi.Residual = residual[n*out : (n+1)*out]
		}
		if packs {
			pb := ws.Col[:ckk*ohw]
			im2colPacked(pb, xn, d)
			gemmBlocks(ws, false, false, d.K, ohw, ckk, w, ckk, nil, 0, pb, 0, yn, ohw, &epi, pa)
			continue
		}
		// By blocks of rows, unless the GEMM is to be shared among the
		// goroutines (it only is where Conv2DFused did not share the
		// blocks instead).
		if rows := d.im2colBlockRows(); rows < d.OH && (!splitGEMM || threadCount() == 1) {
			convRowBlocks(ws, yn, xn, w, pa, epi, 0, (d.OH+rows-1)/rows, d)
			continue
		}
		col := xn
		if !d.direct() {
			col = ws.Col[:ckk*ohw]
			if splitGEMM {
				im2colShared(ws, col, xn, d)
			} else {
				im2col(col, xn, d)
			}
		}
		if splitGEMM {
			gemmParallel(ws, false, false, d.K, ohw, ckk, w, ckk, col, ohw, 0, yn, ohw, &epi, pa)
		} else {
			gemmSerial(ws, false, false, d.K, ohw, ckk, w, ckk, col, ohw, 0, yn, ohw, &epi, pa)
		}
	}
}

// FoldBN folds an inference batch norm into the conv before it: with
// s = gamma / sqrt(var + eps), the folded weights are w*s per output
// channel and the folded bias (bias - mean)*s + beta. bias may be nil.
// Computed in float64, rounded once.
func FoldBN(foldedW, foldedB, w, bias, gamma, beta, mean, variance []float32, eps float32) {
	k := len(foldedB)
	per := len(w) / k
	for o := 0; o < k; o++ {
		s := float64(gamma[o]) / math.Sqrt(float64(variance[o])+float64(eps))
		for i, v := range w[o*per : (o+1)*per] {
			foldedW[o*per+i] = float32(float64(v) * s)
		}
		b := 0.0
		if bias != nil {
			b = float64(bias[o])
		}
		foldedB[o] = float32((b-float64(mean[o]))*s + float64(beta[o]))
	}
}
