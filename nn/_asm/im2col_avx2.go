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
	dst0 := Load(Param("dst"), GP64())
	src0 := Load(Param("src"), GP64())
	off := Load(Param("off"), GP64())
	LEAQ(Mem{Base: src0, Index: off, Scale: 4}, src0)
	ds := Load(Param("dstStride"), GP64())
	ss := Load(Param("srcStride"), GP64())
	SHLQ(U8(2), ds)
	SHLQ(U8(2), ss)
	masks := Load(Param("masks"), GP64())
	chunks := Load(Param("chunks"), GP64())
	lanes := bitLanes()
	mlo, mhi, mst := YMM(), YMM(), YMM()
	bits, t := GP32(), GP32()
	p, q, n := GP64(), GP64(), GP64()
	TESTQ(chunks, chunks)
	JZ(LabelRef("done"))
	Label("chunk")
	MOVL(Mem{Base: masks}, bits)
	laneMask(bits, lanes, mlo)
	MOVL(bits, t)
	SHRL(U8(8), t)
	laneMask(t, lanes, mhi)
	MOVL(bits, t)
	SHRL(U8(16), t)
	laneMask(t, lanes, mst)
	MOVQ(src0, p)
	MOVQ(dst0, q)
	Load(Param("rows"), n)
	row := func(store func(a VecVirtual)) {
		a, b := YMM(), YMM()
		VMASKMOVPS(Mem{Base: p}, mlo, a)
		VMASKMOVPS(Mem{Base: p, Disp: 32}, mhi, b)
		VSHUFPS(U8(0x88), b, a, a)
		VPERMPD(U8(0xd8), a, a)
		store(a)
		ADDQ(ss, p)
		ADDQ(ds, q)
		DECQ(n)
	}
	ANDL(U32(0xff), t)
	CMPL(t, U32(0xff))
	JNE(LabelRef("part"))
	Label("whole")
	row(func(a VecVirtual) { VMOVUPS(a, Mem{Base: q}) })
	JNZ(LabelRef("whole"))
	JMP(LabelRef("next"))
	Label("part")
	row(func(a VecVirtual) { VMASKMOVPS(a, mst, Mem{Base: q}) })
	JNZ(LabelRef("part"))
	Label("next")
	ADDQ(U8(64), src0)
	ADDQ(U8(32), dst0)
	ADDQ(U8(4), masks)
	DECQ(chunks)
	JNZ(LabelRef("chunk"))
	Label("done")
	VZEROUPPER()
	RET()
}
