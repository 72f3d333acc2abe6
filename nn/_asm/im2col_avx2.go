package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// bitLanes loads the int32 lane masks 1, 2, 4, ..., 128 into a YMM
// register, the bits that laneMask tests.
func bitLanes() VecVirtual {
	idx := make([]int32, 8)
	for i := range idx {
		idx[i] = 1 << i
	}
	return laneTable(idx)
}

// laneMask expands the low 8 bits of bits into a lane mask in dst: lane i
// all ones if bit i is set, else 0.
func laneMask(bits Register, lanes, dst VecVirtual) {
	x := XMM()
	VMOVD(bits, x)
	VPBROADCASTD(x, dst)
	VPAND(lanes, dst, dst)
	VPCMPEQD(lanes, dst, dst)
}

// im2colS2AVX2 emits im2colS2AVX2, the gather of a stride-2 tap's rows
// for im2col where the AVX-512 row kernels are missing: chunk by chunk
// down the rows, 16 floats read under a mask (the padding reads as 0),
// their even ones taken apart as evensAVX2 does and stored, under a mask
// for a chunk past the row's end.
func im2colS2AVX2() {
	TEXT("im2colS2AVX2", NOSPLIT, "func(dst, src *float32, rows, chunks, dstStride, srcStride, off int, masks *[16]uint32)")
	Pragma("noescape")
	Doc("im2colS2AVX2 writes dst[r*dstStride + 8c + i] = src[r*srcStride + 16c +",
		"off + 2i] for rows r, chunks c and lanes i < 8: of the window",
		"src[r*srcStride + 16c + off:][:16], lane j is read if bit j of masks[c]",
		"is set, else taken as 0, and lane i is stored if bit 16+i is. Strides",
		"are in floats.")
	src := Load(Param("src"), GP64())
	off := Load(Param("off"), GP64())
	LEAQ(Mem{Base: src, Index: off, Scale: 4}, src)
	s2Chunks(src, true, func(p, q Register, m s2Masks, whole bool) {
		a, b := YMM(), YMM()
		if whole {
			VMOVUPS(Mem{Base: p}, a)
			VMOVUPS(Mem{Base: p, Disp: 32}, b)
		} else {
			VMASKMOVPS(Mem{Base: p}, m.lo, a)
			VMASKMOVPS(Mem{Base: p, Disp: 32}, m.hi, b)
		}
		VSHUFPS(U8(0x88), b, a, a)
		VPERMPD(U8(0xd8), a, a)
		if whole {
			VMOVUPS(a, Mem{Base: q})
		} else {
			VMASKMOVPS(a, m.eight, Mem{Base: q})
		}
	})
}

// col2imS2AVX2 emits col2imS2AVX2, im2colS2AVX2 the other way for
// col2im: each chunk's 8 values added to every second float of a
// 16-float window of the row, as addToEvensAVX2 does, the window read
// and written under a mask at the row's ends.
func col2imS2AVX2() {
	TEXT("col2imS2AVX2", NOSPLIT, "func(dst, src *float32, rows, chunks, dstStride, srcStride int, masks *[16]uint32)")
	Pragma("noescape")
	Doc("col2imS2AVX2 adds src[r*srcStride + 8c + i] to dst[r*dstStride + 16c +",
		"2i] for rows r, chunks c and lanes i < 8, leaving the odd floats as",
		"they were: of the window dst[r*dstStride + 16c:][:16], lane j is read",
		"and written if bit j of masks[c] is set, and lane i of src is read",
		"(else taken as 0) if bit 16+i is. Strides are in floats.")
	dst := Load(Param("dst"), GP64())
	s2Chunks(dst, false, func(q, p Register, m s2Masks, whole bool) {
		a, lo, hi := YMM(), YMM(), YMM()
		if whole {
			VPERMPD(U8(0xd8), Mem{Base: q}, a) // s0 s1 s4 s5 | s2 s3 s6 s7
		} else {
			VMASKMOVPS(Mem{Base: q}, m.eight, a)
			VPERMPD(U8(0xd8), a, a)
		}
		VUNPCKLPS(a, a, lo) // s0 s0 s1 s1 | s2 s2 s3 s3
		VUNPCKHPS(a, a, hi) // s4 s4 s5 s5 | s6 s6 s7 s7
		for j, s := range []VecVirtual{lo, hi} {
			d, mask := YMM(), m.lo
			if j == 1 {
				mask = m.hi
			}
			at := Mem{Base: p, Disp: 32 * j}
			if whole {
				VMOVUPS(at, d)
			} else {
				VMASKMOVPS(at, mask, d)
			}
			VADDPS(d, s, s)
			VBLENDPS(U8(0x55), s, d, d)
			if whole {
				VMOVUPS(d, at)
			} else {
				VMASKMOVPS(d, mask, at)
			}
		}
	})
}

// s2Masks are a chunk's lane masks: the 16-float window's two halves and
// the 8 values' lanes.
type s2Masks struct{ lo, hi, eight VecVirtual }

// s2Chunks emits the loops of the stride-2 row kernels: chunk by chunk of
// the parameter "chunks", each the parameter "rows" rows long. win points
// into the 16-float windows, on the src side if winIsSrc (im2col), else
// on the dst side (col2im); the other parameter points at the 8 values.
// Each side moves its stride (a parameter, in floats) a row. row emits a
// row of a chunk from its src and dst pointers, whole if all the chunk's
// mask bits (the parameter "masks", 24 a chunk) are set.
func s2Chunks(win Register, winIsSrc bool, row func(src, dst Register, m s2Masks, whole bool)) {
	val, ws, vs := GP64(), GP64(), GP64()
	if winIsSrc {
		Load(Param("dst"), val)
		Load(Param("srcStride"), ws)
		Load(Param("dstStride"), vs)
	} else {
		Load(Param("src"), val)
		Load(Param("dstStride"), ws)
		Load(Param("srcStride"), vs)
	}
	SHLQ(U8(2), ws)
	SHLQ(U8(2), vs)
	masks := Load(Param("masks"), GP64())
	chunks := Load(Param("chunks"), GP64())
	lanes := bitLanes()
	m := s2Masks{YMM(), YMM(), YMM()}
	bits, t := GP32(), GP32()
	p, q, n := GP64(), GP64(), GP64() // the window's and the values' pointers
	TESTQ(chunks, chunks)
	JZ(LabelRef("done"))
	Label("chunk")
	MOVL(Mem{Base: masks}, bits)
	laneMask(bits, lanes, m.lo)
	MOVL(bits, t)
	SHRL(U8(8), t)
	laneMask(t, lanes, m.hi)
	MOVL(bits, t)
	SHRL(U8(16), t)
	laneMask(t, lanes, m.eight)
	MOVQ(win, p)
	MOVQ(val, q)
	Load(Param("rows"), n)
	loop := func(whole bool) {
		if winIsSrc {
			row(p, q, m, whole)
		} else {
			row(q, p, m, whole)
		}
		ADDQ(ws, p)
		ADDQ(vs, q)
		DECQ(n)
	}
	CMPL(bits, U32(0xffffff))
	JNE(LabelRef("part"))
	Label("whole")
	loop(true)
	JNZ(LabelRef("whole"))
	JMP(LabelRef("next"))
	Label("part")
	loop(false)
	JNZ(LabelRef("part"))
	Label("next")
	ADDQ(U8(64), win)
	ADDQ(U8(32), val)
	ADDQ(U8(4), masks)
	DECQ(chunks)
	JNZ(LabelRef("chunk"))
	Label("done")
	VZEROUPPER()
	RET()
}
