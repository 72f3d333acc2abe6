package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The max-pooling kernels: the separable pooling's max down a window's
// rows and, for resnet's 3x3 stride-2 window, along the row. Both keep
// nn's nanMax exactly: acc = b if b > acc or b is a NaN, so a NaN wins and
// a tie keeps the earlier value, bit for bit.

// nanMaxInto emits acc = nanMax(acc, b); k is scratch.
func nanMaxInto(acc, b VecVirtual, k Register) {
	VMAXPS(acc, b, acc) // (b > acc) ? b : acc, and acc where either is a NaN
	VCMPPS(U8(3), b, b, k)
	VBLENDMPS(b, acc, k, acc) // b where b is a NaN
}

// chunkLoop opens the loop over chunks of 16 lanes (label "chunk") and
// returns the mask of the chunk's lanes: all 16, or last for the last.
func chunkLoop(chunks Register, last GPVirtual) Register {
	km := K()
	all := GP32()
	MOVL(U32(0xffff), all)
	Label("chunk")
	KMOVW(all, km)
	CMPQ(chunks, U8(1))
	JNE(LabelRef("full"))
	KMOVW(last.As32(), km)
	Label("full")
	return km
}

// maxRows emits maxRowsAVX512.
func maxRows() {
	TEXT("maxRowsAVX512", NOSPLIT, "func(dst, src *float32, chunks, rows, stride, last int)")
	Pragma("noescape")
	Doc("maxRowsAVX512 writes dst[i] = the nanMax of src[r*stride+i] over r in",
		"[0, rows) (rows >= 1), in that order, for chunks x 16 values; the last",
		"chunk's lanes are masked by last.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	chunks := Load(Param("chunks"), GP64())
	rows := Load(Param("rows"), GP64())
	stride := Load(Param("stride"), GP64())
	last := Load(Param("last"), GP64()).(GPVirtual)
	SHLQ(U8(2), stride)
	s, r := GP64(), GP64()
	km, kn := chunkLoop(chunks, last), K()
	acc := ZMM()
	VMOVUPS_Z(Mem{Base: src}, km, acc)
	MOVQ(src, s)
	MOVQ(rows, r)
	DECQ(r)
	JZ(LabelRef("store"))
	Label("row")
	ADDQ(stride, s)
	v := ZMM()
	VMOVUPS_Z(Mem{Base: s}, km, v)
	nanMaxInto(acc, v, kn)
	DECQ(r)
	JNZ(LabelRef("row"))
	Label("store")
	VMOVUPS(acc, km, Mem{Base: dst})
	ADDQ(U8(64), dst)
	ADDQ(U8(64), src)
	DECQ(chunks)
	JNZ(LabelRef("chunk"))
	VZEROUPPER()
	RET()
}

// maxPool3s2 emits maxPool3s2AVX512.
func maxPool3s2() {
	TEXT("maxPool3s2AVX512", NOSPLIT, "func(dst, cols *float32, chunks, last int, idx *[32]int32)")
	Pragma("noescape")
	Doc("maxPool3s2AVX512 writes dst[o] = nanMax(nanMax(cols[2o], cols[2o+1]),",
		"cols[2o+2]) for chunks x 16 outputs, the last chunk's masked by last:",
		"a 3-wide stride-2 window along a row whose padding cols holds as -Inf.",
		"It reads cols up to 32*chunks+34 floats. idx holds the even lane",
		"numbers 0..30, then the odd ones.")
	dst := Load(Param("dst"), GP64())
	cols := Load(Param("cols"), GP64())
	chunks := Load(Param("chunks"), GP64())
	last := Load(Param("last"), GP64()).(GPVirtual)
	idx := Load(Param("idx"), GP64())
	even, odd := loadPermutes(idx)
	km, kn := chunkLoop(chunks, last), K()
	a, b, a2, b2 := ZMM(), ZMM(), ZMM(), ZMM()
	VMOVUPS(Mem{Base: cols}, a)
	VMOVUPS(Mem{Base: cols, Disp: 64}, b)
	VMOVUPS(Mem{Base: cols, Disp: 8}, a2)
	VMOVUPS(Mem{Base: cols, Disp: 72}, b2)
	left, mid := ZMM(), ZMM()
	VMOVAPS(a, left)
	VPERMT2PS(b, even, left)
	VMOVAPS(a, mid)
	VPERMT2PS(b, odd, mid)
	VPERMT2PS(b2, even, a2) // a2: the right column
	nanMaxInto(left, mid, kn)
	nanMaxInto(left, a2, kn)
	VMOVUPS(left, km, Mem{Base: dst})
	ADDQ(U8(64), dst)
	ADDQ(U8(128), cols)
	DECQ(chunks)
	JNZ(LabelRef("chunk"))
	VZEROUPPER()
	RET()
}
