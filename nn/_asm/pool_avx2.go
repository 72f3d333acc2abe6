package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The max-pooling kernels for AVX2: pool.go's on 8 lanes, the last chunk
// under a mask of sign bits.

// nanMaxIntoAVX2 emits acc = nanMax(acc, b); u is scratch.
func nanMaxIntoAVX2(acc, b, u VecVirtual) {
	VMAXPS(acc, b, acc) // (b > acc) ? b : acc, and acc where either is a NaN
	VCMPPS(U8(3), b, b, u)
	VBLENDVPS(u, b, acc, acc) // b where b is a NaN
}

// maxRowsAVX2 emits maxRowsAVX2: a loop over whole chunks of 8 lanes,
// and the last chunk, if partial, under its mask.
func maxRowsAVX2() {
	TEXT("maxRowsAVX2", NOSPLIT, "func(dst, src *float32, chunks, rows, stride int, last *int32)")
	Pragma("noescape")
	Doc("maxRowsAVX2 writes dst[i] = the nanMax of src[r*stride+i] over r in",
		"[0, rows) (rows >= 1), in that order, for chunks x 8 values; if last is",
		"not nil, the last chunk's lanes are those it enables (sign bits).")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	chunks := Load(Param("chunks"), GP64())
	rows := Load(Param("rows"), GP64())
	stride := Load(Param("stride"), GP64())
	last := Load(Param("last"), GP64())
	SHLQ(U8(2), stride)
	s, r := GP64(), GP64()
	for _, masked := range []bool{false, true} {
		var m VecVirtual
		if masked {
			Label("part")
			m = YMM()
			VMOVUPS(Mem{Base: last}, m)
		} else {
			Label("chunk")
			CMPQ(chunks, U8(1))
			JNE(LabelRef("whole"))
			TESTQ(last, last)
			JNZ(LabelRef("part"))
			Label("whole")
		}
		load := func(at Mem, v VecVirtual) {
			if masked {
				VMASKMOVPS(at, m, v)
			} else {
				VMOVUPS(at, v)
			}
		}
		id := map[bool]string{false: "w", true: "m"}[masked]
		acc, v, u := YMM(), YMM(), YMM()
		load(Mem{Base: src}, acc)
		MOVQ(src, s)
		MOVQ(rows, r)
		DECQ(r)
		JZ(LabelRef("store_" + id))
		Label("row_" + id)
		ADDQ(stride, s)
		load(Mem{Base: s}, v)
		nanMaxIntoAVX2(acc, v, u)
		DECQ(r)
		JNZ(LabelRef("row_" + id))
		Label("store_" + id)
		if masked {
			VMASKMOVPS(acc, m, Mem{Base: dst})
			JMP(LabelRef("done"))
		} else {
			VMOVUPS(acc, Mem{Base: dst})
			ADDQ(U8(32), dst)
			ADDQ(U8(32), src)
			DECQ(chunks)
			JNZ(LabelRef("chunk"))
			JMP(LabelRef("done"))
		}
	}
	Label("done")
	VZEROUPPER()
	RET()
}

