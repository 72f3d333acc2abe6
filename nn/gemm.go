package nn

// Blocking of the GEMM: a KC x NC panel of B and an MC x KC panel of A are
// packed so that the micro-kernels stream through contiguous memory. KC
// was measured: on Zen 4 a 1024^3 product on one core runs at 84% of the
// FMA ceiling with KC 256 and 91% with 512 (fewer passes over C), and the
// networks are as fast or faster (bench/peak's BenchmarkGemm1024OfPeak,
// go test -bench . ./bench). The AVX2 kernels take avx2KC.
const (
	gemmKC = 512
	gemmMC = 96   // a multiple of every kernel's rows (12, 6, 4)
	gemmNC = 4096 // a multiple of every kernel's columns; A is repacked once per NC columns
)

//go:generate sh -c "cd _asm && go run . -out ../kernels_amd64.s -stubs /tmp/nn_kernels_stub_amd64.go -pkg nn && mv /tmp/nn_kernels_stub_amd64.go ../kernels_stub_amd64.go"

// useAVX512 and useAVX2 select an assembly micro-kernel (12x32 with
// AVX-512, else 6x16 with AVX2 and FMA) over the pure-Go one (4x4); tests
// switch them to compare the kernels.
var (
	useAVX512 = haveAVX512
	useAVX2   = haveAVX2 && !haveAVX512
)

// avx2Rows and avx2Cols are the AVX2 kernels' tile (nn/_asm's).
const (
	avx2Rows = 6
	avx2Cols = 16
)

// avx2KC is the AVX2 kernels' block of K: a panel of B 384 deep is 24 KB,
// which leaves room in a 32 KB L1 for the panels of A streaming past it
// (512 fills it). On a Zen 3 core the 1024^3 product ran at 71-82% of the
// FMA ceiling with 384 against 68-83% with 512, medians 80% and 76% over
// six interleaved runs (go test -bench Gemm1024OfPeak ./bench/peak).
const avx2KC = 384

// blockK is the block of K of the kernel in use (a PackedA is packed in
// blocks of it).
func blockK() int {
	if useAVX2 {
		return avx2KC
	}
	return gemmKC
}

// tileShape is the register tile of the micro-kernel in use.
func tileShape() (mr, nr int) {
	switch {
	case useAVX512:
		return 12, 32
	case useAVX2:
		return avx2Rows, 16
	}
	return 4, 4
}

// Workspace is scratch memory for the kernels: GEMM packing buffers and
// the im2col matrix of the largest convolution. A model owns one, so the
// kernels allocate nothing. It is not safe for concurrent use; the GEMM's
// helper goroutines have workspaces of their own.
type Workspace struct {
	packA, packB []float32
	shares       shares                  // the parallel shares of one GEMM or convolution
	conv         convTask                // the convolution whose images are being shared
	convBack     convBackTask            // the same for a backward pass
	bn           bnTask                  // the batch norm whose channels are being shared
	pool         poolTask                // the max pooling whose planes are being shared
	shortcut     shortcutTask            // the option-A shortcut whose images are being shared
	linear       linearTask              // the small-batch Linear whose outputs are being shared
	winoDot      winoDotTask             // the Winograd weight-gradient elements being shared
	gradRows     gradRowsTask            // the rows of a weight gradient by dot products being shared
	packs        map[packKey]*PackedConv // training's Winograd weights, per shape
	callPack     PackedA                 // one call's weights, packed (callA)
	callConv     PackedConv              // callPack as a convolution's
	winoPhase    winoPhaseTask           // the phase of a Winograd conv being shared (winoPhases)
	packTask     packTask                // the Winograd weights being transformed (packShared)
	Col          []float32               // im2col / col2im scratch, at least the largest conv's need
}

// NewWorkspace returns a workspace whose im2col scratch holds colFloats.
func NewWorkspace(colFloats int) *Workspace {
	return &Workspace{
		packA: make([]float32, gemmMC*gemmKC),
		packB: make([]float32, gemmKC*gemmNC),
		Col:   make([]float32, colFloats),
	}
}

