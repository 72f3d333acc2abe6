package nn

import (
	"fmt"
	"math"
)

// BatchNormEval normalizes with the running statistics, as PyTorch's
// BatchNorm2d does in eval mode: y = (x - mean) / sqrt(var + eps) * gamma + beta.
func BatchNormEval(y, x, gamma, beta, mean, variance []float32, batch, c, hw int, eps float32) {
	for ch := 0; ch < c; ch++ {
		scale := gamma[ch] / float32(math.Sqrt(float64(variance[ch]+eps)))
		shift := beta[ch] - mean[ch]*scale
		for n := 0; n < batch; n++ {
			off := (n*c + ch) * hw
			src, dst := x[off:off+hw], y[off:off+hw]
			for i, v := range src {
				dst[i] = v*scale + shift
			}
		}
	}
}

// BatchNormTrain normalizes with the batch statistics, saves the mean and
// 1/sqrt(var+eps) per channel for the backward pass, and moves the running
// statistics towards the batch's with the given momentum, using the
// unbiased variance as PyTorch does.
func BatchNormTrain(y, x, gamma, beta, runMean, runVar, saveMean, saveInvStd []float32, batch, c, hw int, eps, momentum float32) {
	BatchNormTrainFused(nil, y, x, nil, false, nil, gamma, beta, runMean, runVar, saveMean, saveInvStd, batch, c, hw, eps, momentum)
}

// BatchNormTrainFused is BatchNormTrain with the residual add (if residual
// is not nil; laid out like y) and the ReLU (if relu) of a block applied in
// the same pass that writes y: y = relu(bn(x) + residual). With the ReLU it
// also writes the backward pass's mask, one bit a value, to mask (at least
// BNMaskWords(batch, c, hw) long; nil without the ReLU). With a workspace,
// large batches split their channels among goroutines.
func BatchNormTrainFused(ws *Workspace, y, x, residual []float32, relu bool, mask []uint16, gamma, beta, runMean, runVar, saveMean, saveInvStd []float32, batch, c, hw int, eps, momentum float32) {
	checkBNMask(mask, relu, batch, c, hw)
	runBN(ws, bnTask{y: y, x: x, residual: residual, relu: relu, mask: mask, gamma: gamma, beta: beta, runMean: runMean, runVar: runVar,
		mean: saveMean, invStd: saveInvStd, batch: batch, c: c, hw: hw, eps: eps, momentum: momentum})
}

// BNMaskWords is the length of a fused ReLU's mask: bit i%16 of word
// (n*c + ch)*((hw+15)/16) + i/16 says whether value i of channel ch of
// image n passed the ReLU (is not <= 0). The backward pass reads a bit
// where it read the float32 output: a 32nd of the bytes, in each of its two
// passes over a channel.
func BNMaskWords(batch, c, hw int) int { return batch * c * bnRowWords(hw) }

func bnRowWords(hw int) int { return (hw + 15) / 16 }

func checkBNMask(mask []uint16, relu bool, batch, c, hw int) {
	if relu && len(mask) < BNMaskWords(batch, c, hw) {
		panic(fmt.Sprintf("nn: a ReLU mask of %d words for %d x %d x %d values", len(mask), batch, c, hw))
	}
}

