//go:build !amd64 || purego

package nn

// haveAVX512 is false without the assembly (other architectures, or the
// purego build tag): the pure-Go kernel runs.
var (
	haveAVX512 = false
	haveAVX2   = false
	haveBNAsm  = false
)

// avx512Kernels is empty without the assembly; useAVX512 is never true.
var avx512Kernels, avx512Kernels16 [13]func(kc int, a, b, c *float32, ldc int, mask uint32, flags int, bias, res *float32, ldr int)

// avx512KernelsRowB is empty without the assembly too.
var avx512KernelsRowB [13]func(kc int, a, b, c *float32, ldc int, mask uint32, flags int, bias, res *float32, ldr, ldb int)

func kernel12x32TilesRowBAVX512(kc, tiles int, a, b, c *float32, ldc int, mask uint32, flags int, bias, res *float32, ldr, ldb int) {
	panic("nn: the AVX-512 kernels are not in this build")
}

// avx2Kernels is empty without the assembly too; useAVX2 is never true.
var avx2Kernels [7]func(kc int, a, b, c *float32, ldc int, mask *int32, flags int, bias, res *float32, ldr int)

var avx2Kernels8 [7]func(kc int, a, b, c *float32, ldc int, mask *int32, flags int, bias, res *float32, ldr int)

func kernel6x8TilesAVX2(kc, tiles int, a, b, c *float32, ldc int, mask *int32, flags int, bias, res *float32, ldr int) {
	panic("nn: the AVX2 kernels are not in this build")
}

func kernel6x16TilesAVX2(kc, tiles int, a, b, c *float32, ldc int, mask *int32, flags int, bias, res *float32, ldr int) {
	panic("nn: the AVX2 kernels are not in this build")
}

func bnSumAVX512(rows, n int, x *float32, shift *float64, acc *[16]float64) {
	panic("nn: the batch-norm kernels are not in this build")
}

func bnGradSumAVX512(rows, n int, dy, x *float32, mask *uint16, mean *float64, relu int, acc *[16]float64) {
	panic("nn: the batch-norm kernels are not in this build")
}

func bnApplyAVX512(rows, n int, x, y, res *float32, mask *uint16, coef *[4]float32, flags int) {
	panic("nn: the batch-norm kernels are not in this build")
}

func bnGradApplyAVX512(rows, n int, dy, x *float32, mask *uint16, dx, dres *float32, coef *[8]float32, flags int) {
	panic("nn: the batch-norm kernels are not in this build")
}

func im2colRowsAVX512(dst, src *float32, rows, chunks, dstStride, srcStride, off int, masks *[16]uint32, group, r0, jump int) {
	panic("nn: the im2col kernels are not in this build")
}

func col2imRowsAVX512(dst, src *float32, rows, chunks, dstStride, srcStride, off int, masks *[16]uint32) {
	panic("nn: the im2col kernels are not in this build")
}

func transposePackAVX512(dst, src *float32, ld, blocks int) {
	panic("nn: the packing kernel is not in this build")
}

func transposePack12AVX512(dst, src *float32, ld, blocks int) {
	panic("nn: the packing kernel is not in this build")
}

func packRowsAVX512(dst, src *float32, ld, kc int, mask uint32) {
	panic("nn: the packing kernel is not in this build")
}

func transposePack16AVX512(dst, src *float32, ld, blocks int) {
	panic("nn: the packing kernel is not in this build")
}

func im2colRowsStridedAVX512(dst, src *float32, rows, chunks, dstStride, srcStride, off int, masks *[16]uint32, idx *[16]int32, step int) {
	panic("nn: the im2col kernels are not in this build")
}

func im2colRowsHalfAVX512(dst, src *float32, rows, chunks, dstStride, srcStride, off int, masks *[16]uint32, idx *[32]int32) {
	panic("nn: the im2col kernels are not in this build")
}

func col2imRowsHalfAVX512(dst, src *float32, rows, chunks, dstStride, srcStride, off int, masks *[16]uint32, idx *[32]int32) {
	panic("nn: the im2col kernels are not in this build")
}

func col2imRowsStridedAVX512(dst, src *float32, rows, chunks, dstStride, srcStride, off int, masks *[16]uint32, idx *[16]int32, step int) {
	panic("nn: the im2col kernels are not in this build")
}