// Gemm computes C = op(A) * op(B) + beta*C for row-major matrices, where
// op(A) is m x k (A is stored k x m when transA) and op(B) is k x n (B is
// stored n x k when transB); lda, ldb and ldc are the row strides.
func Gemm(ws *Workspace, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	GemmEpilogue(ws, transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc, nil)
}

// Epilogue is work the GEMM does as it writes its result, so that no
// separate pass over memory is needed: C[i][j] += Bias[i], then
// C[i][j] += Residual[i*LdR+j], then max(C[i][j], 0) if ReLU.
type Epilogue struct {
	Bias     []float32 // one per row of C, or nil
	Residual []float32 // laid out like C with row stride LdR, or nil
	LdR      int
	ReLU     bool
}

// GemmEpilogue is Gemm followed by the epilogue epi (which may be nil),
// applied while the last panel of K is written back.
func GemmEpilogue(ws *Workspace, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, epi *Epilogue) {
	gemmParallel(ws, transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc, epi, nil)
}

// PackedA is a row-major m x k matrix A packed once for the micro-kernel,
// as GemmEpilogue would pack it on every call: inference weights, which
// change only when weights load or training steps. Packing costs as much
// as the multiplies when C has few columns (late layers at batch 1).
type PackedA struct {
	m, k, mr int // mr 0: not packed yet
	data     []float32
	row0     int // a view of the rows from row0 on (a multiple of mr), for a share of the rows
}

// NewPackedA allocates room for an m x k matrix packed for any kernel.
func NewPackedA(m, k int) *PackedA {
	return &PackedA{m: m, k: k, data: make([]float32, (m+11)/12*12*k)}
}

// Pack packs a (m x k, row-major) for the kernel in use.
func (p *PackedA) Pack(a []float32) { p.pack(a, p.k, false) }

// pack packs a, m x k with rows lda floats apart or, if trans, its
// transpose (k x m) laid out so.
func (p *PackedA) pack(a []float32, lda int, trans bool) {
	mr, _ := tileShape()
	rows := (p.m + mr - 1) / mr * mr
	kb := blockK()
	for pc := 0; pc < p.k; pc += kb {
		kc := min(kb, p.k-pc)
		for ic := 0; ic < p.m; ic += gemmMC {
			mc := min(gemmMC, p.m-ic)
			packA(p.data[pc*rows+ic*kc:], trans, a, lda, ic, pc, mc, kc, mr)
		}
	}
	p.mr = mr
}

// callA packs a (as PackedA.pack takes it) into the workspace for one
// call: a training conv's weights, which its GEMMs over the images would
// each pack again (at batch 128, the stride-2 convs of ResNet-20 spent 8%
// of their forward and 11% of their backward time packing them).
func (ws *Workspace) callA(m, k int, a []float32, lda int, trans bool) *PackedA {
	need := (m + 11) / 12 * 12 * k
	if cap(ws.callPack.data) < need {
		ws.callPack.data = make([]float32, need)
	}
	ws.callPack = PackedA{m: m, k: k, data: ws.callPack.data[:need]}
	ws.callPack.pack(a, lda, trans)
	return &ws.callPack
}

// panel returns the packed block at (pc, ic) if a is packed for mr.
func (p *PackedA) panel(pc, ic, kc, mr int) []float32 {
	if p == nil || p.mr != mr {
		return nil
	}
	// Panels of mr rows follow one another in every block of K, so row r
	// (a multiple of mr) starts at r*kc, whichever block of MC holds it.
	rows := (p.m + mr - 1) / mr * mr
	return p.data[pc*rows+(p.row0+ic)*kc:]
}

// GemmPacked is GemmEpilogue with A (not transposed) taken from pa, which
// must hold a packed for the kernel in use or is repacked from a per call.
func GemmPacked(ws *Workspace, pa *PackedA, m, n, k int, a []float32, b []float32, ldb int, beta float32, c []float32, ldc int, epi *Epilogue) {
	gemmParallel(ws, false, false, m, n, k, a, k, b, ldb, beta, c, ldc, epi, pa)
}

