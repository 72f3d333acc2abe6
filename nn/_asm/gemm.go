// Command _asm generates nn's assembly with avo: the GEMM micro-kernels,
// the batch-norm, im2col and packing kernels (bn.go), the Winograd
// transforms (wino.go) and the max-pooling kernels (pool.go):
//
//	cd nn/_asm && go run . -out ../kernels_amd64.s -stubs ../kernels_stub_amd64.go -pkg nn
//
// (go generate in nn runs it). It is its own module so that avo is not a
// dependency of the packages an application vendors.
package main

import (
	"flag"
	"fmt"
	"strings"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// peak selects the FMA-peak probe of bench/peak instead of nn's kernels:
//
//	cd nn/_asm && go run . -peak -out ../../bench/peak/peak_amd64.s -stubs ../../bench/peak/peak_stub_amd64.go -pkg peak
var peak = flag.Bool("peak", false, "generate bench/peak's FMA loop instead of nn's kernels")

func main() {
	flag.Parse()
	if *peak {
		Package("github.com/resnetc/resnetc/bench/peak")
		ConstraintExpr("amd64")
		fmaLoop("fmaLoopAVX512", 16)
		fmaLoop("fmaLoopAVX2", 8)
		Generate()
		return
	}
	Package("github.com/resnetc/resnetc/nn")
	ConstraintExpr("amd64,!purego")
	for _, cols := range []int{32, 16} {
		for rows := 1; rows <= 12; rows++ {
			kernelAVX512(rows, cols, false, false, 0)
		}
		kernelAVX512(12, cols, true, false, 0)
	}
	for rows := 1; rows <= 12; rows++ {
		kernelAVX512(rows, 32, false, true, 0)
	}
	kernelAVX512(12, 32, true, true, 0)
	for cols := 1; cols <= 4; cols++ {
		kernel12xNTiles(cols)
		// The 16-column edge panel with the few columns past it.
		kernelAVX512(12, 16, true, false, cols)
	}
	for _, strided := range []bool{false, true} {
		for rows := 1; rows <= avx2Rows; rows++ {
			kernelAVX2(rows, avx2Cols, false, strided)
		}
		kernelAVX2(avx2Rows, avx2Cols, true, strided)
	}
	// Edge panels of up to 8 columns (7x7 = 49 is 3 x 16 + 1).
	for rows := 1; rows <= avx2Rows; rows++ {
		kernelAVX2(rows, 8, false, false)
	}
	kernelAVX2(avx2Rows, 8, true, false)
	interleaveAVX2()
	bnSum()
	bnGradSum()
	bnApply()
	bnGradApply()
	bnSumAVX2()
	bnGradSumAVX2()
	bnApplyAVX2()
	bnGradApplyAVX2()
	for _, e := range []int{0, 4, 8} {
		winoGemm(e)
	}
	wino4InputAVX2()
	wino4OutputAVX2()
	winoInputS2AVX2()
	winoOutputS2AVX2()
	winoInputF2AVX2()
	winoOutputF2AVX2()
	winoDyF2AVX2()
	wino4DyAVX2Kernel()
	for _, g := range []int{1, 2, 4, 8} {
		wino4Input(g)
		wino4Output(g)
		wino4Dy(g)
	}
	rowKernel("im2colRowsAVX512", false, false)
	rowKernel("col2imRowsAVX512", true, false)
	rowKernel("im2colRowsStridedAVX512", false, true)
	rowKernel("col2imRowsStridedAVX512", true, true)
	halfRowKernel("im2colRowsHalfAVX512", false)
	halfRowKernel("col2imRowsHalfAVX512", true)
	transposePack("transposePackAVX512", 32, 32)
	transposePack("transposePack16AVX512", 16, 32)
	transposePack("transposePack12AVX512", 12, 12)
	packRows()
	winoInput()
	winoOutput()
	winoInputS2()
	winoOutputS2()
	winoDy()
	gradDot()
	gradDotAVX2()
	dotRows()
	winoWeightsKernel(2)
	winoWeightsKernel(4)
	winoWeightsKernelAVX2(2)
	winoWeightsKernelAVX2(4)
	maxRows()
	maxPool3s2()
	maxRowsAVX2()
	maxPool3s2AVX2()
	evensAVX2()
	addToEvensAVX2()
	im2colS2AVX2()
	col2imS2AVX2()
	Generate()
}

// fmaLoop is the machine's multiply-add ceiling for vectors of width
// floats (16: ZMM, 8: YMM): 12 independent accumulators (more than FMA
// latency times issue width), no memory.
func fmaLoop(name string, width int) {
	TEXT(name, NOSPLIT, "func(n int) float32")
	Doc(fmt.Sprintf("%s runs n iterations of 12 independent %d-wide FMAs", name, width),
		fmt.Sprintf("(%d flops each) and returns a value that depends on all of them.", 12*width*2))
	vec := ZMM
	if width == 8 {
		vec = YMM
	}
	n := Load(Param("n"), GP64())
	acc := make([]VecVirtual, 12)
	for i := range acc {
		acc[i] = vec()
		VXORPS(acc[i], acc[i], acc[i])
	}
	x, y := vec(), vec()
	VXORPS(x, x, x)
	VXORPS(y, y, y)
	Label("loop")
	for i := range acc {
		VFMADD231PS(x, y, acc[i])
	}
	DECQ(n)
	JNZ(LabelRef("loop"))
	for i := 1; i < len(acc); i++ {
		VADDPS(acc[i], acc[0], acc[0])
	}
	r := XMM()
	VMOVAPS(acc[0].AsX(), r)
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

// kernelAVX512 emits the rows x 32 AVX-512 kernel, rows 1..12: up to 24
// ZMM accumulators, two ZMM rows of B per step of k and FMAs that
// broadcast A's values straight from memory (a separate broadcast
// instruction measured 10% slower on Zen 4). A is packed 12 rows per
// panel whatever rows is, so the edge of a matrix runs with exactly its
// own rows. The tile goes straight to C, stored or added, under a column
// mask, so no tile is ever copied through memory.
//
// With tiles, the kernel runs down a column of C: tiles of 12 rows one
// after another, from consecutive panels of A against the same panel of B,
// so that the small GEMMs of the Winograd convolutions (K = 16 channels)
// do not pay Go's loop and call for every tile.
func kernelAVX512(rows, cols int, tiles, strided bool, singles int) {
	name := fmt.Sprintf("kernel%dx%dAVX512", rows, cols)
	sig := "func(kc int, a, b, c *float32, ldc int, mask uint32, flags int, bias, res *float32, ldr int)"
	if tiles {
		name = fmt.Sprintf("kernel%dx%dTilesAVX512", rows, cols)
		sig = "func(kc, tiles int, a, b, c *float32, ldc int, mask uint32, flags int, bias, res *float32, ldr int)"
	}
	if strided {
		name = strings.Replace(name, "AVX512", "RowBAVX512", 1)
		sig = strings.Replace(sig, ")", ", ldb int)", 1)
	}
	if singles > 0 {
		name = strings.Replace(name, "Tiles", fmt.Sprintf("s%dTiles", singles), 1)
		sig = strings.Replace(sig, ")", ", idx *[2][16]int32)", 1)
	}
	TEXT(name, NOSPLIT, sig)
	if singles > 0 {
		Pragma("noescape") // idx is the caller's array
	}
	doc := []string{fmt.Sprintf("%s stores into (or, with flag 1, adds to) c, a %dx%d tile", name, rows, cols),
		fmt.Sprintf("with rows ldc floats apart, the product of the first %d rows of a packed", rows),
		fmt.Sprintf("12 x kc panel a (12 values per step of k) and the first %d columns of a", cols),
		"packed kc x 32 panel b (32 values per step of k), then applies the",
		"epilogue the other flags ask for: 2 adds bias[i] to row i, 4 adds res",
		"(rows ldr floats apart), 8 the ReLU. Bit j of mask enables column j of",
		"c. kc must be at least 1."}
	if tiles {
		doc = append(doc, "It does so for tiles tiles down c, each from the next panel of a and",
			"the next 12 rows of c, bias and res; tiles must be at least 1.")
	}
	if strided {
		doc = append(doc, "b is not packed: its rows (steps of k) lie ldb floats apart, as a",
			"row-major B does.")
	}
	if singles > 0 {
		doc = append(doc, fmt.Sprintf("It also takes the %d columns of b past those, as kernel12xNTiles does:", singles),
			"a lane per row, their epilogue through gathers and scatters (idx[0]",
			"and idx[1] hold i*ldc and i*ldr).")
	}
	Doc(doc...)
	vecs := cols / 16 // ZMM accumulators a row
	a := Load(Param("a"), GP64())
	var n, c, bias, res Register
	// The columns past cols (singles): the tile's 12 rows a lane each.
	var full Register
	var cidx, ridx, t VecVirtual
	if singles > 0 {
		full = K()
		m := GP32()
		MOVL(U32(0x0fff), m)
		KMOVW(m, full)
		cidx, ridx = columnIndexes()
		t = ZMM()
	}
	if tiles {
		n = Load(Param("tiles"), GP64())
		c = Load(Param("c"), GP64())
		bias = Load(Param("bias"), GP64())
		res = Load(Param("res"), GP64())
		Label("tile")
	}
	if tiles {
		// The tile's rows of c, and of res if the epilogue adds it, are
		// fetched into the cache while the k loop runs: each row is a line
		// or three of its own, ldc floats from the last, and a large layer's
		// output and residual come from memory (resnet50's first stage:
		// 3 MB an image each). They go to L2, not L1: asked of L1 at
		// once, the 48 lines of a tile's c and res cost more than they
		// saved (resnet50's 128 to 512 1x1 convs at batch 8, with the
		// residual: 4.57 ms into L1, 3.96 ms into L2, 4.68 with only c
		// into L1; without the residual the three are within 3%).
		p := GP64()
		ld := Load(Param("ldc"), GP64())
		SHLQ(U8(2), ld)
		prefetchRows(c, p, ld, rows, cols)
		fl := Load(Param("flags"), GP64())
		TESTQ(U32(flagResidual), fl)
		JZ(LabelRef("nopf"))
		ld = Load(Param("ldr"), GP64())
		SHLQ(U8(2), ld)
		prefetchRows(res, p, ld, rows, cols)
		Label("nopf")
	}
	kc := Load(Param("kc"), GP64())
	b := Load(Param("b"), GP64())
	acc := make([]VecVirtual, vecs*rows)
	for i := range acc {
		acc[i] = ZMM()
		VXORPS(acc[i], acc[i], acc[i])
	}
	sacc := make([]VecVirtual, singles)
	for j := range sacc {
		sacc[j] = ZMM()
		VXORPS(sacc[j], sacc[j], sacc[j])
	}
	bv := make([]VecVirtual, vecs)
	for j := range bv {
		bv[j] = ZMM()
	}
	var ldb, ldb3 Register // B's row stride in bytes, and three times it
	if strided {
		ldb, ldb3 = Load(Param("ldb"), GP64()), GP64()
		SHLQ(U8(2), ldb)
		LEAQ(Mem{Base: ldb, Index: ldb, Scale: 2}, ldb3)
	}
	step := func(u int) {
		for j := range bv {
			m := Mem{Base: b, Disp: 128*u + 64*j}
			if strided {
				m = rowAt(b, ldb, ldb3, u, 64*j)
			}
			VMOVUPS(m, bv[j])
		}
		for i := 0; i < rows; i++ {
			for j := range bv {
				VFMADD231PS_BCST(Mem{Base: a, Disp: 48*u + 4*i}, bv[j], acc[vecs*i+j])
			}
		}
		// One FMA a step for each single: its chain waits the 12 FMAs'
		// time, past the latency. Alone, each step brought a line of B
		// and most of one of A into L1 for that multiply; here the tile's
		// steps have (a 512 x 2048 by 2048 x 49 GEMM on one core spent 108
		// us of 1.02 ms on its last column alone, 25 us here).
		if singles > 0 {
			VMOVUPS_Z(Mem{Base: a, Disp: 48 * u}, full, t)
			for j, v := range sacc {
				VFMADD231PS_BCST(Mem{Base: b, Disp: 128*u + 64*vecs + 4*j}, t, v)
			}
		}
	}
	advance := packedB(b)
	if strided {
		advance = func(steps int) {
			for range steps {
				ADDQ(ldb, b)
			}
		}
	}
	kLoop(kc, a, b, step, advance, tiles)

	if !tiles {
		c = Load(Param("c"), GP64())
		bias = Load(Param("bias"), GP64())
		res = Load(Param("res"), GP64())
	}
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	mask := GP32()
	Load(Param("mask"), mask)
	ks := []Register{K()}
	KMOVW(mask, ks[0])
	if vecs == 2 {
		ks = append(ks, K())
		SHRL(U8(16), mask)
		KMOVW(mask, ks[1])
	}
	flags := Load(Param("flags"), GP64())
	ldr := Load(Param("ldr"), GP64())
	SHLQ(U8(2), ldr)
	zero := bv[0]
	VXORPS(zero, zero, zero)
	// The tile's first rows of c and res, for the singles' epilogue.
	var ct, rt Register
	if singles > 0 {
		ct, rt = GP64(), GP64()
		MOVQ(c, ct)
		MOVQ(res, rt)
	}
	// Row by row, under the column mask.
	for i := 0; i < rows; i++ {
		tileRowEpilogue(fmt.Sprint(i), acc[vecs*i:vecs*(i+1)], ks, i, c, bias, res, flags, zero)
		if i < rows-1 || tiles {
			ADDQ(ldc, c)
			ADDQ(ldr, res)
		}
	}
	for j, v := range sacc {
		g := K()
		columnEpilogue(fmt.Sprintf("s%d", j), v, cols+j, full, g, ct, bias, rt, flags, cidx, ridx, t, zero)
	}
	if tiles {
		// a already points at the next panel; bias moves on 12 rows.
		ADDQ(U8(48), bias)
		DECQ(n)
		JNZ(LabelRef("tile"))
	}
	VZEROUPPER()
	RET()
}

// tileRowEpilogue emits the epilogue of row i of a tile, its registers
// row (16 columns each, under the masks ks), at c and res: C added if the
// flags ask (accumulate), then the row's bias, the residual row and the
// ReLU, and the row stored. The flags are the same for every row, so the
// branches predict perfectly; they cost nothing next to the k loop before
// them. Its labels end in id.
func tileRowEpilogue(id string, row []VecVirtual, ks []Register, i int, c, bias, res, flags Register, zero VecVirtual) {
	skip := func(bit uint8, what string) string {
		l := what + "_" + id
		TESTQ(U32(uint32(bit)), flags)
		JZ(LabelRef(l))
		return l
	}
	l := skip(flagAccumulate, "noacc")
	for j, v := range row {
		VADDPS_Z(Mem{Base: c, Disp: 64 * j}, v, ks[j], v)
	}
	Label(l)
	l = skip(flagBias, "nobias")
	for _, v := range row {
		VADDPS_BCST(Mem{Base: bias, Disp: 4 * i}, v, v)
	}
	Label(l)
	l = skip(flagResidual, "nores")
	for j, v := range row {
		VADDPS_Z(Mem{Base: res, Disp: 64 * j}, v, ks[j], v)
	}
	Label(l)
	l = skip(flagReLU, "norelu")
	// The tile is the source operand that a NaN comes from: it passes,
	// as through Go's max and PyTorch's ReLU.
	for _, v := range row {
		VMAXPS(v, zero, v)
	}
	Label(l)
	for j, v := range row {
		VMOVUPS(v, ks[j], Mem{Base: c, Disp: 64 * j})
	}
}

// kLoop runs step(u) for kc steps of k over a packed 12-row panel a of A
// (48 bytes a step) and a panel b of B that advanceB moves on (packedB:
// 128 bytes a step), u the step's place in a trip: four steps a trip
// while they last, then one at a time, so that the loop's own adds and
// branch stay off the FMA's issue slots. It ends at label kdone, with kc
// 0 and a and b past the panels. With prefetchA, each trip of four also
// fetches the 3 lines of A it takes, 4 KB on: a tile down panels of A
// that come from memory (the weights of a layer at batch 1, streamed
// once) waited on them. resnet50's 256-channel F(4x4,3x3) convs at
// batch 1 took 0.478 ms instead of 0.538, its 512-channel F(2x2,3x3)
// ones 0.798 instead of 0.979, their weights from memory (medians of 8
// interleaved runs of a conv over 6 copies of its weights); the 4 KB is
// 85 steps of k ahead, and 2 or 8 KB did as well.
func kLoop(kc, a, b Register, step func(u int), advanceB func(steps int), prefetchA bool) {
	CMPQ(kc, U8(4))
	JB(LabelRef("tail"))
	Label("loop4")
	for u := 0; u < 4; u++ {
		step(u)
	}
	if prefetchA {
		prefetchAhead(a)
	}
	ADDQ(U32(4*48), a)
	advanceB(4)
	SUBQ(U8(4), kc)
	CMPQ(kc, U8(4))
	JAE(LabelRef("loop4"))
	Label("tail")
	TESTQ(kc, kc)
	JZ(LabelRef("kdone"))
	Label("loop1")
	step(0)
	ADDQ(U32(48), a)
	advanceB(1)
	DECQ(kc)
	JNZ(LabelRef("loop1"))
	Label("kdone")
}

// prefetchAhead fetches the 3 lines of a packed 12-row panel of A that
// a trip of four steps of k takes (192 bytes), 4 KB past a: 85 steps
// ahead (see kLoop).
func prefetchAhead(a Register) {
	for l := range 3 {
		PREFETCHT0(Mem{Base: a, Disp: 4096 + 64*l})
	}
}

// rowAt is row i (0 to 3) of rows ld bytes apart from base, disp bytes
// into it; ld3 holds 3*ld.
func rowAt(base, ld, ld3 Register, i, disp int) Mem {
	m := Mem{Base: base, Disp: disp}
	switch i {
	case 1:
		m.Index, m.Scale = ld, 1
	case 2:
		m.Index, m.Scale = ld, 2
	case 3:
		m.Index, m.Scale = ld3, 1
	}
	return m
}

// packedB moves b on steps steps of a packed 32-column panel.
func packedB(b Register) func(steps int) {
	return func(steps int) { ADDQ(U32(128*steps), b) }
}

// prefetchRows fetches rows rows of cols floats, ld bytes apart, from base
// on into L2, p its scratch: the row's first and last byte and the line
// between, so that a row across three lines has all of them.
func prefetchRows(base, p, ld Register, rows, cols int) {
	MOVQ(base, p)
	for i := 0; i < rows; i++ {
		PREFETCHT1(Mem{Base: p})
		if cols > 16 {
			PREFETCHT1(Mem{Base: p, Disp: 64})
		}
		PREFETCHT1(Mem{Base: p, Disp: 4*cols - 1})
		if i < rows-1 {
			ADDQ(ld, p)
		}
	}
}

// The AVX-512 kernels' flags; nn's gemm.go uses the same values.
const (
	flagAccumulate = 1
	flagBias       = 2
	flagResidual   = 4
	flagReLU       = 8
)