// bnTrainChannels is BatchNormTrainFused over channels [c0, c1).
func bnTrainChannels(t *bnTask, c0, c1 int) {
	y, x, residual, relu, mask, gamma, beta := t.y, t.x, t.residual, t.relu, t.mask, t.gamma, t.beta
	runMean, runVar, saveMean, saveInvStd := t.runMean, t.runVar, t.mean, t.invStd
	batch, c, hw, eps, momentum := t.batch, t.c, t.hw, t.eps, t.momentum
	count := batch * hw
	// simd is how much of each row the assembly kernels take; Go does the rest.
	simd := 0
	if useBNAsm {
		simd = hw &^ 15
	}
	flags := 0
	if residual != nil {
		flags |= 1
	}
	if relu {
		flags |= 2
	}
	// Blocks of channels, each pass over a block image by image: a
	// channel's rows lie a whole image apart (64 KB at ResNet-20's first
	// stage), one 4 KB page each, and a channel at a time ran the passes
	// page by page, the hardware's prefetch starting again at each; an
	// image's rows of the block are contiguous. Where the kernels take
	// whole rows (whole), one call takes them all: with a call a row,
	// ResNet-20's 8x8 stage (64 channels, 128 images) took 0.138 ms a
	// forward batch norm and 0.180 a backward one, against 0.096 and 0.147
	// (go test -bench BatchNorm ./nn).
	words := bnRowWords(hw)
	whole := simd > 0 && simd == hw
	for b0 := c0; b0 < c1; b0 += bnBlock {
		b1 := min(b0+bnBlock, c1)
		// One pass of sums of x - shift and its square, in float64, the
		// shift one of the channel's values: E[(x-s)^2] - (E[x-s])^2
		// then loses to cancellation only what (mean-s)^2 / variance times
		// float64's rounding comes to, far below float32's. A second pass
		// for the squares about the mean read the channel again.
		var acc [bnBlock][16]float64
		var tail [bnBlock][2]float64 // the rows' ends past the kernel's
		var shifts [bnBlock]float64
		for ch := b0; ch < b1; ch++ {
			shifts[ch-b0] = float64(x[ch*hw])
		}
		rows := b1 - b0
		for n := 0; n < batch; n++ {
			if whole {
				// The block's rows of this image, one after another.
				off := (n*c + b0) * hw
				_ = x[off+rows*hw-1]
				bnSum(rows, simd, &x[off], &shifts[0], &acc[0])
				continue
			}
			for ch := b0; ch < b1; ch++ {
				off := (n*c + ch) * hw
				shift := shifts[ch-b0]
				if simd > 0 {
					bnSum(1, simd, &x[off], &shifts[ch-b0], &acc[ch-b0])
				}
				for _, v := range x[off+simd : off+hw] {
					d := float64(v) - shift
					tail[ch-b0][0] += d
					tail[ch-b0][1] += d * d
				}
			}
		}
		var coefs [bnBlock][4]float32
		for ch := b0; ch < b1; ch++ {
			shift := shifts[ch-b0]
			sum := tail[ch-b0][0] + laneSum(acc[ch-b0][:8])
			sq := tail[ch-b0][1] + laneSum(acc[ch-b0][8:])
			dm := sum / float64(count) // the mean less the shift
			mean := shift + dm
			sq = max(0, sq-dm*sum) // now about the mean
			variance := sq / float64(count)
			invStd := 1 / math.Sqrt(variance+float64(eps))
			saveMean[ch], saveInvStd[ch] = float32(mean), float32(invStd)
			unbiased := variance
			if count > 1 {
				unbiased = sq / float64(count-1)
			}
			runMean[ch] = (1-momentum)*runMean[ch] + momentum*float32(mean)
			runVar[ch] = (1-momentum)*runVar[ch] + momentum*float32(unbiased)
			// Subtracting the mean before scaling, as PyTorch does, keeps
			// the result accurate when the mean is large next to the
			// spread; folding it into one shift would cancel
			// catastrophically.
			coefs[ch-b0] = [4]float32{float32(mean), float32(invStd) * gamma[ch], beta[ch]}
		}
		for n := 0; n < batch; n++ {
			if whole {
				off, end := (n*c+b0)*hw, (n*c+b1)*hw
				_, _ = x[end-1], y[end-1]
				var res *float32
				if residual != nil {
					res = &residual[off:end][0]
				}
				var mp *uint16
				if relu {
					mp = &mask[(n*c+b0)*words : (n*c+b1)*words][0]
				}
				bnApply(rows, simd, &x[off], &y[off], res, mp, &coefs[0], flags)
				continue
			}
			for ch := b0; ch < b1; ch++ {
				off := (n*c + ch) * hw
				coef := &coefs[ch-b0]
				var row []uint16 // the row's mask
				if relu {
					row = mask[(n*c+ch)*words : (n*c+ch+1)*words]
				}
				if simd > 0 {
					var res *float32
					if residual != nil {
						res = &residual[off]
					}
					var mp *uint16
					if relu {
						mp = &row[0]
					}
					bnApply(1, simd, &x[off], &y[off], res, mp, coef, flags)
				}
				m32, scale, b := coef[0], coef[1], coef[2]
				src, dst := x[off+simd:off+hw], y[off+simd:off+hw]
				switch {
				case residual != nil && relu:
					res := residual[off+simd : off+hw]
					for i, v := range src {
						dst[i] = max((v-m32)*scale+b+res[i], 0)
					}
				case residual != nil:
					res := residual[off+simd : off+hw]
					for i, v := range src {
						dst[i] = (v-m32)*scale + b + res[i]
					}
				case relu:
					for i, v := range src {
						dst[i] = max((v-m32)*scale+b, 0)
					}
				default:
					for i, v := range src {
						dst[i] = (v-m32)*scale + b
					}
				}
				if relu {
					setMask(row, y[off:off+hw], simd)
				}
			}
		}
	}
}

// bnBlock is the most channels a batch norm's passes take image by image.
const bnBlock = 64

// setMask writes the bits of row's mask for y[from:], from a multiple of
// 16: set where y is not <= 0, as the assembly's (a NaN passes).
func setMask(row []uint16, y []float32, from int) {
	for w := from / 16; w < len(row); w++ {
		var bits uint16
		for i, v := range y[16*w : min(16*w+16, len(y))] {
			if !(v <= 0) {
				bits |= 1 << i
			}
		}
		row[w] = bits
	}
}

// useBNAsm selects the batch-norm kernels (AVX-512, else AVX2) where the machine has
// them; tests turn it off to compare them with the Go loops.
var useBNAsm = haveBNAsm