// gemmRowB multiplies the mc x kc block of A at packed (12-row panels)
// by 32 columns of a row-major B read in place (rows ldb floats apart,
// from b[0]) into C's rows from ic and columns from jc, as gemmBlocks
// does a panel: the whole tiles in one call, then the edge rows.
func gemmRowB(kc, mc int, packed, b []float32, ldb int, c []float32, ldc, ic, jc int, store, last bool, epi *Epilogue) {
	_ = b[(kc-1)*ldb+31]
	if tiles := mc / 12; tiles > 0 {
		flags, bias, res, ldr := tileEpilogue(store, last, epi, ic, jc)
		kernel12x32TilesRowBAVX512(kc, tiles, &packed[0], &b[0], &c[ic*ldc+jc], ldc, 0xffffffff, flags, bias, res, ldr, ldb)
	}
	if ir := mc / 12 * 12; ir < mc {
		flags, bias, res, ldr := tileEpilogue(store, last, epi, ic+ir, jc)
		_ = c[(ic+mc-1)*ldc+jc+31]
		avx512KernelsRowB[mc-ir](kc, &packed[ir*kc], &b[0], &c[(ic+ir)*ldc+jc], ldc, 0xffffffff, flags, bias, res, ldr, ldb)
	}
}

// gemmRowBAVX2 is gemmRowB for the AVX2 kernels: panels panels of 16
// columns of a row-major B read in place, side by side, in one call for
// the whole tiles and one for the edge rows.
func gemmRowBAVX2(kc, mc int, packed, b []float32, ldb int, c []float32, ldc, ic, jc, panels int, store, last bool, epi *Epilogue) {
	w := avx2Cols * panels
	_, _ = b[(kc-1)*ldb+w-1], c[(ic+mc-1)*ldc+jc+w-1]
	if last && epi != nil && epi.Residual != nil {
		_ = epi.Residual[(ic+mc-1)*epi.LdR+jc+w-1]
	}
	if tiles := mc / avx2Rows; tiles > 0 {
		flags, bias, res, ldr := tileEpilogue(store, last, epi, ic, jc)
		kernel6x16TilesRowBAVX2(kc, tiles, &packed[0], &b[0], &c[ic*ldc+jc], ldc, nil, flags, bias, res, ldr, ldb, panels)
	}
	if ir := mc / avx2Rows * avx2Rows; ir < mc {
		flags, bias, res, ldr := tileEpilogue(store, last, epi, ic+ir, jc)
		avx2KernelsRowB[mc-ir](kc, &packed[ir*kc], &b[0], &c[(ic+ir)*ldc+jc], ldc, nil, flags, bias, res, ldr, ldb, panels)
	}
}

// readRowB reports whether the assembly kernels read the whole panels of
// a row-major B (rows ldb floats apart, m rows of A) in place: packing
// them cost more than the kernels gain from contiguous panels, except
//   - where B's rows lie a multiple of 4 KB apart: a panel's rows would
//     all fall in one set of the cache (the 1024^3 GEMM ran at 91-92% of
//     the peak read in place, 92-93% packed);
//   - with AVX2, where the rows are not 32-byte aligned, so that each
//     step's two loads straddle a cache line, and 512 rows or more share
//     each panel, so that the pack pays: at 512 and 2048 rows GEMMs by 49
//     columns ran 6-18% faster packed; at 64 and 128 rows (a Winograd
//     pass's), 10-30% slower.
func readRowB(m, ldb int) bool {
	switch {
	case !useAVX512 && !useAVX2, ldb%1024 == 0:
		return false
	case useAVX2 && ldb%8 != 0 && m >= 512:
		return false
	}
	return true
}

// gemmSerial is GemmEpilogue on the calling goroutine.
func gemmSerial(ws *Workspace, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, epi *Epilogue, pa *PackedA) {
	gemmBlocks(ws, transA, transB, m, n, k, a, lda, b, ldb, nil, beta, c, ldc, epi, pa)
}

