package main

import (
	"fmt"
	"strings"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX2 kernels' tile: avx2Rows rows of a packed panel of A (6 values
// a step of k) against 16 columns of a packed panel of B (two YMM a
// step). Twelve YMM accumulators, two of B and one broadcast fill 15 of
// the 16 registers; each step is 8 loads for 12 FMAs, and B's panel (64
// bytes a step) is what the cache must keep close.
const (
	avx2Rows = 6
	avx2Cols = 16
)

// kernelAVX2 emits the rows x 16 AVX2+FMA kernel, rows 1..6, the AVX2
// counterpart of kernelAVX512: the tile goes straight to C, stored or
// added, with the epilogue applied in registers, so nothing is copied
// through memory. The columns of an edge panel go under a mask of sign
// bits (VMASKMOVPS); a whole panel's by plain moves, since a masked
// store costs several plain ones on AMD's cores.
//
// With tiles, it runs down a column of C as kernelAVX512 does: tiles of 6
// rows from consecutive panels of A against the same panel of B.
//
// With strided, B is not packed: its rows (steps of k) lie ldb floats
// apart, as a row-major B does, and the whole 16 columns are read.
//
// cols is 16, or 8 for an edge panel of up to 8 columns: half the
// multiplies and one load of B a step, from a packed 16-column panel.
func kernelAVX2(rows, cols int, tiles, strided bool) {
	name := fmt.Sprintf("kernel%dx%dAVX2", rows, cols)
	sig := "func(kc int, a, b, c *float32, ldc int, mask *int32, flags int, bias, res *float32, ldr int)"
	if tiles {
		name = fmt.Sprintf("kernel%dx%dTilesAVX2", rows, cols)
		sig = "func(kc, tiles int, a, b, c *float32, ldc int, mask *int32, flags int, bias, res *float32, ldr int)"
	}
	if strided {
		name = strings.Replace(name, "AVX2", "RowBAVX2", 1)
		sig = strings.Replace(sig, ")", ", ldb, panels int)", 1)
	}
	TEXT(name, NOSPLIT, sig)
	doc := []string{fmt.Sprintf("%s stores into (or, with flag 1, adds to) c, a %dx%d tile with", name, rows, cols),
		fmt.Sprintf("rows ldc floats apart, the product of the first %d rows of a packed 6 x kc", rows),
		"panel a (6 values per step of k) and a packed kc x 16 panel b (16 values",
		fmt.Sprintf("per step of k, the first %d used), then applies the epilogue the other", cols),
		"flags ask for: 2 adds bias[i] to row i, 4 adds res (rows ldr floats",
		fmt.Sprintf("apart), 8 the ReLU. mask is nil for all %d columns, else %d int32", cols, cols),
		"whose sign bits enable columns of c and res. kc must be at least 1."}
	if tiles {
		doc = append(doc, "It does so for tiles tiles down c, each from the next panel of a and",
			"the next 6 rows of c, bias and res; tiles must be at least 1.")
	}
	if strided {
		doc = append(doc, "b is not packed: its rows (steps of k) lie ldb floats apart, as a",
			"row-major B does. It does so for panels panels of 16 columns side by",
			"side, b, c and res moving on 16 columns each; panels must be at least 1.")
	}
	Doc(doc...)
	if strided {
		// A panel of 16 columns of B and C a trip: one call takes a
		// row-major B's whole width, where a call a panel cost as much as
		// the multiplies of a Winograd pass's 16-channel GEMMs.
		Label("panel")
	}
	a := Load(Param("a"), GP64())
	var n, c, bias, res Register
	if tiles {
		n = Load(Param("tiles"), GP64())
		c = Load(Param("c"), GP64())
		bias = Load(Param("bias"), GP64())
		res = Load(Param("res"), GP64())
		Label("tile")
	}
	if tiles {
		// The tile's rows of c, and of res if the epilogue adds it, are
		// fetched into L2 while the k loop runs, as kernelAVX512 does:
		// each row is a line or two of its own, ldc floats from the last.
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
	w := cols / 8 // YMM a row
	acc := make([]VecVirtual, w*rows)
	for i := range acc {
		acc[i] = YMM()
		VXORPS(acc[i], acc[i], acc[i])
	}
	bv := make([]VecVirtual, w)
	for j := range bv {
		bv[j] = YMM()
	}
	t := YMM()
	var ldb, ldb3 Register // B's row stride in bytes, and three times it
	if strided {
		ldb, ldb3 = Load(Param("ldb"), GP64()), GP64()
		SHLQ(U8(2), ldb)
		LEAQ(Mem{Base: ldb, Index: ldb, Scale: 2}, ldb3)
	}
	step := func(u int) {
		for j, v := range bv {
			m := Mem{Base: b, Disp: 64*u + 32*j}
			if strided {
				m = rowAt(b, ldb, ldb3, u, 32*j)
			}
			VMOVUPS(m, v)
		}
		for i := 0; i < rows; i++ {
			VBROADCASTSS(Mem{Base: a, Disp: 4 * (avx2Rows*u + i)}, t)
			for j, v := range bv {
				VFMADD231PS(v, t, acc[w*i+j])
			}
		}
	}
	// Four steps a trip while they last, then one at a time.
	CMPQ(kc, U8(4))
	JB(LabelRef("tail"))
	Label("loop4")
	for u := 0; u < 4; u++ {
		step(u)
	}
	ADDQ(U32(4*4*avx2Rows), a)
	if strided {
		LEAQ(Mem{Base: b, Index: ldb, Scale: 4}, b)
	} else {
		ADDQ(U32(4*64), b)
	}
	SUBQ(U8(4), kc)
	CMPQ(kc, U8(4))
	JAE(LabelRef("loop4"))
	Label("tail")
	TESTQ(kc, kc)
	JZ(LabelRef("kdone"))
	Label("loop1")
	step(0)
	ADDQ(U32(4*avx2Rows), a)
	if strided {
		ADDQ(ldb, b)
	} else {
		ADDQ(U32(64), b)
	}
	DECQ(kc)
	JNZ(LabelRef("loop1"))
	Label("kdone")

	if !tiles {
		c = Load(Param("c"), GP64())
		bias = Load(Param("bias"), GP64())
		res = Load(Param("res"), GP64())
	}
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	flags := Load(Param("flags"), GP64())
	ldr := Load(Param("ldr"), GP64())
	SHLQ(U8(2), ldr)
	maskp := Load(Param("mask"), GP64())
	// bv and t are free now: the masks and a scratch register.
	masks := bv
	TESTQ(maskp, maskp)
	JZ(LabelRef("whole"))
	for j, m := range masks {
		VMOVUPS(Mem{Base: maskp, Disp: 32 * j}, m)
	}
	avx2Epilogue("m", rows, tiles, acc, masks, t, c, bias, res, ldc, ldr, flags)
	JMP(LabelRef("next"))
	Label("whole")
	avx2Epilogue("w", rows, tiles, acc, nil, t, c, bias, res, ldc, ldr, flags)
	Label("next")
	if tiles {
		// a already points at the next panel; bias moves on 6 rows.
		ADDQ(U8(4*avx2Rows), bias)
		DECQ(n)
		JNZ(LabelRef("tile"))
	}
	if strided {
		for _, p := range []string{"b", "c", "res"} {
			r := Load(Param(p), GP64())
			ADDQ(U8(4*avx2Cols), r)
			Store(r, Param(p))
		}
		np := Load(Param("panels"), GP64())
		DECQ(np)
		Store(np, Param("panels"))
		JNZ(LabelRef("panel"))
	}
	VZEROUPPER()
	RET()
}

// avx2Epilogue emits the epilogue of a tile's rows, acc two YMM a row,
// under masks (nil: none) at c and res, moving c on a row each (and with
// tiles, c and res past the tile's last row). Its labels end in id.
func avx2Epilogue(id string, rows int, tiles bool, acc, masks []VecVirtual, t VecVirtual, c, bias, res, ldc, ldr, flags Register) {
	w := len(acc) / rows // YMM a row
	load := func(m Mem, j int, v VecVirtual) {
		if masks == nil {
			VADDPS(m, v, v)
			return
		}
		VMASKMOVPS(m, masks[j], t)
		VADDPS(t, v, v)
	}
	// Each step of the epilogue runs over the whole tile, which is in
	// registers, under one test of its flag: a test a row cost a taken
	// branch a row and step, as much as a short k loop's multiplies.
	step := func(bit uint8, what string, body func()) {
		l := fmt.Sprintf("%s_%s", what, id)
		TESTQ(U32(uint32(bit)), flags)
		JZ(LabelRef(l))
		body()
		Label(l)
	}
	p := GP64()
	addRows := func(base, ld Register) {
		MOVQ(base, p)
		for i := 0; i < rows; i++ {
			for j, v := range acc[w*i : w*i+w] {
				load(Mem{Base: p, Disp: 32 * j}, j, v)
			}
			if i < rows-1 {
				ADDQ(ld, p)
			}
		}
	}
	step(flagAccumulate, "noacc", func() { addRows(c, ldc) })
	step(flagBias, "nobias", func() {
		for i := 0; i < rows; i++ {
			VBROADCASTSS(Mem{Base: bias, Disp: 4 * i}, t)
			for _, v := range acc[w*i : w*i+w] {
				VADDPS(t, v, v)
			}
		}
	})
	step(flagResidual, "nores", func() { addRows(res, ldr) })
	step(flagReLU, "norelu", func() {
		// The tile is the source operand that a NaN comes from: it
		// passes, as through Go's max and PyTorch's ReLU.
		VXORPS(t, t, t)
		for _, v := range acc {
			VMAXPS(v, t, v)
		}
	})
	for i := 0; i < rows; i++ {
		for j, v := range acc[w*i : w*i+w] {
			if masks == nil {
				VMOVUPS(v, Mem{Base: c, Disp: 32 * j})
			} else {
				VMASKMOVPS(v, masks[j], Mem{Base: c, Disp: 32 * j})
			}
		}
		if i < rows-1 || tiles {
			ADDQ(ldc, c)
		}
	}
	if tiles {
		// res on to the next tile's rows, as c.
		for i := 0; i < rows; i++ {
			ADDQ(ldr, res)
		}
	}
}

// interleaveAVX2 emits interleaveRowsAVX2, the packing of the AVX2 GEMM's
// panels from rows of a row-major matrix: A's 6 rows a panel, or a
// transposed B's 16 columns (its rows), each step of k their values side
// by side. Eight rows at a time go through 8x8 transposes in registers;
// Go's scalar scatter took a tenth of a training step.
func interleaveAVX2() {
	TEXT("interleaveRowsAVX2", NOSPLIT, "func(dst *float32, ldd int, src *float32, lds, rows, blocks int)")
	Pragma("noescape")
	Doc("interleaveRowsAVX2 writes, for each step p of k in blocks blocks of 8,",
		"dst[p*ldd + r] = src[r*lds + p] for r < 8, reading rows r < rows of src",
		"and taking the others as 0. Each step's 8 values are one store, so with",
		"ldd under 8 a step writes over the next step's first values (which that",
		"step then writes).")
	dst := Load(Param("dst"), GP64())
	ldd := Load(Param("ldd"), GP64())
	SHLQ(U8(2), ldd)
	src := Load(Param("src"), GP64())
	lds := Load(Param("lds"), GP64())
	SHLQ(U8(2), lds)
	rows := Load(Param("rows"), GP64())
	n := Load(Param("blocks"), GP64())
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Label("block")
	var r [8]VecVirtual
	p := GP64()
	MOVQ(src, p)
	for i := range r {
		r[i] = YMM()
		VXORPS(r[i], r[i], r[i])
		CMPQ(rows, U8(uint8(i)))
		JBE(LabelRef(fmt.Sprintf("skip%d", i)))
		VMOVUPS(Mem{Base: p}, r[i])
		Label(fmt.Sprintf("skip%d", i))
		if i < 7 {
			ADDQ(lds, p)
		}
	}
	// Transpose: t[2i], t[2i+1] interleave rows 2i and 2i+1; u groups
	// four rows' pairs; the halves of u's registers are the columns.
	var t, u [8]VecVirtual
	for i := 0; i < 4; i++ {
		t[2*i], t[2*i+1] = YMM(), YMM()
		VUNPCKLPS(r[2*i+1], r[2*i], t[2*i])
		VUNPCKHPS(r[2*i+1], r[2*i], t[2*i+1])
	}
	for i := 0; i < 2; i++ {
		for h := 0; h < 2; h++ {
			a, b := t[4*i+h], t[4*i+2+h]
			u[4*i+2*h], u[4*i+2*h+1] = YMM(), YMM()
			VSHUFPS(U8(0x44), b, a, u[4*i+2*h])
			VSHUFPS(U8(0xee), b, a, u[4*i+2*h+1])
		}
	}
	// u[0..3]: columns 0 1 2 3 of rows 0-3 (low halves) and 4 5 6 7
	// (high); u[4..7] the same of rows 4-7.
	out := GP64()
	MOVQ(dst, out)
	for c := 0; c < 8; c++ {
		o := YMM()
		lo, hi := u[c%4], u[4+c%4]
		if c < 4 {
			VPERM2F128(U8(0x20), hi, lo, o)
		} else {
			VPERM2F128(U8(0x31), hi, lo, o)
		}
		VMOVUPS(o, Mem{Base: out})
		ADDQ(ldd, out)
	}
	MOVQ(out, dst)
	ADDQ(U8(32), src)
	DECQ(n)
	JNZ(LabelRef("block"))
	Label("done")
	VZEROUPPER()
	RET()
}