func winoInputAVX512(v, x *float32, chans, off, xStride, vStride, plane, w, rows int, masks *[6]uint16, idx *[32]int32, hiOff, splitOff int) {
	panic("nn: the Winograd kernels are not in this build")
}

func winoOutputAVX512(y, m, res, bias *float32, chans, off, yStride, mStride, plane, ow, flags int, masks *[5]uint16, idx *[32]int32, hiOff int) {
	panic("nn: the Winograd kernels are not in this build")
}

func maxRowsAVX512(dst, src *float32, chunks, rows, stride, last int) {
	panic("nn: the pooling kernels are not in this build")
}

func maxPool3s2AVX512(dst, cols *float32, chunks, last int, idx *[32]int32) {
	panic("nn: the pooling kernels are not in this build")
}

func winoDyAVX512(u, dy *float32, chans, off, dyStride, uStride, plane, w, rows int, masks *[3]uint16, idx *[32]int32, hiOff int) {
	panic("nn: the Winograd kernels are not in this build")
}

func kernel12x32TilesAVX512(kc, tiles int, a, b, c *float32, ldc int, mask uint32, flags int, bias, res *float32, ldr int) {
	panic("nn: the AVX-512 kernels are not in this build")
}

func kernel12x16TilesAVX512(kc, tiles int, a, b, c *float32, ldc int, mask uint32, flags int, bias, res *float32, ldr int) {
	panic("nn: the AVX-512 kernels are not in this build")
}

func wino4InputG1AVX512(v, x *float32, chans, xStride, vStride, plane int, plan *wino4Plan, idx *[8][16]int32, splitOff int) {
	panic("nn: the Winograd kernels are not in this build")
}

func wino4OutputG1AVX512(y, m, res, bias *float32, chans, yStride, mStride, plane, flags int, plan *wino4Plan, idx *[4][16]int32) {
	panic("nn: the Winograd kernels are not in this build")
}

func wino4InputG2AVX512(v, x *float32, chans, xStride, vStride, plane int, plan *wino4Plan, idx *[8][16]int32, splitOff int) {
	panic("nn: the Winograd kernels are not in this build")
}

func wino4OutputG2AVX512(y, m, res, bias *float32, chans, yStride, mStride, plane, flags int, plan *wino4Plan, idx *[4][16]int32) {
	panic("nn: the Winograd kernels are not in this build")
}

func wino4InputG4AVX512(v, x *float32, chans, xStride, vStride, plane int, plan *wino4Plan, idx *[8][16]int32, splitOff int) {
	panic("nn: the Winograd kernels are not in this build")
}

func wino4OutputG4AVX512(y, m, res, bias *float32, chans, yStride, mStride, plane, flags int, plan *wino4Plan, idx *[4][16]int32) {
	panic("nn: the Winograd kernels are not in this build")
}

func winoGemmE0AVX512(ne, kc, tiles, panels int, a *float32, aStride int, b *float32, bStride int, c *float32, cStride, ldc int, lastMask uint32) {
	panic("nn: the Winograd kernels are not in this build")
}

func winoGemmE4AVX512(ne, kc, tiles, panels int, a *float32, aStride int, b *float32, bStride int, c *float32, cStride, ldc int, lastMask uint32) {
	panic("nn: the Winograd kernels are not in this build")
}

func winoGemmE8AVX512(ne, kc, tiles, panels int, a *float32, aStride int, b *float32, bStride int, c *float32, cStride, ldc int, lastMask uint32) {
	panic("nn: the Winograd kernels are not in this build")
}

func gradDotAVX512(kb, cb, chunks int, u *float32, ldu int, v *float32, ldv int, m *float32, ldm int, tail uint16) {
	panic("nn: the Winograd kernels are not in this build")
}

func dotRowsAVX512(blocks, chunks int, w *float32, ldw int, x, y *float32, tail uint16) {
	panic("nn: the AVX-512 kernels are not in this build")
}

func kernel12x1TilesAVX512(kc, tiles int, a, b, c *float32, ldc int, rows uint16, flags int, bias, res *float32, ldr int, idx *[2][16]int32) {
	panic("nn: the AVX-512 kernels are not in this build")
}

func kernel12x2TilesAVX512(kc, tiles int, a, b, c *float32, ldc int, rows uint16, flags int, bias, res *float32, ldr int, idx *[2][16]int32) {
	panic("nn: the AVX-512 kernels are not in this build")
}