// bnSum, bnGradSum, bnApply and bnGradApply call the batch-norm kernel
// of the machine's widest vectors.
func bnSum(rows, n int, x *float32, shift *float64, acc *[16]float64) {
	if haveAVX512 {
		bnSumAVX512(rows, n, x, shift, acc)
		return
	}
	bnSumAVX2(rows, n, x, shift, acc)
}

func bnGradSum(rows, n int, dy, x *float32, mask *uint16, mean *float64, relu int, acc *[16]float64) {
	if haveAVX512 {
		bnGradSumAVX512(rows, n, dy, x, mask, mean, relu, acc)
		return
	}
	bnGradSumAVX2(rows, n, dy, x, mask, mean, relu, acc)
}

func bnApply(rows, n int, x, y, res *float32, mask *uint16, coef *[4]float32, flags int) {
	if haveAVX512 {
		bnApplyAVX512(rows, n, x, y, res, mask, coef, flags)
		return
	}
	bnApplyAVX2(rows, n, x, y, res, mask, coef, flags)
}

func bnGradApply(rows, n int, dy, x *float32, mask *uint16, dx, dres *float32, coef *[8]float32, flags int) {
	if haveAVX512 {
		bnGradApplyAVX512(rows, n, dy, x, mask, dx, dres, coef, flags)
		return
	}
	bnGradApplyAVX2(rows, n, dy, x, mask, dx, dres, coef, flags)
}

// laneSum adds the float64 lanes the batch-norm kernels accumulate.
func laneSum(lanes []float64) float64 {
	var s float64
	for _, v := range lanes {
		s += v
	}
	return s
}

// BatchNormBackward computes dgamma and dbeta (overwritten) and adds the
// input gradient of a train-mode batch norm to dx (skipped when dx is nil).
func BatchNormBackward(dx, dgamma, dbeta, dy, x, gamma, saveMean, saveInvStd []float32, batch, c, hw int) {
	count := float64(batch * hw)
	for ch := 0; ch < c; ch++ {
		mean, invStd := float64(saveMean[ch]), float64(saveInvStd[ch])
		var sumDy, sumDyXhat float64
		for n := 0; n < batch; n++ {
			off := (n*c + ch) * hw
			xs, dys := x[off:off+hw], dy[off:off+hw]
			for i, g := range dys {
				sumDy += float64(g)
				sumDyXhat += float64(g) * (float64(xs[i]) - mean) * invStd
			}
		}
		dgamma[ch], dbeta[ch] = float32(sumDyXhat), float32(sumDy)
		if dx == nil {
			continue
		}
		// dx = gamma*invStd/N * (N*dy - sum(dy) - xhat*sum(dy*xhat))
		k := float64(gamma[ch]) * invStd
		meanDy, meanDyXhat := sumDy/count, sumDyXhat/count
		for n := 0; n < batch; n++ {
			off := (n*c + ch) * hw
			xs, dys, dxs := x[off:off+hw], dy[off:off+hw], dx[off:off+hw]
			for i, g := range dys {
				xhat := (float64(xs[i]) - mean) * invStd
				dxs[i] += float32(k * (float64(g) - meanDy - xhat*meanDyXhat))
			}
		}
	}
}

// ReLU computes y = max(x, 0); y may be x.
func ReLU(y, x []float32) {
	for i, v := range x[:len(y)] {
		y[i] = max(v, 0)
	}
}

// ReLUBackward adds dy where the ReLU's output y is positive to dx.
func ReLUBackward(dx, dy, y []float32) {
	for i, v := range y[:len(dx)] {
		if v > 0 {
			dx[i] += dy[i]
		}
	}
}

// PoolDims describes a max pooling over C planes of H x W.
type PoolDims struct {
	C, H, W     int
	KH, KW      int
	Stride, Pad int
	OH, OW      int
}

// MaxPool takes the maximum over each window; padding never wins.
func MaxPool(ws *Workspace, y, x []float32, batch int, d PoolDims) {
	planes := batch * d.C
	// Planes are independent: a large pooling shares them among the
	// goroutines, its task kept in the workspace.
	if ws != nil && planes > 1 && planes*d.H*d.W >= minParallelElems {
		if nt := min(threadCount(), planes); nt > 1 {
			ws.pool = poolTask{y: y, x: x, d: d}
			shareRange(ws, &ws.pool, planes, nt)
			return
		}
	}
	maxPoolPlanes(y, x, 0, planes, d)
}

// poolTask is a max pooling whose planes are split among goroutines.
type poolTask struct {
	y, x []float32
	d    PoolDims
}

func (t *poolTask) run(_ *Workspace, p0, p1 int) { maxPoolPlanes(t.y, t.x, p0, p1, t.d) }