// gemmBlocks is gemmSerial, with B either in b (packed here, block by
// block) or, if packedB is not nil, already packed there: for every block
// of K at pc, its panels of nr0 columns at packedB[pc*npad:], npad being n
// rounded up to nr0 (packedB needs n <= gemmNC: one block of columns).
func gemmBlocks(ws *Workspace, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, packedB []float32, beta float32, c []float32, ldc int, epi *Epilogue, pa *PackedA) {
	if m == 0 || n == 0 {
		return
	}
	if beta != 0 && beta != 1 || k == 0 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				if beta == 0 {
					row[j] = 0
				} else {
					row[j] *= beta
				}
			}
		}
		beta = 1
		if k == 0 {
			applyEpilogue(c, ldc, 0, 0, m, n, epi)
			return
		}
	}
	mr0, nr0 := tileShape()
	kb := blockK()
	var idx [2][16]int32 // gemmColumns' offsets down a tile: i*ldc and i*LdR
	if useAVX512 {
		for i := range mr0 {
			idx[0][i] = int32(i * ldc)
			if epi != nil {
				idx[1][i] = int32(i * epi.LdR)
			}
		}
	}
	for jc := 0; jc < n; jc += gemmNC {
		nc := min(gemmNC, n-jc)
		for pc := 0; pc < k; pc += kb {
			kc := min(kb, k-pc)
			// The first panel of K stores (beta 0) instead of accumulating,
			// so C is never cleared first; the last applies the epilogue.
			store, last := pc == 0 && beta == 0, pc+kc >= k
			// A row-major B's whole panels are read in place (rowB
			// columns) where readRowB says; the rest is packed.
			rowB := 0
			if !transB && packedB == nil && readRowB(m, ldb) {
				rowB = nc / nr0 * nr0
			}
			pb := ws.packB
			if packedB != nil {
				pb = packedB[pc*((n+nr0-1)/nr0*nr0):]
			} else if rowB < nc {
				packB(ws.packB, transB, b, ldb, pc, jc+rowB, kc, nc-rowB, nr0)
			}
			for ic := 0; ic < m; ic += gemmMC {
				mc := min(gemmMC, m-ic)
				packed := pa.panel(pc, ic, kc, mr0)
				if packed == nil {
					packA(ws.packA, transA, a, lda, ic, pc, mc, kc, mr0)
					packed = ws.packA
				}
				switch {
				case rowB == 0:
				case useAVX2:
					gemmRowBAVX2(kc, mc, packed, b[pc*ldb+jc:], ldb, c, ldc, ic, jc, rowB/nr0, store, last, epi)
				default:
					for jr := 0; jr < rowB; jr += nr0 {
						gemmRowB(kc, mc, packed, b[pc*ldb+jc+jr:], ldb, c, ldc, ic, jc+jr, store, last, epi)
					}
				}
				for jr := rowB; jr < nc; jr += nr0 {
					nr := min(nr0, nc-jr)
					pb := pb[(jr-rowB)*kc : (jr-rowB)*kc+kc*nr0]
					single := 0
					if useAVX512 {
						nr, single = edgeColumns(nr)
						if single > 0 {
							// Past 16 columns, the whole tiles take them with
							// the 16 (singlesKernel); alone, only the edge rows.
							from := 0
							if nr == 16 && mc >= mr0 {
								from = mc / mr0 * mr0
							}
							gemmColumns(kc, mc, from, single, packed, pb[nr:], c, ldc, ic, jc+jr+nr, store, last, epi, &idx)
						}
						if nr == 0 {
							continue
						}
					}
					ir0 := 0
					if useAVX512 && mc >= mr0 {
						// The whole tiles down this panel of B in one call.
						ir0 = mc / mr0 * mr0
						flags, bias, res, ldr := tileEpilogue(store, last, epi, ic, jc+jr)
						switch {
						case nr == 16 && single > 0:
							singlesKernel(single, kc, mc/mr0, &packed[0], &pb[0], &c[ic*ldc+jc+jr], ldc, flags, bias, res, ldr, &idx)
						case nr <= 16:
							kernel12x16TilesAVX512(kc, mc/mr0, &packed[0], &pb[0], &c[ic*ldc+jc+jr], ldc, columnMask(nr), flags, bias, res, ldr)
						default:
							kernel12x32TilesAVX512(kc, mc/mr0, &packed[0], &pb[0], &c[ic*ldc+jc+jr], ldc, columnMask(nr), flags, bias, res, ldr)
						}
					}
					if useAVX2 && mc >= mr0 {
						ir0 = mc / mr0 * mr0
						flags, bias, res, ldr := tileEpilogue(store, last, epi, ic, jc+jr)
						tilesKernel := kernel6x16TilesAVX2
						if nr <= 8 {
							tilesKernel = kernel6x8TilesAVX2 // half the work for an edge panel
						}
						tilesKernel(kc, mc/mr0, &packed[0], &pb[0], &c[ic*ldc+jc+jr], ldc, avx2Mask(nr), flags, bias, res, ldr)
					}
					for ir := ir0; ir < mc; ir += mr0 {
						mr := min(mr0, mc-ir)
						pa := packed[ir*kc : ir*kc+kc*mr0]
						cc := c[(ic+ir)*ldc+jc+jr:]
						switch {
						case useAVX512:
							flags, bias, res, ldr := tileEpilogue(store, last, epi, ic+ir, jc+jr)
							kernel := avx512Kernels[mr]
							if nr <= 16 {
								kernel = avx512Kernels16[mr] // half the work for an edge panel
							}
							kernel(kc, &pa[0], &pb[0], &cc[0], ldc, columnMask(nr), flags, bias, res, ldr)
						case useAVX2:
							flags, bias, res, ldr := tileEpilogue(store, last, epi, ic+ir, jc+jr)
							kernel := avx2Kernels[mr]
							if nr <= 8 {
								kernel = avx2Kernels8[mr]
							}
							kernel(kc, &pa[0], &pb[0], &cc[0], ldc, avx2Mask(nr), flags, bias, res, ldr)
						default:
							kernel4x4(kc, pa, pb, cc, ldc, mr, nr, store)
						}
					}
				}
				// The block of C just finished is still in cache: finish it
				// there, in long rows rather than tile by tile (the assembly
				// kernels did it in registers already).
				if last && epi != nil && !useAVX512 && !useAVX2 {
					applyEpilogue(c, ldc, ic, jc, mc, nc, epi)
				}
			}
		}
	}
}