func kernel12x3TilesAVX512(kc, tiles int, a, b, c *float32, ldc int, rows uint16, flags int, bias, res *float32, ldr int, idx *[2][16]int32) {
	panic("nn: the AVX-512 kernels are not in this build")
}

func kernel12x4TilesAVX512(kc, tiles int, a, b, c *float32, ldc int, rows uint16, flags int, bias, res *float32, ldr int, idx *[2][16]int32) {
	panic("nn: the AVX-512 kernels are not in this build")
}

func kernel12x16s1TilesAVX512(kc, tiles int, a, b, c *float32, ldc int, mask uint32, flags int, bias, res *float32, ldr int, idx *[2][16]int32) {
	panic("nn: the AVX-512 kernels are not in this build")
}

func kernel12x16s2TilesAVX512(kc, tiles int, a, b, c *float32, ldc int, mask uint32, flags int, bias, res *float32, ldr int, idx *[2][16]int32) {
	panic("nn: the AVX-512 kernels are not in this build")
}

func kernel12x16s3TilesAVX512(kc, tiles int, a, b, c *float32, ldc int, mask uint32, flags int, bias, res *float32, ldr int, idx *[2][16]int32) {
	panic("nn: the AVX-512 kernels are not in this build")
}

func kernel12x16s4TilesAVX512(kc, tiles int, a, b, c *float32, ldc int, mask uint32, flags int, bias, res *float32, ldr int, idx *[2][16]int32) {
	panic("nn: the AVX-512 kernels are not in this build")
}

func wino4DyG1AVX512(u, dy *float32, chans, dyStride, uStride, plane int, plan *wino4Plan, idx *[8][16]int32) {
	panic("nn: the Winograd kernels are not in this build")
}

func wino4DyG2AVX512(u, dy *float32, chans, dyStride, uStride, plane int, plan *wino4Plan, idx *[8][16]int32) {
	panic("nn: the Winograd kernels are not in this build")
}

func wino4DyG4AVX512(u, dy *float32, chans, dyStride, uStride, plane int, plan *wino4Plan, idx *[8][16]int32) {
	panic("nn: the Winograd kernels are not in this build")
}

func winoWeightsF2AVX512(dst *float32, dstStride int, w *float32, wStep, n int, idx *[9][16]int32, lanes uint16) {
	panic("nn: the Winograd kernels are not in this build")
}

func winoWeightsF4AVX512(dst *float32, dstStride int, w *float32, wStep, n int, idx *[9][16]int32, lanes uint16) {
	panic("nn: the Winograd kernels are not in this build")
}

func wino4InputG8AVX512(v, x *float32, chans, xStride, vStride, plane int, plan *wino4Plan, idx *[8][16]int32, splitOff int) {
	panic("nn: the Winograd kernels are not in this build")
}

func wino4OutputG8AVX512(y, m, res, bias *float32, chans, yStride, mStride, plane, flags int, plan *wino4Plan, idx *[4][16]int32) {
	panic("nn: the Winograd kernels are not in this build")
}

func wino4DyG8AVX512(u, dy *float32, chans, dyStride, uStride, plane int, plan *wino4Plan, idx *[8][16]int32) {
	panic("nn: the Winograd kernels are not in this build")
}

func winoInputS2AVX512(v, x *float32, chans, off, xStride, vStride, plane, w, rows int, masks *[7]uint16, idx *[32]int32, splitOff int) {
	panic("nn: the Winograd kernels are not in this build")
}

func winoOutputS2AVX512(y, m, res, bias *float32, chans, off, yStride, mStride, plane, ow, flags int, masks *[5]uint16, idx *[32]int32, hiOff int) {
	panic("nn: the Winograd kernels are not in this build")
}

func wino4InAVX2(x *float32, chans, xStride int, v *float32, vStride, plane int, plan *wino4InPlan, masks *[81][8]int32, lanes *int32) {
	panic("nn: the AVX2 transforms are not in this build")
}

func wino4OutAVX2(y, m *float32, chans, yStride, mStride, plane int, plan *wino4OutPlan, masks *[81][8]int32, lanes *int32, bias *float32, biasStep int, res *float32, relu int) {
	panic("nn: the AVX2 transforms are not in this build")
}