// maxPoolPlanes is MaxPool over planes [p0, p1) of the batch's images.
func maxPoolPlanes(y, x []float32, p0, p1 int, d PoolDims) {
	// Every window holds an input value when the padding is at most half
	// the window, as PyTorch requires.
	if d.W <= maxPoolRow && 2*d.Pad <= d.KH && 2*d.Pad <= d.KW {
		maxPoolSeparable(y, x, p0, p1, d)
		return
	}
	for p := p0; p < p1; p++ {
		plane := x[p*d.H*d.W : (p+1)*d.H*d.W]
		out := y[p*d.OH*d.OW : (p+1)*d.OH*d.OW]
		for oh := 0; oh < d.OH; oh++ {
			for ow := 0; ow < d.OW; ow++ {
				out[oh*d.OW+ow] = plane[argmaxWindow(plane, d, oh, ow)]
			}
		}
	}
}

// maxPoolRow is the widest input row maxPoolSeparable keeps on the stack.
const maxPoolRow = 512

// usePoolAVX2 selects the AVX2 max-pooling kernels where the AVX-512
// ones cannot run; tests turn it off to compare them with the Go loops.
var usePoolAVX2 = haveAVX2 && !haveAVX512

// nanMax is max that lets a NaN through, as argmaxWindow picks a NaN.
func nanMax(a, b float32) float32 {
	if b > a || b != b {
		return b
	}
	return a
}

// maxPoolSeparable is MaxPool as a max down each column of a window's
// rows, then along the row: a few compares per input value instead of
// KH x KW calls' worth per output. With AVX-512 the max down the rows
// runs 16 columns at a time (with AVX2, 8), and a 3-wide stride-2 window (resnet's) also
// along the row, reading the row's columns from a buffer whose padding
// holds -Inf, which no value loses to and which leaves every max as the
// Go loop's.
func maxPoolSeparable(y, x []float32, p0, p1 int, d PoolDims) {
	var buf [maxPoolRow + 64]float32
	cols := buf[:d.W]
	rowAsm := useShiftAsm && d.W >= 1
	pool3s2 := useShiftAsm && d.KW == 3 && d.Stride == 2 && 32*((d.OW+15)/16)+34 <= len(buf)
	// The AVX2 kernels take 8 lanes a chunk.
	avx2 := !useShiftAsm && usePoolAVX2
	if avx2 {
		rowAsm = d.W >= 1
		pool3s2 = d.KW == 3 && d.Stride == 2 && 16*((d.OW+7)/8)+18 <= len(buf)
	}
	var last8, outLast8 *int32
	if d.W%8 != 0 {
		last8 = &avx2Masks[16-d.W%8]
	}
	if d.OW%8 != 0 {
		outLast8 = &avx2Masks[16-d.OW%8]
	}
	if pool3s2 {
		for i := range buf {
			buf[i] = float32(math.Inf(-1))
		}
		cols = buf[d.Pad : d.Pad+d.W]
	}
	chunks, last := (d.W+15)/16, uint16(1<<((d.W-1)%16+1)-1)
	outChunks, outLast := (d.OW+15)/16, uint16(1<<((d.OW-1)%16+1)-1)
	for p := p0; p < p1; p++ {
		plane := x[p*d.H*d.W : (p+1)*d.H*d.W]
		out := y[p*d.OH*d.OW : (p+1)*d.OH*d.OW]
		for oh := 0; oh < d.OH; oh++ {
			r0, r1 := max(0, oh*d.Stride-d.Pad), min(d.H, oh*d.Stride-d.Pad+d.KH)
			switch {
			case rowAsm && avx2:
				maxRowsAVX2(&cols[0], &plane[r0*d.W], (d.W+7)/8, r1-r0, d.W, last8)
			case rowAsm:
				maxRowsAVX512(&cols[0], &plane[r0*d.W], chunks, r1-r0, d.W, int(last))
			default:
				copy(cols, plane[r0*d.W:(r0+1)*d.W])
				for r := r0 + 1; r < r1; r++ {
					for i, v := range plane[r*d.W : (r+1)*d.W] {
						cols[i] = nanMax(cols[i], v)
					}
				}
			}
			row := out[oh*d.OW : (oh+1)*d.OW]
			if pool3s2 && avx2 {
				maxPool3s2AVX2(&row[0], &buf[0], (d.OW+7)/8, outLast8)
				continue
			}
			if pool3s2 {
				maxPool3s2AVX512(&row[0], &buf[0], outChunks, int(outLast), &winoPerms[16][0])
				continue
			}
			for ow := range row {
				c0, c1 := max(0, ow*d.Stride-d.Pad), min(d.W, ow*d.Stride-d.Pad+d.KW)
				m := cols[c0]
				for _, v := range cols[c0+1 : c1] {
					m = nanMax(m, v)
				}
				row[ow] = m
			}
		}
	}
}

// MaxPoolBackward adds each output gradient to dx at the position of its
// window's maximum (the first one in scan order, as PyTorch picks).
func MaxPoolBackward(dx, dy, x []float32, batch int, d PoolDims) {
	for p := 0; p < batch*d.C; p++ {
		plane := x[p*d.H*d.W : (p+1)*d.H*d.W]
		dplane := dx[p*d.H*d.W : (p+1)*d.H*d.W]
		g := dy[p*d.OH*d.OW : (p+1)*d.OH*d.OW]
		for oh := 0; oh < d.OH; oh++ {
			for ow := 0; ow < d.OW; ow++ {
				dplane[argmaxWindow(plane, d, oh, ow)] += g[oh*d.OW+ow]
			}
		}
	}
}