// maxSingleColumns is the most columns past a multiple of 16 that the
// AVX-512 path multiplies apart from the others (edgeColumns).
const maxSingleColumns = 4

// edgeColumns splits a panel's nr columns for the AVX-512 kernels: wide
// for the 32- or 16-column kernels, then single ones for gemmColumns. A
// few columns past a multiple of 16 (7x7 = 49 is 32 + 16 + 1, 14x14 = 196
// is 6 x 32 + 4) would each time run a kernel 16 columns wide, 12
// multiplies a step of k for a tile; alone they take one a column. At
// batch 1 and 2 goroutines, a 512 x 2048 by 2048 x 49 GEMM went from 0.71
// to 0.60 ms (48 columns: 0.51).
func edgeColumns(nr int) (wide, single int) {
	if r := nr % 16; r != 0 && r <= maxSingleColumns {
		return nr - r, r
	}
	return nr, 0
}

// gemmColumns is n columns of C from col on, from rows [from, mc) of the
// packed block of A (mc rows; from 0 or past its whole 12-row tiles) and
// the columns of a packed panel of B at b[0] (step k of column j at
// b[32k+j]), with the tile kernels' epilogue: the whole 12-row tiles in
// one call, then the edge tile's rows under a mask. idx holds the offsets
// down a tile of C and of the residual.
func gemmColumns(kc, mc, from, n int, a, b, c []float32, ldc, row, col int, store, last bool, epi *Epilogue, idx *[2][16]int32) {
	if tiles := mc / 12; tiles > 0 && from == 0 {
		flags, bias, res, ldr := tileEpilogue(store, last, epi, row, col)
		columnKernel(n, kc, tiles, &a[0], &b[0], &c[row*ldc+col], ldc, 0x0fff, flags, bias, res, ldr, idx)
	}
	if mr := mc % 12; mr > 0 {
		ir := mc - mr
		flags, bias, res, ldr := tileEpilogue(store, last, epi, row+ir, col)
		columnKernel(n, kc, 1, &a[ir*kc], &b[0], &c[(row+ir)*ldc+col], ldc, uint16(1)<<mr-1, flags, bias, res, ldr, idx)
	}
}