func winoS2InAVX2(x *float32, chans, xStride int, v *float32, vStride, plane int, plan *winoS2InPlan, masks *[81][8]int32, lanes *int32) {
	panic("nn: the AVX2 transforms are not in this build")
}

func winoS2OutAVX2(y, m *float32, plane, ldy, rows, groups int, lanes, cols *int32, bias, res *float32, relu int) {
	panic("nn: the AVX2 transforms are not in this build")
}

func winoF2OutAVX2(y, m *float32, plane, ldy, rows, groups int, lanes, cols *int32, bias, res *float32, relu int) {
	panic("nn: the AVX2 transforms are not in this build")
}

func winoF2InAVX2(x *float32, chans, xStride int, v *float32, vStride, plane int, plan *winoF2InPlan, masks *[81][8]int32, lanes *int32) {
	panic("nn: the AVX2 transforms are not in this build")
}

// avx2KernelsRowB is empty without the assembly too.
var avx2KernelsRowB [7]func(kc int, a, b, c *float32, ldc int, mask *int32, flags int, bias, res *float32, ldr, ldb, panels int)

func kernel6x16TilesRowBAVX2(kc, tiles int, a, b, c *float32, ldc int, mask *int32, flags int, bias, res *float32, ldr, ldb, panels int) {
	panic("nn: the AVX2 kernels are not in this build")
}

func bnSumAVX2(rows, n int, x *float32, shift *float64, acc *[16]float64) {
	panic("nn: the batch-norm kernels are not in this build")
}

func bnGradSumAVX2(rows, n int, dy, x *float32, mask *uint16, mean *float64, relu int, acc *[16]float64) {
	panic("nn: the batch-norm kernels are not in this build")
}

func bnApplyAVX2(rows, n int, x, y, res *float32, mask *uint16, coef *[4]float32, flags int) {
	panic("nn: the batch-norm kernels are not in this build")
}

func bnGradApplyAVX2(rows, n int, dy, x *float32, mask *uint16, dx, dres *float32, coef *[8]float32, flags int) {
	panic("nn: the batch-norm kernels are not in this build")
}

func interleaveRowsAVX2(dst *float32, ldd int, src *float32, lds, rows, blocks int) {
	panic("nn: the AVX2 kernels are not in this build")
}

func winoF2DyAVX2(dy *float32, ldy, rows int, u *float32, plane, groups int, lanes, cols *int32) {
	panic("nn: the AVX2 transforms are not in this build")
}

func maxRowsAVX2(dst, src *float32, chunks, rows, stride int, last *int32) {
	panic("nn: the AVX2 pooling kernels are not in this build")
}

func maxPool3s2AVX2(dst, cols *float32, chunks int, last *int32) {
	panic("nn: the AVX2 pooling kernels are not in this build")
}

func evensAVX2(dst, src *float32, chunks int) {
	panic("nn: the AVX2 kernels are not in this build")
}

func gradDotAVX2(kb, cb, chunks int, u *float32, ldu int, v *float32, ldv int, m *float32, ldm int, tail *int32) {
	panic("nn: the AVX2 kernels are not in this build")
}

func wino4DyAVX2(dy *float32, chans, dyStride int, u *float32, uStride, plane int, plan *wino4OutPlan, masks *[81][8]int32, lanes *int32) {
	panic("nn: the AVX2 kernels are not in this build")
}

func addToEvensAVX2(dst, src *float32, chunks int) {
	panic("nn: the AVX2 kernels are not in this build")
}

func winoWeightsF2AVX2(dst *float32, dstStride int, w *float32, wStep, n int, idx *[9][16]int32, masks *[8]int32) {
	panic("nn: the Winograd kernels are not in this build")
}

func winoWeightsF4AVX2(dst *float32, dstStride int, w *float32, wStep, n int, idx *[9][16]int32, masks *[8]int32) {
	panic("nn: the Winograd kernels are not in this build")
}

func im2colS2AVX2(dst, src *float32, rows, chunks, dstStride, srcStride, off int, masks *[16]uint32) {
	panic("nn: the AVX2 kernels are not in this build")
}

func col2imS2AVX2(dst, src *float32, rows, chunks, dstStride, srcStride int, masks *[16]uint32) {
	panic("nn: the AVX2 kernels are not in this build")
}