// maxPool3s2AVX2 emits maxPool3s2AVX2.
func maxPool3s2AVX2() {
	TEXT("maxPool3s2AVX2", NOSPLIT, "func(dst, cols *float32, chunks int, last *int32)")
	Pragma("noescape")
	Doc("maxPool3s2AVX2 writes dst[o] = nanMax(nanMax(cols[2o], cols[2o+1]),",
		"cols[2o+2]) for chunks x 8 outputs, the last chunk's lanes those last",
		"enables (sign bits) if it is not nil: a 3-wide stride-2 window along a",
		"row whose padding cols holds as -Inf. It reads cols up to 16*chunks+18",
		"floats.")
	dst := Load(Param("dst"), GP64())
	cols := Load(Param("cols"), GP64())
	chunks := Load(Param("chunks"), GP64())
	last := Load(Param("last"), GP64())
	Label("chunk")
	a, b, a2, b2 := YMM(), YMM(), YMM(), YMM()
	VMOVUPS(Mem{Base: cols}, a)
	VMOVUPS(Mem{Base: cols, Disp: 32}, b)
	VMOVUPS(Mem{Base: cols, Disp: 8}, a2)
	VMOVUPS(Mem{Base: cols, Disp: 40}, b2)
	// Even and odd columns: in-half shuffles leave them in the order
	// 0 1 4 5 2 3 6 7 of 64-bit pairs, which VPERMPD puts back.
	left, mid, right := YMM(), YMM(), YMM()
	VSHUFPS(U8(0x88), b, a, left)
	VPERMPD(U8(0xd8), left, left)
	VSHUFPS(U8(0xdd), b, a, mid)
	VPERMPD(U8(0xd8), mid, mid)
	VSHUFPS(U8(0x88), b2, a2, right)
	VPERMPD(U8(0xd8), right, right)
	u := YMM()
	nanMaxIntoAVX2(left, mid, u)
	nanMaxIntoAVX2(left, right, u)
	CMPQ(chunks, U8(1))
	JNE(LabelRef("whole"))
	TESTQ(last, last)
	JZ(LabelRef("whole"))
	m := YMM()
	VMOVUPS(Mem{Base: last}, m)
	VMASKMOVPS(left, m, Mem{Base: dst})
	JMP(LabelRef("done"))
	Label("whole")
	VMOVUPS(left, Mem{Base: dst})
	ADDQ(U8(32), dst)
	ADDQ(U8(64), cols)
	DECQ(chunks)
	JNZ(LabelRef("chunk"))
	Label("done")
	VZEROUPPER()
	RET()
}

// evensAVX2 emits evensAVX2, im2col's gather of a stride-2 tap's row.
func evensAVX2() {
	TEXT("evensAVX2", NOSPLIT, "func(dst, src *float32, chunks int)")
	Pragma("noescape")
	Doc("evensAVX2 writes dst[i] = src[2i] for chunks x 8 values, reading",
		"src[0:16*chunks].")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("chunks"), GP64())
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Label("chunk")
	a, b := YMM(), YMM()
	VMOVUPS(Mem{Base: src}, a)
	VMOVUPS(Mem{Base: src, Disp: 32}, b)
	VSHUFPS(U8(0x88), b, a, a)
	VPERMPD(U8(0xd8), a, a)
	VMOVUPS(a, Mem{Base: dst})
	ADDQ(U8(32), dst)
	ADDQ(U8(64), src)
	DECQ(n)
	JNZ(LabelRef("chunk"))
	Label("done")
	VZEROUPPER()
	RET()
}

// addToEvensAVX2 emits addToEvensAVX2, col2im's scatter of a stride-2
// tap's row, evensAVX2 the other way: each value is added to every
// second float, and the floats between are blended back as they were
// (adding zero would turn a -0 into +0).
func addToEvensAVX2() {
	TEXT("addToEvensAVX2", NOSPLIT, "func(dst, src *float32, chunks int)")
	Pragma("noescape")
	Doc("addToEvensAVX2 adds src[i] to dst[2i] for chunks x 8 values, reading",
		"and writing dst[0:16*chunks] (the odd floats unchanged).")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("chunks"), GP64())
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Label("chunk")
	a, lo, hi := YMM(), YMM(), YMM()
	VPERMPD(U8(0xd8), Mem{Base: src}, a) // s0 s1 s4 s5 | s2 s3 s6 s7
	VUNPCKLPS(a, a, lo)                  // s0 s0 s1 s1 | s2 s2 s3 s3
	VUNPCKHPS(a, a, hi)                  // s4 s4 s5 s5 | s6 s6 s7 s7
	for j, s := range []VecVirtual{lo, hi} {
		d := YMM()
		VMOVUPS(Mem{Base: dst, Disp: 32 * j}, d)
		VADDPS(d, s, s)
		VBLENDPS(U8(0x55), s, d, d)
		VMOVUPS(d, Mem{Base: dst, Disp: 32 * j})
	}
	ADDQ(U8(64), dst)
	ADDQ(U8(32), src)
	DECQ(n)
	JNZ(LabelRef("chunk"))
	Label("done")
	VZEROUPPER()
	RET()
}
