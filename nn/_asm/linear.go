package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// dotRows emits dotRowsAVX512, a small batch's Linear for one image: a
// dot product of x with each row of W, 4 rows at a time, each row read
// once, in place. Four rows are four streams for the hardware's
// prefetch and four independent sums, plenty for a loop that waits on
// memory (resnet50's fc streams 8 MB of W for 2 million multiplies).
func dotRows() {
	TEXT("dotRowsAVX512", NOSPLIT, "func(blocks, chunks int, w *float32, ldw int, x, y *float32, tail uint16)")
	Pragma("noescape")
	Doc("dotRowsAVX512 sets y[i], for i < 4*blocks, to the sum over t of",
		"w[i*ldw+t] * x[t]: t < 16*chunks, then the lanes of tail (a mask of low",
		"bits, may be 0) of the next 16. blocks is at least 1; ldw is in floats.")
	ldw := Load(Param("ldw"), GP64())
	SHLQ(U8(2), ldw)
	ldw3 := GP64()
	LEAQ(Mem{Base: ldw, Index: ldw, Scale: 2}, ldw3)
	tail := K()
	tm := GP32()
	Load(Param("tail"), tm)
	KMOVW(tm, tail)
	wb, x, y, n, blocks := GP64(), GP64(), GP64(), GP64(), GP64()
	p, q := GP64(), GP64()
	Load(Param("w"), wb)
	Load(Param("x"), x)
	Load(Param("y"), y)
	Load(Param("blocks"), blocks)
	acc := make([]VecVirtual, 4)
	for i := range acc {
		acc[i] = ZMM()
	}
	xv := ZMM()
	Label("block")
	for _, a := range acc {
		VXORPS(a, a, a)
	}
	MOVQ(wb, p)
	MOVQ(x, q)
	Load(Param("chunks"), n)
	TESTQ(n, n)
	JZ(LabelRef("tail"))
	Label("chunk")
	VMOVUPS(Mem{Base: q}, xv)
	for i, a := range acc {
		VFMADD231PS(rowAt(p, ldw, ldw3, i, 0), xv, a)
	}
	chunkLoopEnd(p, q, n, tail)
	VMOVUPS_Z(Mem{Base: q}, tail, xv)
	for i, a := range acc {
		t := ZMM()
		VMOVUPS_Z(rowAt(p, ldw, ldw3, i, 0), tail, t)
		VFMADD231PS(t, xv, a)
	}

	// Each sum across its lanes: halves, then quarters, to 4 floats a row;
	// then two horizontal adds leave row i's sum in float i.
	Label("reduce")
	quarters := make([]VecVirtual, 4)
	for i, a := range acc {
		h := ZMM()
		VEXTRACTF32X8(U8(1), a, h.AsY())
		VADDPS(h.AsY(), a.AsY(), h.AsY())
		quarters[i] = XMM()
		VEXTRACTF128(U8(1), h.AsY(), quarters[i])
		VADDPS(quarters[i], h.AsX(), quarters[i])
	}
	h01, h23 := XMM(), XMM()
	VHADDPS(quarters[1], quarters[0], h01)
	VHADDPS(quarters[3], quarters[2], h23)
	VHADDPS(h23, h01, h01)
	VMOVUPS(h01, Mem{Base: y})
	ADDQ(U8(16), y)
	LEAQ(Mem{Base: wb, Index: ldw, Scale: 4}, wb)
	DECQ(blocks)
	JNZ(LabelRef("block"))
	VZEROUPPER()
	RET()
}
