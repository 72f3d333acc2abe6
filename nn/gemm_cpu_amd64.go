//go:build amd64 && !purego

package nn

import "golang.org/x/sys/cpu"

// haveAVX512 and haveAVX2 report which assembly micro-kernels can run here.
var (
	haveAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ
	haveAVX2   = cpu.X86.HasAVX && cpu.X86.HasAVX2 && cpu.X86.HasFMA
	// haveBNAsm: the batch-norm kernels need AVX512F and, for
	// VEXTRACTF32X8, AVX512DQ, or else AVX2 and FMA.
	haveBNAsm = haveAVX512 || haveAVX2
)

// avx512Kernels[r] is the AVX-512 kernel for r rows of a 12-row panel;
// avx512Kernels16[r] is the same for the first 16 columns of a panel
// alone, for an edge panel of 16 columns or fewer.
var avx512Kernels = [13]func(kc int, a, b, c *float32, ldc int, mask uint32, flags int, bias, res *float32, ldr int){
	nil, kernel1x32AVX512, kernel2x32AVX512, kernel3x32AVX512, kernel4x32AVX512,
	kernel5x32AVX512, kernel6x32AVX512, kernel7x32AVX512, kernel8x32AVX512,
	kernel9x32AVX512, kernel10x32AVX512, kernel11x32AVX512, kernel12x32AVX512,
}

// avx512KernelsRowB[r] is avx512Kernels[r] for a B read in place, its
// rows ldb floats apart.
var avx512KernelsRowB = [13]func(kc int, a, b, c *float32, ldc int, mask uint32, flags int, bias, res *float32, ldr, ldb int){
	nil, kernel1x32RowBAVX512, kernel2x32RowBAVX512, kernel3x32RowBAVX512, kernel4x32RowBAVX512,
	kernel5x32RowBAVX512, kernel6x32RowBAVX512, kernel7x32RowBAVX512, kernel8x32RowBAVX512,
	kernel9x32RowBAVX512, kernel10x32RowBAVX512, kernel11x32RowBAVX512, kernel12x32RowBAVX512,
}

var avx512Kernels16 = [13]func(kc int, a, b, c *float32, ldc int, mask uint32, flags int, bias, res *float32, ldr int){
	nil, kernel1x16AVX512, kernel2x16AVX512, kernel3x16AVX512, kernel4x16AVX512,
	kernel5x16AVX512, kernel6x16AVX512, kernel7x16AVX512, kernel8x16AVX512,
	kernel9x16AVX512, kernel10x16AVX512, kernel11x16AVX512, kernel12x16AVX512,
}

// avx2Kernels[r] is the AVX2 kernel for r rows of a 6-row panel.
var avx2Kernels = [7]func(kc int, a, b, c *float32, ldc int, mask *int32, flags int, bias, res *float32, ldr int){
	nil, kernel1x16AVX2, kernel2x16AVX2, kernel3x16AVX2, kernel4x16AVX2, kernel5x16AVX2, kernel6x16AVX2,
}

// avx2Kernels8[r] is avx2Kernels[r] 8 columns wide, for an edge panel
// of up to 8 columns.
var avx2Kernels8 = [7]func(kc int, a, b, c *float32, ldc int, mask *int32, flags int, bias, res *float32, ldr int){
	nil, kernel1x8AVX2, kernel2x8AVX2, kernel3x8AVX2, kernel4x8AVX2, kernel5x8AVX2, kernel6x8AVX2,
}

// avx2KernelsRowB[r] is avx2Kernels[r] for a B read in place, its rows
// ldb floats apart.
var avx2KernelsRowB = [7]func(kc int, a, b, c *float32, ldc int, mask *int32, flags int, bias, res *float32, ldr, ldb, panels int){
	nil, kernel1x16RowBAVX2, kernel2x16RowBAVX2, kernel3x16RowBAVX2, kernel4x16RowBAVX2, kernel5x16RowBAVX2, kernel6x16RowBAVX2,
}