// singlesKernel calls the AVX-512 kernel for 16 columns and n (1 to 4)
// past them, directly for the same reason as columnKernel.
func singlesKernel(n, kc, tiles int, a, b, c *float32, ldc, flags int, bias, res *float32, ldr int, idx *[2][16]int32) {
	const mask = 0xffff // the 16 columns
	switch n {
	case 1:
		kernel12x16s1TilesAVX512(kc, tiles, a, b, c, ldc, mask, flags, bias, res, ldr, idx)
	case 2:
		kernel12x16s2TilesAVX512(kc, tiles, a, b, c, ldc, mask, flags, bias, res, ldr, idx)
	case 3:
		kernel12x16s3TilesAVX512(kc, tiles, a, b, c, ldc, mask, flags, bias, res, ldr, idx)
	default:
		kernel12x16s4TilesAVX512(kc, tiles, a, b, c, ldc, mask, flags, bias, res, ldr, idx)
	}
}

// columnKernel calls the AVX-512 kernel for n columns alone: directly, not
// through a table of funcs, so that idx does not escape to the heap.
func columnKernel(n, kc, tiles int, a, b, c *float32, ldc int, rows uint16, flags int, bias, res *float32, ldr int, idx *[2][16]int32) {
	switch n {
	case 1:
		kernel12x1TilesAVX512(kc, tiles, a, b, c, ldc, rows, flags, bias, res, ldr, idx)
	case 2:
		kernel12x2TilesAVX512(kc, tiles, a, b, c, ldc, rows, flags, bias, res, ldr, idx)
	case 3:
		kernel12x3TilesAVX512(kc, tiles, a, b, c, ldc, rows, flags, bias, res, ldr, idx)
	default:
		kernel12x4TilesAVX512(kc, tiles, a, b, c, ldc, rows, flags, bias, res, ldr, idx)
	}
}

// The AVX-512 kernels' flags (nn/_asm uses the same values).
const (
	flagAccumulate = 1
	flagBias       = 2
	flagResidual   = 4
	flagReLU       = 8
)

// tileEpilogue is the AVX-512 kernel's flags and epilogue operands for the
// tile at (row, col): on the last panel of K the epilogue is applied to the
// tile while it is in registers.
func tileEpilogue(store, last bool, epi *Epilogue, row, col int) (flags int, bias, res *float32, ldr int) {
	if !store {
		flags = flagAccumulate
	}
	if !last || epi == nil {
		return flags, nil, nil, 0
	}
	if epi.Bias != nil {
		flags |= flagBias
		bias = &epi.Bias[row]
	}
	if epi.Residual != nil {
		flags |= flagResidual
		res, ldr = &epi.Residual[row*epi.LdR+col], epi.LdR
	}
	if epi.ReLU {
		flags |= flagReLU
	}
	return flags, bias, res, ldr
}

// avx2Masks holds the AVX2 kernels' column masks: the 16 int32 from
// 16-nr on enable the first nr columns (sign bits set).
var avx2Masks = [32]int32{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}

// avx2Mask is the AVX2 kernels' mask for the first nr of 16 columns: nil
// (plain moves) for all of them.
func avx2Mask(nr int) *int32 {
	if nr >= 16 {
		return nil
	}
	return &avx2Masks[16-nr]
}

// columnMask enables the first nr of an AVX-512 kernel's 32 columns.
func columnMask(nr int) uint32 {
	return uint32(uint64(1)<<nr - 1)
}