func argmaxWindow(plane []float32, d PoolDims, oh, ow int) int {
	best, bestV := -1, float32(0)
	for kh := 0; kh < d.KH; kh++ {
		ih := oh*d.Stride - d.Pad + kh
		if ih < 0 || ih >= d.H {
			continue
		}
		for kw := 0; kw < d.KW; kw++ {
			iw := ow*d.Stride - d.Pad + kw
			if iw < 0 || iw >= d.W {
				continue
			}
			i := ih*d.W + iw
			if v := plane[i]; best < 0 || v > bestV || v != v {
				best, bestV = i, v
			}
		}
	}
	return best
}

// GlobalAvgPool averages each of the planes planes of hw values.
func GlobalAvgPool(y, x []float32, planes, hw int) {
	for p := 0; p < planes; p++ {
		y[p] = sumFloat32(x[p*hw:(p+1)*hw]) / float32(hw)
	}
}

// GlobalAvgPoolBackward spreads each plane's gradient evenly over dx,
// written as dxw says.
func GlobalAvgPoolBackward(dx []float32, dxw GradWrite, dy []float32, planes, hw int) {
	for p := 0; p < planes; p++ {
		g := dy[p] / float32(hw)
		plane := dx[p*hw : (p+1)*hw]
		if dxw == SetGrad {
			for i := range plane {
				plane[i] = g
			}
			continue
		}
		for i := range plane {
			plane[i] += g
		}
	}
}

// Linear computes y = x * w^T + b for batch rows of in features; w is out x in.
func Linear(ws *Workspace, y, x, w, b []float32, batch, in, out int) {
	if batch <= dotBatch() {
		t := linearTask{y: y, x: x, w: w, b: b, batch: batch, in: in, out: out}
		nt := 1
		if ws != nil && out*in >= minParallelElems {
			nt = min(threadCount(), out)
		}
		if nt < 2 {
			t.run(ws, 0, out)
			return
		}
		ws.linear = t
		shareRange(ws, &ws.linear, out, nt)
		return
	}
	Gemm(ws, false, true, batch, out, in, x, in, w, in, 0, y, out)
	for n := 0; n < batch; n++ {
		row := y[n*out : (n+1)*out]
		for j := range row {
			row[j] += b[j]
		}
	}
}

// linearDotBatch is the largest batch whose Linear is dot products, one
// per output and image, by dotRowsAVX512 where the machine has it: each
// row of W is read in place, once an image. The GEMM would first pack W's
// transpose, a read and a write of all of W on every call. For resnet50's
// fc (8 MB of weights), with W in the cache: 0.06, 0.11, 0.23 and 0.42 ms
// at 1, 2, 4 and 8 images against the GEMM's 0.54, 0.51, 0.53 and 0.34
// (go test -bench Linear ./nn); in the network at batch 1, where W comes
// from memory, 0.25 ms (the scalar Go dots took 0.47, the GEMM 1.6); at
// 8 images both ways took 0.65-0.79 ms.
const linearDotBatch = 4

// useDotRowsAsm selects assembly for a small batch's Linear where the
// machine has it (dotRowsAVX512, else gradDotAVX2); tests turn it off to
// run the Go loops.
var useDotRowsAsm = haveAVX512 || haveAVX2

// dotBatch is the largest batch whose Linear is dot products here: the
// Go loops, scalar, took 0.97 ms at 2 images where the GEMM took 0.7, so
// without the assembly only one image.
func dotBatch() int {
	if useDotRowsAsm {
		return linearDotBatch
	}
	return 1
}

// linearTask is a small batch's Linear over a range of outputs.
type linearTask struct {
	y, x, w, b     []float32
	batch, in, out int
}

func (t *linearTask) run(_ *Workspace, j0, j1 int) {
	if blocks := (j1 - j0) / 4; useDotRowsAsm && blocks > 0 && t.in > 0 {
		end := j0 + 4*blocks
		_, _, _ = t.w[end*t.in-1], t.x[t.batch*t.in-1], t.y[(t.batch-1)*t.out+end-1]
		if haveAVX512 {
			for n := 0; n < t.batch; n++ {
				y := t.y[n*t.out : (n+1)*t.out]
				dotRowsAVX512(blocks, t.in/16, &t.w[j0*t.in], t.in, &t.x[n*t.in], &y[j0], uint16(1)<<(t.in%16)-1)
				for j := j0; j < end; j++ {
					y[j] += t.b[j]
				}
			}
		} else {
			t.dotRowsAVX2(j0, end)
		}
		j0 = end
	}
	for j := j0; j < j1; j++ {
		row := t.w[j*t.in : (j+1)*t.in]
		for n := 0; n < t.batch; n++ {
			t.y[n*t.out+j] = t.b[j] + dotFloat32(row, t.x[n*t.in:(n+1)*t.in])
		}
	}
}

// dotRowsAVX2 is run's dot products and biases for rows [j0, j1) of W (a
// multiple of 4) by gradDotAVX2, which sums 4 rows of W against 2 images
// at a time: the images in pairs, an odd last one paired with itself (its
// sums made twice cost nothing, W's stream from memory being the bound),
// W 16 rows at a time for all the pairs while they are in the cache. The
// Go loops, scalar, took 1.8 ms of resnet50's forward at batch 1.
func (t *linearTask) dotRowsAVX2(j0, j1 int) {
	const rows = 16
	var m [2 * rows]float32
	tail := &avx2Masks[16-t.in%8]
	for r0 := j0; r0 < j1; r0 += rows {
		nr := min(rows, j1-r0)
		for n := 0; n < t.batch; n += 2 {
			ldv := t.in
			if n+1 == t.batch {
				ldv = 0
			}
			clear(m[:2*nr])
			gradDotAVX2(nr/4, 1, t.in/8, &t.w[r0*t.in], t.in, &t.x[n*t.in], ldv, &m[0], 2, tail)
			for j := range nr {
				t.y[n*t.out+r0+j] = m[2*j] + t.b[r0+j]
				if ldv != 0 {
					t.y[(n+1)*t.out+r0+j] = m[2*j+1] + t.b[r0+j]
				}
			}
		}
	}
}