// applyEpilogue finishes the mr x nr block of C at (row, col).
func applyEpilogue(c []float32, ldc, row, col, mr, nr int, epi *Epilogue) {
	if epi == nil {
		return
	}
	for i := 0; i < mr; i++ {
		out := c[(row+i)*ldc+col : (row+i)*ldc+col+nr]
		if epi.Bias != nil {
			b := epi.Bias[row+i]
			for j := range out {
				out[j] += b
			}
		}
		if epi.Residual != nil {
			res := epi.Residual[(row+i)*epi.LdR+col:][:nr]
			for j := range out {
				out[j] += res[j]
			}
		}
		if epi.ReLU {
			for j, v := range out {
				out[j] = max(v, 0)
			}
		}
	}
}

// packA copies op(A)[ic:ic+mc, pc:pc+kc] into mr0-row panels, each stored
// k-major (MR values per k), padding the last panel with zeros.
func packA(dst []float32, trans bool, a []float32, lda, ic, pc, mc, kc, mr0 int) {
	for ir := 0; ir < mc; ir += mr0 {
		panel := dst[ir*kc : ir*kc+kc*mr0]
		mr := min(mr0, mc-ir)
		if !trans {
			// Weights times columns: 16 x 16 register transposes where the
			// kernel has them, then each row of A read contiguously and
			// scattered into the panel; an edge panel's missing rows are 0.
			// An edge panel goes by register transposes too when a holds
			// all 12 rows (a caller may pad it so); the rows past the
			// edge are not read by the AVX-512 kernels.
			done := 0
			if useAVX512 && mr0 == 12 && (mr == mr0 || (ic+ir+mr0-1)*lda+pc+(kc&^15) <= len(a)) {
				done = kc &^ 15
				if done > 0 {
					transposePack12AVX512(&panel[0], &a[(ic+ir)*lda+pc], lda, done/16)
				}
			}
			if useAVX2 && mr0 == avx2Rows {
				// Steps of 8 while the 8-value stores stay inside the panel.
				done = (kc - 1) / 8 * 8
				if done > 0 {
					_ = a[(ic+ir+mr-1)*lda+pc+done-1]
					interleaveRowsAVX2(&panel[0], mr0, &a[(ic+ir)*lda+pc], lda, mr, done/8)
				}
			}
			for i := 0; i < mr; i++ {
				row := a[(ic+ir+i)*lda+pc+done : (ic+ir+i)*lda+pc+kc]
				for p, v := range row {
					panel[(done+p)*mr0+i] = v
				}
			}
			// The AVX-512 kernels read only an edge panel's own rows.
			if mr < mr0 && !useAVX512 {
				for p := 0; p < kc; p++ {
					clear(panel[p*mr0+mr : p*mr0+mr0])
				}
			}
			continue
		}
		// A transposed: each step of k is a contiguous run of A.
		for p := 0; p < kc; p++ {
			out := panel[p*mr0 : p*mr0+mr0]
			copy(out[:mr], a[(pc+p)*lda+ic+ir:(pc+p)*lda+ic+ir+mr])
			clear(out[mr:])
		}
	}
}

// packB copies op(B)[pc:pc+kc, jc:jc+nc] into nr0-column panels, each
// stored k-major, padding the last panel with zeros.
func packB(dst []float32, trans bool, b []float32, ldb, pc, jc, kc, nc, nr0 int) {
	for jr := 0; jr < nc; jr += nr0 {
		panel := dst[jr*kc : jr*kc+kc*nr0]
		nr := min(nr0, nc-jr)
		if !trans && useAVX512 && nr0 == 32 {
			// Rows of B as they lie, an edge panel's under a mask: 7x7's
			// 49 columns leave one of 17, which a scalar loop took a tenth
			// of a batch-1 GEMM's time to pack.
			packRowsAVX512(&panel[0], &b[pc*ldb+jc+jr], ldb, kc, columnMask(nr))
			continue
		}
		if !trans && nr == nr0 {
			for p := 0; p < kc; p++ {
				src := b[(pc+p)*ldb+jc+jr : (pc+p)*ldb+jc+jr+nr0]
				copy(panel[p*nr0:p*nr0+nr0], src)
			}
			continue
		}
		if trans && nr == nr0 {
			// B stored transposed (the weight gradient's im2col columns):
			// 16 x 16 register transposes where the kernel has them, then
			// each row read contiguously and scattered into the panel.
			done := 0
			if useAVX512 && nr0 == 32 {
				done = kc &^ 15
				if done > 0 {
					transposePackAVX512(&panel[0], &b[(jc+jr)*ldb+pc], ldb, done/16)
				}
			}
			if useAVX2 && nr0 == 16 {
				done = kc &^ 7
				if done > 0 {
					_ = b[(jc+jr+15)*ldb+pc+done-1]
					interleaveRowsAVX2(&panel[0], 16, &b[(jc+jr)*ldb+pc], ldb, 8, done/8)
					interleaveRowsAVX2(&panel[8], 16, &b[(jc+jr+8)*ldb+pc], ldb, 8, done/8)
				}
			}
			for j := 0; j < nr0; j++ {
				row := b[(jc+jr+j)*ldb+pc+done : (jc+jr+j)*ldb+pc+kc]
				for p, v := range row {
					panel[(done+p)*nr0+j] = v
				}
			}
			continue
		}
		// An edge panel: with B transposed and at least 16 columns, the
		// first 16 go by register transposes as above.
		done := 0
		if trans && useAVX512 && nr0 == 32 && nr >= 16 {
			done = kc &^ 15
			if done > 0 {
				transposePack16AVX512(&panel[0], &b[(jc+jr)*ldb+pc], ldb, done/16)
			}
		}
		// The AVX-512 kernels never store an edge panel's missing columns,
		// so those need no zeros.
		end := nr0
		if useAVX512 {
			end = nr
		}
		start := 0
		if end <= 16 {
			start = done // the register transposes did those rows whole
		}
		for p := start; p < kc; p++ {
			out := panel[p*nr0 : p*nr0+nr0]
			j0 := 0
			if p < done {
				j0 = 16
			}
			for j := j0; j < end; j++ {
				if j >= nr {
					out[j] = 0
				} else if trans {
					out[j] = b[(jc+jr+j)*ldb+pc+p]
				} else {
					out[j] = b[(pc+p)*ldb+jc+jr+j]
				}
			}
		}
	}
}

// kernel4x4 adds the product of a packed 4 x kc panel of A and a packed
// kc x 4 panel of B to the mr x nr corner of C, or stores it there.
func kernel4x4(kc int, pa, pb []float32, c []float32, ldc, mr, nr int, store bool) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	pa = pa[:kc*4]
	pb = pb[:kc*4]
	for p := 0; p+4 <= len(pa); p += 4 {
		a := pa[p : p+4 : p+4]
		b := pb[p : p+4 : p+4]
		a0, a1, a2, a3 := a[0], a[1], a[2], a[3]
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	acc := [4][4]float32{
		{c00, c01, c02, c03},
		{c10, c11, c12, c13},
		{c20, c21, c22, c23},
		{c30, c31, c32, c33},
	}
	if store {
		if mr == 4 && nr == 4 {
			for i := 0; i < 4; i++ {
				row := c[i*ldc : i*ldc+4 : i*ldc+4]
				row[0], row[1], row[2], row[3] = acc[i][0], acc[i][1], acc[i][2], acc[i][3]
			}
			return
		}
		for i := 0; i < mr; i++ {
			for j := 0; j < nr; j++ {
				c[i*ldc+j] = acc[i][j]
			}
		}
		return
	}
	if mr == 4 && nr == 4 {
		for i := 0; i < 4; i++ {
			row := c[i*ldc : i*ldc+4 : i*ldc+4]
			row[0] += acc[i][0]
			row[1] += acc[i][1]
			row[2] += acc[i][2]
			row[3] += acc[i][3]
		}
		return
	}
	for i := 0; i < mr; i++ {
		for j := 0; j < nr; j++ {
			c[i*ldc+j] += acc[i][j]
		}
	}
}