// dotFloat32 is the dot product of a and b[:len(a)] in eight running sums,
// which keep eight multiply-adds in flight where one sum would wait on
// each add.
func dotFloat32(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		a, b := a[i:i+8:i+8], b[i:i+8:i+8]
		s0 += a[0] * b[0]
		s1 += a[1] * b[1]
		s2 += a[2] * b[2]
		s3 += a[3] * b[3]
		s4 += a[4] * b[4]
		s5 += a[5] * b[5]
		s6 += a[6] * b[6]
		s7 += a[7] * b[7]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

// sumFloat32 is the sum of x in eight running sums, as dotFloat32.
func sumFloat32(x []float32) float32 {
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(x); i += 8 {
		x := x[i : i+8 : i+8]
		s0 += x[0]
		s1 += x[1]
		s2 += x[2]
		s3 += x[3]
		s4 += x[4]
		s5 += x[5]
		s6 += x[6]
		s7 += x[7]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

// LinearBackward computes dw and db (overwritten) and adds dx.
func LinearBackward(ws *Workspace, dx, dw, db, dy, x, w []float32, batch, in, out int) {
	Gemm(ws, true, false, out, in, batch, dy, out, x, in, 0, dw, in)
	clear(db)
	for n := 0; n < batch; n++ {
		for j, g := range dy[n*out : (n+1)*out] {
			db[j] += g
		}
	}
	if dx != nil {
		Gemm(ws, false, false, batch, in, out, dy, out, w, in, 1, dx, in)
	}
}

// Add computes y = a + b element-wise.
func Add(y, a, b []float32) {
	for i := range y {
		y[i] = a[i] + b[i]
	}
}

// Accumulate adds src to dst element-wise.
func Accumulate(dst, src []float32) {
	for i, v := range src[:len(dst)] {
		dst[i] += v
	}
}

// ShortcutDims describes an option A shortcut: C planes of H x W
// subsampled by Stride to OH x OW, with Lo zero planes before and Hi after.
type ShortcutDims struct {
	C, H, W, Stride, OH, OW, Lo, Hi int
}

// ShortcutA is the paper's parameter-free shortcut: x[:, :, ::s, ::s]
// with zero channels added before and after. A large batch is shared
// among the goroutines, the task kept in ws (may be nil).
func ShortcutA(ws *Workspace, y, x []float32, batch int, d ShortcutDims) {
	runShortcut(ws, shortcutTask{y: y, x: x, d: d}, batch)
}

// ShortcutABackward writes the gradient of the kept positions to dx as dxw
// says (with SetGrad, 0 elsewhere), its batch shared as ShortcutA's.
func ShortcutABackward(ws *Workspace, dx []float32, dxw GradWrite, dy []float32, batch int, d ShortcutDims) {
	runShortcut(ws, shortcutTask{backward: true, y: dy, x: dx, dxw: dxw, d: d}, batch)
}

// runShortcut runs t over the batch, its images shared among the
// goroutines when it is large and ws holds the task.
func runShortcut(ws *Workspace, t shortcutTask, batch int) {
	nt := 1
	if ws != nil && batch > 1 && batch*t.d.C*t.d.H*t.d.W >= minParallelElems {
		nt = min(threadCount(), batch)
	}
	if nt < 2 {
		t.run(ws, 0, batch)
		return
	}
	ws.shortcut = t
	shareRange(ws, &ws.shortcut, batch, nt)
}

// shortcutTask is an option-A shortcut, forward (y from x) or backward
// (x += the kept part of y), over a range of images.
type shortcutTask struct {
	backward bool
	y, x     []float32
	dxw      GradWrite
	d        ShortcutDims
}

func (t *shortcutTask) run(_ *Workspace, n0, n1 int) {
	d := t.d
	oc, ohw, hw := d.C+d.Lo+d.Hi, d.OH*d.OW, d.H*d.W
	// Subsampling the planes is im2col, or col2im backward, of a 1x1
	// unpadded convolution at the shortcut's stride, whose columns are
	// the kept channels: the row kernels pick a row's even positions with
	// permutes, where a scalar loop took about 5% of ResNet-20 inference.
	sub := ConvDims{C: d.C, H: d.H, W: d.W, K: 1, KH: 1, KW: 1, Stride: d.Stride, OH: d.OH, OW: d.OW, Lowering: LowerIm2col}
	for n := n0; n < n1; n++ {
		out := t.y[n*oc*ohw : (n+1)*oc*ohw]
		x := t.x[n*d.C*hw : (n+1)*d.C*hw]
		kept := out[d.Lo*ohw : (d.Lo+d.C)*ohw]
		if t.backward {
			if t.dxw == SetGrad {
				clear(x) // here, image by image in the cache, not in one pass over the batch
			}
			col2im(x, kept, sub)
			continue
		}
		clear(out[:d.Lo*ohw])
		clear(out[(d.Lo+d.C)*ohw:])
		im2col(kept, x, sub)
	}
}

// SoftmaxCrossEntropy returns the mean cross-entropy of the logits
// against the labels and writes its gradient with respect to the logits
// to dlogits. Labels must be in range; the caller checks.
func SoftmaxCrossEntropy(dlogits, logits []float32, labels []int, batch, classes int) float64 {
	var loss float64
	for n := 0; n < batch; n++ {
		row, grad := logits[n*classes:(n+1)*classes], dlogits[n*classes:(n+1)*classes]
		maxV := float64(row[0])
		for _, v := range row {
			maxV = math.Max(maxV, float64(v))
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v) - maxV)
		}
		logSum := math.Log(sum) + maxV
		loss += logSum - float64(row[labels[n]])
		for j, v := range row {
			p := math.Exp(float64(v) - logSum)
			if j == labels[n] {
				p--
			}
			grad[j] = float32(p / float64(batch))
		}
	}
	return loss / float64(batch)
}

// SGD applies one step of PyTorch's SGD with momentum and weight decay to
// the parameter p with gradient g and momentum buffer buf. On the first
// step the buffer starts as the gradient itself, as PyTorch's does.
func SGD(p, g, buf []float32, lr, momentum, weightDecay float32, first bool) {
	for i := range p {
		d := g[i] + weightDecay*p[i]
		if momentum != 0 {
			if first {
				buf[i] = d
			} else {
				buf[i] = momentum*buf[i] + d
			}
			d = buf[i]
		}
		p[i] -= lr * d
	}
}

// BatchNormFusedBackward is the backward pass of BatchNormTrainFused. The
// ReLU's gradient mask is the one the forward pass wrote to mask; the
// gradient that reaches the add also goes to dresidual (when not nil).
// dgamma and dbeta are overwritten; dx and dresidual are written as dxw
// and resw say (dx may be nil).
func BatchNormFusedBackward(ws *Workspace, dx []float32, dxw GradWrite, dresidual []float32, resw GradWrite, dgamma, dbeta, dy, x []float32, relu bool, mask []uint16, gamma, saveMean, saveInvStd []float32, batch, c, hw int) {
	checkBNMask(mask, relu, batch, c, hw)
	runBN(ws, bnTask{backward: true, dx: dx, dxw: dxw, dresidual: dresidual, resw: resw, dgamma: dgamma, dbeta: dbeta, dy: dy, x: x, mask: mask, relu: relu,
		gamma: gamma, mean: saveMean, invStd: saveInvStd, batch: batch, c: c, hw: hw})
}

// bnBackwardChannels is BatchNormFusedBackward over channels [c0, c1).
func bnBackwardChannels(t *bnTask, c0, c1 int) {
	dx, dresidual, dgamma, dbeta, dy, x, mask, relu := t.dx, t.dresidual, t.dgamma, t.dbeta, t.dy, t.x, t.mask, t.relu
	gamma, saveMean, saveInvStd, batch, hw := t.gamma, t.mean, t.invStd, t.batch, t.hw
	c := t.c
	count := float64(batch * hw)
	simd := 0
	if useBNAsm {
		simd = hw &^ 15
	}
	reluFlag, flags := 0, 0
	if relu {
		reluFlag, flags = 1, 1
	}
	if dresidual != nil {
		flags |= 2
		if t.resw == SetGrad {
			flags |= 8
		}
	}
	if dx != nil {
		flags |= 4
		if t.dxw == SetGrad {
			flags |= 16
		}
	}
	words := bnRowWords(hw)
	// row is the mask of image n's channel ch, or nil without the ReLU.
	row := func(n, ch int) []uint16 {
		if !relu {
			return nil
		}
		return mask[(n*c+ch)*words : (n*c+ch+1)*words]
	}
	// dead reports whether the ReLU stopped value i of a row.
	dead := func(row []uint16, i int) bool { return row != nil && row[i/16]>>(i%16)&1 == 0 }
	// Blocks of channels, each pass image by image, a call for a block's
	// whole rows of an image, as bnTrainChannels.
	whole := simd > 0 && simd == hw
	// rowsFrom is the masks of image n's rows of the block from channel
	// ch on, for the kernels (nil without the ReLU).
	rowsFrom := func(n, ch, b1 int) *uint16 {
		if !relu {
			return nil
		}
		return &mask[(n*c+ch)*words : (n*c+b1)*words][0]
	}
	for b0 := c0; b0 < c1; b0 += bnBlock {
		b1 := min(b0+bnBlock, c1)
		rows := b1 - b0
		var acc [bnBlock][16]float64
		var tail [bnBlock][2]float64 // the rows' ends past the kernel's
		var means [bnBlock]float64
		for ch := b0; ch < b1; ch++ {
			means[ch-b0] = float64(saveMean[ch])
		}
		for n := 0; n < batch; n++ {
			if whole {
				off, end := (n*c+b0)*hw, (n*c+b1)*hw
				_, _ = dy[end-1], x[end-1]
				bnGradSum(rows, simd, &dy[off], &x[off], rowsFrom(n, b0, b1), &means[0], reluFlag, &acc[0])
				continue
			}
			for ch := b0; ch < b1; ch++ {
				mean := means[ch-b0]
				off := (n*c + ch) * hw
				r := row(n, ch)
				if simd > 0 {
					bnGradSum(1, simd, &dy[off], &x[off], rowsFrom(n, ch, ch+1), &means[ch-b0], reluFlag, &acc[ch-b0])
				}
				xs, dys := x[off:off+hw], dy[off:off+hw]
				for i := simd; i < hw; i++ {
					g := dys[i]
					if dead(r, i) {
						continue
					}
					tail[ch-b0][0] += float64(g)
					tail[ch-b0][1] += float64(g) * (float64(xs[i]) - mean)
				}
			}
		}
		// The kernel's coefficients, and the same unrounded for the rows'
		// ends in Go: the mean, 1/std, gamma/std, and the means of g and
		// of g times x-hat.
		var coefs [bnBlock][8]float32
		var exact [bnBlock][5]float64
		for ch := b0; ch < b1; ch++ {
			mean, invStd := float64(saveMean[ch]), float64(saveInvStd[ch])
			sumG := tail[ch-b0][0] + laneSum(acc[ch-b0][:8])
			sumGXhat := (tail[ch-b0][1] + laneSum(acc[ch-b0][8:])) * invStd
			dgamma[ch], dbeta[ch] = float32(sumGXhat), float32(sumG)
			e := [5]float64{mean, invStd, float64(gamma[ch]) * invStd, sumG / count, sumGXhat / count}
			exact[ch-b0] = e
			coefs[ch-b0] = [8]float32{float32(e[0]), float32(e[1]), float32(e[2]), float32(e[3]), float32(e[4])}
		}
		for n := 0; n < batch; n++ {
			if whole {
				off, end := (n*c+b0)*hw, (n*c+b1)*hw
				_, _ = dy[end-1], x[end-1]
				var pdx, pdres *float32
				if dx != nil {
					pdx = &dx[off:end][0]
				}
				if dresidual != nil {
					pdres = &dresidual[off:end][0]
				}
				bnGradApply(rows, simd, &dy[off], &x[off], rowsFrom(n, b0, b1), pdx, pdres, &coefs[0], flags)
				continue
			}
			for ch := b0; ch < b1; ch++ {
				off := (n*c + ch) * hw
				r := row(n, ch)
				if simd > 0 {
					var pdx, pdres *float32
					if dx != nil {
						pdx = &dx[off]
					}
					if dresidual != nil {
						pdres = &dresidual[off]
					}
					bnGradApply(1, simd, &dy[off], &x[off], rowsFrom(n, ch, ch+1), pdx, pdres, &coefs[ch-b0], flags)
				}
				mean, invStd, k, meanG, meanGXhat := exact[ch-b0][0], exact[ch-b0][1], exact[ch-b0][2], exact[ch-b0][3], exact[ch-b0][4]
				xs, dys := x[off:off+hw], dy[off:off+hw]
				for i := simd; i < hw; i++ {
					g := dys[i]
					if dead(r, i) {
						g = 0
					}
					if dresidual != nil {
						if flags&8 != 0 {
							dresidual[off+i] = g
						} else {
							dresidual[off+i] += g
						}
					}
					if dx != nil {
						xhat := (float64(xs[i]) - mean) * invStd
						v := float32(k * (float64(g) - meanG - xhat*meanGXhat))
						if flags&16 != 0 {
							dx[off+i] = v
						} else {
							dx[off+i] += v
						}
					}
				}
			}
		}
	}
}
